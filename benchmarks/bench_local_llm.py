"""The pinned local LLM: load times, harness overhead of the live path, judge throughput.

Prints, measured in this run:
  1. the first load (GGUF dequantised and the copy cached; a fresh cache folder) and a
     second load from the cached copy, both as server start-up times;
  2. harness overhead of live generation: N QA items through the served endpoint
     (LLMClient -> HTTP -> server -> model); the reference is the time the model itself
     spent generating them, which the server logs per request in the same run (so the load
     of a shared machine hits both alike); the share of the wall time that is not
     generation (target < 5%);
  3. judge throughput against the local endpoint (items/s, binary judge, structured output)
     and the same share.

Run: python benchmarks/bench_local_llm.py [--n 8] [--skip-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from llaso_pytest.llm.client import ChatRequest, LLMClient
from llaso_pytest.llm.judge import Judge
from llaso_pytest.llm.local_server import LocalLLMServer, endpoint_for
from llaso_pytest.llm.predictions import load_dataset
from llaso_pytest.llm.prompts import default_prompt_dir, load_prompt

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "fixtures" / "models" / "llm" / "smollm2-135m-instruct.json"
PROMPTS = str(default_prompt_dir())


def _requests(n: int) -> list[ChatRequest]:
    t = load_prompt("qa", prompt_dir=PROMPTS)
    rows = load_dataset(ROOT / "fixtures" / "llm" / "qa").rows[:n]
    return [ChatRequest(str(r["id"]), tuple(t.render({"context": r["context"],
                                                      "question": r["question"]})),
                        {"temperature": 0.0, "seed": 1234, "max_tokens": 64}) for r in rows]


def _judge_items(n: int) -> dict[str, dict[str, str]]:
    rows = load_dataset(ROOT / "fixtures" / "llm" / "qa").rows[:n]
    return {str(r["id"]): {"question": r["question"], "answer": r["answers"][0],
                           "reference": r["answers"][0]} for r in rows}


def _generations(log: Path) -> list[dict[str, Any]]:
    """The server's per-generation log lines (seconds spent in the model, tokens)."""
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith('{"event": "generation"'):
            out.append(json.loads(line))
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--skip-cold", action="store_true", help="skip the first-load measurement")
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.skip_cold:
        with tempfile.TemporaryDirectory() as cache:
            with LocalLLMServer(MANIFEST, device="cpu", cache_dir=Path(cache)) as cold:
                print(f"1. first load (convert + cache): server ready in "
                      f"{cold.start_seconds:.1f} s (conversion "
                      f"{cold.info['describe']['convert_seconds']:.1f} s)")
            with LocalLLMServer(MANIFEST, device="cpu", cache_dir=Path(cache)) as warm:
                print(f"   cached load: server ready in {warm.start_seconds:.1f} s "
                      f"(model load {warm.info['describe']['load_seconds']:.1f} s)")
    reqs = _requests(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with LocalLLMServer(MANIFEST, device="cpu", log_path=log) as server:
            client = LLMClient(endpoint_for(server), cache=None)
            client.complete(reqs[:1])  # warm-up (the first call pays lazy initialisation)
            mark = len(_generations(log))
            t0 = time.perf_counter()
            served = client.complete(reqs)
            wall = time.perf_counter() - t0
            gens = _generations(log)[mark:]
            gen_s = sum(g["seconds"] for g in gens)
            tokens = sum(g["completion_tokens"] for g in gens)
            print(f"2. {len(served)} QA items through LLMClient -> HTTP -> server: wall "
                  f"{wall:.2f} s, generation {gen_s:.2f} s ({tokens / gen_s:.1f} tok/s); not "
                  f"generation: {(wall - gen_s) / wall:.1%} of the wall time (target < 5%)")
            judge = Judge(LLMClient(endpoint_for(server, "judge"), cache=None), seed=0,
                          max_tokens=96, prompt_dir=PROMPTS)
            items = _judge_items(args.n)
            mark = len(_generations(log))
            t0 = time.perf_counter()
            result = judge.binary(items, prompt="judge_correctness")
            wall = time.perf_counter() - t0
            gen_s = sum(g["seconds"] for g in _generations(log)[mark:])
            print(f"3. judge (binary, structured output): {len(items) / wall:.2f} items/s "
                  f"against the local endpoint ({result.n_errors} errors); not generation: "
                  f"{(wall - gen_s) / wall:.1%} of the wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
