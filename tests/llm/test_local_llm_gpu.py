"""The live suite on CUDA (bfloat16): placement and deterministic settings recorded, outputs
repeatable on the GPU, agreement with the CPU outputs measured. Skipped without a CUDA device.

Run on a GPU machine: ``pytest tests/llm/test_local_llm_gpu.py -m gpu -s`` (prints tok/s,
latency and the share of the 20 QA answers identical on CPU and GPU).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llaso_pytest.device import torch_cuda_available
from llaso_pytest.llm.client import ChatRequest, LLMClient
from llaso_pytest.llm.local_server import LocalLLMServer, endpoint_for
from llaso_pytest.llm.predictions import load_dataset
from llaso_pytest.llm.prompts import default_prompt_dir, load_prompt

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "fixtures" / "models" / "llm" / "smollm2-135m-instruct.json"

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.llm,
    pytest.mark.skipif(not torch_cuda_available(), reason="no CUDA device visible to torch"),
]


def test_live_suite_on_cuda_records_placement_and_determinism(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/llm/test_live.py", "-m", "live",
         "--llaso-local-llm-device=cuda", "--llaso-llm-cache=none", f"--llaso-out={out}",
         "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    rec = json.loads(out.read_text())
    placement = rec["provenance"]["local_llm"]["placement"]
    assert placement["device"] == "cuda" and placement["dtype"] == "bfloat16"
    precision = placement["precision"]
    assert precision["use_deterministic_algorithms"] is True
    assert precision["cuda_matmul_allow_tf32"] is False and precision["cudnn_allow_tf32"] is False
    assert precision["cudnn_benchmark"] is False and precision["cublas_workspace_config"]
    timing = {r["name"]: r for t in rec["tests"] for r in t["results"]
              if "generation" in t["nodeid"]}
    assert timing["tokens_per_s"]["signature"]["fields"]["device"] == "cuda"
    print(f"\nGPU {placement['device_name']}: {timing['tokens_per_s']['value']:.1f} tok/s, "
          f"latency p50 {timing['latency_s_p50']['value']:.3f} s, "
          f"p95 {timing['latency_s_p95']['value']:.3f} s, "
          f"TTFT p50 {timing['ttft_s_p50']['value']:.3f} s")
    assert proc.returncode == 0, proc.stdout[-3000:]


def _answers(server: LocalLLMServer) -> list[str]:
    t = load_prompt("qa", prompt_dir=str(default_prompt_dir()))
    reqs = [ChatRequest(str(r["id"]), tuple(t.render({"context": r["context"],
                                                      "question": r["question"]})),
                        {"temperature": 0.0, "seed": 1234, "max_tokens": 64})
            for r in load_dataset(ROOT / "fixtures" / "llm" / "qa").rows]
    with LLMClient(endpoint_for(server), cache=None) as client:
        outs = client.complete(reqs)
    assert all(o.ok for o in outs), [o.error for o in outs if not o.ok]
    return [str(o.content) for o in outs]


def test_cuda_outputs_repeat_and_agreement_with_cpu_is_measured() -> None:
    with LocalLLMServer(MANIFEST, device="cuda") as gpu:
        first, second = _answers(gpu), _answers(gpu)
    with LocalLLMServer(MANIFEST, device="cpu") as cpu:
        on_cpu = _answers(cpu)
    assert first == second  # deterministic on the GPU
    same = sum(a == b for a, b in zip(first, on_cpu, strict=True))
    print(f"\nCPU float32 vs GPU bfloat16: {same} of {len(first)} QA answers identical")
