"""Verdicts a team can gate on: the measured cases of issue 10, one engine behind every entry
point, and the statistical claims proven by seeded simulation (each well under a minute)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from compare_testutil import record, result

from llaso_pytest import metrics, stats
from llaso_pytest.assertions import assert_not_regressed
from llaso_pytest.cli import main as cli_main
from llaso_pytest.compare import compare_records
from llaso_pytest.metrics.base import build_result
from llaso_pytest.multiplicity import adjust_pvalues

pytest_plugins = ["pytester"]

README_REFS = ["turn the kitchen lights off", "set a timer for ten minutes",
               "what is the weather in Paris", "play some jazz in the living room",
               "call my sister", "remind me to buy milk tomorrow",
               "how tall is Mount Fuji", "open the garage door"]
README_BASE = ["turn the kitchen light off", "set a timer for ten minutes",
               "what is the weather in paris", "play some jazz in the living room",
               "call my sister", "remind me to buy milk tomorrow",
               "how tall is mount fuji", "open the garage door"]
# a worse recogniser: WER 0.024 -> 0.119 as measured in the issue
README_HEAD = ["turn the kitchen light of", "set a time for ten minutes",
               "what is the whether in paris", "play some jazz in living room",
               "call my sister", "remind me to buy milk tomorrow",
               "how tall is mount fuji", "open the garage door"]


def _rec(*results: dict, nodeid: str = "t.py::test_x") -> dict:
    return record({nodeid: list(results)})


def _only(c):  # type: ignore[no-untyped-def]
    assert len(c.metrics) == 1
    return c.metrics[0]


# -- the measured cases ---------------------------------------------------------------------

def test_doubled_wer_over_three_speakers_is_regressed_not_unchanged() -> None:
    """24 utterances by 3 speakers, corpus WER 0.135 -> 0.302: too few speakers for a
    clustered test, so the item-level test decides, and says so."""
    rng = np.random.default_rng(0)
    ref = rng.integers(8, 13, 24)
    groups = [f"spk{i % 3}" for i in range(24)]
    err_a = rng.binomial(ref, 0.135)
    err_b = err_a + rng.binomial(ref - err_a, 0.2)
    def wer(errors: np.ndarray) -> metrics.MetricResult:
        return build_result(name="wer", stats={"errors": errors, "ref_words": ref},
                            aggregate_kind="ratio", higher_is_better=False,
                            item_ids=tuple(f"u{i}" for i in range(24)), groups=tuple(groups),
                            confidence=0.95, n_boot=0, seed=0, signature_fields={})

    a, b = wer(err_a), wer(err_b)
    assert a.value < 0.16 and b.value > 0.27
    m = _only(compare_records(_rec(a.to_record()), _rec(b.to_record())))
    assert m.verdict == "regressed", m
    assert m.method in ("sign-flip", "exact-sign-flip")
    assert any("only 3 groups" in n and "items are resampled instead" in n for n in m.notes)


def test_readme_example_regression_is_never_unchanged() -> None:
    kw = {"ids": [f"cmd{i}" for i in range(8)], "normalize": "whisper"}
    base = metrics.wer(README_REFS, README_BASE, **kw)
    head = metrics.wer(README_REFS, README_HEAD, **kw)
    assert round(base.value, 3) == 0.024 and round(head.value, 3) == 0.119
    m = _only(compare_records(_rec(base.to_record()), _rec(head.to_record())))
    assert m.verdict in ("regressed", "untested"), m.verdict
    assert m.verdict != "unchanged"
    if m.verdict == "untested":
        assert "differ between the runs" in m.untested_reason


def test_too_few_items_is_untested_and_counted_in_every_format() -> None:
    from llaso_pytest.report import render

    a = _rec(result("wer", stats={"e": [1, 0, 2, 1], "n": [5, 6, 7, 5]}))
    b = _rec(result("wer", stats={"e": [3, 2, 4, 3], "n": [5, 6, 7, 5]}))
    c = compare_records(a, b, n_boot=500)
    m = _only(c)
    assert m.verdict == "untested" and "only 4 of 4 items differ" in m.untested_reason
    assert c.counts()["untested"] == 1 and c.counts()["unchanged"] == 0
    for fmt, needle in (("text", "1 untested"), ("md", "1 untested"), ("json", '"untested": 1'),
                        ("html", "1 untested")):
        assert needle in render(c, fmt), fmt
    assert 'verdict-untested' in render(c, "html")
    gate = c.gate()
    assert not gate.failed
    gate = c.gate(fail_on_untested=["w*"])
    assert gate.failed and gate.kind == "untested" and gate.exit_code == 1
    assert "untested" in gate.reasons[0]
    assert not c.gate(fail_on_untested=["bleu"]).failed


# -- one engine -----------------------------------------------------------------------------

def _pair(n: int, seed: int = 1) -> tuple[metrics.MetricResult, metrics.MetricResult]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    refs = [" ".join(rng.choice(words, int(rng.integers(4, 12)))) for _ in range(n)]

    def noisy(rate: float) -> list[str]:
        return [" ".join(w if rng.random() > rate else "x" for w in r.split()) for r in refs]

    ids = [f"u{i}" for i in range(n)]
    return (metrics.wer(refs, noisy(0.10), ids=ids, n_boot=200),
            metrics.wer(refs, noisy(0.13), ids=ids, n_boot=200))


def _numbers(d: dict) -> tuple:
    t = d["test"]
    return (t["method"], tuple(t["delta_ci"]), t["p_value"], t["p_improve"], t["mde"])


@pytest.mark.parametrize("n", [60, 400])  # sign-flip regime and bootstrap regime
def test_every_entry_point_gives_identical_numbers(n: int, pytester: pytest.Pytester,
                                                   tmp_path: Path) -> None:
    base, head = _pair(n)
    n_boot = 10_000  # the defaults of the plugin and of llaso compare
    ref = stats.paired_bootstrap(base.stat_matrix(), head.stat_matrix(),
                                 aggregate=base.aggregate, higher_is_better=False,
                                 n_boot=n_boot, seed=0)
    expected = ({60: "sign-flip", 400: "paired-bootstrap"}[n], ref.ci, ref.p_value,
                ref.p_improve, ref.mde)
    # compare_records
    m = _only(compare_records(_rec(base.to_record()), _rec(head.to_record())))
    assert _numbers(m.to_dict()) == expected
    # llaso compare (CLI) on record files
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    for path, res in ((pa, base), (pb, head)):
        path.write_text(json.dumps(_rec(res.to_record())), encoding="utf-8")
    out = tmp_path / "cmp.json"
    assert cli_main(["compare", str(pa), str(pb), "--format", "json", "-o", str(out),
                     "--quiet"]) == 0
    assert _numbers(json.loads(out.read_text())["metrics"][0]) == expected
    # the plugin: a baseline saved by one session, compared by the next
    data = tmp_path / "which.txt"
    for name, res in (("base", base), ("head", head)):
        (tmp_path / f"{name}.json").write_text(json.dumps(res.to_record()), encoding="utf-8")
    pytester.makepyfile(test_x=f"""
        import json
        from llaso_pytest.metrics.base import MetricResult
        def test_x(record_metric):
            which = open({str(data)!r}).read()
            d = json.load(open({str(tmp_path)!r} + "/" + which + ".json"))
            record_metric(MetricResult.from_record(d))
    """)
    data.write_text("base")
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-save", "main").assert_outcomes(passed=1)
    data.write_text("head")
    plug = tmp_path / "plugin.json"
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                       f"--llaso-compare-out={plug}").assert_outcomes(passed=1)
    assert _numbers(json.loads(plug.read_text())["metrics"][0]) == expected
    # assert_not_regressed: the same test, the same p-value in its message
    if ref.regressed:
        with pytest.raises(AssertionError, match=re.escape(f"p={ref.p_value:.4g}")):
            assert_not_regressed(base, head, n_boot=n_boot, seed=0)
    else:
        assert_not_regressed(base, head, n_boot=n_boot, seed=0)


def test_batched_and_alone_are_bitwise_identical_for_real_valued_scores() -> None:
    rng = np.random.default_rng(3)
    jobs = []
    for j in range(6):
        s = rng.random(300)
        jobs.append(stats.PairedInput(np.column_stack([s, np.ones(300)]),
                                      np.column_stack([s + rng.normal(0.01 * j, 0.1, 300),
                                                       np.ones(300)]), "mean", True))
    together = stats.paired_tests(jobs, n_boot=2000, seed=5)
    for job, t in zip(jobs, together, strict=True):
        (alone,) = stats.paired_tests([job], n_boot=2000, seed=5)
        assert alone == t


# -- multiplicity ---------------------------------------------------------------------------

def test_adjusted_pvalues_match_scipy_and_the_definition_of_holm() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.random(int(rng.integers(1, 40))) ** 3
        np.testing.assert_allclose(adjust_pvalues(p, "bh"), scipy_stats.false_discovery_control(p),
                                   rtol=1e-12)
        m = p.size
        order = np.argsort(p)
        holm = np.empty(m)
        running = 0.0
        for rank, i in enumerate(order):  # Holm (1979): max over the first ranks of (m-k) p
            running = max(running, (m - rank) * p[i])
            holm[i] = min(1.0, running)
        np.testing.assert_allclose(adjust_pvalues(p, "holm"), holm, rtol=1e-12)
        np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)


def _metric_pair(rng: np.random.Generator, n: int, shift: float, name: str
                 ) -> tuple[dict, dict]:
    """One continuous per-item score (judge-like), paired: head = base + noise + shift."""
    base = rng.normal(0.6, 0.2, n)
    head = base + rng.normal(0.0, 0.15, n) + shift
    ids = [f"q{i}" for i in range(n)]

    def res(s: np.ndarray) -> dict:
        # the recorded interval is not used by the paired test; skip computing one
        return result(name, stats={"sum": s, "count": np.ones(n)}, aggregate="mean",
                      ids=ids, higher_is_better=True, scores=s, ci=(0.0, 1.0))

    return res(base), res(head)


def _family_run(seed: int, n_metrics: int, effects: dict[int, float], *, n: int = 30,
                n_boot: int = 3000, correction: str = "bh") -> tuple[set[int], set[int]]:
    rng = np.random.default_rng(seed)
    tests_a, tests_b = {}, {}
    for j in range(n_metrics):
        a, b = _metric_pair(rng, n, effects.get(j, 0.0), "score")
        tests_a[f"t.py::test_m[{j}]"] = [a]
        tests_b[f"t.py::test_m[{j}]"] = [b]
    c = compare_records(record(tests_a), record(tests_b), n_boot=n_boot, seed=seed,
                        correction=correction)  # type: ignore[arg-type]
    flagged = {int(m.nodeid.split("[")[1][:-1]) for m in c.metrics
               if m.verdict in ("regressed", "improved")}
    return flagged, set(effects)


def test_aa_comparisons_of_100_metrics_rarely_flag_anything_with_bh() -> None:
    """200 A/A comparisons of 100 metrics: with BH at 5%, at most 5% of the comparisons
    show any false verdict; without correction nearly all would."""
    sims = 200
    any_false = sum(bool(_family_run(10_000 + s, 100, {})[0]) for s in range(sims))
    assert any_false / sims <= 0.05, any_false / sims
    # the same data without correction flags a false verdict in most comparisons
    raw = sum(bool(_family_run(10_000 + s, 100, {}, correction="none")[0]) for s in range(20))
    assert raw / 20 > 0.8


def test_fdr_is_controlled_on_planted_mixtures() -> None:
    """100 metrics, 20 with a real effect: the share of false verdicts among the flagged
    ones averages at most 5%, and the real effects are found."""
    sims, fdp, power = 60, [], []
    effects = {j: 0.12 for j in range(20)}
    for s in range(sims):
        flagged, true = _family_run(20_000 + s, 100, effects)
        fdp.append(len(flagged - true) / max(1, len(flagged)))
        power.append(len(flagged & true) / len(true))
    assert float(np.mean(fdp)) <= 0.05, np.mean(fdp)
    assert float(np.mean(power)) > 0.5


@pytest.mark.parametrize("n", [60, 400])
def test_planted_effect_equal_to_the_reported_detectable_effect_is_found(n: int) -> None:
    """Report the detectable effect from an A/A comparison, plant exactly that effect in
    fresh data of the same kind: it is detected in at least 75% of runs (80% by design)."""
    reported = []
    for s in range(20):
        a, b = _metric_pair(np.random.default_rng(7 + s), n, 0.0, "score")
        reported.append(_only(compare_records(_rec(a), _rec(b), n_boot=2000, seed=s)).mde)
    assert all(m is not None and m > 0 for m in reported)
    mde = float(np.mean(reported))  # what the comparison reports for data of this kind
    sims, found = 300, 0
    for s in range(sims):
        a, b = _metric_pair(np.random.default_rng(1000 + s), n, mde, "score")
        found += _only(compare_records(_rec(a), _rec(b), n_boot=2000, seed=s)).verdict == \
            "improved"
    assert found / sims >= 0.75, found / sims


@pytest.mark.parametrize("n,groups", [(8, 0), (30, 0), (1000, 0), (150, 30)])
def test_false_positive_rate_of_the_paired_test_under_the_null(n: int, groups: int) -> None:
    """Base and head exchangeable (same system, run twice): flagged 3-7% of the time at 5%,
    for small, medium and large n and with speaker clusters."""
    sims, flagged = 1000, 0
    for s in range(sims):
        rng = np.random.default_rng(50_000 + s)
        if groups:
            g = np.repeat(np.arange(groups), n // groups)
            effect = rng.normal(0, 0.2, groups)[g]  # shared by both runs of a speaker
            a = 0.5 + effect + rng.normal(0, 0.1, n) + np.repeat(rng.normal(0, 0.1, groups),
                                                                 n // groups)
            b = 0.5 + effect + rng.normal(0, 0.1, n) + np.repeat(rng.normal(0, 0.1, groups),
                                                                 n // groups)
            grp = [str(x) for x in g]
        else:
            common = rng.normal(0.5, 0.2, n)
            a, b = common + rng.normal(0, 0.1, n), common + rng.normal(0, 0.1, n)
            grp = None
        ones = np.ones(n)
        t = stats.paired_bootstrap(np.column_stack([a, ones]), np.column_stack([b, ones]),
                                   aggregate="mean", higher_is_better=True, n_boot=1000,
                                   seed=s, groups=grp)
        assert t.tested and (t.resample == "groups") == bool(groups)
        flagged += t.significant
    assert 0.03 <= flagged / sims <= 0.07, flagged / sims


# -- no silent passes -----------------------------------------------------------------------

def _wer_rec(nodeids: list[str], *, rate: float = 0.1, seed: int = 0, **extra: object) -> dict:
    rng = np.random.default_rng(seed)
    ref = rng.integers(5, 15, 300)
    tests = {}
    for nodeid in nodeids:
        e = rng.binomial(ref, rate)
        tests[nodeid] = [result("wer", stats={"errors": e, "ref": ref}, ci=(0.0, 1.0))]
    rec = record(tests)
    rec.update(extra)
    return rec


def test_no_metric_in_common_is_a_vacuous_gate_not_a_pass() -> None:
    a = _wer_rec(["suite_a.py::test_1"])
    b = _wer_rec(["suite_b.py::test_9"])
    c = compare_records(a, b, n_boot=200)
    kinds = {p.kind for p in c.problems}
    assert {"no-common-metric", "different-suite"} <= kinds
    gate = c.gate()
    assert gate.failed and gate.kind == "vacuous" and gate.exit_code == 6
    assert any("share no test" in r for r in gate.reasons)


def test_all_incomparable_is_vacuous_too() -> None:
    a = _wer_rec(["t.py::test_1"])
    b = _wer_rec(["t.py::test_1"])
    b["tests"][0]["results"][0]["signature"]["fields"]["normalizer"] = "none"
    c = compare_records(a, b, n_boot=200)
    assert c.metrics[0].verdict == "incomparable"
    assert c.gate().kind == "vacuous"
    assert "1 incomparable" in c.gate().reasons[0]


def test_a_subset_run_marks_deselected_tests_not_run_and_fails_the_gate() -> None:
    nodes = [f"t.py::test_{i}" for i in range(4)]
    a = _wer_rec(nodes)
    sel = {"collected": 4, "deselected": nodes[1:], "args": [], "keyword": "test_0",
           "markexpr": None, "last_failed": False, "subset": True, "empty": False}
    b = _wer_rec(nodes[:1], selection=sel)
    c = compare_records(a, b, n_boot=200)
    verdicts = {m.nodeid: m.verdict for m in c.metrics}
    assert verdicts == {nodes[0]: "unchanged", **{n: "not-run" for n in nodes[1:]}}
    assert c.counts()["removed"] == 0 and c.counts()["not-run"] == 3
    assert c.head.subset and "-k 'test_0'" in (c.head.selection or "")
    gate = c.gate()
    assert gate.kind == "vacuous" and "subset" in gate.reasons[0] and "3 baseline" in \
        gate.reasons[0]
    # without a selection section, a test that is simply gone is "removed"
    plain = compare_records(a, _wer_rec(nodes[:1]), n_boot=200)
    assert plain.counts()["removed"] == 3 and not plain.problems


def test_an_empty_or_interrupted_head_run_is_vacuous() -> None:
    a = _wer_rec(["t.py::test_1"])
    empty = record({})
    c = compare_records(a, empty, n_boot=200)
    assert {"empty-head", "no-common-metric"} <= {p.kind for p in c.problems}
    assert c.gate().exit_code == 6
    cut = _wer_rec(["t.py::test_1"], complete=False, interrupted_by="KeyboardInterrupt")
    c = compare_records(a, cut, n_boot=200)
    assert [p.kind for p in c.problems] == ["incomplete"] and c.gate().kind == "vacuous"


def test_absent_provenance_is_reported_as_absent_not_as_changed() -> None:
    a = _wer_rec(["t.py::test_1"])
    b = _wer_rec(["t.py::test_1"])
    a["provenance"] = {"datasets": {"librispeech": {"sha256": "aa"}}}
    b["provenance"] = {}
    c = compare_records(a, b, n_boot=200)
    assert [(p.path, p.change) for p in c.provenance_diffs] == [
        ("datasets.librispeech.sha256", "only-base")]
    assert not any(w.startswith("the evaluation data changed") for w in c.warnings)
    assert any("recorded no datasets provenance" in w and "cannot be told" in w
               for w in c.warnings)
    b["provenance"] = {"datasets": {"librispeech": {"sha256": "bb"}}}
    c = compare_records(a, b, n_boot=200)
    assert any(w.startswith("the evaluation data changed") for w in c.warnings)
