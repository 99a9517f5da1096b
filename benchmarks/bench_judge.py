"""Judge performance against the local fake server (a separate process, like a local endpoint).

Prints:
  1. throughput ratio  ideal / measured  for N judge calls at concurrency 16 and 64, where
     ideal = ceil(N / c) x latency (target >= 0.9);
  2. the time of a re-run of N items served entirely from the disk cache (zero API calls);
  3. harness overhead per judged item: (judge.rubric, concurrency 1, no cache) minus the bare
     openai client making the same calls, per item, at zero server latency; also with the cache.

Run: python benchmarks/bench_judge.py [--n 500] [--latency 0.2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llaso_pytest.llm.cache import ResponseCache
from llaso_pytest.llm.client import LLMClient
from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.judge import Judge
from llaso_pytest.llm.prompts import load_prompt


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "llaso_pytest.llm.fake_server", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()  # type: ignore[union-attr]
    m = re.search(r"on (\S+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line!r}")
    return proc, m.group(1)


def items(n: int, salt: str) -> dict[str, dict[str, str]]:
    return {
        f"{salt}-{i}": {
            "question": f"What is item {i}?",
            "answer": f"item {i} {salt}",
            "reference": f"item {i}",
        }
        for i in range(n)
    }


def bare_pool(url: str, c: int, n: int, prompt: object, salt: str) -> float:
    """The same N calls with the bare openai client on a c-thread pool (the client alone)."""
    from concurrent.futures import ThreadPoolExecutor

    import openai

    msgs = [prompt.render(v) for v in items(n, salt).values()]  # type: ignore[attr-defined]
    oa = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30.0)

    def one(m: object) -> None:
        oa.chat.completions.create(model="fake-judge", messages=m, temperature=0.0, seed=0)  # type: ignore[call-overload]

    with ThreadPoolExecutor(c) as ex:
        list(ex.map(one, msgs[:c]))  # open the connections
        t0 = time.perf_counter()
        list(ex.map(one, msgs))
        elapsed = time.perf_counter() - t0
    oa.close()
    return elapsed


def endpoint(url: str, concurrency: int) -> EndpointConfig:
    return EndpointConfig(
        role="judge",
        base_url=url,
        model="fake-judge",
        timeout=30.0,
        concurrency=concurrency,
        max_retries=2,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    prompt = load_prompt("judge_helpfulness")
    n = args.n

    proc, url = start_server(args.latency)
    try:
        print(
            f"judge throughput: N={n} calls, server latency {args.latency * 1000:.0f} ms "
            "(separate process)"
        )
        for c in (16, 64):
            ideal = math.ceil(n / c) * args.latency
            times, cpu = [], []
            for r in range(args.repeats):
                with LLMClient(endpoint(url, c)) as client:
                    judge = Judge(client)
                    judge.rubric(items(c, f"warm{c}-{r}"), prompt=prompt)  # open the connections
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = judge.rubric(items(n, f"c{c}-r{r}"), prompt=prompt)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                    assert res.n == n and client.stats.snapshot()["retries"] == 0
            med = statistics.median(times)
            print(
                f"  concurrency {c:>2}: ideal {ideal:.2f} s, measured median {med:.3f} s "
                f"(runs {', '.join(f'{t:.3f}' for t in times)}) -> ratio {ideal / med:.3f} "
                "(target >= 0.9); "
                f"client CPU {statistics.median(cpu) / n * 1e3:.2f} ms/call"
            )
            bare = statistics.median(
                bare_pool(url, c, n, prompt, f"bare{c}-{r}") for r in range(args.repeats)
            )
            print(
                f"      bare openai client, same thread pool, no harness: {bare:.3f} s -> "
                f"ratio {ideal / bare:.3f}; "
                f"judge / bare throughput {bare / med:.3f}"
            )

        with tempfile.TemporaryDirectory() as tmp:
            cache_path = Path(tmp) / "llm.sqlite3"
            batch = items(n, "cached")
            with LLMClient(endpoint(url, 64), cache=ResponseCache(cache_path)) as client:
                Judge(client).rubric(batch, prompt=prompt)
            times = []
            for _ in range(args.repeats):
                with LLMClient(endpoint(url, 64), cache=ResponseCache(cache_path)) as client:
                    t0 = time.perf_counter()
                    res = Judge(client).rubric(batch, prompt=prompt)
                    times.append(time.perf_counter() - t0)
                    snap = client.stats.snapshot()
                    assert snap["api_calls"] == 0 and snap["cache_hits"] == n and res.n == n
            med = statistics.median(times)
            uncached = math.ceil(n / 64) * args.latency
            print(
                f"cache-hit re-run of {n} items: median {med:.3f} s "
                f"({med / n * 1e3:.3f} ms/item, 0 API calls); "
                f"ideal uncached at c=64 {uncached:.2f} s -> {uncached / med:.0f}x faster"
            )
    finally:
        proc.terminate()
        proc.wait(10)

    proc, url = start_server(0.0)
    try:
        import openai

        m = min(n, 100)
        reps = max(5, args.repeats * 2)
        raw_t, judge_t, cached_t = [], [], []
        oa = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=30.0)
        plain = LLMClient(endpoint(url, 1))
        judge = Judge(plain)
        judge.rubric(items(2, "warm"), prompt=prompt)
        with tempfile.TemporaryDirectory() as tmp:
            cached_client = LLMClient(
                endpoint(url, 1), cache=ResponseCache(Path(tmp) / "c.sqlite3")
            )
            cached_judge = Judge(cached_client)
            for r in range(
                reps
            ):  # interleaved, so a burst of load on the shared machine hits all three
                msgs = [prompt.render(v) for v in items(m, f"raw-{r}").values()]
                t0 = time.perf_counter()
                for msg in msgs:
                    resp = oa.chat.completions.create(
                        model="fake-judge",
                        messages=msg,
                        temperature=0.0,  # type: ignore[call-overload]
                        seed=0,
                        max_tokens=512,
                        response_format=judge._params("rubric", prompt, 0)["response_format"],
                    )
                    assert resp.choices[0].message.content
                raw_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                judge.rubric(items(m, f"judge-{r}"), prompt=prompt)
                judge_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                cached_judge.rubric(items(m, f"cached-{r}"), prompt=prompt)
                cached_t.append(time.perf_counter() - t0)
            cached_client.close()
        plain.close()
        oa.close()
        d_judge = statistics.median(j - b for j, b in zip(judge_t, raw_t, strict=True)) / m
        d_cache = statistics.median(c - b for c, b in zip(cached_t, raw_t, strict=True)) / m
        raw = statistics.median(raw_t) / m
        print(
            f"harness overhead per judged item ({reps} interleaved rounds of {m} items, "
            "concurrency 1, zero latency): "
            f"bare openai client {raw * 1e3:.3f} ms/call (same request); judge adds "
            f"{d_judge * 1e3:+.3f} ms/item (median of paired differences), "
            f"{d_cache * 1e3:+.3f} ms/item with the disk cache (miss + write)"
        )
    finally:
        proc.terminate()
        proc.wait(10)
    print(
        f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs "
        "(the machine is shared: ratios fall when the CPUs are busy)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
