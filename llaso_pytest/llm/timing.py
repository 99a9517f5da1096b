"""Latency and throughput of generation as metric results (pytest-free).

From the :class:`~llaso_pytest.llm.client.CallOutcome` of each generated item (its
``latency_s``, ``ttft_s`` when streamed, and ``completion_tokens``):

- ``ttft_s`` and ``latency_s``: the mean per item with a bootstrap interval, and the p50 and
  p95 (``ttft_s_p50``, ``latency_s_p95``, ...) with a seeded percentile-bootstrap interval of
  the quantile (``numpy.percentile``, linear interpolation). A quantile cannot be recomputed
  from summed per-item statistics, so its aggregate is ``quantile(q=...)``: the comparer tests
  it from the two recorded intervals (``unpaired-intervals``) and says so.
- ``tokens_per_s``: generated tokens over generation seconds (a ratio of sums, per item
  statistics ``tokens`` and ``seconds``, bootstrap interval).

Cached replies and failed calls were not timed: they are refused (:class:`TimingError`), never
counted as 0 s. Every result is signed with what changes timings besides the model: the
device, threads, backend, dtype, concurrency and batch size (``placement``), and the CPU
model; timings from different hardware are therefore never compared as like for like.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.client import CallOutcome
    from llaso_pytest.metrics.base import MetricResult

__all__ = ["TIMING_SIGNATURE_KEYS", "TimingError", "generation_metrics", "quantile_result"]

#: placement fields that enter the signature of every timing metric
TIMING_SIGNATURE_KEYS = ("backend", "device", "device_name", "dtype", "threads", "batch_size",
                         "concurrency")


class TimingError(LlasoError, ValueError):
    """Outcomes that cannot be timed (cached, failed, no token counts), naming the items."""


def quantile_result(name: str, values: Mapping[str, float], *, q: float, seed: int | None,
                    n_boot: int = 1000, confidence: float = 0.95,
                    signature_extra: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None) -> MetricResult:
    """The ``q`` quantile of per-item ``values`` (lower is better) with a seeded percentile
    bootstrap interval; ``ci`` is ``None`` (with a warning naming n) below
    :data:`llaso_pytest.stats.MIN_UNITS` items, as for every bootstrap interval."""
    import numpy as np

    from llaso_pytest.metrics.base import MetricResult, Signature, check_signature_extra, warn

    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile q must be in (0, 1), got {q!r}")
    if not values:
        raise TimingError(f"metric {name!r}: no timed items")
    ids = tuple(values)
    x = np.array([float(values[i]) for i in ids], dtype=np.float64)
    if not np.isfinite(x).all() or (x < 0).any():
        bad = [ids[i] for i in np.flatnonzero(~np.isfinite(x) | (x < 0))[:5]]
        raise TimingError(f"metric {name!r}: not a duration (finite, >= 0) for items {bad}")
    value = float(np.percentile(x, 100 * q))
    from llaso_pytest.stats import MIN_UNITS

    ci: tuple[float, float] | None = None
    if len(x) >= MIN_UNITS:  # the same floor as every other bootstrap interval
        rng = np.random.default_rng(seed)
        draws = np.percentile(x[rng.integers(0, len(x), size=(n_boot, len(x)))], 100 * q, axis=1)
        alpha = (1 - confidence) / 2
        lo, hi = np.percentile(draws, [100 * alpha, 100 * (1 - alpha)])
        ci = (float(lo), float(hi))
    else:
        warn(f"{name}: only {len(x)} items (n={len(x)}); a bootstrap interval needs at least "
             f"{MIN_UNITS}, so no confidence interval is reported (ci=None)")
    fields = {"metric": name, "q": q, "boot": n_boot, "seed": seed, "ci": "percentile",
              **check_signature_extra(signature_extra)}
    return MetricResult(
        name=name, value=value, ci=ci, confidence=float(confidence), n=len(x),
        higher_is_better=False, signature=Signature(fields), aggregate=f"quantile(q={q:g})",
        item_ids=ids, groups=None, stats={"seconds": x}, scores=x, extra=dict(extra or {}),
    )


def _timed(outcomes: Sequence[CallOutcome]) -> list[CallOutcome]:
    untimed = [o.id for o in outcomes if not o.ok or o.cached or o.latency_s is None]
    if untimed:
        raise TimingError(
            f"{len(untimed)} of {len(outcomes)} outcomes were not timed (cache hits or failed "
            f"calls): {untimed[:10]}; time a batch without the response cache"
        )
    return list(outcomes)


def generation_metrics(outcomes: Sequence[CallOutcome], *, placement: Mapping[str, Any],
                       seed: int | None, signature_extra: Mapping[str, Any] | None = None,
                       quantiles: Sequence[float] = (0.5, 0.95)) -> list[MetricResult]:
    """TTFT (when streamed), end-to-end latency and tokens per second of one timed batch."""
    from llaso_pytest.metrics.base import from_stats, from_values
    from llaso_pytest.speech.timing import cpu_facts

    timed = _timed(outcomes)
    if not timed:
        raise TimingError("no outcomes to time")
    cpu = cpu_facts()
    sig: dict[str, Any] = {k: placement.get(k) for k in TIMING_SIGNATURE_KEYS}
    sig.update(cpu_model=cpu.get("model"), cpu_usable_cores=cpu.get("usable_cores"),
               omp_num_threads=cpu.get("omp_num_threads"), **dict(signature_extra or {}))
    extra = {"placement": dict(placement), "n": len(timed)}
    out: list[MetricResult] = []
    series: dict[str, dict[str, float]] = {
        "latency_s": {o.id: float(o.latency_s or 0.0) for o in timed},
    }
    streamed = [o for o in timed if o.ttft_s is not None]
    if streamed and len(streamed) != len(timed):
        raise TimingError(f"{len(timed) - len(streamed)} of {len(timed)} outcomes have no time "
                          "to first token: stream every item of a timed batch")
    if streamed:
        series["ttft_s"] = {o.id: float(o.ttft_s or 0.0) for o in streamed}
    for name, values in series.items():
        out.append(from_values(name, items=values, higher_is_better=False, seed=seed,
                               signature_extra={**sig, "stat": "mean"}, extra=extra))
        for q in quantiles:
            out.append(quantile_result(f"{name}_p{round(q * 100)}", values, q=q, seed=seed,
                                       signature_extra=sig, extra=extra))
    no_tokens = [o.id for o in timed if not o.completion_tokens]
    if no_tokens:
        raise TimingError(f"items without completion token counts: {no_tokens[:10]}")
    tokens = [float(o.completion_tokens or 0) for o in timed]
    seconds = [float(o.latency_s or 0.0) for o in timed]
    if not all(s > 0 and math.isfinite(s) for s in seconds):
        raise TimingError("a timed call took no measurable time")
    per_item = [t / s for t, s in zip(tokens, seconds, strict=True)]
    out.append(from_stats("tokens_per_s", {"tokens": tokens, "seconds": seconds},
                          aggregate="ratio", higher_is_better=True, ids=[o.id for o in timed],
                          scores=per_item, seed=seed, signature_extra=sig, extra=extra))
    return out

