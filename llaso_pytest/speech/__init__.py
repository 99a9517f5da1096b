"""Speech evaluation: pinned ASR models, audio loading and conditions, datasets, timing.

Importing this package is cheap; NumPy, soundfile, pocketsphinx and faster-whisper are
imported inside the functions that need them. The pytest wiring is in ``pytest_plugin``.
"""

from __future__ import annotations

from llaso_pytest.speech.errors import (
    AudioError,
    DatasetError,
    EngineError,
    ManifestError,
    ModelVerificationError,
    SpeechError,
    SynthesisError,
)

__all__ = [
    "AudioError",
    "DatasetError",
    "EngineError",
    "ManifestError",
    "ModelVerificationError",
    "SpeechError",
    "SynthesisError",
]
