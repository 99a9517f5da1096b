"""Reports that show what changed (issue 13, item 5): per-item texts in records and reports.

Records keep per item the reference, the hypothesis or prediction and the judge's reason
(``--llaso-item-text none|truncate|full``, default truncate); comparisons carry the texts of
flipped and most worsened items; terminal, Markdown and HTML show them.
"""

from __future__ import annotations

import json
from typing import Any

import numpy  # noqa: F401  - loaded once, before pytester's in-process runs
import pytest
from compare_testutil import record

from llaso_pytest import metrics, report
from llaso_pytest.compare import compare_records
from llaso_pytest.itemtext import LIMIT, ItemTexts, align_rows, read_texts
from llaso_pytest.metrics.base import MetricResult
from llaso_pytest.record import RecordError
from llaso_pytest.report.markdown import GITHUB_LIMIT
from llaso_pytest.results import read_result

pytest_plugins = ["pytester"]

IDS = [f"q{i:02d}" for i in range(40)]
ANSWERS = [f"answer number {i}" for i in range(40)]
FLIPPED = {3: "the moon", 17: "forty-two", 29: "no idea"}


def _qa(predictions: list[str]) -> dict[str, Any]:
    return metrics.exact_match(ANSWERS, predictions, ids=IDS).to_record()


def _head() -> list[str]:
    return [FLIPPED.get(i, a) for i, a in enumerate(ANSWERS)]


def _comparison(base: dict[str, Any], head: dict[str, Any]) -> Any:
    return compare_records(record({"t.py::test_qa": [base]}, run_id="base"),
                           record({"t.py::test_qa": [head]}, run_id="head"))


# -- the record --------------------------------------------------------------------------
def test_texts_are_truncated_by_default_kept_whole_with_full_and_left_out_with_none() -> None:
    long = "x" * (LIMIT + 50)
    r = metrics.exact_match(["short", "also short"], [long, "ok"], ids=["a", "b"], n_boot=0)
    truncated = r.to_record()["items"]["texts"]
    assert truncated["mode"] == "truncate" and truncated["limit"] == LIMIT
    assert truncated["columns"]["hyp"] == ["x" * LIMIT + "…", "ok"]
    assert truncated["columns"]["ref"] == ["short", "also short"]
    assert truncated["truncated"] == {"hyp": [0]}
    full = r.to_record(item_text="full")["items"]["texts"]
    assert full["columns"]["hyp"][0] == long and "truncated" not in full
    assert "texts" not in r.to_record(item_text="none")["items"]


def test_a_record_with_texts_reads_back_and_one_without_still_reads() -> None:
    r = metrics.wer(["the cat sat", "a b"], ["the cat", "a b c"], ids=["u1", "u2"], n_boot=0)
    back = MetricResult.from_record(r.to_record())
    assert back.texts is not None and back.texts.view == "words"
    assert list(back.texts.columns["hyp"]) == ["the cat", "a b c"]
    res = read_result(r.to_record(), source="run.json", nodeid="t::x")
    assert res.texts is not None and res.texts.get("ref", 0) == "the cat sat"
    old = r.to_record(item_text="none")  # as records written before texts existed
    assert read_result(old, source="old.json", nodeid="t::x").texts is None
    assert MetricResult.from_record(old).texts is None


@pytest.mark.parametrize(("texts", "message"), [
    ({"view": "tree", "columns": {}}, r"items.texts.view must be one of"),
    ({"view": "pair", "columns": {"ref": ["a"]}}, r"items.texts.columns.ref must be a list of 2"),
    ({"view": "pair", "columns": {"ref": ["a", 3]}},
     r"items.texts.columns.ref must be a list of 2"),
    ({"view": "pair", "columns": {"answer": ["a", "b"]}},
     r"items.texts.columns.answer is not a text column"),
    ({"view": "pair", "columns": {"ref": ["a", "b"]}, "truncated": {"ref": [5]}},
     r"items.texts.truncated.ref must list item positions"),
])
def test_malformed_texts_are_refused_naming_file_result_and_field(texts: dict[str, Any],
                                                                   message: str) -> None:
    r = metrics.exact_match(["a", "b"], ["a", "c"], n_boot=0).to_record()
    r["items"]["texts"] = texts
    with pytest.raises(RecordError, match=r"run\.json: result 'exact_match' of t::x: " + message):
        read_result(r, source="run.json", nodeid="t::x")
    with pytest.raises(RecordError):
        read_texts(texts, n=2, where="x")


