"""cases.load under pytest: case ids as test ids, dataset hashes in the run record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy  # noqa: F401  (imported once here: pytester's module snapshots must not reload it)
import pytest

ROWS = "".join(json.dumps({"id": f"qa-{i:03d}", "q": f"question {i}"}) + "\n"
               for i in range(1, 6))


def _latest(pytester: pytest.Pytester) -> dict[str, object]:
    return json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())


@pytest.mark.parametrize("workers", [None, "2"])
def test_case_ids_are_test_ids_and_the_dataset_hash_is_recorded(
        pytester: pytest.Pytester, workers: str | None) -> None:
    data = pytester.path / "data.jsonl"
    data.write_text(ROWS)
    pytester.makepyfile(test_qa_cases="""
        import pytest
        from llaso_pytest import cases

        @pytest.mark.parametrize("case", cases.load("data.jsonl", name="qa"))
        def test_case(case):
            assert case["q"].startswith("question")
        """)
    args = ["-n", workers] if workers else []
    result = pytester.runpytest(*args, "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    result.stdout.re_match_lines([r".*(test_qa_cases.py::test_case\[qa-003\] PASSED|"
                                  r"PASSED test_qa_cases.py::test_case\[qa-003\])"])
    import hashlib

    prov = _latest(pytester)["provenance"]
    assert isinstance(prov, dict)
    entry = prov["datasets"]["qa"]
    assert entry["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert entry["n"] == 5 and entry["format"] == "jsonl"
    selected = pytester.runpytest(*args, "-k", "qa-002 or qa-004", "-p", "no:cacheprovider")
    assert selected.parseoutcomes()["passed"] == 2  # (xdist does not count deselected items)


def _docs_block(marker: str) -> str:
    text = (Path(__file__).parents[2] / "docs" / "cases.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return next(b for b in blocks if marker in b)


def test_the_docs_example_runs_as_printed(pytester: pytest.Pytester) -> None:
    import shutil

    repo = Path(__file__).parents[2]
    (pytester.path / "fixtures" / "llm").mkdir(parents=True)
    shutil.copytree(repo / "fixtures" / "llm" / "qa", pytester.path / "fixtures" / "llm" / "qa")
    pytester.makepyfile(test_docs_cases=_docs_block("def test_answer"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=20)
    rec = _latest(pytester)
    tests = rec["tests"]
    assert isinstance(tests, list)
    (corpus,) = [t for t in tests if t["nodeid"] == "test_docs_cases.py::test_answer"]
    (result,) = corpus["results"]
    assert result["n"] == 20 and result["value"] == 1.0
    assert result["items"]["ids"][:2] == ["qa-001", "qa-002"]


def test_the_docs_reader_example_registers_a_format(tmp_path: Path) -> None:
    from llaso_pytest import cases
    from llaso_pytest.cases import core

    namespace: dict[str, object] = {}
    exec(_docs_block("def read_lines"), namespace)  # noqa: S102 - the documented example
    try:
        path = tmp_path / "d.lines"
        path.write_text("hello\nworld\n")
        loaded = cases.load(path)
        assert loaded.format == "lines" and loaded.column("text") == ["hello", "world"]
    finally:
        core._READERS.pop("lines", None)
