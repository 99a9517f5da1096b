"""One test per case: corpus results joined at session end (serial, -n 2, reruns, -k, --lf,
mixed parameters), compared with per-case flips."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported once here: pytester's module snapshots must not reload it)
import pytest

N = 12
WRONG = {"qa-004", "qa-007", "qa-011"}
ROWS = [{"id": f"qa-{i:03d}", "answers": [f"answer {i}", f"ans{i}"]} for i in range(1, N + 1)]

SUITE = """
import json, os
import pytest
from llaso_pytest import cases, metrics

WRONG = set(json.loads(os.environ.get("QA_WRONG", "[]")))
QA = cases.load("data.jsonl", name="qa")

def predict(case):
    return "nonsense" if case.id in WRONG else case["answers"][0]

@pytest.mark.parametrize("case", QA)
def test_answer(case, record_case):
    result = record_case(metrics.exact_match([case["answers"]], [predict(case)], ids=[case.id]))
    assert result.value == 1.0
"""


def _setup(pytester: pytest.Pytester, suite: str = SUITE, rows: list[dict[str, Any]] = ROWS,
           wrong: set[str] = WRONG, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    (pytester.path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pytester.makepyfile(test_eval_qa=suite)
    if monkeypatch is not None:
        monkeypatch.setenv("QA_WRONG", json.dumps(sorted(wrong)))


def _record(pytester: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    return data


def _corpus(record: dict[str, Any], nodeid: str = "test_eval_qa.py::test_answer"
            ) -> dict[str, Any]:
    test = next(t for t in record["tests"] if t["nodeid"] == nodeid)
    assert len(test["results"]) == 1, test
    result: dict[str, Any] = test["results"][0]
    return result


def test_cases_join_into_one_corpus_result_equal_to_the_metric_on_the_corpus(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    from llaso_pytest import metrics

    _setup(pytester, monkeypatch=monkeypatch)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=N - 3, failed=3)
    rec = _record(pytester)
    corpus = _corpus(rec)
    # the same number, interval, items and signature as the metric on the whole corpus
    ids = [r["id"] for r in ROWS]
    preds = ["nonsense" if i in WRONG else r["answers"][0] for i, r in zip(ids, ROWS, strict=True)]
    direct = metrics.exact_match([r["answers"] for r in ROWS], preds, ids=ids).to_record()
    assert corpus["value"] == pytest.approx(direct["value"]) == pytest.approx(9 / 12)
    assert corpus["ci"] == pytest.approx(direct["ci"])
    assert corpus["items"]["ids"] == ids and corpus["n"] == N
    assert corpus["items"]["stats"] == direct["items"]["stats"]
    assert corpus["items"]["scores"] == direct["items"]["scores"]
    assert corpus["signature"]["fields"] == direct["signature"]["fields"]
    assert corpus["extra"]["corpus"] == {"cases": N, "partial": False, "last_failed": False,
                                         "deselected": 0,
                                         "not_recorded": 0, "not_recorded_tests": []}
    # each case is its own test with its own outcome, and records no result of its own
    cases = {t["nodeid"]: t for t in rec["tests"] if "[" in t["nodeid"]}
    assert len(cases) == N and all(t["results"] == [] for t in cases.values())
    assert cases["test_eval_qa.py::test_answer[qa-004]"]["outcome"] == "failed"
    assert rec["summary"] == {"failed": 3, "passed": 9}  # the corpus is no extra test
    result.stdout.fnmatch_lines(["*test_eval_qa.py::test_answer*exact_match*0.75*"])


def test_aggregation_with_two_workers_equals_serial(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(pytester, monkeypatch=monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=9, failed=3)
    serial = _corpus(_record(pytester))
    pytester.runpytest("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=9, failed=3)
    parallel = _corpus(_record(pytester))
    assert parallel == serial


def _rerun_conftest() -> str:
    """The conftest of tests/core/test_core_session.py that reruns a failed test as
    pytest-rerunfailures does (one copy of it)."""
    import ast

    source = Path(__file__).parents[1] / "core" / "test_core_session.py"
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == \
                "RERUN_CONFTEST":
            return str(ast.literal_eval(node.value))
    raise AssertionError(f"{source} has no RERUN_CONFTEST")


def test_a_rerun_case_counts_its_last_attempt(pytester: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(_rerun_conftest())
    suite = SUITE.replace('    return "nonsense" if case.id in WRONG else case["answers"][0]',
                          '    ATTEMPTS[case.id] = ATTEMPTS.get(case.id, 0) + 1\n'
                          '    if case.id in WRONG and ATTEMPTS[case.id] == 1:\n'
                          '        return "nonsense"\n'
                          '    return case["answers"][0]\n'
                          'ATTEMPTS = {}')
    _setup(pytester, suite=suite, monkeypatch=monkeypatch)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"passed": N, "rerun": 3}
    corpus = _corpus(_record(pytester))
    assert corpus["value"] == 1.0 and corpus["n"] == N  # first attempts' zeros are gone


def test_mixed_parameters_keep_separate_corpora(pytester: pytest.Pytester,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    suite = SUITE.replace('@pytest.mark.parametrize("case", QA)\ndef test_answer(case, ',
                          '@pytest.mark.parametrize("system", ["good", "bad"])\n'
                          '@pytest.mark.parametrize("case", QA)\n'
                          'def test_answer(case, system, ')
    suite = suite.replace("[predict(case)]",
                          '[predict(case) if system == "bad" else case["answers"][0]]')
    _setup(pytester, suite=suite, monkeypatch=monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2 * N - 3, failed=3)
    rec = _record(pytester)
    good = _corpus(rec, "test_eval_qa.py::test_answer[system=good]")
    bad = _corpus(rec, "test_eval_qa.py::test_answer[system=bad]")
    assert good["value"] == 1.0 and bad["value"] == pytest.approx(0.75)
    assert good["items"]["ids"] == bad["items"]["ids"] == [r["id"] for r in ROWS]


def test_k_selection_marks_the_corpus_partial_and_the_comparison_says_so(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(pytester, monkeypatch=monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-save", "main")
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "qa-001 or qa-004 or qa-005",
                                "--llaso-baseline", "main")
    result.assert_outcomes(passed=2, failed=1, deselected=N - 3)
    corpus = _corpus(_record(pytester))
    assert corpus["n"] == 3 and corpus["items"]["ids"] == ["qa-001", "qa-004", "qa-005"]
    assert corpus["extra"]["corpus"]["partial"] is True
    assert corpus["extra"]["corpus"]["deselected"] == N - 3
    out = result.stdout.str()
    assert "the head run is a subset" in out
    assert "1 corpus result(s) are partial (cases deselected, rerun with --lf, or that " \
        "recorded nothing), compared over the cases both runs have: " \
        "test_eval_qa.py::test_answer::exact_match" in out
    from llaso_pytest.compare import compare_records

    base = json.loads((pytester.path / ".llaso" / "baselines" / "main.json").read_text())
    diff = compare_records(base, _record(pytester), n_boot=200).metrics[0]
    assert diff.key == "test_eval_qa.py::test_answer::exact_match"
    assert f"partial corpus in the head: 3 cases, {N - 3} deselected (-k, -m, --lf)" in diff.notes
    assert diff.pairing is not None and diff.pairing.n_paired == 3


def test_last_failed_reruns_a_partial_corpus(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(pytester, monkeypatch=monkeypatch)
    pytester.runpytest().assert_outcomes(passed=9, failed=3)
    monkeypatch.setenv("QA_WRONG", "[]")  # fixed
    result = pytester.runpytest("--lf")
    assert result.parseoutcomes()["passed"] == 3
    corpus = _corpus(_record(pytester))
    assert corpus["items"]["ids"] == sorted(WRONG) and corpus["value"] == 1.0
    assert corpus["extra"]["corpus"]["partial"] is True  # --lf: the others were not collected
    assert corpus["extra"]["corpus"]["last_failed"] is True


def test_a_case_that_records_nothing_is_named(pytester: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    suite = SUITE.replace("    result = record_case(",
                          '    if case.id == "qa-002":\n        raise RuntimeError("model down")\n'
                          "    result = record_case(")
    _setup(pytester, suite=suite, wrong=set(), monkeypatch=monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=N - 1, failed=1)
    rec = _record(pytester)
    corpus = _corpus(rec)
    assert corpus["n"] == N - 1
    assert corpus["extra"]["corpus"]["not_recorded_tests"] == [
        "test_eval_qa.py::test_answer[qa-002]"]
    assert corpus["extra"]["corpus"]["partial"] is True
    test = next(t for t in rec["tests"] if t["nodeid"] == "test_eval_qa.py::test_answer")
    assert test["outcome"] == "failed"


def test_plain_values_and_one_item_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="""
        import pytest
        from llaso_pytest import metrics

        @pytest.mark.parametrize("q", ["a", "b", "c", "d", "e"])
        def test_helpful(q, record_case):
            r = record_case("helpful", 1.0 if q != "b" else 0.0, higher_is_better=True)
            assert r.n == 1

        @pytest.mark.parametrize("q", ["x", "y"])
        def test_two_items(q, record_case):
            record_case(metrics.exact_match([["a"]] * 5, ["a"] * 5))

        @pytest.mark.parametrize("q", ["x", "y"])
        def test_other_id(q, record_case):
            record_case(metrics.exact_match([["a"]], ["a"], ids=["zzz"]))

        def test_no_direction(record_case):
            record_case("helpful", 1.0, id="k")
        """)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error::UserWarning")
    result.assert_outcomes(passed=5, failed=5)
    result.stdout.fnmatch_lines([
        "*result 'exact_match' has 5 items; a case records exactly one item*",
        "*the result's item id 'zzz' is not the case id 'x'; pass ids=[[]case.id[]]*",
        "*say higher_is_better=True or False*"])
    corpus = _corpus(_record(pytester), "test_plain.py::test_helpful")
    assert corpus["items"]["ids"] == ["a", "b", "c", "d", "e"] and corpus["value"] == 0.8
    assert corpus["ci"] is not None and corpus["higher_is_better"] is True


def test_cases_scored_differently_fail_the_session_naming_both(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed="""
        import pytest
        from llaso_pytest import metrics

        @pytest.mark.parametrize("q", ["a", "b"])
        def test_wer(q, record_case):
            norm = "basic" if q == "a" else "none"
            record_case(metrics.wer(["hello world"], ["hello word"], normalize=norm))
        """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 1
    rec = _record(pytester)
    test = next(t for t in rec["tests"] if t["nodeid"] == "test_mixed.py::test_wer")
    assert test["outcome"] == "error" and test["results"] == []
    assert "the signatures of test_mixed.py::test_wer[a] and test_mixed.py::test_wer[b] " \
        "differ (normalizer: 'basic' vs 'none')" in test["longrepr"]


def test_three_of_forty_cases_flip(pytester: pytest.Pytester,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": f"qa-{i:03d}", "answers": [f"answer {i}"]} for i in range(1, 41)]
    _setup(pytester, rows=rows, wrong=set(), monkeypatch=monkeypatch)
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-save", "main").assert_outcomes(
        passed=40)
    flipped = {"qa-007", "qa-021", "qa-033"}
    monkeypatch.setenv("QA_WRONG", json.dumps(sorted(flipped)))
    out = pytester.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                             "--llaso-compare-out", "diff.json")
    out.assert_outcomes(passed=37, failed=3)
    out.stdout.fnmatch_lines([
        "*test_eval_qa.py::test_answer  exact_match*1*0.925*-0.075*",
        "*flips test_eval_qa.py::test_answer::exact_match: 3 now wrong (qa-007, qa-021, qa-033);*"])
    diff = json.loads((pytester.path / "diff.json").read_text())
    (m,) = diff["metrics"]
    # three flips cannot be significant at 5% (an exact sign-flip test gives p >= 0.25),
    # and the comparison says so rather than calling it unchanged
    assert m["nodeid"] == "test_eval_qa.py::test_answer" and m["verdict"] == "untested"
    assert m["flips"]["n_broken"] == 3 and sorted(m["flips"]["broken"]) == sorted(flipped)
    assert m["base"]["n"] == m["head"]["n"] == 40


def test_join_cases_refuses_duplicate_ids() -> None:
    from llaso_pytest.corpus import CorpusError, case_payload, join_cases
    from llaso_pytest.metrics import exact_match

    one = exact_match([["a"]], ["a"], ids=["x"]).to_record()
    cases = [(f"t[{i}]", case_payload(one, case_id="x", corpus="t")["result"]) for i in (1, 2)]
    with pytest.raises(CorpusError, match=r"case id 'x' recorded by t\[1\] and by t\[2\]"):
        join_cases("exact_match", cases, corpus="t", fallback_seed=0, partial={})


def test_differing_seeds_fall_back_to_the_session_seed() -> None:
    from llaso_pytest.corpus import case_payload, join_cases
    from llaso_pytest.metrics import exact_match

    cases = [(f"t[{i}]", case_payload(exact_match([["a"]], ["a" if i % 3 else "b"], seed=i)
                                      .to_record(), case_id=f"c{i}", corpus="t")["result"])
             for i in range(10)]
    joined = join_cases("exact_match", cases, corpus="t", fallback_seed=99, partial={})
    assert joined["signature"]["fields"]["seed"] == 99
    assert joined["value"] == pytest.approx(0.6)


def test_items_beyond_the_contract_are_joined_too() -> None:
    from llaso_pytest.corpus import case_payload, join_cases
    from llaso_pytest.metrics import exact_match

    cases = []
    for i in range(3):
        r = exact_match([["a"]], ["a"]).to_record()
        r["items"]["extra_column"] = {"x": [f"x{i}"], "y": [i]}
        cases.append((f"t[{i}]", case_payload(r, case_id=f"c{i}", corpus="t")["result"]))
    joined = join_cases("exact_match", cases, corpus="t", fallback_seed=0, partial={})
    assert joined["items"]["extra_column"] == {"x": ["x0", "x1", "x2"], "y": [0, 1, 2]}


def test_item_texts_join_with_cut_positions_shifted() -> None:
    from llaso_pytest.corpus import CorpusError, case_payload, join_cases
    from llaso_pytest.metrics import exact_match

    long = "word " * 100
    cases = []
    for i, hyp in enumerate(["a", long, "b", long]):
        r = exact_match([[long if i == 3 else "a"]], [hyp]).to_record(item_text="truncate")
        cases.append((f"t[{i}]", case_payload(r, case_id=f"c{i}", corpus="t")["result"]))
    texts = join_cases("exact_match", cases, corpus="t", fallback_seed=0,
                       partial={})["items"]["texts"]
    direct = exact_match([["a"], ["a"], ["a"], [long]], ["a", long, "b", long]).to_record(
        item_text="truncate")["items"]["texts"]
    assert texts == direct  # the same texts, cut marks at corpus positions
    assert texts["truncated"]  # the long texts were cut, at their corpus positions
    other = json.loads(json.dumps(cases[1][1]))
    other["items"]["texts"]["view"] = "other-view"
    with pytest.raises(CorpusError, match=r"items.texts: the cases' texts differ in view"):
        join_cases("exact_match", [cases[0], ("t[9]", other)], corpus="t", fallback_seed=0,
                   partial={})


def test_the_shipped_per_case_suite_equals_the_per_corpus_suite(tmp_path: Path) -> None:
    # suites/llm/test_cases.py (one test per case) and suites/llm/test_qa.py (one test per
    # corpus) score the same pinned predictions: the corpora must agree exactly
    import subprocess
    import sys

    repo = Path(__file__).parents[2]
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/llm/test_cases.py", "suites/llm/test_qa.py",
         "-k", "test_answer or test_exact_match", "-q", "-p", "no:cacheprovider",
         "--llaso-dir", str(tmp_path / "store"), "--llaso-out", str(out)],
        cwd=repo, capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    rec = json.loads(out.read_text())
    results = {t["nodeid"]: t["results"] for t in rec["tests"] if t["results"]}
    for system, floor in (("model-a", "0.6"), ("model-b", "0.1")):
        (per_case,) = results[f"suites/llm/test_cases.py::test_answer[system={system}]"]
        (per_corpus,) = results[f"suites/llm/test_qa.py::test_exact_match[{system}-{floor}]"]
        for key in ("value", "ci", "n", "aggregate"):
            assert per_case[key] == per_corpus[key], key
        assert per_case["items"]["stats"] == per_corpus["items"]["stats"]
        diff = {k for k in per_case["signature"]["fields"]
                if per_case["signature"]["fields"][k] != per_corpus["signature"]["fields"].get(k)}
        # the dataset's name (qa/data.jsonl against qa-en-mini), and the datasets the per-case
        # test loaded with cases.load, which metrics inside a test sign with (item 4)
        assert diff == {"data", "datasets"}
        assert "datasets" not in per_corpus["signature"]["fields"]
        data_sha = hashlib.sha256((repo / "fixtures/llm/qa/data.jsonl").read_bytes()).hexdigest()
        assert data_sha[:16] in str(per_case["signature"]["fields"]["datasets"])