def test_each_metric_keeps_the_texts_it_scored() -> None:
    refs, hyps = ["The cat sat.", "a dog"], ["the cat sat", "a log"]
    norm = metrics.wer(refs, hyps, normalize="basic", n_boot=0).texts
    assert norm is not None and norm.view == "words"
    assert list(norm.columns["ref"]) == ["the cat sat", "a dog"]  # normalised, as aligned
    assert metrics.cer(refs, hyps, n_boot=0).texts.view == "chars"  # type: ignore[union-attr]
    for fn in (metrics.bleu, metrics.chrf, metrics.ter, metrics.rouge):
        t = fn(refs, hyps, n_boot=0).texts
        assert t is not None and t.view == "pair" and list(t.columns["hyp"]) == hyps
    alts = metrics.token_f1([["Paris", "City of Paris"], "x"], ["paris", "y"], n_boot=0).texts
    assert alts is not None and alts.get("ref", 0) == "Paris | City of Paris"


# -- the comparison and the reports ------------------------------------------------------
def test_three_of_forty_flipped_cases_show_with_their_texts_in_every_format() -> None:
    c = _comparison(_qa(ANSWERS), _qa(_head()))
    (m,) = c.metrics
    assert m.flips is not None and m.flips.n_broken == 3
    assert [v.item for v in m.item_texts] == ["q03", "q17", "q29"]
    assert {(v.ref, v.base_hyp, v.head_hyp) for v in m.item_texts} == {
        (ANSWERS[i], ANSWERS[i], text) for i, text in FLIPPED.items()}
    text = report.render(c, "text")
    md = report.render(c, "md")
    page = report.render(c, "html")
    for i, wrong in FLIPPED.items():
        assert f"q{i:02d} now wrong (1 -> 0)" in text
        assert f"reference: '{ANSWERS[i]}'" in text and f"head:      '{wrong}'" in text
        assert f"head:      &#x27;{wrong}&#x27;" in page
        assert f"head:      '{wrong}'" in md
    assert "<pre>reference: 'answer number 3'&#10;" in md


def test_speech_items_show_aligned_ref_hyp_with_sdi_marks_of_both_runs() -> None:
    refs = ["the cat sat on the mat"] * 12
    base = metrics.wer(refs, ["the cat sat on the mat"] * 12, ids=[f"u{i}" for i in range(12)])
    hyps = list(refs)
    hyps[4] = "bat sat on the mat today"
    head = metrics.wer(refs, hyps, ids=[f"u{i}" for i in range(12)])
    c = _comparison(base.to_record(), head.to_record())
    (m,) = c.metrics
    (v,) = m.item_texts
    assert v.item == "u4" and v.role == "worse"
    expected = align_rows("the cat sat on the mat".split(), hyps[4].split())
    assert v.head_alignment == expected
    assert expected[2].split() == ["S", "D", "I"]  # one substitution, deletion, insertion
    assert v.base_alignment is not None and set(v.base_alignment[2]) <= {" "}
    md = report.render(c, "md")
    assert "head REF: the cat sat on the mat *****" in md
    assert "     HYP: bat *** sat on the mat today" in md


