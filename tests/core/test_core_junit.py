"""JUnit XML stays small: each result as value, interval, n and signature text (issue 13, 9).

The per-item data travels to the controller on ``report.user_properties`` and goes into the
run record; JUnit XML (and any later reader of the report) gets the one-line summary only.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy  # noqa: F401  - loaded once, before pytester's in-process runs
import pytest

from llaso_pytest.report.summary import result_line

pytest_plugins = ["pytester"]

BIG_WER = """
from llaso_pytest import metrics

N = NITEMS

def test_big_wer(record_metric):
    refs = [f"the cat sat on mat {i % 97}" for i in range(N)]
    hyps = [f"the cat sat on a mat {i % 89}" for i in range(N)]
    record_metric(metrics.wer(refs, hyps, ids=[f"utt-{i:06d}" for i in range(N)], n_boot=200))

def test_small(record_metric):
    record_metric("accuracy", items={"a": 1.0, "b": 0.0, "c": 1.0}, higher_is_better=True)
"""


def _properties(path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        for prop in case.iter("property"):
            out.setdefault(case.get("name", "?"), []).append(prop.get("value", ""))
    return out


# 50k items as in the issue; under xdist 5k (the worker -> controller trip is the point there,
# and the old per-item dump was already 200 kB of XML)
@pytest.mark.parametrize(("workers", "n"), [([], 50_000), (["-n", "2"], 5_000)],
                         ids=["serial", "xdist"])
def test_junit_holds_one_line_per_result_and_the_record_every_item(
    pytester: pytest.Pytester, workers: list[str], n: int
) -> None:
    if workers:
        pytest.importorskip("xdist")
    pytester.makepyfile(test_big=BIG_WER.replace("NITEMS", str(n)))
    run = (pytester.runpytest_subprocess if workers else pytester.runpytest)(
        "-p", "no:cacheprovider", "--junitxml=junit.xml", *workers)
    run.assert_outcomes(passed=2)
    xml = pytester.path / "junit.xml"
    size = xml.stat().st_size
    assert size < 10_000, f"junit.xml is {size} bytes"
    record = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    results = {t["nodeid"].split("::")[1]: t["results"][0] for t in record["tests"]}
    wer = results["test_big_wer"]
    assert len(wer["items"]["ids"]) == n and len(wer["items"]["stats"]["errors"]) == n
    props = _properties(xml)
    # the property is the summary of exactly the recorded result (value, CI, n, signature)
    assert result_line(wer) in props["test_big_wer"]
    assert result_line(results["test_small"]) in props["test_small"]
    line = result_line(wer)
    assert f"n={n}" in line and wer["signature"]["text"] in line and "utt-000001" not in line


def test_result_line_names_value_interval_n_direction_and_signature() -> None:
    from llaso_pytest.metrics import wer

    refs = ["a b c d", "a b", "c d e", "f g", "h i j", "k"]
    r = wer(refs, ["a b c", "a x", "c d e", "f g", "h j", "k l"], n_boot=100).to_record()
    line = result_line(r)
    low, high = r["ci"]
    assert line.startswith(f"wer = {r['value']:.4g}, 95% [{low:.4g}, {high:.4g}], ")
    assert "n=6" in line and "lower is better" in line and line.endswith(r["signature"]["text"])
    no_ci = dict(r, ci=None)
    assert "n/a (too few items)" in result_line(no_ci)


CASES = """
import pytest
from llaso_pytest import metrics

@pytest.mark.parametrize("i", range(4))
def test_case(i, record_case):
    record_case(metrics.wer([f"reference text number {i} " * 30], [f"hypothesis {i} " * 30],
                            ids=[str(i)]))
"""


def test_junit_holds_one_line_per_case_of_a_corpus(pytester: pytest.Pytester) -> None:
    """record_case payloads (one item each, texts included) are one line in JUnit too."""
    pytester.makepyfile(test_cases_junit=CASES)
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=junit.xml")
    run.assert_outcomes(passed=4)
    props = _properties(pytester.path / "junit.xml")
    assert len(props) == 4
    for values in props.values():
        lines = [v for v in values if ": wer = " in v]
        assert len(lines) == 1
        assert lines[0].startswith("test_cases_junit.py::test_case: wer = ") and "n=1" in lines[0]
        assert not any("reference text number" in v for v in values)  # no items, no texts
        assert sum(map(len, values)) < 1000
    record = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    corpus = [r for t in record["tests"] for r in t["results"]]
    assert [r["n"] for r in corpus] == [4]  # the corpus still has every case
