"""Benchmark: compare two run records with 100 metrics x 100k items, paired bootstrap 10,000.

Goal (issue 10): under 8 s wall and peak RSS under 600 MB on 2 cores, with the correction and
detectable effects. Prints, each as the median of ``--repeat`` runs with the load average:

* ``compare_records`` on records held in memory, split into the paired tests' resampling
  (the counts matrix and its product), the rest of the paired tests, and the rest of the
  comparison (pairing, item views, verdicts);
* with ``--files``: ``llaso compare``'s path (read both JSON files, then compare) in a child
  process that holds nothing else, with its peak RSS (``ru_maxrss``) - the memory figure of
  the goal.

    python benchmarks/bench_compare.py [--metrics 100] [--items 100000] [--n-boot 10000] [--files]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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


GOAL_S = 8.0
GOAL_MB = 600.0


def _load() -> str:
    return "load average " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Timer:
    """Wall time spent in some functions of :mod:`llaso_pytest.stats` (wrapped for the run)."""

    def __init__(self, names: list[str]) -> None:
        from llaso_pytest import stats

        self.spent = dict.fromkeys(names, 0.0)
        self._saved = {n: getattr(stats, n) for n in names}

        def wrap(name: str) -> Any:
            fn = self._saved[name]

            def timed(*a: Any, **k: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    self.spent[name] += time.perf_counter() - t0
            return timed

        for n in names:
            setattr(stats, n, wrap(n))

    def restore(self) -> None:
        from llaso_pytest import stats

        for n, fn in self._saved.items():
            setattr(stats, n, fn)


def _child(base: str, head: str, n_boot: int) -> int:
    """``llaso compare``'s work on two files, in a process of its own; prints one JSON line."""
    t0 = time.perf_counter()
    records = [load_record(base), load_record(head)]
    t_load = time.perf_counter() - t0
    comp = compare_records(*records, n_boot=n_boot, seed=0,
                           base_source=base, head_source=head)
    print(json.dumps({"wall": time.perf_counter() - t0, "load": t_load, "rss": _peak_mb(),
                      "summary": comp.summary_line()}))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metrics", type=int, default=100)
    p.add_argument("--items", type=int, default=100_000)
    p.add_argument("--n-boot", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--files", action="store_true",
                   help="also time llaso compare's path from two JSON files, in a child process")
    p.add_argument("--child", nargs=2, metavar=("BASE", "HEAD"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(*args.child, args.n_boot)
    print(f"{args.metrics} metrics x {args.items} items, paired test {args.n_boot} "
          f"resamples, {os.cpu_count()} CPUs, numpy {np.__version__}")
    base = make_record(args.metrics, args.items, seed=1, shift=0.0)
    head = make_record(args.metrics, args.items, seed=2, shift=0.02)
    times, cpus, splits = [], [], []
    for _ in range(args.repeat):
        timer = _Timer(["paired_tests", "_product_sums", "distinct_sums"])
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            comp = compare_records(base, head, n_boot=args.n_boot, seed=0)
        finally:
            timer.restore()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        splits.append(timer.spent)
        print(f"  run {len(times)}: {times[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU; {_load()}")
    wall = statistics.median(times)
    med = {k: statistics.median(s[k] for s in splits) for k in splits[0]}
    methods = sorted({str(m.method) for m in comp.metrics})
    print(f"compare_records (in memory): median {wall:.2f} s wall, "
          f"{statistics.median(cpus):.2f} s CPU; {_load()}; methods {methods}; "
          f"{comp.summary_line()}")
    resampling = med["_product_sums"] + med["distinct_sums"]
    print(f"  split (medians): counts matrix and product {med['_product_sums']:.2f} s, "
          f"distinct-row draws {med['distinct_sums']:.2f} s, rest of the paired tests "
          f"{med['paired_tests'] - resampling:.2f} s, rest of the comparison "
          f"{wall - med['paired_tests']:.2f} s")
    print(f"  ratio to the goal: {wall / GOAL_S:.2f} of {GOAL_S:g} s "
          f"({'OK' if wall < GOAL_S else 'OVER GOAL'})")
    print(f"  peak RSS of this process (both records built in memory): {_peak_mb():.0f} MB")
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
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, os.path.abspath(__file__), "--n-boot", str(args.n_boot),
                     "--child", *paths], check=True, capture_output=True, text=True)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                r = runs[-1]
                print(f"  files run {len(runs)}: {r['wall']:.2f} s (reading {r['load']:.2f} s), "
                      f"peak RSS {r['rss']:.0f} MB; {_load()}")
        wall_f = statistics.median(r["wall"] for r in runs)
        rss = statistics.median(r["rss"] for r in runs)
        print(f"from 2 JSON files ({size:.0f} MB) in a child process: median {wall_f:.2f} s, "
              f"of which reading {statistics.median(r['load'] for r in runs):.2f} s; peak RSS "
              f"{rss:.0f} MB = {rss / GOAL_MB:.2f} of {GOAL_MB:g} MB "
              f"({'OK' if rss < GOAL_MB else 'OVER GOAL'}); {runs[-1]['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
