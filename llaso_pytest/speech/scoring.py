"""The results of one ASR pass, as the shipped suite records them (pure, no pytest).

From an :class:`~llaso_pytest.speech.runner.EvalRun` and the model pin:

- :func:`corpus_results`: WER and CER with a speaker-cluster bootstrap, and the timing
  metrics (RTF, RTFx, per-utterance latency with an interval, latency p95, throughput);
- :func:`slice_result`: WER on a subset (a speaker, a length bin, an accent, a corpus);
  the bootstrap resamples speakers when the subset has more than one, else utterances;
- :func:`speaker_results`, :func:`length_results`: every speaker's and length bin's slice;
- :func:`error_class_results`: error rates of word classes (numbers, a term list) from
  the alignment, with the top confusions.

Every result is signed with the run's recipe, condition, data hash and model pin
(:meth:`EvalRun.signature_extra`); timing results also with the device, threads and CPU.
The bootstrap seed defaults to the running test's seed (:mod:`llaso_pytest.context`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llaso_pytest.context import AUTO_SEED

if TYPE_CHECKING:
    from llaso_pytest.metrics.base import MetricResult
    from llaso_pytest.speech.runner import EvalRun

__all__ = [
    "Scoring",
    "corpus_results",
    "error_class_results",
    "length_results",
    "slice_result",
    "speaker_results",
    "timing_results",
]

#: The error classes :func:`error_class_results` records, with their result names.
ERROR_CLASSES: Mapping[str, str] = {"number": "numbers", "terms": "terms"}


@dataclass(frozen=True)
class Scoring:
    """How transcripts are scored: text normaliser, bootstrap size and seed."""

    normalize: str | Callable[[str], str] = "whisper"
    n_boot: int = 1000
    seed: int | None = AUTO_SEED

    def wer_options(self) -> dict[str, Any]:
        return {"normalize": self.normalize, "n_boot": self.n_boot, "seed": self.seed}


def corpus_results(run: EvalRun, pin: Mapping[str, Any] | None, scoring: Scoring, *,
                   prefix: str = "") -> dict[str, MetricResult]:
    """WER, CER (speaker-cluster CIs) and the timing results of the whole pass, by name."""
    from llaso_pytest import metrics

    sig = run.signature_extra(dict(pin) if pin is not None else None)
    common: dict[str, Any] = {"ids": run.ids, "groups": run.speakers,
                              "signature_extra": sig, **scoring.wer_options()}
    hyps = list(run.hypotheses)
    out = {
        f"{prefix}wer": metrics.wer(run.references, hyps, **common),
        f"{prefix}cer": metrics.cer(run.references, hyps, **common),
    }
    out.update(timing_results(run, sig, seed=scoring.seed, prefix=prefix))
    return out


def timing_results(run: EvalRun, sig: Mapping[str, Any], *, seed: int | None = AUTO_SEED,
                   prefix: str = "") -> dict[str, MetricResult]:
    """RTF/RTFx (ratio of sums, one value), per-utterance latency (mean with CI), p95,
    throughput; signed with ``sig`` and the timing conditions."""
    from llaso_pytest.metrics import from_values

    t = run.timing
    info = {**t.summary(), "from_cache": run.cached}
    # Device, batch size, warm-up, CPU threads, CPU model and core counts: RTFs measured
    # with another thread count or on another CPU are not comparable.
    tsig = {**sig, **t.signature_fields()}
    return {
        f"{prefix}rtf": from_values(f"{prefix}rtf", t.rtf, higher_is_better=False,
                                    signature_extra=tsig, extra=info),
        f"{prefix}rtfx": from_values(f"{prefix}rtfx", t.rtfx, higher_is_better=True,
                                     signature_extra=tsig, extra=info),
        f"{prefix}latency_s": from_values(
            f"{prefix}latency_s", items=t.latencies, higher_is_better=False,
            groups=[u.speaker for u in run.utterances], seed=seed, signature_extra=tsig,
            extra={"p50": t.latency_p50, "p95": t.latency_p95}),
        f"{prefix}latency_p95_s": from_values(f"{prefix}latency_p95_s", t.latency_p95,
                                              higher_is_better=False, signature_extra=tsig),
        f"{prefix}throughput_audio_s_per_s": from_values(
            f"{prefix}throughput_audio_s_per_s", t.throughput_audio_s_per_s,
            higher_is_better=True, signature_extra=tsig),
    }


def slice_result(run: EvalRun, pin: Mapping[str, Any] | None, scoring: Scoring, *,
                 label: str, keep: Sequence[bool]) -> MetricResult | None:
    """WER of the utterances where ``keep`` is true (None when there are none), signed with
    ``slice: label``. Speakers are the bootstrap clusters when the slice has several."""
    from llaso_pytest import metrics

    ids, refs, hyps, spk = run.subset(keep)
    if not ids:
        return None
    sig = {**run.signature_extra(dict(pin) if pin is not None else None), "slice": label}
    return metrics.wer(refs, hyps, ids=ids, groups=spk if len(set(spk)) > 1 else None,
                       signature_extra=sig, **scoring.wer_options())


def speaker_results(run: EvalRun, pin: Mapping[str, Any] | None, scoring: Scoring
                    ) -> dict[str, MetricResult]:
    """``wer/speaker=S`` for every speaker (one speaker: utterances are resampled)."""
    out: dict[str, MetricResult] = {}
    for spk in sorted(set(run.speakers)):
        res = slice_result(run, pin, scoring, label=f"speaker={spk}",
                           keep=[s == spk for s in run.speakers])
        if res is not None:
            out[f"wer/speaker={spk}"] = res
    return out


def length_results(run: EvalRun, pin: Mapping[str, Any] | None, scoring: Scoring
                   ) -> dict[str, MetricResult]:
    """``wer/length=B`` for every utterance-length bin (<2 s, 2-4 s, >=4 s) present."""
    from llaso_pytest.speech.datasets import length_bin

    bins = [length_bin(u.duration) for u in run.utterances]
    out: dict[str, MetricResult] = {}
    for b in sorted(set(bins)):
        res = slice_result(run, pin, scoring, label=f"length={b}", keep=[x == b for x in bins])
        if res is not None:
            out[f"wer/length={b}"] = res
    return out


def error_class_results(
    run: EvalRun,
    pin: Mapping[str, Any] | None,
    scoring: Scoring,
    *,
    terms: Iterable[str] = (),
    classes: Mapping[str, str] | None = None,
    top_confusions: int = 10,
) -> dict[str, MetricResult]:
    """``errors/<label>`` for each word class (``number``, and ``terms`` when given) that
    occurs in the references, with the ``top_confusions`` in ``extra``. A class with no
    words in the references is an error naming it (its rate would be undefined)."""
    from llaso_pytest import metrics
    from llaso_pytest.errors import MetricInputError

    sig = run.signature_extra(dict(pin) if pin is not None else None)
    term_list = tuple(terms)
    wanted = dict(classes) if classes is not None else {
        k: v for k, v in ERROR_CLASSES.items() if k != "terms" or term_list}
    full = metrics.wer(run.references, list(run.hypotheses), ids=run.ids, groups=run.speakers,
                       normalize=scoring.normalize, n_boot=0, signature_extra=sig)
    bd = metrics.error_breakdown(full, terms=term_list)
    confusions = bd.to_record()["confusions"][:top_confusions]
    out: dict[str, MetricResult] = {}
    for cls, label in wanted.items():
        if cls not in bd.classes:
            raise MetricInputError(
                f"error class {cls!r} is not computed by the breakdown; known classes: "
                f"{', '.join(sorted(bd.classes))}")
        if bd.classes[cls].total == 0:
            raise MetricInputError(
                f"error class {cls!r} ({label}): no reference word of {run.engine}'s "
                f"{run.condition.name} pass belongs to it, so its error rate is undefined; "
                "leave the class out or add utterances that contain such words")
        out[f"errors/{label}"] = bd.class_result(
            cls, n_boot=scoring.n_boot, seed=scoring.seed, signature_extra=sig,
            extra={"top_confusions": confusions})
    return out
