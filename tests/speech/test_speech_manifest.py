"""Model manifests: the shipped pins verify; every mismatch is a clear, complete error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from speech_testutil import MODELS

from llaso_pytest.speech.errors import ManifestError, ModelVerificationError
from llaso_pytest.speech.manifest import (
    _main,
    find_manifest,
    load_model_manifest,
    sha256_file,
    verify_model,
)


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _local_model(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    d = tmp_path / "weights"
    d.mkdir()
    (d / "model.bin").write_bytes(b"\x00\x01weights" * 100)
    (d / "config.json").write_text('{"a": 1}')
    data = {
        "schema_version": 1,
        "name": "tiny-local",
        "engine": "faster-whisper",
        "root": {"path": "weights"},
        "files": [
            {"path": p, "sha256": hashlib.sha256((d / p).read_bytes()).hexdigest()}
            for p in ("model.bin", "config.json")
        ],
    }
    return _write(tmp_path / "tiny.json", data), data


@pytest.mark.parametrize("name", ["pocketsphinx-en-us.json", "whisper-tiny-en.json"])
def test_shipped_pins_verify_against_installed_files(name: str) -> None:
    m = load_model_manifest(MODELS / name)
    v = verify_model(m)
    for f in m.files:
        assert sha256_file(v.root / f.path) == f.sha256
    pin = v.pin()
    assert pin["version"] == m.version and pin["verified"] == "sha256"
    assert set(pin["files"]) == {f.path for f in m.files}


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(bytes(range(256)) * 9000)  # > 1 MiB chunk
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()


def test_hash_mismatch_names_file_expected_actual_and_fix(tmp_path: Path) -> None:
    path, data = _local_model(tmp_path)
    weights = tmp_path / "weights" / "model.bin"
    weights.write_bytes(weights.read_bytes() + b"tampered")
    actual = hashlib.sha256(weights.read_bytes()).hexdigest()
    with pytest.raises(ModelVerificationError) as exc:
        verify_model(load_model_manifest(path))
    msg = str(exc.value)
    assert str(weights) in msg
    assert data["files"][0]["sha256"] in msg  # expected
    assert actual in msg
    assert "Fix:" in msg and str(path) in msg
    assert "config.json" not in msg  # the intact file is not reported


def test_missing_file_is_reported_with_expected_hash(tmp_path: Path) -> None:
    path, data = _local_model(tmp_path)
    (tmp_path / "weights" / "config.json").unlink()
    with pytest.raises(ModelVerificationError, match="config.json: missing") as exc:
        verify_model(load_model_manifest(path))
    assert data["files"][1]["sha256"] in str(exc.value)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path, _ = _local_model(tmp_path)
    (tmp_path / "weights" / "config.json").unlink()
    (tmp_path / "weights" / "model.bin").write_bytes(b"other")
    with pytest.raises(ModelVerificationError) as exc:
        verify_model(load_model_manifest(path))
    assert "model.bin" in str(exc.value) and "config.json" in str(exc.value)


def test_size_mismatch_reported(tmp_path: Path) -> None:
    path, data = _local_model(tmp_path)
    data["files"][0]["size"] = 3
    _write(path, data)
    with pytest.raises(ModelVerificationError, match="expected 3"):
        verify_model(load_model_manifest(path))


def test_wrong_distribution_version_names_both_and_pip_fix(tmp_path: Path) -> None:
    data = json.loads((MODELS / "pocketsphinx-en-us.json").read_text())
    data["root"]["version"] = "5.0.0"
    path = _write(tmp_path / "ps.json", data)
    with pytest.raises(ModelVerificationError) as exc:
        verify_model(load_model_manifest(path))
    msg = str(exc.value)
    assert "5.0.0" in msg and "5.1.1" in msg and "pip install 'pocketsphinx==5.0.0'" in msg


def test_distribution_not_installed(tmp_path: Path) -> None:
    data = json.loads((MODELS / "whisper-tiny-en.json").read_text())
    data["root"]["distribution"] = "no-such-dist-llaso"
    path = _write(tmp_path / "w.json", data)
    with pytest.raises(ModelVerificationError, match="not installed.*pip install"):
        verify_model(load_model_manifest(path))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("files"), "missing required field 'files'"),
        (lambda d: d["files"][0].update(sha256="abc"), "64 hex digits"),
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.update(device="tpu"), "device must be one of"),
        (lambda d: d.update(files=[]), "'files' is empty"),
        (lambda d: d.update(root={}), "root needs"),
    ],
)
def test_invalid_manifest_fields(tmp_path: Path, mutate: Any, match: str) -> None:
    path, data = _local_model(tmp_path)
    mutate(data)
    _write(path, data)
    with pytest.raises(ManifestError, match=match) as exc:
        load_model_manifest(path)
    assert str(path) in str(exc.value)


def test_toml_manifest(tmp_path: Path) -> None:
    _, data = _local_model(tmp_path)
    f0, f1 = data["files"]
    (tmp_path / "m.toml").write_text(
        'schema_version = 1\nname = "tiny-toml"\nengine = "faster-whisper"\n'
        '[root]\npath = "weights"\n'
        f'[[files]]\npath = "model.bin"\nsha256 = "{f0["sha256"]}"\n'
        f'[[files]]\npath = "config.json"\nsha256 = "{f1["sha256"]}"\n'
    )
    v = verify_model(load_model_manifest(tmp_path / "m.toml"))
    assert v.manifest.name == "tiny-toml"
    assert find_manifest("tiny-toml", [tmp_path]) == tmp_path / "m.toml"


def test_find_manifest_unknown_lists_known() -> None:
    with pytest.raises(ManifestError, match="whisper-tiny.en"):
        find_manifest("nope", [MODELS])


def test_cli_prints_hashes_and_flags_differences(tmp_path: Path, capsys: Any) -> None:
    path, data = _local_model(tmp_path)
    assert _main([str(path)]) == 0
    out = capsys.readouterr().out
    assert data["files"][0]["sha256"] in out and "ok" in out
    (tmp_path / "weights" / "model.bin").write_bytes(b"x")
    assert _main([str(path)]) == 1
    assert "DIFFERS" in capsys.readouterr().out
