"""Benchmark: one test per case at scale - joining 100k one-item cases into a corpus.

Goal (issue 13): aggregating 100k one-item cases costs under 10% of the suite's own time.
The suite's own time is measured in the same run as the least a per-case suite does for each
case: one ``metrics.exact_match`` call on its item and its payload (what ``record_case``
makes), without pytest's own overhead per test (so the ratio is pessimistic). The
aggregation is what ``record_case`` adds on the controller: taking the case payloads from 100k
test reports (``RunCollector.add_report``, measured against the same reports without them)
and joining them (statistics, bootstrap, signature). Also prints the run record's size and
write time, with and without the cases.

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

    def collect(collector: RunCollector, cases: bool) -> float:
        start = time.perf_counter()
        for i, payload in enumerate(payloads):
            nodeid = f"test_x.py::test_q[q{i:06d}]"
            props: list[tuple[str, Any]] = [(KEY_MARKERS, [])]
            if cases:
                props.append((KEY_CORPUS, "test_x.py::test_q"))
            for when in ("setup", "call", "teardown"):
                if when == "call" and cases:
                    props.append((KEY_CASE, payload))
                collector.add_report(SimpleNamespace(
                    nodeid=nodeid, when=when, duration=0.0, passed=True, failed=False,
                    skipped=False, user_properties=props, longreprtext=""))
        return time.perf_counter() - start

    def collector(tmp: str, name: str) -> RunCollector:
        return RunCollector(out_path=Path(tmp) / name, latest_path=None,
                            provenance={"seed": 1234}, run_id="bench",
                            started_at="2026-01-01T00:00:00.000+00:00",
                            clock=lambda: 0.0)  # no partial writes: the final one is timed

    with tempfile.TemporaryDirectory() as tmp:
        # the same tests without record_case: what the collector costs anyway
        plain = collector(tmp, "plain.json")
        collect_plain = collect(plain, cases=False)
        start = time.perf_counter()
        plain.finish(complete=True, exit_status=0)
        write_plain = time.perf_counter() - start
        size_plain = os.path.getsize(Path(tmp) / "plain.json") / 1e6
        del plain
        with_cases = collector(tmp, "run.json")
        collect_cases = collect(with_cases, cases=True)
        start = time.perf_counter()
        (corpus, errors), = with_cases.corpora()
        join = time.perf_counter() - start
        assert not errors and corpus.results[0]["n"] == n
        start = time.perf_counter()
        with_cases.finish(complete=True, exit_status=0)
        write = time.perf_counter() - start
        size = os.path.getsize(Path(tmp) / "run.json") / 1e6
    value = corpus.results[0]["value"]
    added = max(0.0, collect_cases - collect_plain) + join
    print(f"{n} one-item cases; corpus exact_match {value:.4f} ci {corpus.results[0]['ci']}")
    print(f"suite's own per-case work (metric call + payload, no pytest overhead): {suite:.2f} s")
    print(f"collecting the {n} test reports: {collect_plain:.2f} s without record_case, "
          f"{collect_cases:.2f} s with it; joining the corpus {join:.2f} s")
    print(f"run record: {size:.1f} MB written in {write:.2f} s (the same tests without "
          f"record_case: {size_plain:.1f} MB in {write_plain:.2f} s)")
    ratio = added / suite
    print(f"aggregation (collecting the cases + joining) / suite = {ratio:.3f} "
          f"(goal < {GOAL}: {'OK' if ratio < GOAL else 'OVER'}); with the whole record write: "
          f"{(added + write) / suite:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
