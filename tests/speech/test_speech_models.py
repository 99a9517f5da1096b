"""The engine table and the pytest-free model registry."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llaso_pytest.speech import engines
from llaso_pytest.speech.engines import BuildOptions, Engine, FunctionRecognizer, Recognizer
from llaso_pytest.speech.errors import EngineError, ManifestError, ModelVerificationError
from llaso_pytest.speech.manifest import VerifiedModel, load_model_manifest, verify_model
from llaso_pytest.speech.models import ModelRegistry


def _model_dir(tmp_path: Path, *, engine: str, options: Mapping[str, Any]) -> Path:
    weights = tmp_path / "weights"
    weights.mkdir(parents=True)
    (weights / "vocab.txt").write_text("hello pinned world", encoding="utf-8")
    digest = hashlib.sha256((weights / "vocab.txt").read_bytes()).hexdigest()
    manifest = {"schema_version": 1, "name": "vocab-echo", "engine": engine,
                "root": {"path": "weights"}, "files": [{"path": "vocab.txt", "sha256": digest}],
                "options": dict(options)}
    (tmp_path / "vocab-echo.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path


def _check_vocab_options(options: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(options) - {"upper"})
    if unknown:
        raise ManifestError(f"{where}: unknown vocab-echo option(s) {unknown}")


def _build_vocab(model: VerifiedModel, options: BuildOptions) -> Recognizer:
    text = model.path("vocab.txt").read_text(encoding="utf-8")
    upper = bool(model.manifest.options.get("upper", False))
    return FunctionRecognizer("vocab-echo", lambda x: text.upper() if upper else text,
                              info={"device": options.device})


def test_one_table_entry_adds_an_engine_to_both_dispatch_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(engines.ENGINES) == {"pocketsphinx", "faster-whisper"}
    monkeypatch.setitem(engines.ENGINES, "vocab-echo",  # type: ignore[index]
                        Engine("vocab-echo", _build_vocab, _check_vocab_options))
    # the manifest check reads the table ...
    bad = _model_dir(tmp_path / "bad", engine="vocab-echo", options={"beam": 3})
    with pytest.raises(ManifestError, match=r"vocab-echo\.json: unknown vocab-echo option"):
        load_model_manifest(bad / "vocab-echo.json")
    # ... and so does loading
    good = _model_dir(tmp_path / "good", engine="vocab-echo", options={"upper": True})
    registry = ModelRegistry(models_dirs=[good], device="cpu")
    loaded = registry.get("vocab-echo")
    assert loaded.recognizer.transcribe(np.zeros(16, np.float32)) == "HELLO PINNED WORLD"
    assert loaded.pin["verified"] == "sha256" and loaded.pin["device_requested"] == "cpu"
    assert registry.get("vocab-echo") is loaded  # loaded once


def test_unknown_engine_names_the_table(tmp_path: Path) -> None:
    d = _model_dir(tmp_path, engine="kaldi", options={})
    verified = verify_model(load_model_manifest(d / "vocab-echo.json"))  # not checked: not ours
    with pytest.raises(EngineError, match="unknown engine 'kaldi'; built in are "
                       "'pocketsphinx', 'faster-whisper'"):
        engines.load_recognizer(verified)


def test_registry_raises_speech_errors_and_remembers_a_failure(tmp_path: Path) -> None:
    d = _model_dir(tmp_path, engine="faster-whisper", options={})
    vocab = d / "weights" / "vocab.txt"
    original = vocab.read_bytes()
    vocab.write_bytes(b"tampered")
    registry = ModelRegistry(models_dirs=[d], device="cpu")
    with pytest.raises(ModelVerificationError, match="does not match its pin") as first:
        registry.get("vocab-echo")
    vocab.write_bytes(original)  # a later request does not retry: same error, same text
    with pytest.raises(ModelVerificationError) as again:
        registry.get("vocab-echo")
    assert str(again.value) == str(first.value)
    registry.register("mine", lambda: FunctionRecognizer("mine", lambda x: ""))
    with pytest.raises(EngineError, match="'mine' is already registered"):
        registry.register("mine", lambda: FunctionRecognizer("mine", lambda x: ""))
    assert registry.get("mine").pin["pinned"] is False


def test_registry_module_does_not_import_pytest() -> None:
    code = ("import sys, llaso_pytest.speech.models, llaso_pytest.speech.engines\n"
            "assert 'pytest' not in sys.modules, 'pytest imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr
