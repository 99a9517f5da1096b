"""The pinned local LLM: load times, harness overhead of the live path, judge throughput.

Prints, measured in this run:
  1. the first load (GGUF dequantised and the copy cached; a fresh cache folder) and a
     second load from the cached copy, both as server start-up times;
  2. harness overhead of live generation: N QA items through the served endpoint
     (LLMClient -> HTTP -> server -> model) against the same greedy generations made
     in-process with LocalModel.generate (the reference); the share of the served wall time
     that is not generation (target < 5%);
  3. judge throughput against the local endpoint (items/s, binary judge, structured output)
     and the same share against in-process constrained decoding.

Run: python benchmarks/bench_local_llm.py [--n 8] [--skip-cold]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from llaso_pytest.llm.client import ChatRequest, LLMClient
from llaso_pytest.llm.judge import Judge, response_format_for
from llaso_pytest.llm.local_model import load_local_manifest, load_model, schema_fields
from llaso_pytest.llm.local_server import LocalLLMServer, endpoint_for
from llaso_pytest.llm.predictions import load_dataset
from llaso_pytest.llm.prompts import load_prompt

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "fixtures" / "models" / "llm" / "smollm2-135m-instruct.json"
PROMPTS = str(ROOT / "fixtures" / "prompts")


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
    model = load_model(load_local_manifest(MANIFEST), device="cpu")
    with LocalLLMServer(MANIFEST, device="cpu") as server:
        client = LLMClient(endpoint_for(server), cache=None)
        client.complete(reqs[:1])  # warm-up (first call pays lazy initialisation)
        model.generate(reqs[0].messages, max_tokens=64, seed=1234)
        t0 = time.perf_counter()
        served = client.complete(reqs)
        t_served = time.perf_counter() - t0
        t0 = time.perf_counter()
        direct = [model.generate(r.messages, max_tokens=64, seed=1234) for r in reqs]
        t_direct = time.perf_counter() - t0
        same = sum(a.content == b.content for a, b in zip(served, direct, strict=True))
        tokens = sum(g.completion_tokens for g in direct)
        share = (t_served - t_direct) / t_served
        print(f"2. {args.n} QA items: served {t_served:.2f} s, in-process {t_direct:.2f} s "
              f"({tokens / t_direct:.1f} tok/s); not generation: {share:+.1%} of the served "
              f"wall time (target < 5%); identical outputs {same}/{args.n}")
        judge = Judge(LLMClient(endpoint_for(server, "judge"), cache=None), seed=0,
                      max_tokens=96, prompt_dir=PROMPTS)
        items = _judge_items(args.n)
        t0 = time.perf_counter()
        result = judge.binary(items, prompt="judge_correctness")
        t_judge = time.perf_counter() - t0
        t = load_prompt("judge_correctness", prompt_dir=PROMPTS)
        fields = schema_fields(response_format_for("binary", None, "json_schema"))
        t0 = time.perf_counter()
        for v in items.values():
            model.generate_structured(t.render(v), fields=fields, max_tokens=96, seed=0)
        t_ref = time.perf_counter() - t0
        print(f"3. judge: {len(items) / t_judge:.2f} items/s against the local endpoint "
              f"({result.n_errors} errors), {len(items) / t_ref:.2f} items/s in-process; "
              f"not generation: {(t_judge - t_ref) / t_judge:+.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
