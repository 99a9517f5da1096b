"""Speech sub-plugin: ``--llaso-speech-*`` options and session fixtures for pinned ASR models.

Wiring only, and import-light: NumPy, soundfile, pocketsphinx and faster-whisper are imported
when a fixture first needs them. Fixtures:

- ``llaso_speech_models``: the session's :class:`~llaso_pytest.speech.models.ModelRegistry`
  (pytest-free: loads a pinned model once per session, verifying every file's sha256
  first, places it on CUDA when available and asked for, else CPU) behind
  :class:`SpeechModels`, which fails the asking test on a load error and records the pin
  and the device in the run record's provenance (``models``). Teams add their own
  recogniser with ``llaso_speech_models.register(name, factory)``.
- ``llaso_speech_recipe``: the preprocessing :class:`~llaso_pytest.speech.audio.Recipe`.
- ``llaso_speech_datasets``: loads a dataset manifest, materialises (synthesises/verifies)
  its audio, records its hash in provenance (``datasets``).
- ``llaso_speech_cache_dir``: where synthesised audio is cached.
- ``llaso_asr``, ``llaso_asr_runs``, ``llaso_asr_engine``: a recogniser over your own corpus
  (:mod:`llaso_pytest.speech.asr_fixture`).

The session's engines (:func:`session_engines`): ``--llaso-speech-engines`` when given;
otherwise the team's recognisers from ``pytest_llaso_speech_recognizers``, or, when there
are none, those of the shipped pinned models (:data:`DEFAULT_ENGINES`) whose model files are
installed (their manifests always ship in the package), so a project that brings its own
engines is not broken by the shipped defaults.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llaso_pytest.speech.models import LoadedModel, ModelRegistry

if TYPE_CHECKING:
    from llaso_pytest.speech.audio import Recipe
    from llaso_pytest.speech.datasets import Dataset
    from llaso_pytest.speech.engines import Recognizer

__all__ = ["LoadedModel", "ModelRegistry", "SpeechModels", "SpeechSettings"]

DEFAULT_ENGINES = "pocketsphinx-en-us,whisper-tiny.en"


@dataclass(frozen=True)
class SpeechSettings:
    """Parsed ``--llaso-speech-*`` options / ``llaso_speech_*`` ini keys."""

    engines: tuple[str, ...]
    device: str
    models_dirs: tuple[Path, ...]
    cache_dir: Path
    on_rate_mismatch: str
    on_multichannel: str
    normalize: str
    cpu_threads: int
    warmup: int
    transcript_cache: str = "use"

    def recipe_kwargs(self) -> dict[str, Any]:
        return {
            "on_rate_mismatch": self.on_rate_mismatch,
            "on_multichannel": self.on_multichannel,
            "normalize": self.normalize,
        }


SETTINGS_KEY = pytest.StashKey[SpeechSettings]()
ENGINES_KEY = pytest.StashKey[tuple[str, ...]]()
REGISTRY_KEY = pytest.StashKey[ModelRegistry]()
ENGINE_CUDA_KEY = pytest.StashKey[bool]()


def _non_negative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from llaso_pytest.speech import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llaso", "llaso-pytest: reproducible LLM and speech evaluation")
    group.addoption(
        "--llaso-speech-engines",
        default=None,
        help="comma-separated ASR engines the suites evaluate: pinned model names "
        "(manifests in --llaso-speech-models-dir) or recognisers registered with "
        "pytest_llaso_speech_recognizers (default: the registered ones, else those of "
        f"{DEFAULT_ENGINES} that are installed)",
    )
    group.addoption(
        "--llaso-speech-device",
        choices=("auto", "cpu", "cuda"),
        default=None,
        help="where GPU-capable ASR models run: auto (CUDA when visible, else CPU; default), "
        "cpu, or cuda (an error when no CUDA device is visible)",
    )
    group.addoption(
        "--llaso-speech-models-dir",
        action="append",
        default=None,
        help="directory of model manifests (repeatable), searched before <rootdir>/fixtures/"
        "models and the manifests shipped in the package",
    )
    group.addoption(
        "--llaso-speech-cache",
        default=None,
        help="cache directory for synthesised audio (default: <rootdir>/.llaso/cache/speech)",
    )
    group.addoption(
        "--llaso-speech-resample",
        choices=("error", "resample"),
        default=None,
        help="audio at another sample rate: resample explicitly (polyphase; default) or error",
    )
    group.addoption(
        "--llaso-speech-multichannel",
        choices=("error", "mean", "first"),
        default=None,
        help="multi-channel audio: error (default), mean of channels, or first channel",
    )
    group.addoption(
        "--llaso-speech-normalize",
        choices=("none", "peak"),
        default=None,
        help="level normalisation before recognition: none (default) or peak (-1 dBFS)",
    )
    group.addoption(
        "--llaso-speech-cpu-threads",
        type=_non_negative_int,
        default=None,
        help="CPU threads for CTranslate2 engines (0 = library default)",
    )
    group.addoption(
        "--llaso-speech-warmup",
        type=_non_negative_int,
        default=None,
        help="untimed warm-up transcriptions before RTF/latency timing (default 1)",
    )
    group.addoption(
        "--llaso-speech-transcript-cache",
        choices=("use", "refresh", "off"),
        default=None,
        help="disk cache of decoded transcripts (keyed by prepared audio, model pin, options "
        "and timing conditions): use (default), refresh (decode again, overwrite) or off",
    )
    parser.addini("llaso_speech_engines", "default for --llaso-speech-engines", default="")
    parser.addini("llaso_speech_transcript_cache", "default for --llaso-speech-transcript-cache",
                  default="use")
    parser.addini("llaso_speech_device", "default for --llaso-speech-device", default="auto")
    parser.addini("llaso_speech_models_dir", "model manifest directories", type="paths", default=[])
    parser.addini("llaso_speech_cache", "default for --llaso-speech-cache", default="")
    parser.addini("llaso_speech_resample", "default for --llaso-speech-resample",
                  default="resample")
    parser.addini("llaso_speech_multichannel", "default for --llaso-speech-multichannel",
                  default="error")
    parser.addini("llaso_speech_normalize", "default for --llaso-speech-normalize", default="none")
    parser.addini("llaso_speech_cpu_threads", "default for --llaso-speech-cpu-threads", default="0")
    parser.addini("llaso_speech_warmup", "default for --llaso-speech-warmup", default="1")


def _choice(config: pytest.Config, opt: str, ini: str, choices: tuple[str, ...]) -> str:
    value = config.getoption(opt)
    if value is None:
        value = str(config.getini(ini))
        if value not in choices:
            raise pytest.UsageError(
                f"ini key {ini} = {value!r} is invalid; choose one of {', '.join(choices)}"
            )
    return str(value)


def _int(config: pytest.Config, opt: str, ini: str) -> int:
    value = config.getoption(opt)
    if value is None:
        try:
            value = _non_negative_int(str(config.getini(ini)))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini key {ini}: {exc}") from None
    return int(value)


def parse_settings(config: pytest.Config) -> SpeechSettings:
    """Read and validate the speech options (no model or heavy module is touched)."""
    engines_text = config.getoption("--llaso-speech-engines") or str(
        config.getini("llaso_speech_engines")
    )
    engines = tuple(e.strip() for e in engines_text.split(",") if e.strip())
    if engines_text.strip() and not engines:
        raise pytest.UsageError(
            "--llaso-speech-engines is empty; name at least one model, e.g. "
            f"--llaso-speech-engines={DEFAULT_ENGINES}"
        )
    dirs_opt = config.getoption("--llaso-speech-models-dir")
    user_dirs = (tuple(Path(d) for d in dirs_opt) if dirs_opt
                 else tuple(Path(p) for p in config.getini("llaso_speech_models_dir")))
    dirs = models_search_path(user_dirs, rootdir=config.rootpath)
    cache = config.getoption("--llaso-speech-cache") or str(config.getini("llaso_speech_cache"))
    cache_dir = Path(cache) if cache else config.rootpath / ".llaso" / "cache" / "speech"
    return SpeechSettings(
        engines=engines,
        device=_choice(config, "--llaso-speech-device", "llaso_speech_device",
                       ("auto", "cpu", "cuda")),
        models_dirs=dirs,
        cache_dir=cache_dir,
        on_rate_mismatch=_choice(config, "--llaso-speech-resample", "llaso_speech_resample",
                                 ("error", "resample")),
        on_multichannel=_choice(config, "--llaso-speech-multichannel", "llaso_speech_multichannel",
                                ("error", "mean", "first")),
        normalize=_choice(config, "--llaso-speech-normalize", "llaso_speech_normalize",
                          ("none", "peak")),
        cpu_threads=_int(config, "--llaso-speech-cpu-threads", "llaso_speech_cpu_threads"),
        warmup=_int(config, "--llaso-speech-warmup", "llaso_speech_warmup"),
        transcript_cache=_choice(config, "--llaso-speech-transcript-cache",
                                 "llaso_speech_transcript_cache", ("use", "refresh", "off")),
    )


def models_search_path(user_dirs: tuple[Path, ...], *, rootdir: Path) -> tuple[Path, ...]:
    """Where model manifests are looked up, first match wins: the user's directories
    (option, else ini), then ``<rootdir>/fixtures/models`` when it exists, then the pins
    shipped inside the package (:func:`~llaso_pytest.speech.manifest.shipped_models_dir`),
    so an installed wheel finds ``pocketsphinx-en-us`` and ``whisper-tiny.en`` by name."""
    from llaso_pytest.speech.manifest import shipped_models_dir

    project = rootdir / "fixtures" / "models"
    dirs = [*user_dirs, *((project,) if project.is_dir() else ()), shipped_models_dir()]
    return tuple(dict.fromkeys(dirs))  # a directory named twice is searched once


def pytest_configure(config: pytest.Config) -> None:
    settings = parse_settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[REGISTRY_KEY] = ModelRegistry(
        models_dirs=settings.models_dirs, device=settings.device, cpu_threads=settings.cpu_threads
    )


def register_hook_recognizers(config: pytest.Config) -> ModelRegistry:
    """Add the recognisers of ``pytest_llaso_speech_recognizers`` to the session registry
    (idempotent: a conftest collected later adds its own on the next call)."""
    registry = config.stash[REGISTRY_KEY]
    for found in config.hook.pytest_llaso_speech_recognizers(config=config):
        for name, factory in (found or {}).items():
            if name not in registry.factories:
                registry.register(name, factory)
    return registry


def session_engines(config: pytest.Config) -> tuple[str, ...]:
    """The engines the session evaluates (see the module docstring); may be empty."""
    settings = config.stash[SETTINGS_KEY]
    if settings.engines:
        return settings.engines
    registry = register_hook_recognizers(config)
    if registry.factories:
        return tuple(registry.factories)
    if ENGINES_KEY not in config.stash:
        from llaso_pytest.speech.errors import ManifestError
        from llaso_pytest.speech.manifest import files_installed, load_model_manifest

        found: list[str] = []
        for name in DEFAULT_ENGINES.split(","):
            try:
                manifest = load_model_manifest(registry.manifest_path(name))
            except ManifestError:
                continue
            if files_installed(manifest):
                found.append(name)
        config.stash[ENGINES_KEY] = tuple(found)
    return config.stash[ENGINES_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test asking for ``llaso_asr_engine`` runs once per session engine."""
    if "llaso_asr_engine" not in metafunc.fixturenames:
        return
    engines = session_engines(metafunc.config)
    if not engines:  # an error, not an empty parameter set (which pytest would skip)
        pytest.fail(
            f"{metafunc.definition.nodeid} asks for llaso_asr_engine, but there is no ASR "
            "engine: name one with --llaso-speech-engines (a pinned model manifest in "
            f"{', '.join(map(str, metafunc.config.stash[SETTINGS_KEY].models_dirs))}), or "
            "register your own recogniser with the pytest_llaso_speech_recognizers hook",
            pytrace=False,
        )
    metafunc.parametrize("llaso_asr_engine", engines, ids=list(engines), scope="session")


