"""Fixtures for the speech unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from speech_testutil import LIBRIVOX, need_testdata


@pytest.fixture
def librivox_wav() -> Path:
    need_testdata()
    return LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0930.wav"
