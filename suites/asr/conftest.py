"""Shared set-up of the shipped ASR suite: data selection, engines, one cached pass per cell.

Each (engine, condition) pass is run once per session and shared by the tests that look at
it (WER gate, breakdowns), so breakdowns cost no extra decoding. Models come from the
``llaso_speech_models`` fixture (pinned, hash-verified, device-placed, recorded); data from
``llaso_speech_datasets`` (hash-verified, flite audio synthesised and cached).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llaso_pytest.speech.audio import Recipe
    from llaso_pytest.speech.datasets import Utterance
    from llaso_pytest.speech.pytest_plugin import SpeechModels
    from llaso_pytest.speech.runner import EvalRun

from asr_settings import (
    ASR_FIXTURES,
    CLEAN_SENTENCES,
    N_BOOT,
    NOISY_LIBRIVOX,
    NOISY_SENTENCES,
    NOISY_VOICES,
    NORMALIZE,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "asr_engine" in metafunc.fixturenames:
        from llaso_pytest.speech.pytest_plugin import SETTINGS_KEY

        engines = metafunc.config.stash[SETTINGS_KEY].engines
        metafunc.parametrize("asr_engine", engines, ids=list(engines), scope="session")


@pytest.fixture(scope="session")
def asr_utterances(
    llaso_speech_datasets: Callable[[str | Path], Any],
) -> dict[str, tuple[Utterance, ...]]:
    """The clean and noisy utterance lists (materialised and hash-verified)."""
    real = llaso_speech_datasets(ASR_FIXTURES / "pocketsphinx_testdata.json")
    synth = llaso_speech_datasets(ASR_FIXTURES / "flite_harvard.json")
    clean_synth = [u for u in synth.utterances if u.tags.get("sentence") in CLEAN_SENTENCES]
    noisy_real = real.select(ids=NOISY_LIBRIVOX).utterances
    noisy_synth = [
        u
        for u in synth.utterances
        if u.voice in NOISY_VOICES and u.tags.get("sentence") in NOISY_SENTENCES
    ]
    return {
        "clean": tuple(real.utterances) + tuple(clean_synth),
        "noisy": tuple(noisy_real) + tuple(noisy_synth),
    }


class AsrRuns:
    """Runs each (engine, condition, subset) pass once and records its dataset manifest."""

    def __init__(
        self,
        models: SpeechModels,
        utterances: dict[str, tuple[Utterance, ...]],
        recipe: Recipe,
        seed: int,
        warmup: int,
        record_provenance: Callable[[str, Any], None],
    ) -> None:
        self.models = models
        self.utterances = utterances
        self.recipe = recipe
        self.seed = seed
        self.warmup = warmup
        self._record = record_provenance
        self._cache: dict[tuple[str, str, str], EvalRun] = {}

    def get(self, engine: str, condition: str, subset: str) -> tuple[EvalRun, dict[str, Any]]:
        from llaso_pytest.speech.noise import parse_condition
        from llaso_pytest.speech.runner import run_condition

        model = self.models.get(engine)
        key = (engine, condition, subset)
        if key not in self._cache:
            run = run_condition(
                model.recognizer,
                self.utterances[subset],
                condition=parse_condition(condition),
                recipe=self.recipe,
                seed=self.seed,
                warmup=self.warmup,
            )
            self._cache[key] = run
            # The manifest is a property of the data+condition, identical for every engine.
            self._record("asr_eval_sets", {f"{subset}/{run.condition.name}": run.manifest})
        return self._cache[key], model.pin


@pytest.fixture(scope="session")
def asr_runs(
    llaso_speech_models: SpeechModels,
    asr_utterances: dict[str, tuple[Utterance, ...]],
    llaso_speech_recipe: Recipe,
    llaso_seed: int,
    llaso_speech_settings: Any,
    record_provenance: Callable[[str, Any], None],
) -> AsrRuns:
    return AsrRuns(
        llaso_speech_models,
        asr_utterances,
        llaso_speech_recipe,
        llaso_seed,
        llaso_speech_settings.warmup,
        record_provenance,
    )


@pytest.fixture
def record_asr(record_metric: Callable[..., Any], llaso_seed: int) -> Callable[..., Any]:
    """``record_asr(run, pin)`` -> (wer, cer): records WER/CER with speaker-cluster CIs,
    timing (RTF, RTFx, latency p50/p95, throughput), all signed with recipe, condition,
    data hash and model pin."""
    from llaso_pytest import metrics

    def record(run: EvalRun, pin: dict[str, Any], *, prefix: str = "") -> tuple[Any, Any]:
        sig = run.signature_extra(pin)
        common: dict[str, Any] = {
            "ids": run.ids, "groups": run.speakers, "normalize": NORMALIZE, "n_boot": N_BOOT,
            "seed": llaso_seed, "signature_extra": sig,
        }
        wer = metrics.wer(run.references, list(run.hypotheses), **common)
        cer = metrics.cer(run.references, list(run.hypotheses), **common)
        record_metric(wer, name=f"{prefix}wer")
        record_metric(cer, name=f"{prefix}cer")
        record_timing(record_metric, run, sig, prefix=prefix, seed=llaso_seed)
        return wer, cer

    return record


def record_timing(
    record_metric: Callable[..., Any], run: EvalRun, sig: dict[str, Any], *, prefix: str, seed: int
) -> None:
    """RTF/RTFx (ratio of sums, one value), per-utterance latency (mean with CI), p50/p95."""
    from llaso_pytest.metrics import from_values

    t = run.timing
    info = t.summary()
    # Device, batch size, warm-up, CPU threads, CPU model and core counts: RTFs measured
    # with another thread count or on another CPU are not comparable.
    tsig = {**sig, **t.signature_fields()}
    record_metric(from_values(f"{prefix}rtf", t.rtf, higher_is_better=False,
                              signature_extra=tsig, extra=info))
    record_metric(from_values(f"{prefix}rtfx", t.rtfx, higher_is_better=True,
                              signature_extra=tsig, extra=info))
    record_metric(from_values(f"{prefix}latency_s", items=t.latencies, higher_is_better=False,
                              groups=[u.speaker for u in run.utterances], seed=seed,
                              signature_extra=tsig,
                              extra={"p50": t.latency_p50, "p95": t.latency_p95}))
    record_metric(from_values(f"{prefix}latency_p95_s", t.latency_p95, higher_is_better=False,
                              signature_extra=tsig))
    record_metric(from_values(f"{prefix}throughput_audio_s_per_s", t.throughput_audio_s_per_s,
                              higher_is_better=True, signature_extra=tsig))