_MODEL_FIXTURES = ("llaso_speech_models", "llaso_asr", "llaso_asr_runs", "llaso_asr_engine")


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Validate the named engines and the device once tests that load models are collected,
    before any load (engines not named explicitly are not checked: they exist)."""
    if not any(f in getattr(item, "fixturenames", ()) for item in items for f in _MODEL_FIXTURES):
        return
    settings = config.stash[SETTINGS_KEY]
    registry = register_hook_recognizers(config)
    from llaso_pytest.speech.errors import ManifestError

    for name in settings.engines:
        if name in registry.factories:
            continue
        try:
            registry.manifest_path(name)
        except ManifestError as exc:
            raise pytest.UsageError(f"--llaso-speech-engines: {exc}") from None
    if settings.device == "cuda":
        from llaso_pytest.speech.engines import cuda_available

        if not cuda_available():
            raise pytest.UsageError(
                "--llaso-speech-device cuda: no CUDA device is visible to CTranslate2; use "
                "--llaso-speech-device auto (GPU when present) or cpu"
            )


def _is_speech_item(item: pytest.Item) -> bool:
    return item.get_closest_marker("speech") is not None or "llaso_speech_models" in getattr(
        item, "fixturenames", ()
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Speech GPU tests need a device the *engine* can use: CTranslate2's own CUDA check.

    The core ``gpu`` skip asks whether any runtime (torch or CTranslate2) sees a device; a
    CUDA torch next to a CPU-only CTranslate2 would otherwise fail these tests at model
    load instead of skipping them. The check runs once per session, when the first such
    test is set up (no import at start-up).
    """
    if item.get_closest_marker("gpu") is None or not _is_speech_item(item):
        return
    config = item.config
    if ENGINE_CUDA_KEY not in config.stash:
        from llaso_pytest.speech import engines

        config.stash[ENGINE_CUDA_KEY] = engines.cuda_available()
    if not config.stash[ENGINE_CUDA_KEY]:
        pytest.skip(
            "gpu: CTranslate2 (the runtime of the faster-whisper engine) sees no CUDA device "
            "(no GPU, or a CPU-only ctranslate2 build); the speech GPU tests need it"
        )


