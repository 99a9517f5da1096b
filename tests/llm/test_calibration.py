"""Calibration maths against hand-derivable cases, and the human-label round trip."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest

from llaso_pytest.llm.calibration import (
    LabelError,
    agreement,
    cohen_kappa,
    export_for_rating,
    load_human_labels,
)


def _expand(table: dict[tuple[str, str], int]) -> tuple[list[str], list[str]]:
    a: list[str] = []
    b: list[str] = []
    for (x, y), n in table.items():
        a += [x] * n
        b += [y] * n
    return a, b


def test_kappa_textbook_example() -> None:
    # 50 items; both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    # p_o = 35/50 = 0.7; p_yes = 0.5*0.6 = 0.30, p_no = 0.5*0.4 = 0.20 -> p_e = 0.5;
    # kappa = 0.2/0.5 = 0.4
    a, b = _expand({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_second_hand_case_and_symmetry() -> None:
    # both yes 45, A yes/B no 15, A no/B yes 25, both no 15 (n=100):
    # p_o = 0.60; A yes 0.60, B yes 0.70 -> p_e = 0.42 + 0.12 = 0.54; kappa = 0.06/0.46
    a, b = _expand({("y", "y"): 45, ("y", "n"): 15, ("n", "y"): 25, ("n", "n"): 15})
    assert cohen_kappa(a, b) == pytest.approx(0.06 / 0.46)
    assert cohen_kappa(b, a) == pytest.approx(cohen_kappa(a, b))


def test_kappa_edge_cases() -> None:
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    # chance-level: every combination equally often
    a, b = _expand({("a", "a"): 5, ("a", "b"): 5, ("b", "a"): 5, ("b", "b"): 5})
    assert cohen_kappa(a, b) == pytest.approx(0.0)
    # one category used by both raters: expected disagreement is 0 -> undefined, not 1 and not 0
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    with pytest.raises(ValueError, match="2 labels from rater A but 1"):
        cohen_kappa(["a", "b"], ["a"])


def test_weighted_kappa_hand_derived() -> None:
    # 3 ordinal categories, 4 items: (1,1), (1,2), (2,3), (3,3)
    # linear weights |i-j|: observed = (0+1+1+0)/4 = 0.5
    # rows (A): 1:2, 2:1, 3:1 ; cols (B): 1:1, 2:1, 3:2
    # expected = sum w_ij r_i c_j / 16 = [r1(c2*1 + c3*2) + r2(c1*1 + c3*1) + r3(c1*2 + c2*1)] / 16
    #          = [2*(1+4) + 1*(1+2) + 1*(2+1)] / 16 = 16/16 = 1.0 -> kappa_w = 1 - 0.5/1 = 0.5
    a, b = ["1", "1", "2", "3"], ["1", "2", "3", "3"]
    assert cohen_kappa(a, b, labels=["1", "2", "3"], weights="linear") == pytest.approx(0.5)
    # quadratic (i-j)^2: observed = (0+1+1+0)/4 = 0.5;
    # expected = [2*(1*1 + 2*4) + 1*(1*1 + 2*1) + 1*(1*4 + 1*1)] / 16 = (18 + 3 + 5)/16 = 26/16
    assert cohen_kappa(a, b, labels=["1", "2", "3"], weights="quadratic") == pytest.approx(
        1 - 0.5 / (26 / 16)
    )


def test_kappa_matches_the_definition_on_random_data() -> None:
    """Independent formulation: p_o and p_e from per-label marginals, over many random cases."""
    rng = random.Random(0)
    for _ in range(200):
        labels = ["a", "b", "c"][: rng.randint(2, 3)]
        n = rng.randint(2, 40)
        a = [rng.choice(labels) for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice(labels) for x in a]
        po = sum(x == y for x, y in zip(a, b, strict=True)) / n
        pe = sum((a.count(lab) / n) * (b.count(lab) / n) for lab in labels)
        got = cohen_kappa(a, b, labels=labels)
        if pe == 1:
            assert math.isnan(got)
        else:
            assert got == pytest.approx((po - pe) / (1 - pe), abs=1e-12)


def test_agreement_reports_accuracy_kappa_confusion_and_gaps() -> None:
    judge = {"1": "pass", "2": "pass", "3": "fail", "4": "fail", "5": "pass"}
    human = {"1": "pass", "2": "fail", "3": "fail", "4": "fail"}
    ag = agreement(judge, human)
    assert ag.n == 4 and ag.accuracy == 0.75
    assert ag.labels == ("fail", "pass")
    # rows human (fail, pass), columns judge: human-fail items 2,3,4 were judged pass, fail, fail
    assert ag.confusion == ((2, 1), (0, 1))
    assert ag.kappa == pytest.approx(
        cohen_kappa(["pass", "fail", "fail", "fail"], ["pass", "pass", "fail", "fail"])
    )
    assert ag.unlabelled == ("5",)
    with pytest.raises(LabelError, match=r"1 human-labelled ids were not judged: \['9'\]"):
        agreement(judge, {**human, "9": "pass"})


def test_export_then_import_round_trip_csv_and_jsonl(tmp_path: Path) -> None:
    items = {
        "q1": {"question": "Why, though?", "answer": 'Because,\n"quoted"'},
        "q2": {"question": "日本語？", "answer": "はい"},
    }
    for suffix in (".csv", ".jsonl"):
        path = export_for_rating(tmp_path / f"rate{suffix}", items, instructions="pass or fail")
        text = path.read_text(encoding="utf-8")
        if suffix == ".csv":
            text = text.replace("\r\n", "\n")
            lines = text.splitlines()
            assert lines[0] == "id,question,answer,label"
            filled = text.replace('"Because,\n""quoted""",', '"Because,\n""quoted""",pass') \
                         .replace("はい,", "はい,fail")
        else:
            rows = [json.loads(x) for x in text.splitlines()]
            assert rows[0]["answer"] == items["q1"]["answer"] and rows[0]["label"] is None
            rows[0]["label"], rows[1]["label"] = "pass", "fail"
            filled = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
        path.write_text(filled, encoding="utf-8")
        assert load_human_labels(path, allowed=["pass", "fail"]) == {"q1": "pass", "q2": "fail"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,label\nq1,pass\nq2,\n", r"row 3 \(id 'q2'\): empty label"),
        ("id,label\nq1,pass\nq1,fail\n", r"row 3: duplicate id 'q1' \(first at row 2\)"),
        (
            "id,label\nq1,maybe\n",
            r"row 2 \(id 'q1'\): label 'maybe' is not one of \['fail', 'pass'\]",
        ),
        ("id,score\nq1,pass\n", r"has no 'label' column"),
        ("id,label\n,pass\n", r"row 2: empty or missing 'id'"),
    ],
)
def test_bad_csv_rows_are_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(content)
    with pytest.raises(LabelError, match=message):
        load_human_labels(path, allowed=["pass", "fail"])


