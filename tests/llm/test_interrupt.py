"""Issue 11 item 7: Ctrl-C during judge calls stops calling at once, the interrupted record holds
the usage of every call made, and the replies already received stay cached.

A real subprocess pytest run (isolation is the point: a real SIGINT), the real openai client,
the shipped fake server with latency.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from llaso_pytest.llm.fake_server import FakeOpenAIServer
from llaso_pytest.llm.prompts import default_prompt_dir

PROMPT = str(
    default_prompt_dir() / "judge_helpfulness.toml"
)

SUITE = f"""
ITEMS = {{f"q{{i}}": {{"question": f"What is {{i}}?", "answer": f"{{i}}", "reference": f"{{i}}"}}
         for i in range(36)}}


def test_done(record_metric):
    record_metric("warmup", 1.0, higher_is_better=True)


def test_judged(judge, record_metric, llaso_seed):
    result = judge.rubric(ITEMS, prompt={PROMPT!r}, name="helpfulness")
    record_metric(result.to_metric_result(seed=llaso_seed))
"""


def test_sigint_stops_calls_keeps_usage_and_cached_replies(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_interrupted=SUITE)
    cache = pytester.path / "llm.sqlite3"
    with FakeOpenAIServer(latency=0.4) as server:
        env = {
            **os.environ,
            "LLASO_JUDGE_BASE_URL": server.base_url,
            "LLASO_JUDGE_MODEL": "fake-judge",
            "LLASO_JUDGE_CONCURRENCY": "3",
            "LLASO_JUDGE_TIMEOUT": "30",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"--llaso-llm-cache={cache}",
                "test_interrupted.py",
            ],
            cwd=pytester.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while sum(e.status == 200 for e in server.log) < 6:  # some replies received, more queued
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        exited = time.monotonic() - sent
        time.sleep(0.5)  # anything still in flight reaches the log
        log = server.log
    text = out.decode(errors="replace")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    late = [e for e in log if e.started > sent + 0.05]
    assert late == [], f"{len(late)} calls started after SIGINT"  # no new request starts
    assert len(log) < 36  # the queue was not drained
    # draining the 30 queued calls would take >= 4 s of server time alone; the bound leaves room
    # for the session's own finish (record, summary) on a loaded 2-core CI machine
    assert exited < 15.0, exited
    record = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    assert record["complete"] is False
    usage = record["usage"]["llm"]["judge"]
    assert usage["api_calls"] == len(log), (usage, len(log))  # every call made is counted
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in record["tests"]}
    assert outcomes["test_done"] == "passed"  # the results already complete are kept
    done_before = sum(e.status == 200 and e.finished <= sent for e in log)
    with sqlite3.connect(cache) as db:
        cached = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert cached >= done_before >= 6  # the replies received stay cached