class SpeechModels:
    """The ``llaso_speech_models`` fixture: the session's :class:`ModelRegistry` at the
    pytest edge. A model that cannot be loaded fails the test that asked for it (the
    registry's message, no traceback); each loaded pin is recorded in provenance ``models``.
    """

    def __init__(self, registry: ModelRegistry, record: Callable[[str, Any], None]) -> None:
        self.registry = registry
        self._record = record
        self._recorded: set[tuple[str, str]] = set()

    def register(self, name: str, factory: Callable[[], Recognizer]) -> None:
        """Add a team's own recogniser (``factory()`` returns a ``Recognizer``)."""
        self.registry.register(name, factory)

    def get(self, name: str, *, device: str | None = None) -> LoadedModel:
        """The loaded model ``name`` on ``device`` (default: ``--llaso-speech-device``)."""
        from llaso_pytest.speech.errors import SpeechError

        dev = device or self.registry.device
        try:
            loaded = self.registry.get(name, device=dev)
        except SpeechError as exc:
            pytest.fail(str(exc), pytrace=False)
        if (name, dev) not in self._recorded:
            self._recorded.add((name, dev))
            key = name if dev == self.registry.device else f"{name}@{dev}"
            self._record("models", {key: loaded.pin})
        return loaded


@pytest.fixture(scope="session")
def llaso_speech_settings(pytestconfig: pytest.Config) -> SpeechSettings:
    """The parsed ``--llaso-speech-*`` settings."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def llaso_speech_models(
    pytestconfig: pytest.Config, record_provenance: Callable[[str, Any], None]
) -> SpeechModels:
    """Session registry of pinned, verified ASR models (see :class:`SpeechModels`)."""
    return SpeechModels(pytestconfig.stash[REGISTRY_KEY], record_provenance)


@pytest.fixture(scope="session")
def llaso_speech_recipe(
    llaso_speech_settings: SpeechSettings, record_provenance: Callable[[str, Any], None]
) -> Recipe:
    """The preprocessing recipe, recorded in provenance under ``speech_recipe``."""
    from llaso_pytest.speech.audio import Recipe

    recipe = Recipe(**llaso_speech_settings.recipe_kwargs())
    record_provenance("speech_recipe", recipe.to_dict())
    return recipe


@pytest.fixture(scope="session")
def llaso_speech_cache_dir(llaso_speech_settings: SpeechSettings) -> Path:
    """Directory for synthesised audio; created on first use, with a README."""
    d = llaso_speech_settings.cache_dir
    d.mkdir(parents=True, exist_ok=True)
    readme = d / "README"
    if not readme.exists():
        readme.write_text(
            "llaso-pytest speech cache: audio synthesised by flite, verified against the "
            "sha256 pinned in the dataset manifests. Safe to delete; it is regenerated.\n",
            encoding="utf-8",
        )
    return d


def _debian_version(package: str) -> str | None:
    """Installed version of a Debian package (None without dpkg or when not installed)."""
    import shutil
    import subprocess

    if shutil.which("dpkg-query") is None:
        return None
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package],
        capture_output=True, text=True, check=False, timeout=30,
    )
    return out.stdout.strip() or None if out.returncode == 0 else None


def _flite_info() -> dict[str, Any]:
    from llaso_pytest.speech.synth import flite_version

    return {"generator": f"flite {flite_version()}", "flite_deb": _debian_version("flite")}


def _dvc_entries(config: pytest.Config, manifest: str | Path, root: Path | None
                 ) -> dict[str, Any]:
    """The DVC entries tracking a dataset's manifest and audio folder (none: ``{}``)."""
    from llaso_pytest.lineage.data import dvc_lineage
    from llaso_pytest.lineage.pytest_plugin import dvc_policy

    found: dict[str, Any] = {}
    for role, path in (("manifest", Path(manifest)), ("audio", root)):
        if path is not None and path.exists():
            entry = dvc_lineage(path, on_mismatch=dvc_policy(config))
            if entry is not None:
                found[role] = entry
    return found


