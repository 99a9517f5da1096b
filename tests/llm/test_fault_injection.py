"""Issue 11 item 6: the judged suite 20 times at 25% injected faults loses no item, and a
re-run is fully cached. Real openai client, shipped fake server, short backoffs configured."""

from __future__ import annotations

import json

import numpy  # noqa: F401  - imported before pytester's in-process runs
import pytest

import llaso_pytest.metrics.base  # noqa: F401
from llaso_pytest.llm.fake_server import FakeOpenAIServer, Fault
from llaso_pytest.llm.prompts import default_prompt_dir

# Imported once here, not in each of the 21 in-process runs (pytester restores sys.modules after
# every run, and re-importing means re-rewriting the plugin's modules: most of the time).
for _name in (
    "openai",
    "llaso_pytest.llm.judge",
    "llaso_pytest.llm._metric",
    "llaso_pytest.llm.usage",
    "llaso_pytest.llm.prompts",
    "llaso_pytest.compare",
    "llaso_pytest.report",
    "llaso_pytest.metrics",
):
    __import__(_name)

PROMPTS = default_prompt_dir()

SUITE = """
import pytest

ITEMS = {f"q{i}": {"question": f"What is {i}?", "answer": f"{i}" if i % 3 else "no idea",
                   "reference": f"{i}"} for i in range(12)}


@pytest.mark.parametrize("kind", ["rubric", "binary"])
def test_judged(judge, record_metric, llaso_seed, kind):
    if kind == "rubric":
        result = judge.rubric(ITEMS, prompt=RUBRIC, name="helpfulness")
    else:
        result = judge.binary(ITEMS, prompt=BINARY, name="correct")
    record_metric(result.to_metric_result(seed=llaso_seed, n_boot=200))
    assert result.n_errors == 0, [v.error for v in result.errors]
""".replace("RUBRIC", repr(str(PROMPTS / "judge_helpfulness.toml"))).replace(
    "BINARY", repr(str(PROMPTS / "judge_correctness.toml"))
)

RUNS = 20
RATE = 1 - 0.75 ** (1 / 3)  # three independent fault rules: 25% of attempts get one of them


def test_twenty_runs_at_25_percent_faults_lose_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_fault_suite=SUITE)
    faults = [
        Fault("rate_limit", rate=RATE, retry_after=0.01),
        Fault("server_error", rate=RATE),
        Fault("reset", rate=RATE),
    ]
    attempts = faulted = 0
    with FakeOpenAIServer(faults=faults) as server:
        monkeypatch.setenv("LLASO_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_JUDGE_MODEL", "fake-judge")
        monkeypatch.setenv("LLASO_JUDGE_BACKOFF_BASE", "0.002")
        monkeypatch.setenv("LLASO_JUDGE_BACKOFF_MAX", "0.01")
        for run in range(RUNS):
            server.seed = run  # other faults on every run
            server.reset()
            result = pytester.runpytest("-p", "no:cacheprovider", "--llaso-judge-refresh", "-q")
            result.assert_outcomes(passed=2)
            record = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
            judged = [r["extra"]["judge"] for t in record["tests"] for r in t["results"]]
            assert [(j["n_items"], j["n_ok"]) for j in judged] == [(12, 12), (12, 12)], run
            log = server.log
            attempts += len(log)
            faulted += sum(e.fault is not None for e in log)
        assert 0.18 < faulted / attempts < 0.32, (faulted, attempts)  # the faults were real
        server.reset()
        rerun = pytester.runpytest("-p", "no:cacheprovider", "-q")
        rerun.assert_outcomes(passed=2)
        assert server.request_count == 0  # fully cached
    rerun.stdout.fnmatch_lines(["judge: 0 API calls (0 retries), cache 24 hits / 0 misses*"])
