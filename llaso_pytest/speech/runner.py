"""One evaluation pass: utterances x condition -> transcripts, timing, dataset manifest.

Pure (no pytest): the suites, the benchmark and a notebook share it. The audio of every
utterance is prepared (loaded, converted by the recipe, noise mixed) *before* the timed
transcription, so RTF measures the recogniser only; the harness' own time is measured
separately in ``prep_seconds`` (benchmarks/bench_asr.py reports the share).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llaso_pytest.speech.audio import Recipe
    from llaso_pytest.speech.datasets import Utterance
    from llaso_pytest.speech.engines import Recognizer
    from llaso_pytest.speech.noise import Condition, NoiseSpec
    from llaso_pytest.speech.timing import Timing

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
) -> EvalRun:
    """Prepare every utterance's audio, then transcribe them all under timing."""
    from llaso_pytest.speech.datasets import condition_manifest, prepare_utterance
    from llaso_pytest.speech.errors import AudioError
    from llaso_pytest.speech.timing import timed_transcribe

    if not utterances:
        raise ValueError("run_condition needs at least one utterance")
    if recognizer.sample_rate != recipe.sample_rate:
        raise AudioError(
            f"recogniser {recognizer.name!r} expects {recognizer.sample_rate} Hz but the recipe "
            f"produces {recipe.sample_rate} Hz; set the recipe's sample_rate to match"
        )
    t0 = time.perf_counter()
    prepared = [
        (u, prepare_utterance(u, recipe=recipe, condition=condition, seed=seed, spec=spec))
        for u in utterances
    ]
    manifest = condition_manifest(
        prepared, condition=condition, recipe=recipe, seed=seed, spec=spec
    )
    prep = time.perf_counter() - t0
    hyps, timing = timed_transcribe(
        recognizer, [(u.id, a.samples) for u, a in prepared], warmup=warmup
    )
    return EvalRun(
        engine=recognizer.name,
        condition=condition,
        utterances=tuple(utterances),
        hypotheses=tuple(hyps[u.id] for u in utterances),
        timing=timing,
        manifest=manifest,
        recipe=recipe,
        prep_seconds=prep,
    )
