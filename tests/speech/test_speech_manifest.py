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


# -- every file in the model folder is pinned ---------------------------------------------
def test_unpinned_file_in_model_folder_is_refused_with_path_hash_and_fix(tmp_path: Path) -> None:
    """faster-whisper reads preprocessor_config.json when present (chunk_length changes the
    transcripts): a file the manifest does not list must not pass verification."""
    path, _ = _local_model(tmp_path)
    extra = tmp_path / "weights" / "preprocessor_config.json"
    extra.write_text('{"chunk_length": 5}')
    with pytest.raises(ModelVerificationError) as exc:
        verify_model(load_model_manifest(path))
    msg = str(exc.value)
    assert str(extra) in msg and "not pinned" in msg
    assert hashlib.sha256(extra.read_bytes()).hexdigest() in msg  # ready to pin
    assert "remove them" in msg and "pin them" in msg and str(path) in msg
    assert "model.bin" not in msg.replace(str(tmp_path), "")  # pinned files are fine


def test_unpinned_file_in_a_subdirectory_is_refused(tmp_path: Path) -> None:
    """pocketsphinx loads feature_transform / mllr_matrix from its acoustic model directory."""
    path, _ = _local_model(tmp_path)
    hmm = tmp_path / "weights" / "en-us"
    hmm.mkdir()
    (hmm / "mllr_matrix").write_text("1 0 0")
    (hmm / "feature_transform").write_bytes(b"\x00" * 8)
    with pytest.raises(ModelVerificationError) as exc:
        verify_model(load_model_manifest(path))
    msg = str(exc.value)
    assert "en-us/mllr_matrix" in msg and "en-us/feature_transform" in msg
    assert "2 file(s)" in msg


def test_pinning_the_extra_file_makes_it_verify(tmp_path: Path) -> None:
    path, data = _local_model(tmp_path)
    extra = tmp_path / "weights" / "preprocessor_config.json"
    extra.write_text('{"chunk_length": 5}')
    data["files"].append(
        {"path": "preprocessor_config.json",
         "sha256": hashlib.sha256(extra.read_bytes()).hexdigest()}
    )
    _write(path, data)
    v = verify_model(load_model_manifest(path))
    assert "preprocessor_config.json" in v.pin()["files"]


def test_shipped_model_folders_hold_only_pinned_files() -> None:
    from llaso_pytest.speech.manifest import resolve_root, unpinned_files

    for name in ("pocketsphinx-en-us.json", "whisper-tiny-en.json"):
        m = load_model_manifest(MODELS / name)
        assert unpinned_files(m, resolve_root(m)) == []


def test_cli_flags_unpinned_files(tmp_path: Path, capsys: Any) -> None:
    path, _ = _local_model(tmp_path)
    (tmp_path / "weights" / "preprocessor_config.json").write_text("{}")
    assert _main([str(path)]) == 1
    assert "preprocessor_config.json" in capsys.readouterr().out


@pytest.mark.parametrize("bad", ["../outside.bin", "/abs/model.bin", "a/../../b"])
def test_file_paths_must_stay_inside_the_model_root(tmp_path: Path, bad: str) -> None:
    path, data = _local_model(tmp_path)
    data["files"][0]["path"] = bad
    _write(path, data)
    with pytest.raises(ManifestError, match="relative to the model root"):
        load_model_manifest(path)


# -- engine options ------------------------------------------------------------------------
def test_unknown_faster_whisper_option_is_refused_naming_it_and_the_allowed_set(
    tmp_path: Path,
) -> None:
    path, data = _local_model(tmp_path)
    data["options"] = {"beam_size": 5, "patience": 2.0, "best_of": 3}
    _write(path, data)
    with pytest.raises(ManifestError) as exc:
        load_model_manifest(path)
    msg = str(exc.value)
    assert "'best_of'" in msg and "'patience'" in msg and str(path) in msg
    for allowed in ("beam_size", "language", "temperature", "vad_filter", "without_timestamps"):
        assert allowed in msg


@pytest.mark.parametrize(
    ("key", "value"),
    [("beam_size", 0), ("beam_size", "5"), ("vad_filter", "false"), ("temperature", -1),
     ("language", 3)],
)
def test_faster_whisper_option_types_are_checked(tmp_path: Path, key: str, value: Any) -> None:
    path, data = _local_model(tmp_path)
    data["options"] = {key: value}
    _write(path, data)
    with pytest.raises(ManifestError, match=f"options.{key} must be"):
        load_model_manifest(path)


def test_pocketsphinx_options_may_not_name_files_outside_the_pin(tmp_path: Path) -> None:
    data = json.loads((MODELS / "pocketsphinx-en-us.json").read_text())
    data["options"]["mllr"] = "/tmp/adapt/mllr_matrix"
    path = _write(tmp_path / "ps.json", data)
    with pytest.raises(ManifestError, match=r"\['mllr'\].*pin"):
        load_model_manifest(path)
    data["options"].pop("mllr")
    data["options"]["lm"] = "../other.lm.bin"
    _write(path, data)
    with pytest.raises(ManifestError, match="options.lm must be a path relative"):
        load_model_manifest(path)


# -- a manifest that cannot be read is not silently skipped -------------------------------
def test_not_found_message_includes_the_invalid_manifests_error(tmp_path: Path) -> None:
    data = json.loads((MODELS / "whisper-tiny-en.json").read_text())
    digest = data["files"][0]["sha256"]
    data["files"][0]["sha256"] = digest[:-1] + "Z"
    bad = _write(tmp_path / "whisper.json", data)
    with pytest.raises(ManifestError) as exc:
        find_manifest("whisper-tiny.en", [tmp_path])
    msg = str(exc.value)
    assert "no model manifest named 'whisper-tiny.en'" in msg
    assert str(bad) in msg and "64 hex digits" in msg and "model.bin" in msg
    assert "declares name 'whisper-tiny.en'" in msg


def test_not_found_lists_every_invalid_manifest(tmp_path: Path) -> None:
    _write(tmp_path / "a.json", {"schema_version": 1, "name": "a"})
    (tmp_path / "b.json").write_text("{not json")
    with pytest.raises(ManifestError) as exc:
        find_manifest("c", [tmp_path])
    msg = str(exc.value)
    assert "2 manifest(s) could not be read" in msg
    assert "a.json" in msg and "b.json" in msg and "missing required field" in msg
