"""The transparency report (slices, confusions, judge vs human, profile) in headless
Chromium: the DOM shows what the record holds; a screenshot; the Markdown stays in size."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy  # noqa: F401 - loaded before pytester's in-process runs (a C extension loads once)
import pytest

from llaso_pytest import metrics
from llaso_pytest.cards import profile as _profile  # noqa: F401 - the same, for the report
from llaso_pytest.report.markdown import GITHUB_LIMIT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]

RECORDING = '''
from llaso_pytest import metrics
from llaso_pytest.metrics.base import from_values

def test_slices(record_metric):
    sizes = {"alice": 12, "bob": 8, "carol": 3}
    for spk, n in sizes.items():
        refs = [f"the cat sat on the mat number {i}" for i in range(n)]
        hyps = [r if i % 3 else r.replace("cat", "hat") for i, r in enumerate(refs)]
        r = metrics.wer(refs, hyps, ids=[f"{spk}{i}" for i in range(n)])
        record_metric(r, name=f"wer/speaker={spk}")

def test_errors(record_metric):
    pairs = [["cat", "hat", 4], ["mat", "", 2], ["", "the", 1]]
    record_metric(from_values("errors/numbers", items=[0.1, 0.2, 0.3, 0.1, 0.2],
                              extra={"top_confusions": pairs}))

def test_judge(record_metric):
    ag = {"labels": ["pass", "fail"], "confusion_human_by_judge": [[7, 2], [1, 5]],
          "kappa": 0.58, "accuracy": 0.8}
    record_metric(from_values("judge_human_kappa", 0.58, extra={"agreement": ag}))
'''


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rec") / "run.json"


def _make_record(pytester: pytest.Pytester, path: Path) -> Path:
    if not path.is_file():
        # load WER's C extensions here: pytester's in-process run unloads modules it first
        # imported, and a C extension cannot be loaded twice in one process
        metrics.wer(["a b"], ["a c"], n_boot=0)
        pytester.makepyfile(test_rec=RECORDING)
        pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--llaso-out={path}"
                                     ).assert_outcomes(passed=3)
    return path


def _render(pytester: pytest.Pytester, record: Path, tmp_path: Path) -> tuple[Path, Path]:
    from llaso_pytest.cli import main

    html, md = tmp_path / "report.html", tmp_path / "report.md"
    assert main(["report", str(_make_record(pytester, record)), "-o", str(html), "-o",
                 str(md), "--data", str(ROOT / "fixtures" / "asr" / "flite_harvard.json")]) == 0
    return html, md


def test_markdown_summary_and_size_limit(pytester: pytest.Pytester, record: Path,
                                         tmp_path: Path) -> None:
    from llaso_pytest.record import read_record
    from llaso_pytest.report.transparency import render_markdown
    from llaso_pytest.run_views import run_views

    _, md = _render(pytester, record, tmp_path)
    text = md.read_text()
    assert "| carol | " in text and "| too few | 3 |" in text  # 3 items: below the minimum
    assert "| cat | hat | 4 |" in text and "| mat | (deleted) | 2 |" in text
    assert "| pass | 7 | 2 |" in text
    views = run_views(read_record(record), source=str(record))
    small = render_markdown(views, limit=400)
    assert len(small) <= 400 and "more lines did not fit" in small
    assert len(render_markdown(views)) <= GITHUB_LIMIT


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                    "(apt-get install chromium)")
def test_dom_and_screenshot_in_headless_chromium(pytester: pytest.Pytester, record: Path,
                                                 tmp_path: Path) -> None:
    html, _ = _render(pytester, record, tmp_path)
    assert CHROMIUM is not None

    def chromium(*args: str) -> subprocess.CompletedProcess[str]:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=True)

    dom = chromium("--dump-dom", html.as_uri()).stdout
    slices = re.findall(r'<g class="(slice[^"]*)" data-slice="([^"]+)"', dom)
    assert sorted(slices) == [("slice", "alice"), ("slice", "bob"),
                              ("slice below-min", "carol")]
    assert "too few for an interval" in dom
    assert dom.count('class="confusions"') == 1 and "(deleted)" in dom
    cells = re.findall(r'<td class="num" style="[^"]*">(\d+)</td>', dom)
    assert cells == ["7", "2", "1", "5"]
    assert 'data-dataset="flite-harvard"' in dom and "speaker (n=100)" in dom
    shot = tmp_path / "report.png"
    chromium("--hide-scrollbars", "--window-size=1200,900", f"--screenshot={shot}",
             html.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    target = os.environ.get("LLASO_DOCS_SCREENSHOT_TRANSPARENCY")
    if target:
        shutil.copyfile(shot, target)