def test_judged_items_show_the_judges_reason() -> None:
    from llaso_pytest.itemtext import describe_item

    texts = ItemTexts("judge", {"ref": ["4"], "hyp": ["5"], "reason": ["off by one"]})
    assert describe_item(texts, 0) == ["reference:  '4'", "prediction: '5'",
                                       "judge: 'off by one'"]
    r = metrics.from_values("helpful", items={"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0,
                                              "e": 1.0})
    base = dict(r.to_record(), items=dict(r.to_record()["items"], texts={
        "view": "judge", "mode": "truncate", "columns": {
            "hyp": ["x", "y", "z", "w", "v"], "reason": ["ok", "bad", "ok", "ok", "ok"]}}))
    head = json.loads(json.dumps(base))
    head["items"]["scores"] = [1.0, 0.0, 1.0, 0.0, 1.0]
    head["items"]["stats"]["total"] = [1.0, 0.0, 1.0, 0.0, 1.0]
    head["value"] = 0.6
    head["items"]["texts"]["columns"]["reason"][3] = "it refuses to answer"
    c = _comparison(base, head)
    (v,) = c.metrics[0].item_texts
    assert (v.item, v.base_reason, v.head_reason) == ("d", "ok", "it refuses to answer")
    assert "judge (head): 'it refuses to answer'" in report.render(c, "text")


def test_texts_reach_reports_neutralised_escaped_and_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-llaso-item-SECRET-0042"
    monkeypatch.setenv("LLASO_TEST_API_KEY", secret)
    crafted = f"@octo-org/team <script>alert(1)</script> ``` {secret}"
    c = _comparison(_qa(ANSWERS), _qa([crafted if i == 5 else a for i, a in enumerate(ANSWERS)]))
    for fmt in ("text", "md", "html", "json"):
        out = report.render(c, fmt)
        assert secret not in out and "[REDACTED]" in out, fmt
    md = report.render(c, "md")
    assert "<script>" not in md and "@\u200docto-org" in md
    assert "<script>" not in report.render(c, "html")


def test_the_pr_comment_stays_under_githubs_limit_with_long_texts_everywhere() -> None:
    long_answers = [("w" * 190) + str(i) for i in range(40)]
    tests = {}
    heads = {}
    for k in range(200):
        base = metrics.exact_match(long_answers, long_answers, ids=IDS).to_record()
        wrong = [a if i % 7 else "z" * 200 for i, a in enumerate(long_answers)]
        tests[f"t.py::test_{k}"] = [base]
        heads[f"t.py::test_{k}"] = [metrics.exact_match(long_answers, wrong, ids=IDS).to_record()]
    c = compare_records(record(tests, run_id="a"), record(heads, run_id="b"))
    assert all(len(m.item_texts) == 5 for m in c.metrics)
    md = report.render(c, "md")
    assert len(md) <= GITHUB_LIMIT
    assert md.count("<pre>") == md.count("</pre>") > 0  # whole blocks only, none left open


# -- the plugin --------------------------------------------------------------------------
QA_SUITE = """
from llaso_pytest import metrics

ANSWERS = {answers!r}
PREDICTIONS = {predictions!r}

def test_qa(record_metric):
    ids = [f"q{{i:02d}}" for i in range(len(ANSWERS))]
    record_metric(metrics.exact_match(ANSWERS, PREDICTIONS, ids=ids))
"""


def _suite(pytester: pytest.Pytester, predictions: list[str]) -> None:
    pytester.makepyfile(test_answers=QA_SUITE.format(answers=ANSWERS, predictions=predictions))


def _latest(pytester: pytest.Pytester) -> dict[str, Any]:
    return json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())


