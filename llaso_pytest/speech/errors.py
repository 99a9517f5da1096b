"""Exceptions of the speech package. Each message names the file or item and the fix."""

from __future__ import annotations

from llaso_pytest.errors import LlasoError
from llaso_pytest.lineage.lfs import LfsPointerError


class SpeechError(LlasoError):
    """Base class of every error raised by ``llaso_pytest.speech``."""


class ManifestError(SpeechError, ValueError):
    """A model or dataset manifest is unreadable or has a missing/invalid field."""


class ModelVerificationError(SpeechError):
    """A pinned model file is missing, or its sha256 (or package version) differs from the pin."""


class AudioError(SpeechError, ValueError):
    """An audio file or array cannot be used: truncated, corrupt, empty, wrong format."""


class DatasetError(SpeechError):
    """A dataset's files are missing or differ from the dataset manifest."""


class SynthesisError(SpeechError):
    """Speech synthesis (flite) failed or produced audio different from the pinned hash."""


class EngineError(SpeechError):
    """A recogniser could not be created or placed on the requested device."""


class LfsPointerFileError(SpeechError, LfsPointerError):
    """A Git LFS pointer file stands where a model or audio file should be."""
