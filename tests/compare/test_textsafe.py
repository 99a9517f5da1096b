"""Untrusted text (metric names, node ids, item ids, notes, provenance values) is neutralised
in every rendered format: bidi controls made visible, GitHub references broken."""

from __future__ import annotations

import dataclasses

import pytest
from compare_testutil import accuracy_result, record

from llaso_pytest.compare import Comparison, compare_records
from llaso_pytest.record import parse_record
from llaso_pytest.report import render
from llaso_pytest.report.summary import render_results
from llaso_pytest.textsafe import (
    BIDI_CONTROLS,
    ZWJ,
    neutralize,
    neutralize_bidi,
    neutralize_controls,
    neutralize_references,
)

BIDI = sorted(BIDI_CONTROLS)
REFS = ["GH-12", "gh-13", "https://github.com/o/r/issues/1", "http://github.com/o/r/pull/2",
        "https://ghe.example.com/o/r/pulls/3", "www.github.com/o/r/issues/4",
        "https://github.com/o/r/discussions/5", "@admin", "@octo-org/ml-team", "#12345", "o/r#7"]
# one planted string per bidi control, each with every kind of reference
PLANTS = [f"a{ch}b {' '.join(REFS)}" for ch in BIDI]


def test_the_bidi_controls_are_the_unicode_set() -> None:
    expected = {*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)),
                "\u200e", "\u200f", "\u061c"}
    assert BIDI_CONTROLS == expected


@pytest.mark.parametrize("ch", BIDI)
def test_each_bidi_control_is_made_visible(ch: str) -> None:
    assert neutralize_bidi(f"wer{ch}x") == f"wer⟨U+{ord(ch):04X}⟩x"


def test_references_are_broken_by_an_invisible_joiner() -> None:
    assert neutralize_references("GH-12 gh-3 GHz GH-x") == f"GH{ZWJ}-12 gh{ZWJ}-3 GHz GH-x"
    assert neutralize_references("see https://github.com/o/r/issues/1 and "
                                 "www.github.com/o/r/pull/2") == (
        f"see https:{ZWJ}//github.com/o/r/issues/1 and www{ZWJ}.github.com/o/r/pull/2")
    assert neutralize_references("@alice #42 o/r#7") == f"@{ZWJ}alice #{ZWJ}42 o/r#{ZWJ}7"
    # other URLs are left alone: only issue, pull request and discussion links reference
    assert neutralize_references("https://example.invalid/runs/7") == (
        "https://example.invalid/runs/7")


def test_controls_and_trusted_text() -> None:
    assert neutralize_controls("a\x1b[2Jb\nc\x85") == "a⟨U+001B⟩[2Jb⟨U+000A⟩c⟨U+0085⟩"
    url = "https://github.com/o/r/pull/9\u202e"
    assert neutralize(url, trusted=True) == "https://github.com/o/r/pull/9⟨U+202E⟩"
    assert neutralize(7) == "7"


@pytest.mark.parametrize("text", [*PLANTS, "a\x1b[31m\u202e@x GH-1", ""])
def test_neutralising_is_idempotent(text: str) -> None:
    once = neutralize(text, controls=True)
    assert neutralize(once, controls=True) == once


def _planted_comparison() -> tuple[Comparison, dict[str, object]]:
    ids = [f"item {i} {PLANTS[i % len(PLANTS)]}" for i in range(40)]
    ok_a = [1] * 40
    ok_b = [0] * 12 + [1] * 28
    tests_a, tests_b = {}, {}
    for i, plant in enumerate(PLANTS):
        nodeid = f"t.py::test_em[{plant}]"
        name = f"em {plant}"
        tests_a[nodeid] = [accuracy_result(ok_a, ids=ids, name=name)]
        tests_b[nodeid] = [accuracy_result(ok_b if i % 2 else ok_a, ids=ids, name=name)]
    prov_a = {"git": {"commit": "abc", "dirty": False}, "model": PLANTS[0]}
    prov_b = {"git": {"commit": "def", "dirty": False}, "model": PLANTS[1]}
    a = record(tests_a, run_id="base", provenance=prov_a)
    b = record(tests_b, run_id="head", provenance=prov_b)
    c = compare_records(a, b, n_boot=100)
    metrics = tuple(dataclasses.replace(m, notes=(*m.notes, f"note {PLANTS[j % len(PLANTS)]}"))
                    for j, m in enumerate(c.metrics))
    return dataclasses.replace(c, metrics=metrics), b


def _assert_neutral(text: str, where: str) -> None:
    for ch in BIDI:
        assert ch not in text, (where, f"U+{ord(ch):04X}")
        assert f"⟨U+{ord(ch):04X}⟩" in text, (where, f"U+{ord(ch):04X} not shown")
    for ref in REFS:
        assert ref not in text, (where, ref)
    assert f"GH{ZWJ}-12" in text and f"https:{ZWJ}//github.com/o/r/issues/1" in text, where


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_every_format_neutralises_planted_strings(fmt: str) -> None:
    c, _ = _planted_comparison()
    out = render(c, fmt)
    _assert_neutral(out, fmt)
    if fmt != "text":  # the terminal shows neither notes nor provenance values
        assert "note a⟨U+202A⟩b" in out.replace("&lt;", "<")
        assert "⟨U+202A⟩b GH" in out  # the provenance value 'model'


def test_the_results_table_neutralises_planted_strings() -> None:
    _, head = _planted_comparison()
    lines = render_results(parse_record(head, source="planted"))
    _assert_neutral("\n".join(lines), "summary")
