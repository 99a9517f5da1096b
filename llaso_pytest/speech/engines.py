"""Recogniser adapters behind one small Protocol.

A recogniser takes mono float32 samples at its ``sample_rate`` and returns the transcript as
a plain string; decoding must be finished when ``transcribe`` returns (lazy decoders such as
faster-whisper's segment generator are consumed inside it, so timing covers the real work).

Two real, offline engines are provided, both built from a verified pinned model:

- :class:`PocketSphinxRecognizer`: CMU pocketsphinx 5.x with the US English model shipped in
  its wheel (CPU only).
- :class:`FasterWhisperRecognizer`: Whisper tiny.en in CTranslate2 format through
  faster-whisper; ``float16`` on CUDA when a GPU is present and allowed, ``int8`` on CPU.

Plugging in your own model takes a class with ``name``, ``sample_rate``, ``transcribe`` and
``describe`` (or :class:`FunctionRecognizer` around a function); see docs/speech.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from llaso_pytest.speech.errors import EngineError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from llaso_pytest.speech.manifest import VerifiedModel

__all__ = [
    "ENGINES",
    "FASTER_WHISPER_OPTIONS",
    "BuildOptions",
    "Engine",
    "FasterWhisperRecognizer",
    "FunctionRecognizer",
    "PocketSphinxRecognizer",
    "Recognizer",
    "check_engine_options",
    "check_samples",
    "cuda_available",
    "load_recognizer",
    "resolve_device",
]


@runtime_checkable
class Recognizer(Protocol):
    """What the ASR fixtures, timing and records need from a speech recogniser."""

    name: str
    sample_rate: int

    def transcribe(self, samples: npt.NDArray[np.float32]) -> str:
        """Transcript of one utterance (mono float32 in [-1, 1] at ``sample_rate``)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able facts for the run record: device, dtype, batch size, engine options."""
        ...


@dataclass
class FunctionRecognizer:
    """Adapter for a plain function ``samples -> transcript`` (an HTTP client, a torch model)."""

    name: str
    fn: Callable[[Any], str]
    sample_rate: int = 16000
    info: Mapping[str, Any] = field(default_factory=dict)

    def transcribe(self, samples: npt.NDArray[np.float32]) -> str:
        out = self.fn(samples)
        if not isinstance(out, str):
            raise EngineError(
                f"recogniser {self.name!r} returned {type(out).__name__}, expected a transcript str"
            )
        return out

    def describe(self) -> dict[str, Any]:
        return {"engine": "function", "device": "unknown", "batch_size": 1, **dict(self.info)}


#: The faster-whisper decoding options a manifest may set (and that the adapter passes on),
#: with their defaults. Anything else is refused: an ignored option would still change
#: the options hash while changing nothing else.
FASTER_WHISPER_OPTIONS: dict[str, Any] = {
    "language": "en",
    "beam_size": 5,
    "temperature": 0.0,
    "condition_on_previous_text": False,
    "without_timestamps": True,
    "vad_filter": False,
}

#: pocketsphinx options whose value is a file or directory. ``hmm``, ``lm`` and ``dict``
#: are resolved inside the pinned model root; the others would load unverified files.
_PS_ROOT_PATHS = ("hmm", "lm", "dict")
_PS_FILE_OPTIONS = frozenset(
    ["mdef", "tmat", "mean", "var", "mixw", "sendump", "fdict", "featparams", "lda", "mllr",
     "kws", "jsgf", "fsg", "lmctl", "allphone", "logfn", "mfclogdir", "rawlogdir", "senlogdir"]
)


def _check_whisper_option(key: str, value: Any) -> str | None:
    """Why ``value`` is not valid for faster-whisper option ``key`` (None when it is)."""
    if key == "language":
        ok = isinstance(value, str) and bool(value)
        return None if ok else "a language code string such as 'en'"
    if key == "beam_size":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else "an integer >= 1"
    if key == "temperature":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return None if ok else "a number >= 0"
    return None if isinstance(value, bool) else "true or false"


def _check_whisper_options(options: Mapping[str, Any], where: str) -> None:
    from llaso_pytest.speech.errors import ManifestError

    unknown = sorted(set(options) - set(FASTER_WHISPER_OPTIONS))
    if unknown:
        raise ManifestError(
            f"{where}: unknown faster-whisper option(s) {unknown}; the options this "
            f"llaso-pytest passes to faster-whisper are {sorted(FASTER_WHISPER_OPTIONS)}. "
            "Remove the others (they would be ignored while changing the options hash)."
        )
    for key, value in options.items():
        why = _check_whisper_option(key, value)
        if why is not None:
            raise ManifestError(f"{where}: options.{key} must be {why}, got {value!r}")


def _check_pocketsphinx_options(options: Mapping[str, Any], where: str) -> None:
    from llaso_pytest.speech.errors import ManifestError

    files = sorted(set(options) & _PS_FILE_OPTIONS)
    if files:
        raise ManifestError(
            f"{where}: pocketsphinx option(s) {files} name files outside the pinned "
            f"model; only {list(_PS_ROOT_PATHS)} may name model files, relative to the "
            "model root and pinned in 'files'. Put the file in the model folder and pin it."
        )
    for key in _PS_ROOT_PATHS:
        if key not in options:
            continue
        value = options[key]
        bad = not isinstance(value, str) or not value or value.startswith(("/", "\\"))
        if bad or ".." in str(value).replace("\\", "/").split("/"):
            raise ManifestError(
                f"{where}: options.{key} must be a path relative to the model root "
                f"(no '..', not absolute), got {value!r}"
            )


def check_engine_options(engine: str, options: Mapping[str, Any], *, where: str) -> None:
    """Refuse engine options the adapter would ignore or that would load unpinned files.

    Called when a manifest is read, so a bad option is an error naming the manifest before
    any model loads. Engines not built in (a team's own) are not checked.
    """
    spec = ENGINES.get(engine)
    if spec is not None:
        spec.check_options(options, where)


def check_samples(samples: Any, *, recognizer: str) -> npt.NDArray[np.float32]:
    """Mono float32 samples or an :class:`AudioError` naming the recogniser and the fix.

    Guards the engines against arrays that did not come through ``audio.prepare`` (stereo,
    int16, empty): those would otherwise crash inside C code or be silently misread.
    """
    import numpy as np

    from llaso_pytest.speech.errors import AudioError

    x = np.asarray(samples)
    if x.ndim != 1 or x.size == 0 or x.dtype.kind != "f":
        raise AudioError(
            f"recogniser {recognizer!r} needs non-empty mono float samples in [-1, 1], got "
            f"shape {x.shape} dtype {x.dtype}; load audio with llaso_pytest.speech.audio."
            "load_audio/prepare, which validate and convert it"
        )
    if not np.isfinite(x).all():
        raise AudioError(f"recogniser {recognizer!r}: samples contain NaN or infinity")
    return np.ascontiguousarray(x, dtype=np.float32)


def cuda_available() -> bool:
    """Whether CTranslate2 sees a CUDA device (False when ctranslate2 is not installed).

    The engine's own check, used for device placement and for skipping the speech GPU
    tests: torch seeing a GPU says nothing about a CPU-only CTranslate2 build.
    """
    from llaso_pytest.device import ctranslate2_cuda_available

    return ctranslate2_cuda_available()


def resolve_device(requested: str, *, supports_cuda: bool, model: str) -> str:
    """``auto``: cuda when available and supported, else cpu; ``cuda`` without a GPU: an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise EngineError(f"model {model!r}: device must be auto, cpu or cuda, got {requested!r}")
    if requested == "cpu":
        return "cpu"
    has_cuda = supports_cuda and cuda_available()
    if requested == "cuda" and not has_cuda:
        why = "this engine runs on CPU only" if not supports_cuda else "no CUDA device is visible"
        raise EngineError(
            f"model {model!r}: device 'cuda' was requested but {why}. Use "
            "--llaso-speech-device auto (GPU when present) or cpu."
        )
    return "cuda" if has_cuda else "cpu"


class PocketSphinxRecognizer:
    """pocketsphinx 5.x decoder with the pinned acoustic model, dictionary and LM."""

    sample_rate = 16000

    def __init__(self, model: VerifiedModel, *, device: str = "cpu") -> None:
        from pocketsphinx import Decoder

        resolve_device(device, supports_cuda=False, model=model.manifest.name)
        opts = model.manifest.options
        self.name = model.manifest.name
        self._model = model
        # Search settings (beams, maxhmmpf, ...) come from the pin: they change the numbers.
        search = {k: v for k, v in opts.items() if k not in ("hmm", "lm", "dict")}
        try:
            self._decoder = Decoder(
                hmm=str(model.path(str(opts.get("hmm", "en-us")))),
                lm=str(model.path(str(opts.get("lm", "en-us.lm.bin")))),
                dict=str(model.path(str(opts.get("dict", "cmudict-en-us.dict")))),
                samprate=float(self.sample_rate),
                loglevel="FATAL",
                **search,
            )
        except (RuntimeError, ValueError, KeyError) as exc:
            raise EngineError(
                f"pocketsphinx could not load model {self.name!r} "
                f"({model.manifest.source_file}): {exc}; check the manifest's options"
            ) from exc

    def transcribe(self, samples: npt.NDArray[np.float32]) -> str:
        from llaso_pytest.speech.audio import to_int16

        x = check_samples(samples, recognizer=self.name)
        d = self._decoder
        # Live cepstral mean normalisation (and the rest of the feature front end) carries
        # state from one utterance to the next, so a transcript would depend on what was
        # decoded before (test order, -m selections, warm-up). The front end is reset before
        # every utterance (cheap: no model is reloaded); each starts from the pinned cmninit.
        d.reinit_feat()
        d.start_utt()
        d.process_raw(to_int16(x), no_search=False, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return "" if hyp is None else str(hyp.hypstr)

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "pocketsphinx",
            "device": "cpu",
            "dtype": "int16-pcm",
            "cpu_threads": 1,  # the decoder is single-threaded
            "batch_size": 1,
            # Effective decoding settings: the pin's options and the per-utterance CMN reset.
            "options": {**dict(self._model.manifest.options), "front_end": "reset-per-utterance"},
        }


@contextmanager
def _hub_offline() -> Iterator[None]:
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


class FasterWhisperRecognizer:
    """Whisper (CTranslate2 weights) through faster-whisper, greedy/beam options from the pin."""

    def __init__(
        self,
        model: VerifiedModel,
        *,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
    ) -> None:
        from faster_whisper import WhisperModel

        self.name = model.manifest.name
        self._model = model
        self.device = resolve_device(device, supports_cuda=True, model=self.name)
        default = "float16" if self.device == "cuda" else "int8"
        self.compute_type = compute_type or str(model.manifest.dtype.get(self.device, default))
        self.sample_rate = 16000
        check_engine_options(
            "faster-whisper", model.manifest.options,
            where=f"model manifest {model.manifest.source_file}",
        )
        # Every honoured option, with its default when the pin does not set it.
        self._options: dict[str, Any] = {**FASTER_WHISPER_OPTIONS, **model.manifest.options}
        self._options["temperature"] = float(self._options["temperature"])
        self.cpu_threads = cpu_threads
        try:
            # A local directory and local_files_only: nothing is fetched. HF_HUB_OFFLINE is
            # set while the model is built so no code path can reach the Hub either.
            with _hub_offline():
                self._whisper = WhisperModel(
                    str(model.root),
                    device=self.device,
                    compute_type=self.compute_type,
                    cpu_threads=cpu_threads,
                    local_files_only=True,
                )
        except (RuntimeError, ValueError, OSError) as exc:
            raise EngineError(
                f"faster-whisper could not load {self.name!r} on {self.device} "
                f"({self.compute_type}): {exc}"
            ) from exc

    def transcribe(self, samples: npt.NDArray[np.float32]) -> str:
        x = check_samples(samples, recognizer=self.name)
        segments, _info = self._whisper.transcribe(x, **self._options)
        # ``segments`` is a lazy generator: decoding happens while it is consumed, here.
        return " ".join(s.text.strip() for s in segments).strip()

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "faster-whisper",
            "device": self.device,
            "dtype": self.compute_type,
            "cpu_threads": self.cpu_threads,
            "batch_size": 1,
            "options": dict(self._options),
        }


