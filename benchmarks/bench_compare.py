"""Benchmark: compare two run records with 100 metrics x 100k items, paired bootstrap 10,000.

Goal (issue 4): under 10 s on 2 cores. Prints the time of ``compare_records`` on records held
in memory, and (with --files) the time to read both records from JSON files first.

    python benchmarks/bench_compare.py [--metrics 100] [--items 100000] [--n-boot 10000] [--files]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np

from llaso_pytest.compare import compare_records, load_record


def _result(name: str, kind: str, ids: list[str], rng: np.random.Generator,
            ref: np.ndarray, shift: float) -> dict[str, Any]:
    if kind == "wer":
        errors = rng.binomial(ref, min(0.99, 0.12 + shift))
        stats = {"errors": errors, "ref_words": ref}
        scores = errors / ref
        value, hib, agg = errors.sum() / ref.sum(), False, "ratio"
    elif kind == "accuracy":
        ok = (rng.random(ref.size) < 0.8 + shift).astype(np.int64)
        stats = {"sum": ok, "count": np.ones_like(ok)}
        scores = ok
        value, hib, agg = ok.mean(), True, "mean"
    else:  # a continuous per-item score (judge score, ROUGE-like)
        s = np.clip(rng.normal(0.6 + shift, 0.2, ref.size), 0, 1)
        stats = {"sum": s, "count": np.ones_like(s)}
        scores = s
        value, hib, agg = s.mean(), True, "mean"
    fields = {"metric": name, "normalizer": "basic", "n_boot": 1000, "seed": 0}
    return {
        "name": name, "value": float(value), "ci": [float(value) - 0.01, float(value) + 0.01],
        "confidence": 0.95, "n": int(ref.size), "higher_is_better": hib,
        "signature": {"text": name, "fields": fields}, "aggregate": agg,
        "items": {"ids": ids, "groups": None, "stats": stats, "scores": scores}, "extra": {},
    }


def make_record(n_metrics: int, n_items: int, *, seed: int, shift: float) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ids = [f"utt{i:06d}" for i in range(n_items)]
    ref = np.random.default_rng(12345).integers(5, 30, size=n_items)
    kinds = ["wer", "accuracy", "score"]
    tests = []
    for m in range(n_metrics):
        kind = kinds[m % 3]
        tests.append({
            "nodeid": f"suites/bench/test_bench.py::test_metric[{m:03d}]", "markers": [],
            "outcome": "passed", "duration": 0.0, "longrepr": None,
            "results": [_result(kind, kind, ids, rng, ref, shift if m % 7 == 0 else 0.0)],
        })
    return {"schema_version": 1, "kind": "llaso-run-record", "run_id": f"bench-{seed}",
            "complete": True, "started_at": "2026-11-21T00:00:00+00:00", "finished_at": None,
            "exit_status": 0, "summary": {}, "provenance": {"seed": seed}, "tests": tests}


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=int, default=100)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--n-boot", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--files", action="store_true",
                   help="also time the full path from two JSON files (llaso compare)")
    args = p.parse_args(argv)
    print(f"{args.metrics} metrics x {args.items} items, paired bootstrap {args.n_boot} "
          f"resamples, {os.cpu_count()} CPUs, numpy {np.__version__}")
    base = make_record(args.metrics, args.items, seed=1, shift=0.0)
    head = make_record(args.metrics, args.items, seed=2, shift=0.02)
    times, cpus = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        comp = compare_records(base, head, n_boot=args.n_boot, seed=0)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    methods = {m.method for m in comp.metrics}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"compare_records (in memory): median {statistics.median(times):.2f} s wall "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)}), "
          f"{statistics.median(cpus):.2f} s CPU over all threads; load average {load:.1f}; "
          f"methods {sorted(map(str, methods))}; {comp.summary_line()}")
    if args.files:
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for name, rec in (("base", base), ("head", head)):
                path = os.path.join(tmp, f"{name}.json")
                with open(path, "w", encoding="utf-8") as fh:
                    json.dump(rec, fh, default=_jsonable)
                paths.append(path)
            size = sum(os.path.getsize(p) for p in paths) / 1e6
            del base, head
            t0 = time.perf_counter()
            records = [load_record(p) for p in paths]
            t_load = time.perf_counter() - t0
            comp = compare_records(*records, n_boot=args.n_boot, seed=0)
            dt = time.perf_counter() - t0
            print(f"from 2 JSON files ({size:.0f} MB): {dt:.2f} s in all, of which reading and "
                  f"validating the records {t_load:.2f} s; {comp.summary_line()}")
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (records included): {peak:.0f} MB")
    except ImportError:  # pragma: no cover - not on POSIX
        pass
    goal = 10.0
    status = "OK" if statistics.median(times) < goal else "OVER GOAL"
    print(f"goal < {goal:.0f} s (in memory): {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
