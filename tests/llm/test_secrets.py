"""Issue 11 items 1-2: no secret reaches any file a run writes or anything it prints.

A real pytester run of a judged suite against the shipped fake server with the real openai
client, 14 kinds of planted secret, two runs (the second with every key rotated), a saved
baseline, JUnit XML, every report format of ``llaso compare``; then every byte written is
searched. Rotating the keys must also leave every judged metric comparable.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy  # noqa: F401  - imported before pytester's in-process runs
import pytest

import llaso_pytest.metrics.base  # noqa: F401
from llaso_pytest.cli import main as llaso_main
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault
from llaso_pytest.llm.prompts import default_prompt_dir

PROMPT = str(
    default_prompt_dir() / "judge_helpfulness.toml"
)

SUITE = """
import os
from llaso_pytest.llm.judge import Judge

HEADERS = {"Ocp-Apim-Subscription-Key": os.environ["T_OCP"], "X-Auth-Key": os.environ["T_XAUTH"],
           "Cookie": "session=" + os.environ["T_COOKIE"], "X-Functions-Key": os.environ["T_FUNC"],
           "api-key": os.environ["T_APIKEY"], "Authorization": "Bearer " + os.environ["T_AUTHZ"]}
EXTRA = {"extra_headers": HEADERS, "extra_query": {"key": os.environ["T_QUERY"]}}
ITEMS = {f"q{i}": {"question": f"What is {i}?", "answer": f"{i}", "reference": f"{i}"}
         for i in range(6)}


def _judge(judge, seed):
    return Judge(judge.client, seed=seed, extra_params=EXTRA)


def test_judged_with_secret_headers(judge, record_metric, llaso_seed):
    items = dict(ITEMS)
    # prompt variables holding a secret env value and a key-shaped string
    items["q6"] = {"question": "token " + os.environ["MY_SERVICE_TOKEN"],
                   "answer": os.environ["T_SKKEY"],
                   "reference": "x"}
    result = _judge(judge, llaso_seed).rubric(items, prompt=PROMPT, name="helpfulness")
    record_metric(result.to_metric_result(seed=llaso_seed))
    assert result.n_errors == 0


def test_echoed_error_body(judge, record_metric, llaso_seed):
    items = {"ok": ITEMS["q1"], "bad": {"question": "ECHO-ME", "answer": "1", "reference": "1"}}
    result = _judge(judge, llaso_seed).rubric(items, prompt=PROMPT, name="echoed")
    record_metric(result.to_metric_result(seed=llaso_seed))
    assert result.n_errors == 1


def test_assertion_text_and_output():
    print("debug: db password", os.environ["DB_PASSWORD"])
    assert False, "unexpected key " + os.environ["LLASO_JUDGE_API_KEY"]
""".replace("PROMPT", repr(PROMPT))

# environment variables whose values are secrets: the T_* names are not secret-looking at all,
# so only "values are never stored" keeps them out (not a name pattern)
HEADER_VARS = ("T_OCP", "T_XAUTH", "T_COOKIE", "T_FUNC", "T_APIKEY", "T_AUTHZ", "T_QUERY")


def _plant(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAIServer, tag: str) -> list[str]:
    secrets = {var: f"plant{tag}{var.lower().replace('_', '')}0123456789" for var in HEADER_VARS}
    secrets |= {
        "LLASO_JUDGE_API_KEY": f"plain{tag}judgekey0123456789",
        "MY_SERVICE_TOKEN": f"plant{tag}servicetoken0123",
        "DB_PASSWORD": f"plant{tag}dbpassword0123",
        "T_SKKEY": f"sk-plant{tag}KEYSHAPED0123456789",
    }
    for k, v in secrets.items():
        monkeypatch.setenv(k, v)
    user, password = f"plant{tag}urluser01", f"plant{tag}urlpass01"
    monkeypatch.setenv(
        "LLASO_JUDGE_BASE_URL", f"http://{user}:{password}@127.0.0.1:{server.port}/v1"
    )
    monkeypatch.setenv("LLASO_JUDGE_MODEL", "real-judge")
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [*secrets.values(), user, password, basic]


def _written(root: Path) -> dict[str, bytes]:
    return {
        str(f.relative_to(root)): f.read_bytes()
        for f in root.rglob("*")
        if f.is_file() and f.suffix != ".py"
    }


def test_no_planted_secret_reaches_any_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_secret_suite=SUITE)
    outputs: dict[str, bytes] = {}
    planted: list[str] = []
    with FakeOpenAIServer(faults=[Fault("echo_auth", always=True, match="ECHO-ME")]) as server:
        for tag, extra in (("a", ["--llaso-save", "base"]), ("b", [])):  # b: every key rotated
            planted += _plant(monkeypatch, server, tag)
            run = pytester.runpytest(
                "-p", "no:cacheprovider", "-rA", f"--junitxml=junit-{tag}.xml", *extra
            )
            run.assert_outcomes(passed=2, failed=1)
            outputs[f"stdout-{tag}"] = (run.stdout.str() + run.stderr.str()).encode()
        echoes = [e for e in server.log if e.fault == "echo_auth"]
    assert echoes  # the 403 echoing the headers happened in both runs
    assert len(planted) >= 2 * 12
    reports = [pytester.path / f"report.{s}" for s in ("md", "html", "json", "txt")]
    args = [
        "compare",
        "base",
        str(pytester.path / ".llaso" / "runs" / "latest.json"),
        "--store",
        str(pytester.path / ".llaso"),
    ]
    for r in reports:
        args += ["-o", str(r)]
    assert llaso_main(args) == 0
    outputs["cli"] = (capsys.readouterr().out).encode()
    outputs |= _written(pytester.path)
    kinds = {p for p in outputs if "cache" in p or p.endswith(".sqlite3-wal")}
    assert (
        any(p.endswith(".xml") for p in outputs)
        and any("baselines" in p for p in outputs)
        and kinds
    )
    assert all(r.name in {Path(p).name for p in outputs} for r in reports)
    hits = [(name, s) for name, data in outputs.items() for s in planted if s.encode() in data]
    assert hits == []
    # the secrets were where they could leak: the failure text and the echoed error were written
    record = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    texts = json.dumps(record)
    assert "unexpected key [REDACTED]" in texts and "HTTP 403" in texts
    # rotating every key changed nothing in the diff: no metric is incomparable
    diff = json.loads((pytester.path / "report.json").read_text())
    verdicts = {m["name"]: m["verdict"] for m in diff["metrics"]}
    assert verdicts and "incomparable" not in verdicts.values(), verdicts