def _build_pocketsphinx(model: VerifiedModel, options: BuildOptions) -> Recognizer:
    # CPU-only engine: a session-wide "auto"/"cuda" request leaves it on the CPU, and its
    # describe() says device "cpu", so the record shows where it really ran.
    return PocketSphinxRecognizer(model, device="cpu")


def _build_faster_whisper(model: VerifiedModel, options: BuildOptions) -> Recognizer:
    return FasterWhisperRecognizer(
        model, device=options.device, compute_type=options.compute_type,
        cpu_threads=options.cpu_threads,
    )


@dataclass(frozen=True)
class BuildOptions:
    """The session's placement settings an engine's factory may honour."""

    device: str = "auto"
    compute_type: str | None = None
    cpu_threads: int = 0


@dataclass(frozen=True)
class Engine:
    """A built-in ASR engine: the manifest's ``engine`` name, its adapter factory, and the
    check of its manifest ``options`` (run when the manifest is read, before any load)."""

    name: str
    build: Callable[[VerifiedModel, BuildOptions], Recognizer]
    check_options: Callable[[Mapping[str, Any], str], None]


#: The built-in engines, by manifest ``engine`` name: the one table both the manifest
#: check and :func:`load_recognizer` read. A built-in engine is one entry here.
ENGINES: Mapping[str, Engine] = {
    e.name: e
    for e in (
        Engine("pocketsphinx", _build_pocketsphinx, _check_pocketsphinx_options),
        Engine("faster-whisper", _build_faster_whisper, _check_whisper_options),
    )
}


def load_recognizer(
    model: VerifiedModel,
    *,
    device: str = "auto",
    compute_type: str | None = None,
    cpu_threads: int = 0,
) -> Recognizer:
    """Build the adapter for a verified model according to its manifest's ``engine``."""
    engine = model.manifest.engine
    spec = ENGINES.get(engine)
    if spec is None:
        raise EngineError(
            f"model {model.manifest.name!r} ({model.manifest.source_file}): unknown engine "
            f"{engine!r}; built in are {', '.join(map(repr, ENGINES))}. Register your own "
            "recogniser with llaso_speech_models.register(name, factory) (docs/speech.md)."
        )
    options = BuildOptions(device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    return spec.build(model, options)
