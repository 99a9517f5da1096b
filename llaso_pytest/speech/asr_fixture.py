"""``llaso_asr``: run a registered recogniser over your own corpus and record what the
shipped ASR suite records. The pytest edge of :mod:`~llaso_pytest.speech.corpus`,
:mod:`~llaso_pytest.speech.runner` and :mod:`~llaso_pytest.speech.scoring`.

.. code-block:: python

    CORPUS = cases.load("data/my_corpus")          # or any list of {audio, text} items

    def test_my_asr(llaso_asr, llaso_asr_engine):
        scores = llaso_asr(CORPUS)                 # WER, CER, RTF, latency: recorded
        scores.record_speakers()                   # wer/speaker=..., optional breakdowns
        assert scores.wer < 0.2

Fixtures:

- ``llaso_asr_engine``: a test that asks for it runs once per session engine
  (``--llaso-speech-engines``; by default the team's recognisers from
  ``pytest_llaso_speech_recognizers``, else the shipped pinned models whose files are
  installed).
- ``llaso_asr_runs`` (session): runs each (engine, device, condition, corpus) pass once per
  session, with the session recipe and seed; decoded transcripts are cached on disk
  (:mod:`~llaso_pytest.speech.transcripts`) so re-runs and ``-n 2`` workers decode each
  utterance once.
- ``llaso_asr`` (per test): ``llaso_asr(corpus, ...)`` -> :class:`AsrScores`, recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from llaso_pytest.context import AUTO_SEED

if TYPE_CHECKING:
    from llaso_pytest.metrics.base import MetricResult
    from llaso_pytest.speech.audio import Recipe
    from llaso_pytest.speech.corpus import AsrCorpus
    from llaso_pytest.speech.pytest_plugin import SpeechModels
    from llaso_pytest.speech.runner import EvalRun
    from llaso_pytest.speech.scoring import Scoring
    from llaso_pytest.speech.transcripts import TranscriptCache

__all__ = ["AsrRuns", "AsrScores"]

ENGINE_FIXTURE = "llaso_asr_engine"


@dataclass(frozen=True)
class AsrPass:
    """One decoded pass: the run, the model pin, and the corpus it covered."""

    run: EvalRun
    pin: dict[str, Any]
    corpus: AsrCorpus


class AsrRuns:
    """The ``llaso_asr_runs`` fixture: each pass once per session, transcripts cached."""

    def __init__(self, *, models: SpeechModels, recipe: Recipe, seed: int, warmup: int,
                 cache: TranscriptCache | None, refresh: bool,
                 record_provenance: Callable[[str, Any], None]) -> None:
        self.models = models
        self.recipe = recipe
        self.seed = seed
        self.warmup = warmup
        self.cache = cache
        self.refresh = refresh
        self._record = record_provenance
        self._passes: dict[tuple[str, str, str, str, int], AsrPass] = {}
        self._corpora: dict[int, tuple[Any, AsrCorpus]] = {}

    def corpus(self, items: Any, *, name: str | None = None) -> AsrCorpus:
        """``items`` as a verified :class:`AsrCorpus` (hashed once per object per session)."""
        from llaso_pytest.speech.corpus import AsrCorpus, as_corpus
        from llaso_pytest.speech.errors import SpeechError

        if isinstance(items, AsrCorpus):
            return items
        key = id(items)
        held = self._corpora.get(key)
        if held is not None and held[0] is items and (name is None or held[1].name == name):
            return held[1]
        try:
            corpus = as_corpus(items, name=name)
        except SpeechError as exc:
            pytest.fail(str(exc), pytrace=False)
        self._corpora[key] = (items, corpus)  # holds ``items``, so its id stays unique
        return corpus

    def run(self, items: Any, *, engine: str, condition: str = "clean",
            device: str | None = None, warmup: int | None = None,
            name: str | None = None) -> AsrPass:
        """Decode ``items`` with ``engine`` under ``condition`` (once per session)."""
        from llaso_pytest.speech.errors import SpeechError
        from llaso_pytest.speech.noise import parse_condition
        from llaso_pytest.speech.runner import run_condition

        corpus = self.corpus(items, name=name)
        model = self.models.get(engine, device=device)
        warm = self.warmup if warmup is None else warmup
        key = (engine, device or "", condition, corpus.sha256, warm)
        found = self._passes.get(key)
        if found is not None:
            return found
        try:
            cond = parse_condition(condition)
            cache = self.cache if _cacheable(model.pin) else None
            run = run_condition(model.recognizer, corpus.utterances, condition=cond,
                                recipe=self.recipe, seed=self.seed, warmup=warm,
                                cache=cache, model_pin=model.pin, refresh=self.refresh)
        except SpeechError as exc:
            pytest.fail(str(exc), pytrace=False)
        done = AsrPass(run=run, pin=model.pin, corpus=corpus)
        self._passes[key] = done
        # The manifest is a property of the data+condition, identical for every engine.
        self._record("asr_eval_sets", {f"{corpus.name}/{run.condition.name}": run.manifest})
        return done


def _cacheable(pin: Mapping[str, Any]) -> bool:
    """Pinned models are cached; a registered recogniser only when its ``describe()`` names
    its version (``cache_key``): without it, changed code would hit stale transcripts."""
    return bool(pin.get("pinned", True)) or bool(pin.get("cache_key"))


@dataclass
class AsrScores:
    """The recorded results of one pass, and the breakdowns a test may add."""

    passed: AsrPass
    scoring: Scoring
    results: dict[str, MetricResult]
    _record: Callable[[MetricResult, str], Any] = field(repr=False)
    prefix: str = ""

    @property
    def run(self) -> EvalRun:
        return self.passed.run

    @property
    def pin(self) -> dict[str, Any]:
        return self.passed.pin

    @property
    def wer(self) -> MetricResult:
        return self.results[f"{self.prefix}wer"]

    @property
    def cer(self) -> MetricResult:
        return self.results[f"{self.prefix}cer"]

    def _keep(self, found: Mapping[str, MetricResult]) -> dict[str, MetricResult]:
        for name, res in found.items():
            self._record(res, f"{self.prefix}{name}")
            self.results[f"{self.prefix}{name}"] = res
        return dict(found)

    def record_speakers(self) -> dict[str, MetricResult]:
        """Record ``wer/speaker=S`` for every speaker."""
        from llaso_pytest.speech.scoring import speaker_results

        return self._keep(speaker_results(self.run, self.pin, self.scoring))

    def record_lengths(self) -> dict[str, MetricResult]:
        """Record ``wer/length=B`` for every utterance-length bin present."""
        from llaso_pytest.speech.scoring import length_results

        return self._keep(length_results(self.run, self.pin, self.scoring))

    def record_slice(self, label: str, keep: Sequence[bool] | Callable[[Any], bool], *,
                     name: str | None = None) -> MetricResult | None:
        """Record the WER of the utterances where ``keep`` holds (a flag per utterance, or
        a predicate of the utterance) as ``name`` (default ``wer/<label>``), signed with
        ``slice: label``; None when no utterance is kept."""
        from llaso_pytest.speech.scoring import slice_result

        flags = [bool(keep(u)) for u in self.run.utterances] if callable(keep) else list(keep)
        res = slice_result(self.run, self.pin, self.scoring, label=label, keep=flags)
        if res is None:
            return None
        key = name or f"wer/{label}"
        return self._keep({key: res})[key]

    def record(self, result: MetricResult, name: str) -> MetricResult:
        """Record one of :attr:`results` (or any result) under another ``name``."""
        self._record(result, f"{self.prefix}{name}")
        return result

    def record_error_classes(self, *, terms: Iterable[str] = (),
                             classes: Mapping[str, str] | None = None
                             ) -> dict[str, MetricResult]:
        """Record ``errors/numbers`` (and ``errors/terms`` with ``terms``, or the
        ``classes`` given as ``{class: label}``) with the top confusions."""
        from llaso_pytest.speech.scoring import error_class_results

        return self._keep(error_class_results(self.run, self.pin, self.scoring, terms=terms,
                                              classes=classes))


class AsrEvaluator:
    """The ``llaso_asr`` fixture: ``llaso_asr(corpus, engine=..., condition=...)``."""

    def __init__(self, runs: AsrRuns, record_metric: Callable[..., Any],
                 request: pytest.FixtureRequest) -> None:
        self.runs = runs
        self._record_metric = record_metric
        self._request = request

    def default_engine(self) -> str:
        """The test's ``llaso_asr_engine`` parameter, else the only session engine."""
        from llaso_pytest.speech.pytest_plugin import session_engines

        callspec = getattr(self._request.node, "callspec", None)
        if callspec is not None and ENGINE_FIXTURE in callspec.params:
            return str(callspec.params[ENGINE_FIXTURE])
        engines = session_engines(self._request.config)
        if len(engines) == 1:
            return engines[0]
        pytest.fail(
            f"{self._request.node.nodeid}: llaso_asr(...) without engine=: the session has "
            f"{len(engines)} ASR engines ({', '.join(engines) or 'none'}); pass engine=, or "
            f"ask for the {ENGINE_FIXTURE} fixture to run the test once per engine",
            pytrace=False)

    def __call__(
        self,
        corpus: Any,
        *,
        engine: str | None = None,
        condition: str = "clean",
        device: str | None = None,
        warmup: int | None = None,
        name: str | None = None,
        normalize: str | Callable[[str], str] = "whisper",
        n_boot: int = 1000,
        seed: int | None = AUTO_SEED,
        prefix: str = "",
        record: bool = True,
    ) -> AsrScores:
        """Decode ``corpus`` (once per session) and record WER, CER and the timing results
        under ``prefix`` + their names (``record=False``: computed, not recorded, e.g. for
        a test that records only breakdowns); returns the :class:`AsrScores`."""
        from llaso_pytest.context import note_dataset
        from llaso_pytest.speech.scoring import Scoring, corpus_results

        passed = self.runs.run(corpus, engine=engine or self.default_engine(),
                               condition=condition, device=device, warmup=warmup, name=name)
        if passed.corpus.source is not None:  # a loaded dataset: its hash signs the results
            note_dataset(*passed.corpus.source)
        scoring = Scoring(normalize=normalize, n_boot=n_boot, seed=seed)
        results = corpus_results(passed.run, passed.pin, scoring, prefix=prefix)
        for key, res in results.items() if record else ():
            self._record_metric(res, name=key)
        return AsrScores(passed=passed, scoring=scoring, results=dict(results),
                         _record=lambda res, n: self._record_metric(res, name=n), prefix=prefix)

    def run(self, corpus: Any, **kwargs: Any) -> AsrPass:
        """The decoded pass only (nothing recorded): ``engine`` defaults as for a call."""
        engine = kwargs.pop("engine", None) or self.default_engine()
        return self.runs.run(corpus, engine=engine, **kwargs)


