"""Unit tests of llaso_pytest.compare: verdicts, pairing, tolerances, flips, provenance, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from compare_testutil import (
    accuracy_result,
    modified,
    record,
    result,
    synthetic_pair,
    wer_result,
    write_json,
)

from llaso_pytest import compare as cmp
from llaso_pytest.compare import (
    compare_files,
    compare_records,
    parse_tolerances,
)
from llaso_pytest.record import RecordError
from llaso_pytest.stats import multinomial_counts

NODE = "suites/asr/test_asr.py::test_wer[clean]"


def only(c: cmp.Comparison) -> cmp.MetricDiff:
    assert len(c.metrics) == 1
    return c.metrics[0]


# -- verdicts ------------------------------------------------------------------------------

def test_worse_wer_is_a_paired_regression() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.14)
    c = compare_records(a, b, n_boot=2000, seed=0)
    m = only(c)
    assert m.verdict == "regressed" and m.method == "paired-bootstrap"
    assert m.pairing == cmp.Pairing(400, 0, 0)
    assert m.delta is not None and m.delta > 0
    assert m.delta_ci is not None and 0 < m.delta_ci[0] < m.delta < m.delta_ci[1]
    assert m.p_improve is not None and m.p_improve < 0.01
    assert c.has_regression and c.regressions == (m,)
    assert c.counts()["regressed"] == 1
    assert c.summary_line().startswith("1 regressed, 0 improved at FDR 5%; 0 unchanged, 0 untested")


def test_better_wer_is_an_improvement_and_direction_matters() -> None:
    a, b = synthetic_pair(base_rate=0.14, head_rate=0.10)
    m = only(compare_records(a, b, n_boot=2000))
    assert m.verdict == "improved" and m.delta < 0 and m.p_improve > 0.99
    # The same numbers for a metric where higher is better: now a regression.
    for rec in (a, b):
        rec["tests"][0]["results"][0]["higher_is_better"] = True
    m = only(compare_records(a, b, n_boot=2000))
    assert m.verdict == "regressed" and m.p_improve < 0.01


def test_same_system_is_unchanged_and_the_interval_holds_zero() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.10, seed=3)
    m = only(compare_records(a, b, n_boot=2000))
    assert m.verdict == "unchanged" and not m.significant
    assert m.delta_ci[0] < 0 < m.delta_ci[1]


def test_paired_delta_matches_the_recorded_values() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.12)
    m = only(compare_records(a, b, n_boot=500))
    assert m.delta == pytest.approx(m.head_value - m.base_value, abs=1e-12)


def test_identical_runs_give_a_zero_width_difference() -> None:
    a, _ = synthetic_pair()
    m = only(compare_records(a, modified(a), n_boot=500))
    assert m.verdict == "unchanged" and m.delta == 0 and m.delta_ci == (0.0, 0.0)


def test_new_and_removed_metrics() -> None:
    a, b = synthetic_pair()
    b["tests"].append({"nodeid": "t.py::test_new", "markers": [], "outcome": "passed",
                       "duration": 0.0, "results": [accuracy_result([1, 0, 1])]})
    a["tests"].append({"nodeid": "t.py::test_old", "markers": [], "outcome": "passed",
                       "duration": 0.0, "results": [accuracy_result([1, 0, 1])]})
    c = compare_records(a, b, n_boot=500)
    verdicts = {m.nodeid: m.verdict for m in c.metrics}
    assert verdicts["t.py::test_new"] == "new"
    assert verdicts["t.py::test_old"] == "removed"
    assert c.counts()["new"] == 1 and c.counts()["removed"] == 1


def test_metrics_are_matched_by_nodeid_and_name() -> None:
    rng = np.random.default_rng(1)
    ref = rng.integers(5, 15, 200)
    good, bad = rng.binomial(ref, 0.05), rng.binomial(ref, 0.2)
    a = record({"t.py::test_a": [wer_result(good, ref), wer_result(good, ref, name="cer")],
                "t.py::test_b": [wer_result(good, ref)]})
    b = record({"t.py::test_b": [wer_result(good, ref)],
                "t.py::test_a": [wer_result(good, ref, name="cer"), wer_result(bad, ref)]})
    c = compare_records(a, b, n_boot=500)
    got = {(m.nodeid, m.name): m.verdict for m in c.metrics}
    assert got == {("t.py::test_a", "wer"): "regressed", ("t.py::test_a", "cer"): "unchanged",
                   ("t.py::test_b", "wer"): "unchanged"}


# -- signatures ----------------------------------------------------------------------------

def test_different_normalizer_is_incomparable_and_names_the_field() -> None:
    a, b = synthetic_pair()
    sig = b["tests"][0]["results"][0]["signature"]["fields"]
    sig["normalizer"] = "whisper"
    sig["model_pin"] = "sha256:beef"
    m = only(compare_records(a, b, n_boot=500))
    assert m.verdict == "incomparable" and m.method is None
    fields = {d.field: (d.base, d.head) for d in m.signature_diffs}
    assert fields == {"normalizer": ("basic", "whisper"), "model_pin": (None, "sha256:beef")}
    assert not compare_records(a, b, n_boot=500).has_regression


def test_resampling_settings_do_not_make_metrics_incomparable() -> None:
    a, b = synthetic_pair(head_rate=0.14)
    sig = b["tests"][0]["results"][0]["signature"]["fields"]
    sig["n_boot"], sig["seed"] = 5000, 7
    assert only(compare_records(a, b, n_boot=500)).verdict == "regressed"


def test_different_aggregate_or_direction_is_incomparable() -> None:
    a, b = synthetic_pair()
    b["tests"][0]["results"][0]["higher_is_better"] = True
    m = only(compare_records(a, b, n_boot=500))
    assert m.verdict == "incomparable"
    assert [d.field for d in m.signature_diffs] == ["higher_is_better"]


# -- pairing -------------------------------------------------------------------------------

def test_items_are_paired_by_id_not_position() -> None:
    a, b = synthetic_pair(head_rate=0.13)
    m1 = only(compare_records(a, b, n_boot=1000, seed=5))
    items = b["tests"][0]["results"][0]["items"]
    order = np.random.default_rng(0).permutation(len(items["ids"]))
    for key in ("ids", "scores"):
        items[key] = [items[key][i] for i in order]
    for col in items["stats"]:
        items["stats"][col] = [items["stats"][col][i] for i in order]
    m2 = only(compare_records(a, b, n_boot=1000, seed=5))
    assert m2.delta == pytest.approx(m1.delta)
    assert m2.n_paired == 400
    assert {c.item for c in m2.worst_changes} == {c.item for c in m1.worst_changes}


def test_partial_overlap_reports_paired_and_unpaired_counts() -> None:
    rng = np.random.default_rng(2)
    ref = rng.integers(5, 15, 300)
    err = rng.binomial(ref, 0.1)
    ids = [f"u{i}" for i in range(300)]
    a = record({NODE: [wer_result(err[:250], ref[:250], ids=ids[:250])]})
    b = record({NODE: [wer_result(err[20:], ref[20:], ids=ids[20:])]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.pairing == cmp.Pairing(230, 20, 50)
    # identical on every paired item: the exact test has nothing to flip, p = 1
    assert m.method == "exact-sign-flip" and m.p_value == 1.0 and m.test.n_differing == 0
    assert m.verdict == "unchanged"
    assert any("230 items paired; 20 only in the base, 50 only in the head" in n for n in m.notes)
    # Same items on both sides -> same numbers -> delta over the paired items is exactly 0.
    assert m.delta == 0.0


def test_without_items_the_two_intervals_are_compared() -> None:
    a = record({NODE: [result("bleu", stats={}, value=30.0, ci=(29.0, 31.0),
                              higher_is_better=True, aggregate="bleu")]})
    b = record({NODE: [result("bleu", stats={}, value=26.0, ci=(25.0, 27.0),
                              higher_is_better=True, aggregate="bleu")]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.method == "unpaired-intervals" and m.verdict == "regressed"
    assert m.delta == -4.0
    # se of each = 1/1.96; difference CI = -4 +- 1.96*sqrt(2)/1.96
    assert m.delta_ci == pytest.approx((-4 - 2**0.5, -4 + 2**0.5), rel=1e-6)
    assert any("unpaired comparison of the two intervals" in n for n in m.notes)
    b["tests"][0]["results"][0]["value"] = 29.5
    b["tests"][0]["results"][0]["ci"] = [28.5, 30.5]
    assert only(compare_records(a, b, n_boot=500)).verdict == "unchanged"


def test_no_interval_and_no_items_is_untested_even_with_a_tolerance() -> None:
    a = record({NODE: [result("latency", stats={}, value=1.0, higher_is_better=False)]})
    b = record({NODE: [result("latency", stats={}, value=1.5, higher_is_better=False)]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.method is None and m.verdict == "untested"
    assert "no interval in the base" in m.untested_reason
    # a tolerance cannot stand in for a test: still untested, never "unchanged"
    m = only(compare_records(a, b, n_boot=500, tolerances="latency:+0.2"))
    assert m.verdict == "untested"


def test_three_paired_items_are_untested_not_unchanged() -> None:
    a = record({NODE: [wer_result([1, 0, 2], [5, 6, 7], ci=(0.0, 0.3))]})
    b = record({NODE: [wer_result([2, 1, 2], [5, 6, 7], ci=(0.1, 0.5))]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.verdict == "untested" and m.test is not None and m.p_value is None
    assert "only 2 of 3 items differ" in m.untested_reason
    c = compare_records(a, b, n_boot=500)
    assert c.counts()["untested"] == 1 and "1 untested" in c.summary_line()


def test_groups_give_a_cluster_bootstrap_over_speakers() -> None:
    rng = np.random.default_rng(4)
    n_spk, per = 30, 20
    groups = [f"spk{s}" for s in range(n_spk) for _ in range(per)]
    ref = rng.integers(5, 15, n_spk * per)
    # speaker-level effects make utterances of one speaker correlated
    rate_a = np.repeat(rng.uniform(0.02, 0.3, n_spk), per)
    rate_b = np.clip(rate_a + np.repeat(rng.normal(0.0, 0.05, n_spk), per), 0, 1)
    a = record({NODE: [wer_result(rng.binomial(ref, rate_a), ref, groups=groups)]})
    b = record({NODE: [wer_result(rng.binomial(ref, rate_b), ref, groups=groups)]})
    m = only(compare_records(a, b, n_boot=2000))
    assert m.method == "cluster-sign-flip" and m.test.n_units == n_spk
    for rec in (a, b):
        rec["tests"][0]["results"][0]["items"]["groups"] = None
    flat = only(compare_records(a, b, n_boot=2000))
    assert flat.method == "paired-bootstrap" and flat.test.n_units == n_spk * per
    width = m.delta_ci[1] - m.delta_ci[0]
    assert width > 1.3 * (flat.delta_ci[1] - flat.delta_ci[0])


# -- flips and item changes ----------------------------------------------------------------

def test_pass_fail_flips_in_both_directions() -> None:
    base = [1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1]
    head = [1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1]
    ids = [f"q{i}" for i in range(12)]
    a = record({"t.py::test_qa": [accuracy_result(base, ids=ids)]})
    b = record({"t.py::test_qa": [accuracy_result(head, ids=ids)]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.pass_fail
    assert m.flips.broken == ("q1", "q5") and m.flips.n_broken == 2
    assert m.flips.fixed == ("q2", "q10") and m.flips.n_fixed == 2


def test_flips_for_an_error_indicator_where_lower_is_better() -> None:
    a = record({"t.py::x": [result("err", stats={"s": [0, 1, 0, 1] * 5, "c": [1] * 20},
                                   aggregate="mean", scores=[0, 1, 0, 1] * 5)]})
    b = record({"t.py::x": [result("err", stats={"s": [1, 0, 0, 1] * 5, "c": [1] * 20},
                                   aggregate="mean", scores=[1, 0, 0, 1] * 5)]})
    m = only(compare_records(a, b, n_boot=500))
    assert m.pass_fail and m.flips.n_broken == 5 and m.flips.n_fixed == 5
    assert m.flips.broken[0] == "u0" and m.flips.fixed[0] == "u1"


def test_largest_changes_are_oriented_by_direction() -> None:
    ids = [f"u{i}" for i in range(12)]
    ref = [10] * 12
    err_a = [1] * 12
    err_b = [1] * 9 + [6, 0, 3]
    a = record({NODE: [wer_result(err_a, ref, ids=ids)]})
    b = record({NODE: [wer_result(err_b, ref, ids=ids)]})
    m = only(compare_records(a, b, n_boot=500))
    assert not m.pass_fail
    assert [c.item for c in m.worst_changes] == ["u9", "u11"]
    assert m.worst_changes[0].change == pytest.approx(-0.5)
    assert [c.item for c in m.best_changes] == ["u10"]


# -- tolerances ----------------------------------------------------------------------------

def test_parse_tolerances() -> None:
    t = parse_tolerances("wer:+0.5pp, bleu:-1.0; rouge*:2%")
    assert t["wer"].absolute(0.1) == pytest.approx(0.005) and t["wer"].sign == "+"
    assert t["bleu"].absolute(30) == 1.0 and t["bleu"].unit == "abs"
    assert t["rouge*"].absolute(40.0) == pytest.approx(0.8)
    assert parse_tolerances(["a:1", "b=2"]).keys() == {"a", "b"}
    assert parse_tolerances(None) == {}
    assert parse_tolerances("") == {}


@pytest.mark.parametrize("bad", ["wer", "wer:", "wer:+x", "wer:+1furlong", ":1", "wer:1,wer:2"])
def test_bad_tolerances_name_the_entry(bad: str) -> None:
    with pytest.raises(ValueError, match="bad tolerance"):
        parse_tolerances(bad)


def test_a_regression_inside_the_tolerance_is_unchanged() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.13)
    m = only(compare_records(a, b, n_boot=1000))
    assert m.verdict == "regressed"
    inside = only(compare_records(a, b, n_boot=1000, tolerances="wer:+5pp"))
    assert inside.verdict == "unchanged" and inside.tolerance.within
    assert inside.tolerance.amount == pytest.approx(0.05)
    outside = only(compare_records(a, b, n_boot=1000, tolerances="wer:+0.5pp"))
    assert outside.verdict == "regressed" and not outside.tolerance.within


def test_tolerance_can_target_one_test_and_warns_when_unused() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.13)
    c = compare_records(a, b, n_boot=500, tolerances=f"{NODE}::wer:+5pp, cer:+1pp")
    assert only(c).verdict == "unchanged"
    assert any("'cer:+1pp' matches no compared metric" in w for w in c.warnings)


def test_a_per_test_tolerance_beats_a_plain_name_one() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.13)
    for order in ((f"{NODE}::wer:+5pp", "wer:+0.5pp"), ("wer:+0.5pp", f"{NODE}::wer:+5pp")):
        m = only(compare_records(a, b, n_boot=500, tolerances=", ".join(order)))
        assert m.verdict == "unchanged" and m.tolerance.within, order
        assert m.tolerance.text == f"{NODE}::wer:+5pp"
    # and the other way round: a strict per-test tolerance is not loosened by a plain one
    m = only(compare_records(a, b, n_boot=500, tolerances=f"wer:+5pp, {NODE}::wer:+0.5pp"))
    assert m.verdict == "regressed"


def _tol_for(entries: str, nodeid: str, name: str) -> str | None:
    found = cmp.find_tolerance(parse_tolerances(entries), nodeid, name)
    return None if found is None else found.pattern


def test_tolerance_precedence_from_most_to_least_specific() -> None:
    node = "suites/asr/test_asr.py::test_wer[noisy]"
    every = [f"{node}::wer:1", "suites/asr/*::wer:2", "wer:3", "w*:4"]
    for i in range(len(every)):
        remaining = every[i:]
        for entries in (remaining, remaining[::-1]):  # the order given does not matter
            assert _tol_for(", ".join(entries), node, "wer") == every[i].rsplit(":", 1)[0]
    # among globs of one kind the one with more literal text wins
    assert _tol_for("*::wer:1, suites/asr/test_asr.py::*::wer:2", node, "wer") == \
        "suites/asr/test_asr.py::*::wer"
    assert _tol_for("*:1, we*:2", node, "wer") == "we*"


def test_glob_tolerances_match_parametrized_ids_literally() -> None:
    noisy = "suites/asr/test_asr.py::test_wer[noisy]"
    clean = "suites/asr/test_asr.py::test_wer[clean]"
    entries = "suites/asr/*[noisy]::wer:+1pp"
    assert _tol_for(entries, noisy, "wer") == "suites/asr/*[noisy]::wer"
    # fnmatch would read [noisy] as one of n, o, i, s, y: "...test_wer[n]" would match
    assert _tol_for(entries, "suites/asr/test_asr.py::test_wer[n]", "wer") is None
    assert _tol_for(entries, clean, "wer") is None
    assert _tol_for("test_?er[clean]*:1", "x", "test_wer[clean]/macro") == "test_?er[clean]*"
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.13, nodeid=noisy)
    c = compare_records(a, b, n_boot=500, tolerances="suites/asr/*[noisy]::wer:+5pp")
    assert only(c).verdict == "unchanged" and not c.warnings


def test_tolerance_with_the_wrong_sign_is_noted() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.13)
    m = only(compare_records(a, b, n_boot=500, tolerances="wer:-5pp"))
    assert m.verdict == "unchanged"
    assert any("worse means up" in n for n in m.notes)


# -- provenance ----------------------------------------------------------------------------

def test_provenance_differences_cover_what_changes_numbers() -> None:
    a, b = synthetic_pair()
    a["provenance"] = {
        "git": {"commit": "aaa"}, "seed": 1, "command": ["pytest"],
        "packages": {"jiwer": "3.0.4", "numpy": "2.0"}, "gpu": [{"name": "A100"}],
        "models": {"whisper-tiny": {"sha256": "11", "root": "/home/ci/site-packages/w"}},
        "datasets": {"ls-clean": "h1"}, "python": {"executable": "/usr/bin/python3"},
    }
    b["provenance"] = {
        "git": {"commit": "bbb"}, "seed": 2, "command": ["pytest", "-x"],
        "packages": {"jiwer": "4.0.0", "numpy": "2.0", "sacrebleu": "2.4"},
        "gpu": [{"name": "H100"}],
        "models": {"whisper-tiny": {"sha256": "22", "root": "/work/.venv/site-packages/w"}},
        "datasets": {"ls-clean": "h1"}, "python": {"executable": "/work/.venv/bin/python"},
    }
    c = compare_records(a, b, n_boot=500)
    got = {p.path: (p.base, p.head) for p in c.provenance_diffs}
    assert got == {
        "models.whisper-tiny.sha256": ("11", "22"),
        "packages.jiwer": ("3.0.4", "4.0.0"),
        "packages.sacrebleu": (None, "2.4"),
        "seed": (1, 2),
        "gpu[0].name": ("A100", "H100"),
    }  # where files live (absolute paths) is no difference: their hashes are compared
    assert c.base.commit == "aaa" and c.head.commit == "bbb"
    assert not any("evaluation data changed" in w for w in c.warnings)
    b["provenance"]["datasets"] = {"ls-clean": "h2"}
    c = compare_records(a, b, n_boot=500)
    assert any("evaluation data changed between the runs (datasets.ls-clean)" in w
               for w in c.warnings)


# -- bad input -----------------------------------------------------------------------------

def test_bad_files_are_errors_naming_the_file(tmp_path: Path) -> None:
    a, b = synthetic_pair()
    good = write_json(tmp_path / "good.json", b)
    truncated = tmp_path / "truncated.json"
    truncated.write_text(json.dumps(a)[:300])
    foreign = write_json(tmp_path / "foreign.json", {"hello": "world"})
    future = write_json(tmp_path / "future.json", {**a, "schema_version": 99})
    empty = tmp_path / "empty.json"
    empty.write_text("")
    cases = {tmp_path / "missing.json": "no such", truncated: "not valid JSON",
             foreign: "not a llaso-pytest run record", future: "schema_version 99",
             empty: "empty"}
    for path, words in cases.items():
        with pytest.raises(RecordError, match=words) as err:
            compare_files(path, good, n_boot=500)
        assert str(path) in str(err.value)
        with pytest.raises(RecordError) as err:
            compare_files(good, path, n_boot=500)
        assert str(path) in str(err.value)


def test_records_without_any_metric_are_an_error_not_an_empty_comparison() -> None:
    empty = record({})
    with pytest.raises(RecordError, match="nothing to compare"):
        compare_records(empty, modified(empty), base_source="b.json", head_source="h.json")


def test_a_malformed_result_names_file_test_and_field() -> None:
    a, b = synthetic_pair()
    del b["tests"][0]["results"][0]["higher_is_better"]
    with pytest.raises(RecordError, match=r"h\.json: result 'wer' of .*lacks higher_is_better"):
        compare_records(a, b, head_source="h.json")
    a2, b2 = synthetic_pair()
    b2["tests"][0]["results"][0]["items"]["stats"]["errors"].pop()
    with pytest.raises(RecordError, match=r"400 item ids but stats.errors has 399"):
        compare_records(a2, b2, head_source="h.json")


def _set(path: tuple[object, ...], value: object) -> object:
    def mutate(rec: dict[str, object]) -> None:
        target: object = rec
        for key in path[:-1]:
            target = target[key]  # type: ignore[index]
        target[path[-1]] = value  # type: ignore[index]
    return mutate


RESULT = ("tests", 0, "results", 0)
MALFORMED = {
    "results is a list of numbers": (_set(("tests", 0, "results"), [1]), "results[0] of"),
    "results is a string": (_set(("tests", 0, "results"), "abc"), "'results' of"),
    "items is a list": (_set((*RESULT, "items"), [1, 2]), "'items' must be an object"),
    "groups is a number": (_set((*RESULT, "items", "groups"), 5), "items.groups must be a list"),
    "ids are unhashable": (lambda r: r["tests"][0]["results"][0]["items"].update(
        ids=[[i] for i in range(400)]), "items.ids must be a list of strings; element 0"),
    "ids are not a list": (_set((*RESULT, "items", "ids"), {"a": 1}), "items.ids must be a list"),
    "complete is a string": (_set(("complete",), "false"), "'complete' must be true or false"),
    "higher_is_better is a string": (_set((*RESULT, "higher_is_better"), "false"),
                                     "'higher_is_better' must be true or false"),
    "a test is a string": (lambda r: r["tests"].append("oops"), "tests[1] must be an object"),
    "stats is a list": (_set((*RESULT, "items", "stats"), [1]), "items.stats must be an object"),
    "ci has one bound": (_set((*RESULT, "ci"), [0.1]), "'ci' must be null or a list"),
    "value is text": (_set((*RESULT, "value"), "0.1"), "expected a number"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_records_are_errors_naming_the_file(tmp_path: Path, case: str) -> None:
    mutate, words = MALFORMED[case]
    a, b = synthetic_pair()
    good = write_json(tmp_path / "good.json", a)
    mutate(b)
    bad = write_json(tmp_path / "bad.json", b)
    for base, head in ((good, bad), (bad, good)):
        with pytest.raises(RecordError) as err:
            compare_files(base, head, n_boot=500)
        assert str(bad) in str(err.value) and words in str(err.value)
    with pytest.raises(RecordError, match=re.escape(words)):
        cmp.check_record(json.loads(bad.read_text()), source="bad.json")


def test_integer_item_ids_are_taken_as_text() -> None:
    a, b = synthetic_pair(base_rate=0.10, head_rate=0.14)
    for rec in (a, b):
        rec["tests"][0]["results"][0]["items"]["ids"] = list(range(400))
    m = only(compare_records(a, b, n_boot=500))
    assert m.method == "paired-bootstrap" and m.n_paired == 400
    assert cmp.check_record(a, source="a.json") == 1


def test_incomplete_records_are_flagged() -> None:
    a, b = synthetic_pair()
    b["complete"] = False
    b["interrupted_by"] = "KeyboardInterrupt"
    c = compare_records(a, b, n_boot=500, head_source="h.json")
    assert any("incomplete" in w and "KeyboardInterrupt" in w for w in c.warnings)


def test_bad_settings_are_rejected() -> None:
    a, b = synthetic_pair()
    with pytest.raises(ValueError, match="n_boot"):
        compare_records(a, b, n_boot=10)
    with pytest.raises(ValueError, match="confidence"):
        compare_records(a, b, confidence=1.5)


# -- reproducibility and statistics --------------------------------------------------------

def test_seeded_and_independent_of_the_other_metrics() -> None:
    a, b = synthetic_pair(head_rate=0.12)
    alone = only(compare_records(a, b, n_boot=1000, seed=3))
    again = only(compare_records(a, b, n_boot=1000, seed=3))
    assert alone == again
    other = only(compare_records(a, b, n_boot=1000, seed=4))
    assert other.delta_ci != alone.delta_ci
    # Adding other metrics (same number of items, so they share the resampling) changes nothing.
    a2, b2 = synthetic_pair(head_rate=0.2, seed=9, nodeid="t.py::other")
    a["tests"] += a2["tests"]
    b["tests"] += b2["tests"]
    together = next(m for m in compare_records(a, b, n_boot=1000, seed=3).metrics
                    if m.nodeid == NODE)
    assert together.delta_ci == alone.delta_ci and together.p_value == alone.p_value


def test_seed_zero_is_a_seed() -> None:
    a, b = synthetic_pair(head_rate=0.12)
    m0 = only(compare_records(a, b, n_boot=500, seed=0))
    m1 = only(compare_records(a, b, n_boot=500, seed=1))
    assert m0.delta_ci != m1.delta_ci


def test_false_alarm_rate_under_the_null_is_near_the_nominal_level() -> None:
    # Both runs are draws from the same system: a 95% test should flag about 5% of them.
    flagged = 0
    trials = 120
    for s in range(trials):
        a, b = synthetic_pair(n=150, base_rate=0.1, head_rate=0.1, seed=1000 + s)
        flagged += only(compare_records(a, b, n_boot=400, seed=s)).significant
    assert flagged / trials < 0.12


def test_agrees_exactly_with_the_stats_module_paired_test() -> None:
    from llaso_pytest import stats

    a, b = synthetic_pair(n=2000, base_rate=0.10, head_rate=0.11, seed=8)
    m = only(compare_records(a, b, n_boot=4000, seed=1))
    ra, rb = a["tests"][0]["results"][0], b["tests"][0]["results"][0]
    sa = np.column_stack([np.asarray(v, float) for v in ra["items"]["stats"].values()])
    sb = np.column_stack([np.asarray(v, float) for v in rb["items"]["stats"].values()])
    ref = stats.paired_bootstrap(sa, sb, aggregate="ratio", higher_is_better=False,
                                 n_boot=4000, confidence=0.95, seed=1)
    assert m.delta_ci == ref.ci and m.p_value == ref.p_value and m.p_improve == ref.p_improve
    assert m.mde == ref.mde and m.method == "paired-bootstrap"


@pytest.mark.parametrize("units", [1, 7, 60, 1000])
def test_multinomial_counts_are_bootstrap_resamples(units: int) -> None:
    rng = np.random.default_rng(units)
    rows = 40_000 if units < 100 else 2000
    w = multinomial_counts(rng, rows, units)
    assert w.shape == (rows, units) and w.dtype == np.float32
    assert (w.sum(axis=1) == units).all()
    # Each cell is Binomial(units, 1/units): mean 1, variance 1 - 1/units.
    assert w.mean() == pytest.approx(1.0, abs=1e-9)
    assert w.var() == pytest.approx(1 - 1 / units, abs=0.02)
    if units == 7:
        ref = np.random.default_rng(0).multinomial(units, [1 / units] * units, size=rows)
        for k in range(5):
            assert (w == k).mean() == pytest.approx((ref == k).mean(), abs=0.006)


def test_categorical_and_general_resampling_agree() -> None:
    # 0/1 data takes the multinomial-over-distinct-rows path; the same data with a tiny
    # continuous jitter takes the shared-matrix path. Their intervals must agree.
    rng = np.random.default_rng(6)
    x = (rng.random(3000) < 0.7).astype(float)
    y = (rng.random(3000) < 0.66).astype(float)
    a = record({"t.py::x": [accuracy_result(x.astype(int))]})
    b = record({"t.py::x": [accuracy_result(y.astype(int))]})
    cat = only(compare_records(a, b, n_boot=4000))
    jitter = rng.normal(0, 1e-9, 3000)
    a2 = record({"t.py::x": [result("em", stats={"s": x + jitter, "c": [1] * 3000},
                                    aggregate="mean", higher_is_better=True)]})
    b2 = record({"t.py::x": [result("em", stats={"s": y, "c": [1] * 3000}, aggregate="mean",
                                    higher_is_better=True)]})
    gen = only(compare_records(a2, b2, n_boot=4000))
    width = cat.delta_ci[1] - cat.delta_ci[0]
    assert gen.delta_ci[0] == pytest.approx(cat.delta_ci[0], abs=0.06 * width)
    assert gen.delta_ci[1] == pytest.approx(cat.delta_ci[1], abs=0.06 * width)


def test_comparison_to_dict_is_strict_json() -> None:
    a, b = synthetic_pair(head_rate=0.13)
    d = compare_records(a, b, n_boot=500).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["kind"] == "llaso-comparison" and back["counts"]["regressed"] == 1
    assert back["metrics"][0]["key"] == f"{NODE}::wer"


def test_shared_denominator_shortcut_is_the_same_bootstrap() -> None:
    # With the same reference lengths in both runs, agg(b) - agg(a) is computed from two
    # resampled columns instead of four; on the same resamples it gives the same numbers.
    from llaso_pytest import stats
    from llaso_pytest.metrics.base import aggregate_fn

    rng = np.random.default_rng(12)
    ref = rng.integers(5, 40, 500).astype(float)
    sa = np.column_stack([rng.binomial(ref.astype(int), 0.3), ref]).astype(float)
    sb = np.column_stack([rng.binomial(ref.astype(int), 0.32), ref]).astype(float)
    fast = stats._prepare(stats.PairedInput(sa, sb, "ratio", False), 0.95)
    slow = stats._prepare(stats.PairedInput(sa, sb, aggregate_fn("ratio"), False), 0.95)
    assert fast.diff_form and not slow.diff_form
    assert fast.columns.shape[1] == 2 and slow.columns.shape[1] == 4
    # same resample counts for both (the counts depend on the seed and the units only)
    w = stats.multinomial_counts(np.random.default_rng(2), 300, 500).astype(np.float64)
    np.testing.assert_allclose(stats._deltas(fast, w @ fast.columns),
                               stats._deltas(slow, w @ slow.columns), rtol=1e-12, atol=1e-15)


def test_an_unknown_aggregate_falls_back_to_the_intervals() -> None:
    a, b = synthetic_pair(head_rate=0.14)
    for rec in (a, b):
        rec["tests"][0]["results"][0]["aggregate"] = "my_custom_score"
    m = only(compare_records(a, b, n_boot=500))
    assert m.method == "unpaired-intervals"
    assert any("unknown aggregate 'my_custom_score'" in n for n in m.notes)


def _record_with(result: dict, run_id: str) -> dict:
    return {"schema_version": 1, "kind": "llaso-run-record", "run_id": run_id,
            "started_at": "2026-01-01T00:00:00+00:00", "complete": True, "provenance": {},
            "tests": [{"nodeid": "t.py::test_bleu", "outcome": "passed", "duration": 0.1,
                       "markers": [], "results": [result]}]}


def test_paired_bleu_with_sparse_counts_stays_finite_and_matches_stats() -> None:
    """Resampled sums of integer statistics are exact: a resample whose 4-gram matches sum to
    0 must give BLEU's smoothed value, not log(-1e-6) = NaN."""
    import warnings

    from llaso_pytest import metrics, stats
    from llaso_pytest.metrics.base import aggregate_fn

    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(30)]
    refs = [" ".join(rng.choice(vocab, size=int(rng.integers(3, 8)))) for _ in range(40)]
    hyp_a = [" ".join(r.split()[:2] + ["x"] * 3) if i % 9 else r for i, r in enumerate(refs)]
    hyp_b = [" ".join(r.split()[:1] + ["y"] * 4) if i % 11 else r for i, r in enumerate(refs)]
    ids = [f"s{i}" for i in range(40)]
    a = metrics.bleu(refs, hyp_a, ids=ids, n_boot=0).to_record()
    b = metrics.bleu(refs, hyp_b, ids=ids, n_boot=0).to_record()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        c = compare_records(_record_with(a, "a"), _record_with(b, "b"), n_boot=2000, seed=3)
    (m,) = c.metrics
    assert m.method == "sign-flip" and m.delta_ci is not None  # 40 items: randomisation test
    assert np.isfinite(m.delta_ci).all() and m.delta_ci[0] <= m.delta <= m.delta_ci[1]
    # the same test through the statistics module agrees
    sa = np.column_stack([np.asarray(v, float) for v in a["items"]["stats"].values()])
    sb = np.column_stack([np.asarray(v, float) for v in b["items"]["stats"].values()])
    ref = stats.paired_bootstrap(sa, sb, aggregate=aggregate_fn(a["aggregate"]),
                                 higher_is_better=True, n_boot=2000, seed=3)
    assert m.delta == pytest.approx(ref.delta)
    assert m.delta_ci[0] == pytest.approx(ref.ci[0], abs=2.0)
    assert m.delta_ci[1] == pytest.approx(ref.ci[1], abs=2.0)
