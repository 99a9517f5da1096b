"""Benchmark: one test per case at scale - joining 100k one-item cases into a corpus.

Goal (issue 13): aggregating 100k one-item cases costs under 10% of the suite's own time.
The suite's own time is measured in the same run as the least a per-case suite does for each
case: one ``metrics.exact_match`` call on its item and its payload (what ``record_case``
makes), without pytest's own overhead per test (so the ratio is pessimistic). The
aggregation is what the controller adds: taking 100k case reports (``RunCollector.add_report``),
joining them (statistics, bootstrap, signature) and writing the run record. Also prints the
record's size and its write time.

    python benchmarks/bench_cases.py [--cases 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

GOAL = 0.10


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    args = parser.parse_args()
    import warnings

    from llaso_pytest import metrics
    from llaso_pytest.corpus import case_payload
    from llaso_pytest.session import KEY_CASE, KEY_CORPUS, KEY_MARKERS, RunCollector

    warnings.filterwarnings("ignore", message=r".*only 1 items")
    n = args.cases
    start = time.perf_counter()
    payloads = []
    for i in range(n):
        cid = f"q{i:06d}"
        r = metrics.exact_match([[f"answer {i % 7}"]], [f"answer {i % 5}"], ids=[cid])
        payloads.append(case_payload(r.to_record(), case_id=cid, corpus="test_x.py::test_q"))
    suite = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        collector = RunCollector(out_path=out, latest_path=None, provenance={"seed": 1234},
                                 run_id="bench", started_at="2026-01-01T00:00:00.000+00:00",
                                 clock=lambda: 0.0)  # no partial writes: the final one is timed
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            nodeid = f"test_x.py::test_q[q{i:06d}]"
            props: list[tuple[str, Any]] = [(KEY_MARKERS, []), (KEY_CORPUS, "test_x.py::test_q")]
            for when in ("setup", "call", "teardown"):
                if when == "call":
                    props.append((KEY_CASE, payload))
                collector.add_report(SimpleNamespace(
                    nodeid=nodeid, when=when, duration=0.0, passed=True, failed=False,
                    skipped=False, user_properties=props, longreprtext=""))
        collect = time.perf_counter() - start
        start = time.perf_counter()
        (corpus, errors), = collector.corpora()
        join = time.perf_counter() - start
        assert not errors and corpus.results[0]["n"] == n
        start = time.perf_counter()
        collector.finish(complete=True, exit_status=0)
        write = time.perf_counter() - start
        size = os.path.getsize(out) / 1e6
    value = corpus.results[0]["value"]
    total = collect + join + write
    print(f"{n} one-item cases; corpus exact_match {value:.4f} ci {corpus.results[0]['ci']}")
    print(f"suite's own per-case work (metric call + payload): {suite:.2f} s")
    print(f"aggregation: collecting reports {collect:.2f} s, joining {join:.2f} s, writing the "
          f"record {write:.2f} s ({size:.1f} MB)")
    ratio = total / suite
    print(f"aggregation / suite = {ratio:.3f} (goal < {GOAL}: {'OK' if ratio < GOAL else 'OVER'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
