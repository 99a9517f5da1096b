"""The session's ASR models: load each pinned model at most once, verified, device-placed.

Pure (no pytest): :class:`ModelRegistry` raises :class:`~llaso_pytest.speech.errors.SpeechError`
subclasses (:class:`~llaso_pytest.speech.errors.ModelVerificationError` for a file that
differs from its pin, ...); the pytest plugin turns them into test failures and records the
pins in provenance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.speech.errors import EngineError, SpeechError

if TYPE_CHECKING:
    from llaso_pytest.speech.engines import Recognizer

__all__ = ["LoadedModel", "ModelRegistry"]


@dataclass(frozen=True)
class LoadedModel:
    """A recogniser built from a verified pin, with what the run record says about it."""

    name: str
    recognizer: Recognizer
    pin: dict[str, Any]

    @property
    def device(self) -> str:
        return str(self.pin.get("device", "unknown"))


class ModelRegistry:
    """Loads each pinned model at most once per session (a failure is remembered, too).

    ``models_dirs`` are searched for ``<name>.json`` manifests; ``device`` is the default
    placement (``auto``, ``cpu`` or ``cuda``), ``cpu_threads`` is passed to CTranslate2.
    Teams add recognisers of their own with :meth:`register`.
    """

    def __init__(
        self, *, models_dirs: Sequence[Path], device: str = "auto", cpu_threads: int = 0
    ) -> None:
        self.models_dirs = tuple(models_dirs)
        self.device = device
        self.cpu_threads = cpu_threads
        self.factories: dict[str, Callable[[], Recognizer]] = {}
        self._loaded: dict[tuple[str, str], LoadedModel] = {}
        self._failed: dict[tuple[str, str], SpeechError] = {}

    def register(self, name: str, factory: Callable[[], Recognizer]) -> None:
        """Add a team's own recogniser (``factory()`` returns a ``Recognizer``)."""
        if name in self.factories:
            raise EngineError(f"a recogniser named {name!r} is already registered")
        self.factories[name] = factory

    def manifest_path(self, name: str) -> Path:
        """The manifest of pinned model ``name`` (a ``ManifestError`` names the dirs and the
        registered recognisers, so a mistyped name shows what it could have been)."""
        from llaso_pytest.speech.errors import ManifestError
        from llaso_pytest.speech.manifest import find_manifest

        try:
            return find_manifest(name, self.models_dirs)
        except ManifestError as exc:
            raise ManifestError(f"{exc}\n{self.registered_text()}") from None

    def registered_text(self) -> str:
        """One line naming the registered recognisers (or saying there are none)."""
        names = sorted(self.factories)
        return (
            f"registered recognisers: {', '.join(names)}"
            if names
            else "registered recognisers: none (add your own with the "
            "pytest_llaso_speech_recognizers hook)"
        )

    def get(self, name: str, *, device: str | None = None) -> LoadedModel:
        """The loaded model ``name`` on ``device`` (default: the registry's device).

        A model that failed to load raises the same error again on every later request,
        without retrying (one clear message per test, not a reload per test).
        """
        dev = device or self.device
        key = (name, dev)
        if key in self._loaded:
            return self._loaded[key]
        failed = self._failed.get(key)
        if failed is not None:
            raise type(failed)(*failed.args)
        try:
            loaded = self._load(name, dev)
        except SpeechError as exc:
            self._failed[key] = exc
            raise
        self._loaded[key] = loaded
        return loaded

    def _load(self, name: str, device: str) -> LoadedModel:
        if name in self.factories:
            rec = self.factories[name]()
            pin = {**rec.describe(), "name": name, "pinned": False,
                   "note": "registered recogniser: no manifest, weights not hash-verified"}
            return LoadedModel(name=name, recognizer=rec, pin=pin)
        from llaso_pytest.speech.engines import load_recognizer
        from llaso_pytest.speech.manifest import load_model_manifest, verify_model

        verified = verify_model(load_model_manifest(self.manifest_path(name)))
        rec = load_recognizer(verified, device=device, cpu_threads=self.cpu_threads)
        pin = verified.pin()
        pin.update(rec.describe())
        pin["device_requested"] = device
        return LoadedModel(name=name, recognizer=rec, pin=pin)