@pytest.fixture(scope="session")
def llaso_asr_runs(
    pytestconfig: pytest.Config,
    llaso_speech_models: SpeechModels,
    llaso_speech_recipe: Recipe,
    llaso_seed: int,
    record_provenance: Callable[[str, Any], None],
) -> AsrRuns:
    """Session runner of ASR passes (see :class:`AsrRuns`)."""
    from llaso_pytest.speech.pytest_plugin import SETTINGS_KEY
    from llaso_pytest.speech.transcripts import TranscriptCache

    settings = pytestconfig.stash[SETTINGS_KEY]
    mode = settings.transcript_cache
    # One session id for all xdist workers of a run: with refresh, what earlier sessions
    # stored is decoded again, what this session's workers store is shared.
    workerinput = getattr(pytestconfig, "workerinput", None)
    session = str(workerinput["testrunuid"]) if workerinput else None
    cache = (None if mode == "off"
             else TranscriptCache(settings.cache_dir / "transcripts", session=session))
    return AsrRuns(models=llaso_speech_models, recipe=llaso_speech_recipe, seed=llaso_seed,
                   warmup=settings.warmup, cache=cache, refresh=mode == "refresh",
                   record_provenance=record_provenance)


@pytest.fixture
def llaso_asr(llaso_asr_runs: AsrRuns, record_metric: Callable[..., Any],
              request: pytest.FixtureRequest) -> AsrEvaluator:
    """``llaso_asr(corpus, engine=None, condition="clean", ...)``: decode and record
    (see :class:`AsrEvaluator`)."""
    return AsrEvaluator(llaso_asr_runs, record_metric, request)
