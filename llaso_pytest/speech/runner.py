"""One evaluation pass: utterances x condition -> transcripts, timing, dataset manifest.

Pure (no pytest): the suites, the benchmark and a notebook share it. The audio of every
utterance is prepared (loaded, converted by the recipe, noise mixed) *before* the timed
transcription, so RTF measures the recogniser only; the harness' own time is measured
separately in ``prep_seconds`` (benchmarks/bench_asr.py reports the share).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from llaso_pytest.speech.audio import Recipe
    from llaso_pytest.speech.datasets import Utterance
    from llaso_pytest.speech.engines import Recognizer
    from llaso_pytest.speech.noise import Condition, NoiseSpec
    from llaso_pytest.speech.timing import Timing
    from llaso_pytest.speech.transcripts import TranscriptCache

__all__ = ["EvalRun", "run_condition"]


@dataclass(frozen=True)
class EvalRun:
    """Transcripts and facts of one (recogniser, condition, utterance list) pass."""

    engine: str
    condition: Condition
    utterances: tuple[Utterance, ...]
    hypotheses: tuple[str, ...]
    timing: Timing
    manifest: dict[str, Any]
    recipe: Recipe
    prep_seconds: float
    #: how many transcripts (and their latencies) came from the transcript cache
    cached: int = 0

    @property
    def ids(self) -> list[str]:
        return [u.id for u in self.utterances]

    @property
    def references(self) -> list[str]:
        return [u.text for u in self.utterances]

    @property
    def speakers(self) -> list[str]:
        return [u.speaker for u in self.utterances]

    def signature_extra(self, model_pin: dict[str, Any] | None = None) -> dict[str, Any]:
        """Fields that change the number and so belong in the metric signature."""
        import hashlib

        out: dict[str, Any] = {
            "recipe": self.recipe.signature(),
            "condition": self.condition.name,
            "data": self.manifest["sha256"][:16],
        }
        noise = self.manifest["recipe"]["noise"]
        if noise is not None:
            out["noise"] = (
                f"{noise['kind']}@{noise['snr_db']:g}dB,seed{noise['seed']},"
                f"vad{noise['vad_rel_db']:g}dB/{noise['frame_ms']:g}ms"
            )
        if model_pin is not None:
            out["model"] = model_pin.get("name", self.engine)
            files = model_pin.get("files") or {}
            if files:
                joined = "|".join(f"{k}:{v}" for k, v in sorted(files.items()))
                out["model_sha256"] = hashlib.sha256(joined.encode()).hexdigest()[:16]
            options = model_pin.get("options")
            if options:
                import json

                text = json.dumps(options, sort_keys=True, default=str)
                out["model_options"] = hashlib.sha256(text.encode()).hexdigest()[:12]
            runtime = model_pin.get("runtime") or {}
            if runtime:
                out["runtime"] = ",".join(f"{k}={v}" for k, v in sorted(runtime.items()))
            if "dtype" in model_pin and isinstance(model_pin["dtype"], str):
                out["dtype"] = model_pin["dtype"]
            if "device" in model_pin:
                out["device"] = model_pin["device"]  # cpu int8 and cuda float16 differ
        return out

    def subset(self, keep: Sequence[bool]) -> tuple[list[str], list[str], list[str], list[str]]:
        """(ids, refs, hyps, speakers) of the utterances where ``keep`` is true."""
        rows = [
            (u.id, u.text, h, u.speaker)
            for u, h, k in zip(self.utterances, self.hypotheses, keep, strict=True)
            if k
        ]
        return (
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )


def run_condition(
    recognizer: Recognizer,
    utterances: Sequence[Utterance],
    *,
    condition: Condition,
    recipe: Recipe,
    seed: int,
    warmup: int = 1,
    spec: NoiseSpec | None = None,
    cache: TranscriptCache | None = None,
    model_pin: Mapping[str, Any] | None = None,
    refresh: bool = False,
) -> EvalRun:
    """Prepare every utterance's audio, then transcribe them all under timing.

    With ``cache`` (and the model's ``model_pin``), transcripts already decoded from the
    same prepared audio by the same pinned model under the same timing conditions are
    reused with the latency measured then (``EvalRun.cached`` counts them); the others are
    decoded and stored. ``refresh`` ignores the entries other sessions stored: they are
    decoded again and overwritten (what another worker of the same session stored is used,
    so ``-n 2`` still decodes once; see ``TranscriptCache.session``).
    Decoding reports progress through :func:`llaso_pytest.context.progress`.
    """
    from llaso_pytest.speech.datasets import condition_manifest, prepare_utterance
    from llaso_pytest.speech.errors import AudioError

    if not utterances:
        raise ValueError("run_condition needs at least one utterance")
    if recognizer.sample_rate != recipe.sample_rate:
        raise AudioError(
            f"recogniser {recognizer.name!r} expects {recognizer.sample_rate} Hz but the recipe "
            f"produces {recipe.sample_rate} Hz; set the recipe's sample_rate to match"
        )
    if cache is not None and model_pin is None:
        raise ValueError("run_condition(cache=...) needs the model_pin the entries are keyed on")
    t0 = time.perf_counter()
    prepared = [
        (u, prepare_utterance(u, recipe=recipe, condition=condition, seed=seed, spec=spec))
        for u in utterances
    ]
    manifest = condition_manifest(
        prepared, condition=condition, recipe=recipe, seed=seed, spec=spec
    )
    prep = time.perf_counter() - t0
    items = [(u.id, a.samples) for u, a in prepared]
    if cache is None:
        hyps, lat = _decode(recognizer, items, warmup=warmup, condition=condition.name)
        cached = 0
    else:
        hyps, lat, cached = _decode_cached(
            recognizer, items, manifest, warmup=warmup, condition=condition.name, cache=cache,
            model_pin=model_pin or {}, refresh=refresh,
        )
    from llaso_pytest.speech.timing import build_timing

    timing = build_timing(recognizer, [(uid, len(x)) for uid, x in items], lat, warmup=warmup)
    return EvalRun(
        engine=recognizer.name,
        condition=condition,
        utterances=tuple(utterances),
        hypotheses=tuple(hyps[u.id] for u in utterances),
        timing=timing,
        manifest=manifest,
        recipe=recipe,
        prep_seconds=prep,
        cached=cached,
    )


def _decode(
    recognizer: Recognizer,
    items: Sequence[tuple[str, npt.NDArray[np.float32]]],
    *,
    warmup: int,
    condition: str,
    on_item: Callable[[str, str, float], None] | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """Warm up, then transcribe ``items`` with progress (outside the timed calls)."""
    from llaso_pytest.context import progress
    from llaso_pytest.speech.timing import transcribe_each, warm_up

    warm_up(recognizer, items, warmup)
    label = f"llaso: decoding with {recognizer.name} ({condition})"
    with progress(label, len(items), unit="utterances") as p:
        def each(uid: str, text: str, dt: float) -> None:
            if on_item is not None:
                on_item(uid, text, dt)
            p.advance()

        return transcribe_each(recognizer, items, on_item=each)


def _decode_cached(
    recognizer: Recognizer,
    items: Sequence[tuple[str, npt.NDArray[np.float32]]],
    manifest: Mapping[str, Any],
    *,
    warmup: int,
    condition: str,
    cache: TranscriptCache,
    model_pin: Mapping[str, Any],
    refresh: bool,
) -> tuple[dict[str, str], dict[str, float], int]:
    from llaso_pytest.speech.timing import timing_conditions
    from llaso_pytest.speech.transcripts import CachedTranscript, entry_key, model_key

    model = model_key(recognizer.name, model_pin)
    timing = timing_conditions(recognizer, warmup=warmup)
    audio = {row["id"]: row["audio_sha256"] for row in manifest["utterances"]}
    keys = {uid: entry_key(audio[uid], model, timing) for uid, _ in items}
    # One pass at a time per (model, prepared audio): a second process waits, then hits.
    with cache.lock(f"{model}:{manifest['sha256']}"):
        found = cache.get_many(list(keys.values()), this_session=refresh)
        hyps = {uid: found[k].text for uid, k in keys.items() if k in found}
        lat = {uid: found[k].latency_s for uid, k in keys.items() if k in found}
        todo = [(uid, x) for uid, x in items if uid not in hyps]
        if todo:
            pending: list[tuple[str, CachedTranscript]] = []

            def keep(uid: str, text: str, dt: float) -> None:
                pending.append((keys[uid], CachedTranscript(text=text, latency_s=dt)))
                if len(pending) >= 64:  # stored as it goes: an interruption loses little
                    cache.put_many(pending)
                    pending.clear()

            try:
                new_hyps, new_lat = _decode(recognizer, todo, warmup=warmup,
                                            condition=condition, on_item=keep)
            finally:
                cache.put_many(pending)
            hyps.update(new_hyps)
            lat.update(new_lat)
    return hyps, lat, len(items) - len(todo)