def test_a_baseline_run_shows_the_flipped_cases_with_their_texts(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, ANSWERS)
    pytester.runpytest("-p", "no:cacheprovider", "--llaso-save", "main").assert_outcomes(passed=1)
    _suite(pytester, _head())
    run = pytester.runpytest("-p", "no:cacheprovider", "--llaso-baseline", "main",
                             "--llaso-compare-out", "cmp.md", "--llaso-compare-out", "cmp.html")
    run.assert_outcomes(passed=1)
    run.stdout.fnmatch_lines([
        "*flips test_answers.py::test_qa::exact_match: 3 now wrong (q03, q17, q29)*",
        "  q03 now wrong (1 -> 0)",
        "    reference: 'answer number 3'",
        "    base:      'answer number 3'",
        "    head:      'the moon'",
    ])
    md = (pytester.path / "cmp.md").read_text()
    assert "head:      'forty-two'" in md and "head:      'no idea'" in md
    assert "head:      &#x27;no idea&#x27;" in (pytester.path / "cmp.html").read_text()


@pytest.mark.parametrize(("args", "ini", "expected"), [
    ([], None, "truncate"),
    (["--llaso-item-text", "full"], None, "full"),
    (["--llaso-item-text=none"], None, None),
    ([], "full", "full"),
    (["--llaso-item-text", "truncate"], "none", "truncate"),
])
def test_item_text_option_and_ini_key(pytester: pytest.Pytester, args: list[str],
                                      ini: str | None, expected: str | None) -> None:
    if ini is not None:
        pytester.makeini(f"[pytest]\nllaso_item_text = {ini}\n")
    long = ["y" * 500] + ANSWERS[1:]
    _suite(pytester, long)
    pytester.runpytest("-p", "no:cacheprovider", *args).assert_outcomes(passed=1)
    items = _latest(pytester)["tests"][0]["results"][0]["items"]
    if expected is None:
        assert "texts" not in items
        return
    assert items["texts"]["mode"] == expected
    hyp = items["texts"]["columns"]["hyp"][0]
    assert hyp == ("y" * 500 if expected == "full" else "y" * LIMIT + "…")


def test_a_bad_item_text_mode_is_a_usage_error_naming_option_or_key(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester, ANSWERS)
    run = pytester.runpytest("--llaso-item-text", "some")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*--llaso-item-text*unknown item text mode 'some'; use one of "
                              "none, truncate, full*"])
    pytester.makeini("[pytest]\nllaso_item_text = all\n")
    run = pytester.runpytest()
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*ini key llaso_item_text: unknown item text mode 'all'*"])


def test_a_failing_qa_assertion_shows_reference_and_prediction(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_fail="""
        from llaso_pytest import metrics

        def test_qa():
            em = metrics.exact_match(["Paris", "Berlin", "Rome", "Oslo", "Bern"],
                                     ["Paris", "Munich", "Rome", "Oslo", "Bern"],
                                     ids=["fr", "de", "it", "no", "ch"])
            assert em > 0.9
    """)
    run = pytester.runpytest()
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines([
        "*exact_match = 0.8 > 0.9 is false*",
        "*[[]de] exact_match=0*",
        "*reference:  'Berlin'*",
        "*prediction: 'Munich'*",
    ])


def test_texts_of_one_item_cases_join_into_a_corpus_that_reads_back() -> None:
    from llaso_pytest.itemtext import concat_records

    cases = [metrics.exact_match([a], [p], ids=[i], n_boot=0)
             for i, a, p in zip(IDS[:3], ANSWERS[:3], ["x" * 300, "answer number 1", "z"],
                                strict=True)]
    parts = [c.to_record()["items"].get("texts") for c in cases]
    joined = concat_records([parts[0], None, parts[2]], [1, 1, 1])
    assert joined is not None and joined["columns"]["hyp"] == ["x" * LIMIT + "…", None, "z"]
    assert joined["truncated"] == {"hyp": [0]} and joined["mode"] == "truncate"
    texts = read_texts(joined, n=3, where="corpus")
    assert texts is not None and texts.was_cut("hyp", 0) and not texts.was_cut("hyp", 2)
    assert concat_records([None, None], [1, 2]) is None
    wer_part = metrics.wer(["a b"], ["a"], n_boot=0).to_record()["items"]["texts"]
    with pytest.raises(ValueError, match="different views"):
        concat_records([parts[0], wer_part], [1, 1])
