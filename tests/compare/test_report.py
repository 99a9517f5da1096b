"""Renderers: terminal lines, GitHub Markdown (escaping, size limit), JSON, self-contained HTML."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from compare_testutil import (
    accuracy_result,
    mixed_comparison,
    record,
    result,
    synthetic_pair,
)

from llaso_pytest.compare import Comparison, compare_records
from llaso_pytest.report import html, jsonout, markdown, render, terminal


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    return mixed_comparison()


def test_fixture_covers_every_verdict(comparison: Comparison) -> None:
    assert {m.verdict for m in comparison.metrics} == {
        "regressed", "improved", "incomparable", "new", "removed"} | {
        m.verdict for m in comparison.metrics if m.verdict == "unchanged"}
    c = comparison.counts()
    assert c["regressed"] >= 1 and c["improved"] == 1 and c["incomparable"] == 1


def test_terminal_table(comparison: Comparison) -> None:
    lines = terminal.render(comparison)
    assert lines[0] == ("baseline base-run (commit 1111111111) -> this run head-run "
                        "(commit 2222222222, dirty)")
    assert lines[1] == comparison.summary_line()
    assert lines[1].startswith(
        f"{comparison.counts()['regressed']} regressed, 1 improved at FDR 5%"
    )
    header = lines[2].split()
    assert header[:4] == ["test", "metric", "base", "head"]
    regressed = [ln for ln in lines if "REGRESSED" in ln]
    assert any("test_wer[clean]" in ln and "wer v" in ln for ln in regressed)
    assert any(re.search(r"\+0\.\d+ \[\+0\.\d+, \+0\.\d+\]", ln) for ln in regressed)
    assert any(ln.startswith("incomparable suites/llm/test_qa.py::test_cer::cer: signatures "
                             "differ (normalizer: 'basic' -> 'none')") for ln in lines)
    assert any(ln.startswith("flips suites/llm/test_qa.py::test_exact_match") for ln in lines)
    assert any("provenance differs: models.asr.sha256 (absent in base), packages.jiwer" in ln
               for ln in lines)
    # regressions are listed before everything else
    rows = lines[3:3 + len(comparison.metrics)]
    assert "REGRESSED" in rows[0]


def test_terminal_hides_surplus_unchanged_rows() -> None:
    tests_a, tests_b = {}, {}
    for i in range(40):
        a, b = synthetic_pair(n=50, seed=i, nodeid=f"t.py::test_{i}")
        tests_a.update({t["nodeid"]: t["results"] for t in a["tests"]})
        tests_b.update({t["nodeid"]: t["results"] for t in b["tests"]})
    c = compare_records(record(tests_a), record(tests_b), n_boot=200)
    lines = terminal.render(c, max_unchanged=5)
    unchanged = c.counts()["unchanged"]
    assert f"... and {unchanged - 5} more unchanged metrics" in lines


def test_markdown_structure(comparison: Comparison) -> None:
    md = markdown.render(comparison, details_url="https://example.invalid/run/1")
    assert md.startswith(markdown.MARKER + "\n")
    c = comparison.counts()
    assert (f"**{c['regressed']} regressed, {c['improved']} improved at FDR 5%; "
            f"{c['unchanged']} unchanged, {c['untested']} untested, {c['incomparable']} "
            "incomparable") in md
    lines = md.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| | test | metric"))
    table = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        table.append(ln)
    assert table[0].startswith("| | test | metric | base | head | Δ")
    assert table[1] == "|---|---|---|---|---|---|---|---|---|---|---|"
    assert table[0].split(" | ")[6:9] == ["p", "P(better)", "detectable"]
    table.pop(1)
    assert len(table) == 1 + len(comparison.metrics)
    # every table row has the same number of cells: the crafted id cannot break the table
    n_cells = {ln.count(" | ") for ln in table[:1 + len(comparison.metrics)]}
    assert len(n_cells) == 1
    assert "<details><summary>Per-item flips" in md
    assert "<details><summary>Provenance differences (2)</summary>" in md
    assert "| packages.jiwer | 3.0.4 | 4.0.0 |" in md
    assert md.count("<details>") == md.count("</details>")
    # details blocks are separated from the table by a blank line (GitHub needs it)
    assert "|\n\n<details>" in md or "\n\n<details>" in md
    assert "https://example.invalid/run/1" in md


def test_markdown_escapes_record_strings(comparison: Comparison) -> None:
    md = markdown.render(comparison)
    assert "<script>" not in md
    assert "evil&#124;&lt;script&gt;alert(1)&lt;/script&gt;\\`\\*\\*x\\*\\*\\`" in md
    assert markdown.escape("a|b") == "a&#124;b"
    assert markdown.escape("line1\nline2") == "line1 line2"
    assert markdown.escape("x" * 500, limit=10) == "x" * 9 + "…"


def test_markdown_stays_under_githubs_limit_and_says_it_truncated() -> None:
    rng = np.random.default_rng(3)
    n = 8_000
    ids = [f"a-rather-long-item-identifier-{i:06d}" for i in range(n)]
    ok_a = (rng.random(n) < 0.5).astype(int)
    ok_b = (rng.random(n) < 0.5).astype(int)
    tests_a = {f"suites/llm/test_many.py::test_m[{k}]": [accuracy_result(ok_a, ids=ids)]
               for k in range(6)}
    tests_b = {f"suites/llm/test_many.py::test_m[{k}]": [accuracy_result(ok_b, ids=ids)]
               for k in range(6)}
    c = compare_records(record(tests_a), record(tests_b), n_boot=200)
    md = markdown.render(c)
    assert len(md) <= markdown.GITHUB_LIMIT
    assert "truncated to stay under GitHub's comment size limit" in md
    assert md.count("<details>") == md.count("</details>")
    assert md.startswith(markdown.MARKER)
    # all six table rows survive; it is the details that were cut
    assert sum(1 for ln in md.splitlines() if ln.startswith("| ")) == 7  # header + 6 rows
    small = markdown.render(c, limit=4000)
    assert len(small) <= 4000 and "truncated" in small


def test_markdown_truncates_a_huge_table_regressions_first() -> None:
    tests_a, tests_b = {}, {}
    for i in range(900):
        a, b = synthetic_pair(n=20, seed=i, nodeid=f"suites/x/test_a_long_module_name.py::"
                              f"test_with_a_long_name[case-{i:04d}]",
                              head_rate=0.5 if i == 899 else 0.1)
        tests_a.update({t["nodeid"]: t["results"] for t in a["tests"]})
        # only the last one differs: exactly one regression, at the end of the record
        tests_b.update({t["nodeid"]: t["results"] for t in (b if i == 899 else a)["tests"]})
    c = compare_records(record(tests_a), record(tests_b), n_boot=200)
    assert [m.nodeid[-10:] for m in c.regressions] == ["case-0899]"]
    md = markdown.render(c, limit=20_000)
    assert len(md) <= 20_000
    assert "more metrics not shown" in md
    first_row = next(ln for ln in md.splitlines() if ln.startswith("| 🔴"))
    assert "case-0899" in first_row


def test_json_report(comparison: Comparison) -> None:
    data = json.loads(jsonout.render(comparison))
    assert data["kind"] == "llaso-comparison" and data["schema_version"] == 2
    assert data["has_regression"] is comparison.has_regression
    assert data["counts"] == comparison.counts()
    by_key = {m["key"]: m for m in data["metrics"]}
    wer = by_key["suites/asr/test_asr.py::test_wer[clean]::wer"]
    assert wer["verdict"] == "regressed" and wer["test"]["method"] == "paired-bootstrap"
    assert len(wer["test"]["delta_ci"]) == 2 and wer["pairing"]["n_paired"] == 300
    assert 0 <= wer["test"]["p_value"] <= wer["test"]["p_adjusted"] <= 1
    assert wer["test"]["mde"] > 0
    cer = by_key["suites/llm/test_qa.py::test_cer::cer"]
    assert cer["signature_diffs"] == [{"field": "normalizer", "base": "basic", "head": "none"}]
    em = by_key["suites/llm/test_qa.py::test_exact_match::exact_match"]
    assert em["flips"]["n_broken"] + em["flips"]["n_fixed"] == 60
    assert {p["path"] for p in data["provenance_diffs"]} == {"packages.jiwer",
                                                             "models.asr.sha256"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained(comparison: Comparison) -> None:
    doc = html.render(comparison)
    p = _Collector()
    p.feed(doc)
    tags = [t for t, _ in p.tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "iframe" not in tags and "object" not in tags
    for _, attrs in p.tags:
        for name in ("src", "href"):
            assert attrs.get(name) is None, attrs
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", doc)
    assert "Content-Security-Policy" in doc and "default-src 'none'" in doc
    assert tags.count("svg") == len(comparison.metrics)
    assert doc.count('class="errbar"') >= 2 * sum(
        1 for m in comparison.metrics if m.base_ci and m.head_ci)
    assert "<script>alert(1)" not in doc and "&lt;script&gt;alert(1)" in doc


def test_svg_plot_positions_follow_the_values() -> None:
    a = record({"t.py::x": [result("bleu", stats={}, value=20.0, ci=(19.0, 21.0),
                                   higher_is_better=True)]})
    b = record({"t.py::x": [result("bleu", stats={}, value=30.0, ci=(29.0, 31.0),
                                   higher_is_better=True)]})
    m = compare_records(a, b, n_boot=200).metrics[0]
    svg = html.svg_plot(m)
    cx = [float(v) for v in re.findall(r'<circle class="point" cx="([\d.]+)"', svg)]
    assert len(cx) == 2 and cx[0] < cx[1]
    bars = re.findall(r'class="errbar" x1="([\d.]+)" y1="[\d.]+" x2="([\d.]+)"', svg)
    assert len(bars) == 2
    for (x1, x2), c in zip(bars, cx, strict=True):
        assert float(x1) < c < float(x2)


def test_render_dispatch(comparison: Comparison) -> None:
    assert render(comparison, "text").splitlines()[1] == comparison.summary_line()
    assert render(comparison, "md").startswith(markdown.MARKER)
    assert json.loads(render(comparison, "json"))["kind"] == "llaso-comparison"
    assert render(comparison, "html").startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render(comparison, "pdf")


def _flipped_pair(ids: list[str], *, nodeid: str = "t.py::test_em", name: str = "exact_match"
                  ) -> Comparison:
    ok_a = [1] * len(ids)
    ok_b = [0] * 10 + [1] * (len(ids) - 10)
    a = record({nodeid: [accuracy_result(ok_a, ids=ids, name=name)]}, run_id="base")
    b = record({nodeid: [accuracy_result(ok_b, ids=ids, name=name)]}, run_id="head")
    return compare_records(a, b, n_boot=200)


def test_ids_with_lone_surrogates_render_in_every_format() -> None:
    # e.g. file names decoded with surrogateescape: not encodable as UTF-8
    ids = [f"clip_{i}_\udcff.wav" for i in range(40)]
    c = _flipped_pair(ids)
    assert c.metrics[0].flips.n_broken == 10
    for fmt in ("text", "md", "json", "html"):
        text = render(c, fmt)
        text.encode("utf-8")  # writable and printable
        assert "\\udcff" in text, fmt  # shown as its escape
    assert "clip_0_\\udcff.wav" in render(c, "html")
    # the JSON escape reads back as the very same id
    data = json.loads(jsonout.render(c))
    assert ids[0] in data["metrics"][0]["flips"]["broken"]


def test_markdown_neutralises_mentions_and_issue_references() -> None:
    ids = [f"@octo-org/ml-team #{i}" for i in range(40)]
    c = _flipped_pair(ids, nodeid="t.py::test_em[@admin]", name="em#7")
    md = markdown.render(c)
    assert md.count("now wrong") >= 1 and "octo-org/ml-team" in md
    for ref in ("@octo-org", "@admin", "#7", "#0", "#12"):
        assert ref not in md, ref
    assert f"@{markdown.ZWJ}octo-org/ml-team #{markdown.ZWJ}0" in md
    assert markdown.escape("see @alice and #42") == \
        f"see @{markdown.ZWJ}alice and #{markdown.ZWJ}42"
    # entities cannot bring them back, and the table-pipe entity still works
    assert markdown.escape("&#64;alice|x") == f"&amp;#{markdown.ZWJ}64;alice&#124;x"
    # the link to the full report (trusted, given on the command line) is kept as is
    url = "https://example.invalid/runs/7#summary-1"
    assert url in markdown.render(c, details_url=url)
