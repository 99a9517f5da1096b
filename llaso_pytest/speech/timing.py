"""Real-time factor, latency and throughput of a recogniser, measured honestly.

- Warm-up runs (default 1, on the shortest item) are executed and discarded before timing:
  the first call pays for lazy initialisation (allocations, kernel selection, caches).
- The timed region is exactly ``recognizer.transcribe(samples)`` and, should an adapter
  return a lazy iterable of text pieces instead of a string, the consumption of that iterable.
  Audio loading and noise mixing happen before it and are not counted.
- ``rtf`` = compute seconds / audio seconds (lower is faster); ``rtfx`` = 1 / rtf.
- Latency percentiles are per utterance (``numpy.percentile``, linear interpolation).
- Throughput is utterances and audio seconds per compute second; ``batch_size``, the
  device and the CPU thread count come from the recogniser's ``describe()``.
- :meth:`Timing.signature_fields` names what changes these numbers besides the model: device,
  batch size, warm-up, CPU threads (``0``: the library default, which depends on the
  cores), ``OMP_NUM_THREADS``, the CPU model and the logical/usable core counts. RTFs
  measured with different thread counts or on different CPUs are not comparable.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from llaso_pytest.speech.engines import Recognizer

__all__ = ["Timing", "build_timing", "cpu_facts", "timed_transcribe", "timing_conditions",
           "transcribe_each", "warm_up"]


@dataclass(frozen=True)
class Timing:
    """Timing of one pass of a recogniser over a list of utterances."""

    n: int
    audio_seconds: float
    compute_seconds: float
    rtf: float
    rtfx: float
    latency_p50: float
    latency_p95: float
    latency_mean: float
    throughput_utts_per_s: float
    throughput_audio_s_per_s: float
    warmup_runs: int
    batch_size: int
    device: str
    engine: str
    latencies: dict[str, float] = field(default_factory=dict)
    rtfs: dict[str, float] = field(default_factory=dict)
    cpu_threads: int | None = None
    cpu: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """All fields except the per-item dicts (JSON-able)."""
        d = asdict(self)
        d.pop("latencies")
        d.pop("rtfs")
        return d

    def signature_fields(self) -> dict[str, str | int | float | bool | None]:
        """Signature fields of the RTF/latency/throughput metrics (see the module docstring)."""
        return {
            "device": self.device,
            "batch_size": self.batch_size,
            "warmup": self.warmup_runs,
            "cpu_threads": self.cpu_threads,
            "omp_num_threads": self.cpu.get("omp_num_threads"),
            "cpu_model": self.cpu.get("model"),
            "cpu_logical_cores": self.cpu.get("logical_cores"),
            "cpu_usable_cores": self.cpu.get("usable_cores"),
        }


@functools.lru_cache(maxsize=1)
def _cpu_facts() -> tuple[tuple[str, Any], ...]:
    from llaso_pytest.provenance import cpu_info

    return tuple(cpu_info().items())


def cpu_facts() -> dict[str, Any]:
    """CPU model, logical and usable core counts, and ``OMP_NUM_THREADS`` when set."""
    facts = dict(_cpu_facts())
    facts["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    return facts


def _call(recognizer: Recognizer, samples: npt.NDArray[np.float32]) -> str:
    out: Any = recognizer.transcribe(samples)
    if isinstance(out, str):
        return out
    if isinstance(out, Iterable):
        # A lazy decoder: consume it here, inside the timed region.
        return " ".join(str(p).strip() for p in out).strip()
    raise TypeError(
        f"recogniser {getattr(recognizer, 'name', recognizer)!r} returned "
        f"{type(out).__name__}; transcribe() must return a str"
    )


def timing_conditions(recognizer: Recognizer, *, warmup: int) -> dict[str, Any]:
    """What a latency measured now depends on besides the model (:meth:`Timing.signature_fields`
    before any decoding): device, batch size, warm-up, CPU threads, CPU facts."""
    info = recognizer.describe()
    threads = info.get("cpu_threads")
    cpu = cpu_facts()
    return {
        "device": str(info.get("device", "unknown")),
        "batch_size": int(info.get("batch_size", 1)),
        "warmup": warmup,
        "cpu_threads": None if threads is None else int(threads),
        "omp_num_threads": cpu.get("omp_num_threads"),
        "cpu_model": cpu.get("model"),
        "cpu_logical_cores": cpu.get("logical_cores"),
        "cpu_usable_cores": cpu.get("usable_cores"),
    }


def warm_up(recognizer: Recognizer, items: Sequence[tuple[str, npt.NDArray[np.float32]]],
            warmup: int) -> None:
    """``warmup`` untimed transcriptions of the shortest items (lazy initialisation)."""
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    # Warm up on the shortest utterances: the point is lazy initialisation, not throughput,
    # and a short clip keeps the untimed cost low for engines whose cost grows with length.
    shortest = sorted(range(len(items)), key=lambda i: (len(items[i][1]), i))
    for i in range(warmup if items else 0):
        _call(recognizer, items[shortest[i % len(items)]][1])


def transcribe_each(
    recognizer: Recognizer,
    items: Sequence[tuple[str, npt.NDArray[np.float32]]],
    *,
    on_item: Callable[[str, str, float], None] | None = None,
) -> tuple[dict[str, str], dict[str, float]]:
    """Transcribe ``(id, samples)`` in order, timing exactly each ``transcribe`` call.

    ``on_item(id, text, seconds)`` runs after each item, outside the timed region (progress,
    caching)."""
    hyps: dict[str, str] = {}
    lat: dict[str, float] = {}
    for uid, samples in items:
        if uid in hyps:
            raise ValueError(f"duplicate utterance id {uid!r}")
        t0 = time.perf_counter()
        text = _call(recognizer, samples)
        dt = time.perf_counter() - t0
        hyps[uid] = text
        lat[uid] = dt
        if on_item is not None:
            on_item(uid, text, dt)
    return hyps, lat


def build_timing(
    recognizer: Recognizer,
    items: Sequence[tuple[str, int]],
    latencies: Mapping[str, float],
    *,
    warmup: int,
) -> Timing:
    """The :class:`Timing` of ``(id, n_samples)`` items from their per-item latencies."""
    import numpy as np

    if not items:
        raise ValueError("a timing needs at least one utterance")
    sr = int(recognizer.sample_rate)
    lat: dict[str, float] = {}
    rtfs: dict[str, float] = {}
    audio_total = 0.0
    for uid, n_samples in items:
        dt = float(latencies[uid])
        lat[uid] = dt
        dur = n_samples / sr
        rtfs[uid] = dt / dur if dur > 0 else float("inf")
        audio_total += dur
    arr = np.fromiter(lat.values(), dtype=np.float64)
    compute = float(arr.sum())
    info = recognizer.describe()
    threads = info.get("cpu_threads")
    rtf = compute / audio_total
    return Timing(
        n=len(items),
        audio_seconds=audio_total,
        compute_seconds=compute,
        rtf=rtf,
        rtfx=(1.0 / rtf) if rtf > 0 else float("inf"),
        latency_p50=float(np.percentile(arr, 50)),
        latency_p95=float(np.percentile(arr, 95)),
        latency_mean=float(arr.mean()),
        throughput_utts_per_s=len(items) / compute if compute > 0 else float("inf"),
        throughput_audio_s_per_s=audio_total / compute if compute > 0 else float("inf"),
        warmup_runs=warmup,
        batch_size=int(info.get("batch_size", 1)),
        device=str(info.get("device", "unknown")),
        engine=str(info.get("engine", getattr(recognizer, "name", "unknown"))),
        latencies=lat,
        rtfs=rtfs,
        cpu_threads=None if threads is None else int(threads),
        cpu=cpu_facts(),
    )


def timed_transcribe(
    recognizer: Recognizer,
    items: Sequence[tuple[str, npt.NDArray[np.float32]]],
    *,
    warmup: int = 1,
) -> tuple[dict[str, str], Timing]:
    """Transcribe ``(id, samples)`` items in order; return transcripts by id and the timing."""
    if not items:
        raise ValueError("timed_transcribe needs at least one utterance")
    warm_up(recognizer, items, warmup)
    hyps, lat = transcribe_each(recognizer, items)
    return hyps, build_timing(recognizer, [(u, len(x)) for u, x in items], lat, warmup=warmup)