def test_bad_jsonl_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text('{"id": "a", "label": 4}\n{"id": "b", "label": 7}\n')
    with pytest.raises(LabelError, match=r"line 2 \(id 'b'\): label '7' is not one of"):
        load_human_labels(path, allowed=[str(i) for i in range(1, 6)])
    path.write_text('{"id": "a", "label": 4}\nnot json\n')
    with pytest.raises(LabelError, match="line 2: not valid JSON"):
        load_human_labels(path)


def test_agreement_with_a_rubric_judge_uses_the_scale_order(tmp_path: Path) -> None:
    from llaso_pytest.llm.judge import ItemVerdict, JudgeResult

    verdicts = tuple(
        ItemVerdict(i, float(s), str(s), "r", ()) for i, s in [("a", 1), ("b", 3), ("c", 5)]
    )
    err = ItemVerdict("d", None, None, None, (), error_kind="unparsable", error="x")
    result = JudgeResult(
        name="j",
        kind="rubric",
        verdicts=verdicts + (err,),
        prompt={"scale": [1, 5]},
        judge={},
        k=1,
        aggregate="mean",
    )
    ag = agreement(result, {"a": "1", "b": "4", "c": "5", "d": "2"})
    assert ag.labels == ("1", "2", "3", "4", "5") and ag.n == 3 and ag.judge_errors == ("d",)
    assert ag.weighted_kappa == pytest.approx(
        cohen_kappa(["1", "4", "5"], ["1", "3", "5"], labels=list("12345"), weights="quadratic"))
    assert list(itertools.chain.from_iterable(ag.confusion)).count(1) == 3


def test_labels_outside_the_judge_kind_are_an_error_naming_them() -> None:
    """'Pass' is not 'pass': a label of another spelling is not a category of its own."""
    from llaso_pytest.llm.calibration import LabelError
    from llaso_pytest.llm.judge import ItemVerdict, JudgeResult

    binary = JudgeResult(
        name="j",
        kind="binary",
        prompt={},
        judge={},
        k=1,
        aggregate="majority",
        verdicts=tuple(
            ItemVerdict(i, v, v, "r", ())
            for i, v in [("a", "pass"), ("b", "fail"), ("c", "pass"), ("d", "fail")]
        ),
    )
    ok = agreement(binary, {"a": "pass", "b": "fail", "c": "pass", "d": "fail"})
    assert ok.accuracy == 1.0 and ok.labels == ("pass", "fail") and ok.weighted_kappa is None
    with pytest.raises(
        LabelError,
        match=r"\['FAIL', 'Pass'\] are outside the label set \['pass', 'fail'\].*'a': 'Pass'",
    ):
        agreement(binary, {"a": "Pass", "b": "FAIL", "c": "pass", "d": "fail"})
    pairwise = JudgeResult(
        name="w",
        kind="pairwise",
        prompt={},
        judge={},
        k=1,
        aggregate="majority",
        labels=("m1", "m2"),
        verdicts=tuple(
            ItemVerdict(i, v, v, "r", ())
            for i, v in [("a", "m1"), ("b", "tie"), ("c", "inconsistent")]
        ),
    )
    assert agreement(pairwise, {"a": "m1", "b": "m2", "c": "tie"}).labels == (
        "m1",
        "m2",
        "tie",
        "inconsistent",
    )
    with pytest.raises(LabelError, match=r"\['A'\] are outside"):
        agreement(pairwise, {"a": "A"})


def test_cli_exports_pinned_predictions_and_checks_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llaso_pytest.llm.calibration import main

    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "llm"
    out = tmp_path / "rate.csv"
    assert main(["export", str(fixtures / "qa"), "--system", "model-b", "--out", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (
        len(rows) == 20
        and rows[0]["id"] == "qa-001"
        and rows[0]["prediction"] == "The Mediterranean."
    )
    assert rows[0]["answers"] == "the Mediterranean Sea | Mediterranean" and rows[0]["label"] == ""
    assert main(["check", str(out)]) == 1  # nothing rated yet
    assert "row 2 (id 'qa-001'): empty label" in capsys.readouterr().err
    assert (
        main(["check", str(fixtures / "qa" / "human_labels.model-b.csv"), "--allowed", "pass,fail"])
        == 0
    )
    assert "20 labelled items; fail=9, pass=11" in capsys.readouterr().out
