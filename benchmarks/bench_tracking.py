"""Benchmark: the MLflow export's batched logging against one ``log_metric`` call per metric.

A record of ``--results`` results (4 metrics each: value, ci_low, ci_high, n; 2500 results
are the issue's 10,000 metrics) is exported to a real sqlite store with
``llaso_pytest.tracking.mlflow_export.export`` (the whole export: metrics, a signature tag
per result, params, artifacts). Then the same number of metrics alone is logged with the
exporter's ``log_batch`` chunks, and ``--single`` metrics one ``MlflowClient.log_metric``
call at a time (the reference: an exporter without batching). Prints each, the per-metric
cost of the two ways, and their ratio (goal: batched at least 20x cheaper per metric;
measured in the same run, so machine load hits both), with the load average.

    python benchmarks/bench_tracking.py [--results 2500] [--single 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from llaso_pytest.record import RunRecord, TestRecord
from llaso_pytest.tracking import mlflow_export


def make_record(n_results: int) -> RunRecord:
    results = tuple(
        {"name": f"m{i}", "value": i / n_results, "ci": [i / n_results - 0.01,
                                                          i / n_results + 0.01],
         "confidence": 0.95, "n": 100, "higher_is_better": True,
         "signature": {"text": f"m{i}|boot:1000|seed:0", "fields": {"metric": f"m{i}"}},
         "aggregate": "mean", "items": {"ids": [], "stats": {}}, "extra": {}}
        for i in range(n_results))
    return RunRecord(run_id="20261202T000000Z-bench", started_at="s", finished_at="f",
                     complete=True, provenance={"seed": 0},
                     tests=(TestRecord(nodeid="bench.py::test_many", outcome="passed",
                                       duration=0.0, markers=(), results=results),))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=int, default=2500)
    parser.add_argument("--single", type=int, default=1000)
    args = parser.parse_args()
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments()  # create the tables outside the timings
        record = make_record(args.results)
        start = time.perf_counter()
        done = mlflow_export.export(record, tracking_uri=uri, experiment="batched")
        batched = time.perf_counter() - start
        n_batched = 4 * args.results
        from mlflow.entities import Metric

        exp = client.create_experiment("metrics-only")
        run = client.create_run(exp).info.run_id
        now = int(time.time() * 1000)
        metrics = [Metric(f"bench.py/test_many/m{i}", i / n_batched, now, 0)
                   for i in range(n_batched)]
        start = time.perf_counter()
        for ms, _, _ in mlflow_export.batches(len(metrics), 0, 0):
            client.log_batch(run, metrics=metrics[ms])
        metrics_only = time.perf_counter() - start
        run = client.create_run(exp).info.run_id
        start = time.perf_counter()
        for i in range(args.single):
            client.log_metric(run, f"bench.py/test_many/m{i}", i / args.single)
        single = time.perf_counter() - start
    per_b, per_s = metrics_only / n_batched, single / args.single
    print(f"export: {n_batched} metrics, {args.results} signature tags, params and artifacts "
          f"in {batched:.2f} s ({done.batches} log_batch calls)")
    print(f"batched metrics alone: {n_batched} in {metrics_only:.2f} s: "
          f"{per_b * 1e3:.3f} ms/metric")
    print(f"one call per metric: {args.single} metrics in {single:.2f} s: "
          f"{per_s * 1e3:.3f} ms/metric (10,000 would take ~{per_s * 1e4:.0f} s)")
    ratio = per_s / per_b
    print(f"ratio: one-by-one costs {ratio:.0f}x batched per metric (goal >= 20x) "
          f"[{'OK' if ratio >= 20 else 'MISSED'}]; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
