"""The one JSONL reader of pinned datasets and predictions: undecodable bytes and duplicate
keys are errors naming the file and the line, never a bare UnicodeDecodeError or a silently
dropped value."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llaso_pytest.llm.predictions import (
    PredictionsError,
    load_dataset,
    load_manifest,
    load_predictions,
)
from llaso_pytest.llm.predictions import main as predictions_main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture()
def qa(tmp_path: Path) -> Path:
    d = tmp_path / "qa"
    shutil.copytree(FIXTURES / "llm" / "qa", d)
    return d


def _write_and_pin(d: Path, lines: list[bytes]) -> Path:
    path = d / "predictions.model-a.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert predictions_main(["pin", str(d)]) == 0
    return path


def _rows(d: Path) -> list[bytes]:
    ids = load_dataset(d).ids
    return [json.dumps({"id": i, "prediction": "x"}).encode() for i in ids]


@pytest.mark.parametrize(("bad", "at"), [(b"caf\xe9", 3), (b"\xff\xfe", 0),
                                         (b"ok \xed\xa0\x80 (a surrogate)", 3)])
def test_non_utf8_bytes_name_the_file_and_line(qa: Path, bad: bytes, at: int) -> None:
    rows = _rows(qa)
    prefix = b'{"id": "qa-007", "prediction": "'
    rows[6] = prefix + bad + b'"}'
    path = _write_and_pin(qa, rows)
    with pytest.raises(PredictionsError) as err:
        load_predictions(qa, "model-a", ids=load_dataset(qa).ids)
    assert str(err.value) == (f"{path}: line 7: not UTF-8 (byte 0x{bad[at]:02x} at column "
                              f"{len(prefix) + at + 1}); save the file as UTF-8")


def test_duplicate_key_names_the_file_and_line(qa: Path) -> None:
    rows = _rows(qa)
    rows[2] = b'{"id": "qa-003", "prediction": "Paris", "prediction": "Rome"}'
    path = _write_and_pin(qa, rows)
    with pytest.raises(PredictionsError) as err:
        load_predictions(qa, "model-a", ids=load_dataset(qa).ids)
    assert str(err.value) == (
        f"{path}: line 3: duplicate key 'prediction' in a JSON object (the values 'Paris' and "
        "'Rome'); keep one")


def test_duplicate_keys_in_nested_objects_datasets_and_manifests(qa: Path) -> None:
    data = load_manifest(qa).data_path
    lines = data.read_bytes().splitlines()
    lines[0] = lines[0][:-1] + b', "meta": {"a": 1, "a": 2}}'
    data.write_bytes(b"\n".join(lines) + b"\n")
    assert predictions_main(["pin", str(qa)]) == 0
    with pytest.raises(PredictionsError, match=rf"^{data}: line 1: duplicate key 'a'"):
        load_dataset(qa)
    manifest = qa / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"task":', '"name": "again", "task":', 1))
    with pytest.raises(PredictionsError, match=rf"^{manifest}: not valid JSON \(duplicate key "
                       "'name'"):
        load_manifest(qa)


def test_the_same_files_load_when_clean(qa: Path) -> None:
    rows = _rows(qa)
    rows[0] = json.dumps({"id": "qa-001", "prediction": "café ✓"}).encode()
    rows[1] = '{"id": "qa-002", "prediction": "naïve"}'.encode()
    _write_and_pin(qa, rows)
    preds = load_predictions(qa, "model-a", ids=load_dataset(qa).ids)
    assert preds.by_id["qa-001"] == "café ✓" and preds.by_id["qa-002"] == "naïve"
