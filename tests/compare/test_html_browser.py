"""The HTML report in a real headless browser (Debian ``chromium``): DOM and a screenshot.

``LLASO_DOCS_SCREENSHOT=docs/img/report.png python -m pytest tests/compare/test_html_browser.py``
refreshes the screenshot used in docs/compare.md.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from compare_testutil import mixed_comparison

from llaso_pytest.report import html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                                "(apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         # any network access would fail loudly instead of silently loading something
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html.render(mixed_comparison()), encoding="utf-8")
    return path


class DomReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.rows: list[dict[str, str | None]] = []
        self.tags: dict[str, int] = {}
        self.text: list[str] = []
        self.summary = ""
        self._in_summary = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "tr" and a.get("class") == "metric":
            self.rows.append(a)
        if a.get("id") == "summary":
            self._in_summary = True
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self._in_summary = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_summary:
            self.summary += data


def test_rendered_dom_shows_the_comparison(report_file: Path, tmp_path: Path) -> None:
    proc = chromium(tmp_path, "--dump-dom", report_file.as_uri())
    dom = DomReader()
    dom.feed(proc.stdout)
    comparison = mixed_comparison()
    assert dom.summary.split() == comparison_summary_words(comparison)
    assert [r["data-verdict"] for r in dom.rows] == [
        m.verdict for m in sorted(comparison.metrics, key=_order)]
    assert dom.tags.get("svg") == len(comparison.metrics)
    assert dom.tags.get("circle", 0) == sum(
        (m.base_value is not None) + (m.head_value is not None) for m in comparison.metrics)
    text = " ".join(dom.text)
    # the crafted item id is shown as text, never executed
    assert "evil|<script>alert(1)</script>" in text
    assert dom.tags.get("script", 0) == 0
    assert "Provenance differences (2)" in text


def comparison_summary_words(comparison: object) -> list[str]:
    from llaso_pytest.report import VERDICT_ORDER

    c = comparison.counts()  # type: ignore[attr-defined]
    words: list[str] = []
    for v in sorted(c, key=VERDICT_ORDER.__getitem__):
        if c[v] or v in ("regressed", "improved", "unchanged", "untested"):
            words += ["·"] if words else []
            words += [str(c[v]), *v.split("-")]
    return words + ["at", "FDR", "5%"]


def _order(m: object) -> int:
    from llaso_pytest.report import VERDICT_ORDER

    return VERDICT_ORDER[m.verdict]  # type: ignore[attr-defined]


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, idat = 8, b""
    width = height = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_screenshot(report_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--hide-scrollbars", "--window-size=1400,1000",
             f"--screenshot={shot}", report_file.as_uri())
    width, height, raw = _png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    # not a blank page (a white page compresses to a handful of distinct bytes)
    assert len(set(raw)) > 100
    target = os.environ.get("LLASO_DOCS_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_item_texts_render_as_text_with_their_alignment(tmp_path: Path) -> None:
    """Flipped QA cases and a worsened ASR item, in the browser: the texts are there as text
    (a crafted prediction is not markup) and the alignment keeps its columns."""
    from compare_testutil import record

    from llaso_pytest import metrics
    from llaso_pytest.compare import compare_records

    ids = [f"q{i:02d}" for i in range(40)]
    answers = [f"answer {i}" for i in range(40)]
    wrong = {3: "<img src=x onerror=alert(1)>", 17: "forty-two", 29: "no idea"}
    refs = ["the cat sat on the mat"] * 12
    hyps = list(refs)
    hyps[4] = "bat sat on the mat today"
    base = {"t.py::test_qa": [metrics.exact_match(answers, answers, ids=ids).to_record()],
            "t.py::test_asr": [metrics.wer(refs, refs).to_record()]}
    head = {"t.py::test_qa": [metrics.exact_match(
                answers, [wrong.get(i, a) for i, a in enumerate(answers)], ids=ids).to_record()],
            "t.py::test_asr": [metrics.wer(refs, hyps).to_record()]}
    page = tmp_path / "items.html"
    page.write_text(html.render(compare_records(record(base), record(head))), encoding="utf-8")
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = DomReader()
    dom.feed(proc.stdout)
    text = "".join(dom.text)
    assert dom.tags.get("img", 0) == 0 and dom.tags.get("script", 0) == 0
    assert "head:      '<img src=x onerror=alert(1)>'" in text
    assert "head:      'forty-two'" in text and "reference: 'answer 29'" in text
    assert "head REF: the cat sat on the mat *****\n     HYP: bat *** sat on the mat today\n" \
           "          S   D                  I" in text
    assert dom.tags.get("pre", 0) == 4
