"""Paths and skip helpers for the speech unit tests (real files from installed packages)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "llaso_pytest" / "speech" / "model_manifests"
ASR = REPO / "fixtures" / "asr"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def need_flite() -> None:
    if shutil.which("flite") is None:
        pytest.skip("Debian package flite is not installed (apt-get install flite)")


def need_testdata() -> None:
    if not LIBRIVOX.is_dir():
        pytest.skip("Debian package pocketsphinx-testdata is not installed")
