"""Human evaluation: Krippendorff's alpha equal to the ``krippendorff`` package, the Label
Studio export checked against Label Studio's documented import format, several raters
imported (missing allowed), ratings as metrics with item-clustered intervals, judge versus
humans."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from llaso_pytest.errors import MetricInputError
from llaso_pytest.human import (
    RatingError,
    Scale,
    export_for_rating,
    judge_vs_human,
    labeling_config,
    load_ratings,
)
from llaso_pytest.metrics.agreement import krippendorff_alpha, rater_agreement


@st.composite
def rating_arrays(draw: st.DrawFn) -> np.ndarray:
    raters = draw(st.integers(2, 5))
    items = draw(st.integers(2, 25))
    values = draw(arrays(np.float64, (raters, items), elements=st.integers(1, 5).map(float)))
    missing = draw(arrays(np.bool_, (raters, items), elements=st.booleans()))
    values[missing & (draw(st.floats(0, 1)) < 0.8)] = np.nan
    return values


@settings(max_examples=200, deadline=None)
@given(rating_arrays(), st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the package's own 0/0
def test_alpha_equals_the_krippendorff_package(r: np.ndarray, level: str) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    try:
        ref = krippendorff.alpha(reliability_data=r, level_of_measurement=level)
    except ValueError:  # the package refuses: no pairable item, or a single value
        if (np.sum(~np.isnan(r), axis=0) < 2).all():
            with pytest.raises(MetricInputError, match="no item has two or more|no rating at all"):
                krippendorff_alpha(r, level=level)  # type: ignore[arg-type]
        else:  # one value only: no variation to agree on, 0/0
            assert np.isnan(krippendorff_alpha(r, level=level))  # type: ignore[arg-type]
        return
    mine = krippendorff_alpha(r, level=level)  # type: ignore[arg-type]
    if np.isnan(ref):  # all pairable values equal: 0/0 in both
        assert np.isnan(mine)
    else:
        assert mine == pytest.approx(ref, abs=1e-9)


def test_labels_and_documented_values() -> None:
    # the krippendorff package's documented example (3 coders, 15 units, missing values):
    # nominal 0.691, interval 0.811
    data = [
        [np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
        [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4],
    ]
    assert krippendorff_alpha(data, level="nominal") == pytest.approx(0.691, abs=5e-4)
    assert krippendorff_alpha(data, level="interval") == pytest.approx(0.811, abs=5e-4)
    # the same as labels
    names = {1.0: "a", 2.0: "b", 3.0: "c", 4.0: "d"}
    labelled = [[None if np.isnan(v) else names[v] for v in row] for row in data]
    assert krippendorff_alpha(labelled, level="nominal") == pytest.approx(
        krippendorff_alpha(data, level="nominal"))
    perfect = [["x", "y", "x"], ["x", "y", "x"]]
    assert krippendorff_alpha(perfect) == 1.0
    with pytest.raises(MetricInputError, match="at least 2"):
        krippendorff_alpha([[1, 2, 3]])
    with pytest.raises(MetricInputError, match="mix labels"):
        krippendorff_alpha([["a", 1], ["a", 1]])
    with pytest.raises(MetricInputError, match="level must be"):
        krippendorff_alpha(perfect, level="kappa")  # type: ignore[arg-type]


def test_rater_agreement_interval_and_per_rater_stats() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, size=60)
    good = [truth + rng.integers(-0, 1, size=60) for _ in range(3)]
    noisy = rng.integers(1, 6, size=60)
    r = np.array([*good, noisy], dtype=float)
    ra = rater_agreement(r, raters=["a", "b", "c", "noise"], level="interval", n_boot=500)
    assert ra.ci is not None and ra.ci[0] <= ra.alpha <= ra.ci[1]
    by = {s.rater: s for s in ra.raters}
    # dropping the noisy rater raises alpha; dropping a good one lowers it
    assert by["noise"].alpha_without > ra.alpha > by["a"].alpha_without
    assert by["noise"].mean_abs_diff > by["a"].mean_abs_diff
    again = rater_agreement(r, raters=["a", "b", "c", "noise"], level="interval", n_boot=500)
    assert again.ci == ra.ci  # seeded


def _items() -> dict[str, dict[str, str]]:
    return {f"q{i}": {"question": f"What is {i}?", "prediction": f"{i}"} for i in range(6)}


# Label Studio's documented task import format (labelstud.io, "Import pre-annotated data" /
# "Basic Label Studio JSON format"): a list of tasks, each with a "data" object whose keys the
# labeling config's $variables name; optional "annotations"/"predictions" whose "result"
# regions carry from_name (a control), to_name (an object tag), type and value.
_REGION = {"type": "object", "required": ["from_name", "to_name", "type", "value"],
           "properties": {"from_name": {"type": "string"}, "to_name": {"type": "string"},
                          "type": {"enum": ["choices", "rating"]},
                          "value": {"type": "object"}}}
LS_TASKS_SCHEMA = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["data"], "properties": {
        "id": {"type": "integer"},
        "data": {"type": "object", "minProperties": 1,
                 "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "annotations": {"type": "array", "items": {"type": "object", "required": ["result"],
                        "properties": {"result": {"type": "array", "items": _REGION},
                                       "was_cancelled": {"type": "boolean"}}}},
        "predictions": {"type": "array", "items": {"type": "object", "required": ["result"],
                        "properties": {"result": {"type": "array", "items": _REGION}}}},
    }},
}


def _check_against_config(tasks: list[dict], config: str) -> None:
    """What Label Studio checks on import: every $variable of an object tag is in each
    task's data; controls point at object tags; results name a control and its values."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(config)
    objects = {e.get("name"): e.get("value", "")[1:] for e in root.iter("Text")}
    controls = {e.get("name"): e for e in root if e.tag in ("Choices", "Rating")}
    assert root.tag == "View" and objects and controls
    for c in controls.values():
        assert c.get("toName") in objects
    for t in tasks:
        missing = set(objects.values()) - set(t["data"])
        assert not missing, f"task data lacks {missing}"
        for ann in t.get("annotations", []):
            for region in ann["result"]:
                ctl = controls[region["from_name"]]
                assert region["to_name"] == ctl.get("toName")
                if ctl.tag == "Choices":
                    allowed = {ch.get("value") for ch in ctl.iter("Choice")}
                    assert set(region["value"]["choices"]) <= allowed
                else:
                    assert 1 <= region["value"]["rating"] <= int(ctl.get("maxRating"))


@pytest.mark.parametrize("spec", ["pass,fail", "1-5"])
def test_label_studio_export_matches_the_documented_import_format(tmp_path: Path,
                                                                  spec: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    scale = Scale.parse(spec)
    out = export_for_rating(tmp_path / "tasks.json", _items(), scale=scale,
                            instructions="Is the answer correct?")
    config = (tmp_path / "tasks.config.xml").read_text()
    tasks = json.loads(out.read_text())
    jsonschema.validate(tasks, LS_TASKS_SCHEMA)
    _check_against_config(tasks, config)
    assert [t["data"]["llaso_id"] for t in tasks] == list(_items())
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.validate([{"text": "no data object"}], LS_TASKS_SCHEMA)
    with pytest.raises(AssertionError, match="task data lacks"):
        _check_against_config([{"data": {"llaso_id": "q0"}}], config)
    # an export as Label Studio writes it (tasks with annotations) parses back
    value = {"choices": ["fail"]} if scale.kind == "choices" else {"rating": 4}
    result = [{"id": "r1", "from_name": "rating", "to_name": "prediction",
               "type": scale.kind, "value": value}]
    export = [{**t, "id": k, "annotations": [
        {"completed_by": {"email": "ann@example.org"}, "result": result, "was_cancelled": False},
        {"completed_by": 7, "result": [], "was_cancelled": True},
    ]} for k, t in enumerate(tasks)]
    jsonschema.validate(export, LS_TASKS_SCHEMA)
    _check_against_config(export, config)
    (tmp_path / "export.json").write_text(json.dumps(export))
    ratings = load_ratings([tmp_path / "export.json"], scale=scale)
    assert ratings.raters == ("ann@example.org",) and ratings.n_cancelled == 6
    assert set(ratings.matrix[0]) == {"fail" if scale.kind == "choices" else 4}


def test_several_raters_with_missing_ratings(tmp_path: Path) -> None:
    scale = Scale.parse("pass,fail")
    export_for_rating(tmp_path / "sheet.csv", _items(), scale=scale)
    with open(tmp_path / "sheet.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "question", "prediction", "rater", "rating"]
    labels = {"ann": ["pass", "pass", "fail", "", "pass", "fail"],
              "bob": ["pass", "fail", "fail", "pass", "", "fail"]}
    for who, labs in labels.items():
        with open(tmp_path / f"{who}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for row, lab in zip(rows, labs, strict=True):
                w.writerow({**row, "rating": lab})  # no rater column filled: the file's name
    (tmp_path / "cy.jsonl").write_text("".join(json.dumps(
        {"id": f"q{i}", "rater": "cy", "rating": lab}) + "\n" for i, lab in
        enumerate(["pass", "fail", None, "pass", "pass", "fail"])))
    paths = [tmp_path / "ann.csv", tmp_path / "bob.csv", tmp_path / "cy.jsonl"]
    ratings = load_ratings(paths, scale=scale, items=list(_items()))
    assert ratings.raters == ("ann", "bob", "cy") and ratings.n_ratings == 15
    assert ratings.matrix[0][3] is None and ratings.matrix[2][2] is None
    assert ratings.consensus()["q1"] == "fail" and ratings.consensus()["q3"] == "pass"
    # order-independent hash; a changed rating changes it
    assert load_ratings(paths[::-1], scale=scale, items=list(_items())).sha256 == ratings.sha256
    (tmp_path / "cy.jsonl").write_text((tmp_path / "cy.jsonl").read_text().replace(
        '"q0", "rater": "cy", "rating": "pass"', '"q0", "rater": "cy", "rating": "fail"'))
    assert load_ratings(paths, scale=scale).sha256 != ratings.sha256
    metric = ratings.as_metric("human_pass")
    assert metric.value == pytest.approx(np.mean([
        v == "pass" for row in ratings.matrix for v in row if v is not None]))
    assert metric.groups is not None and metric.signature.fields["resample"] == "groups"
    assert metric.signature.fields["ratings_sha256"] == ratings.sha256[:12]
    agree = ratings.agreement(n_boot=200)
    assert agree.alpha == pytest.approx(krippendorff_alpha(ratings.array(), level="nominal"))


def test_import_errors_name_file_and_row(tmp_path: Path) -> None:
    scale = Scale.parse("pass,fail")
    p = tmp_path / "r.csv"
    p.write_text("id,rater,rating\nq0,ann,pass\nq0,ann,fail\n")
    with pytest.raises(RatingError, match=r"r.csv: row 3: rater 'ann' rated 'q0' twice"):
        load_ratings([p], scale=scale)
    p.write_text("id,rater,rating\nq0,ann,Pass\n")
    with pytest.raises(RatingError, match=r"row 2: rating 'Pass' is not one of"):
        load_ratings([p], scale=scale)
    p.write_text("id,rating\nq9,pass\n")
    with pytest.raises(RatingError, match=r"rated ids are not in the item set: \['q9'\]"):
        load_ratings([p], scale=scale, items=["q0"])
    p.write_text("id,rating\nq0,7\n")
    with pytest.raises(RatingError, match="outside 1-5"):
        load_ratings([p], scale=Scale.parse("1-5"))
    with pytest.raises(RatingError, match=r"x.xlsx: export formats are .csv, .jsonl, .json"):
        export_for_rating(tmp_path / "x.xlsx", _items(), scale=scale)
    with pytest.raises(RatingError, match="two or more distinct labels"):
        Scale.parse("pass")
    with pytest.raises(RatingError, match="not one of the fields"):
        labeling_config(["a"], scale, target="b")


def test_clustered_interval_covers_when_raters_repeat_items() -> None:
    """Seeded simulation: 3 raters rate the same 40 items; ratings share a strong item
    effect. Resampling items keeps the nominal 95% coverage of the true mean; treating the
    120 ratings as independent would under-cover (checked against the same data)."""
    from llaso_pytest.human import Ratings
    from llaso_pytest.metrics.base import from_values

    rng = np.random.default_rng(7)
    scale = Scale("rating", max_rating=5)
    hits_clustered = hits_naive = 0
    sims = 200
    for _ in range(sims):
        item = rng.normal(0, 1.2, size=40)
        grid = np.clip(np.rint(3 + item + rng.normal(0, 0.4, size=(3, 40))), 1, 5)
        ratings = Ratings(items=tuple(f"i{k}" for k in range(40)), raters=("a", "b", "c"),
                          matrix=tuple(tuple(int(v) for v in row) for row in grid), scale=scale)
        m = ratings.as_metric(n_boot=400, seed=int(rng.integers(1 << 30)))
        naive = from_values("naive", items=grid.ravel().tolist(), n_boot=400,
                            seed=int(rng.integers(1 << 30)))
        # the true mean of the clipped, rounded ratings, by Monte Carlo
        pop_item = rng.normal(0, 1.2, size=(20000, 1))
        truth = np.clip(np.rint(3 + pop_item + rng.normal(0, 0.4, size=(20000, 3))), 1, 5).mean()
        hits_clustered += m.ci[0] <= truth <= m.ci[1]
        hits_naive += naive.ci[0] <= truth <= naive.ci[1]
    assert 0.90 <= hits_clustered / sims <= 0.99
    assert hits_naive / sims < 0.85


def test_judge_versus_several_humans() -> None:
    from llaso_pytest.human import Ratings

    rng = np.random.default_rng(1)
    truth = rng.choice(["pass", "fail"], size=50)
    raters = [np.where(rng.random(50) < 0.9, truth, np.where(truth == "pass", "fail", "pass"))
              for _ in range(3)]
    items = tuple(f"q{i}" for i in range(50))
    ratings = Ratings(items=items, raters=("a", "b", "c"),
                      matrix=tuple(tuple(map(str, r)) for r in raters),
                      scale=Scale.parse("pass,fail"))
    like_a = dict(zip(items, map(str, raters[0]), strict=True))
    res = judge_vs_human(like_a, ratings)
    assert res.per_rater["a"] == 1.0 and res.n == 50
    assert res.consensus.accuracy > 0.8 and res.judge_as_reliable_as_a_human
    coin = dict(zip(items, map(str, rng.choice(["pass", "fail"], size=50)), strict=True))
    bad = judge_vs_human(coin, ratings)
    assert bad.alpha_with_judge < bad.alpha_humans and not bad.judge_as_reliable_as_a_human
    assert bad.consensus.confusion and sum(map(sum, bad.consensus.confusion)) == 50
    with pytest.raises(RatingError, match="not rated items"):
        judge_vs_human({"zz": "pass"}, ratings)


def test_cli_export_and_agree(tmp_path: Path, capsys) -> None:
    from llaso_pytest.cli import main

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "sheet.csv"
    assert main(["human", "export", str(root / "fixtures/llm/qa"), "--system", "model-b",
                 "--scale", "pass,fail", "-o", str(out)]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and rows[0]["prediction"] and rows[0]["rating"] == ""
    rng = np.random.default_rng(0)
    files = []
    for who in ("ann", "bob"):
        p = tmp_path / f"{who}.csv"
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            for row in rows:
                w.writerow({**row, "rating": str(rng.choice(["pass", "fail", ""]))})
        files.append(str(p))
    js = tmp_path / "agree.json"
    assert main(["human", "agree", *files, "--scale", "pass,fail", "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "Krippendorff's alpha (nominal) = " in text and "ann" in text and "bob" in text
    data = json.loads(js.read_text())
    ratings = load_ratings(files, scale=Scale.parse("pass,fail"))
    assert data["alpha"] == pytest.approx(krippendorff_alpha(ratings.array()))
    assert data["ratings"]["sha256"] == ratings.sha256
    assert main(["human", "agree", str(tmp_path / "none.csv"), "--scale", "pass,fail"]) == 2
    assert "ratings file not found" in capsys.readouterr().err
