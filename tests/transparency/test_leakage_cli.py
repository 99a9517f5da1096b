"""``llaso leakage EVAL TRAIN``: files read strictly and streamed, exit codes, the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llaso_pytest.cli import main
from llaso_pytest.documents import DocumentError, iter_documents


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_flags_a_copied_item_with_evidence_and_exit_codes(tmp_path: Path, capsys) -> None:
    item = "the quick brown fox jumps over the lazy dog near the quiet river bank today"
    evals = _write_jsonl(tmp_path / "eval.jsonl", [
        {"id": "e1", "text": item}, {"id": "e2", "text": "an unrelated question about tea"}])
    train = tmp_path / "train.txt"
    train.write_text("nothing here\nSo: " + item.upper() + "! and more\n", encoding="utf-8")
    out = tmp_path / "leak.json"
    assert main(["leakage", str(evals), str(train), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 of 2 eval items overlap" in text and "e1: ngram in training document '2'" in text
    data = json.loads(out.read_text())
    assert data["flagged"] == ["e1"] and data["evidence"]["e1"][0]["train_id"] == "2"
    assert data["provenance"]["train_docs"] == 2
    assert main(["leakage", str(evals), str(train), "--fail-on-leak"]) == 1
    clean = tmp_path / "clean.txt"
    clean.write_text("nothing at all in common\n", encoding="utf-8")
    assert main(["leakage", str(evals), str(clean), "--fail-on-leak"]) == 0


def test_bad_files_exit_2_naming_file_and_line(tmp_path: Path, capsys) -> None:
    evals = _write_jsonl(tmp_path / "eval.jsonl", [{"id": "e1", "question": "q"}])
    train = tmp_path / "train.txt"
    train.write_text("x\n", encoding="utf-8")
    assert main(["leakage", str(evals), str(train)]) == 2
    err = capsys.readouterr().err
    assert "eval.jsonl: line 1: field 'text' must be a string, got nothing" in err
    assert main(["leakage", str(evals), str(train), "--field", "question"]) == 0
    assert main(["leakage", str(tmp_path / "missing.jsonl"), str(train)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_documents_are_streamed_and_strict(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": 1, "text": "a"}\n\n{"id": 1, "text": "b"}\n')
    docs = iter_documents(p)
    assert next(docs) == ("1", "a")  # the first line is yielded before the second is read
    with pytest.raises(DocumentError, match=r"line 3: duplicate id '1' \(first on line 1\)"):
        next(docs)
    p.write_bytes(b'{"id": "x", "text": "\xff"}\n')
    with pytest.raises(DocumentError, match="line 1: not valid JSON|not UTF-8"):
        list(iter_documents(p))
    p.write_bytes(b'[1, 2]\n')
    with pytest.raises(DocumentError, match="expected a JSON object, got list"):
        list(iter_documents(p))