@pytest.fixture(scope="session")
def llaso_speech_datasets(
    pytestconfig: pytest.Config, llaso_speech_cache_dir: Path,
    record_provenance: Callable[[str, Any], None]
) -> Callable[[str | Path], Dataset]:
    """``load(manifest_path)`` -> a materialised, hash-verified Dataset, recorded once; a
    manifest or audio folder that DVC tracks is checked and recorded with its DVC entry."""
    from llaso_pytest.lineage.dvc import DvcError
    from llaso_pytest.speech.datasets import load_dataset, materialize
    from llaso_pytest.speech.errors import SpeechError

    cache: dict[str, Dataset] = {}

    def load(path: str | Path) -> Dataset:
        key = str(Path(path).resolve())
        if key not in cache:
            try:
                ds = materialize(load_dataset(path), cache_dir=llaso_speech_cache_dir)
                dvc = _dvc_entries(pytestconfig, path, ds.root)
            except (SpeechError, DvcError) as exc:
                pytest.fail(str(exc), pytrace=False)
            record_provenance(
                "datasets",
                {
                    ds.name: {
                        "manifest": ds.source_file,
                        "manifest_sha256": ds.manifest_sha256,
                        "n_utterances": len(ds.utterances),
                        "kind": ds.kind,
                        "debian_package": ds.debian_package,
                        "debian_version": _debian_version(ds.debian_package)
                        if ds.debian_package
                        else None,
                        "license": ds.license,
                        **(_flite_info() if ds.kind == "flite" else {}),
                        **({"dvc": dvc} if dvc else {}),
                    }
                },
            )
            cache[key] = ds
        return cache[key]

    return load
