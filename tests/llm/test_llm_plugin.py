"""The LLM sub-plugin in-process with pytester: fixtures, cache across runs, xdist, options,
secrets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy  # noqa: F401  - imported before pytester's in-process runs (numpy cannot be loaded twice)
import pytest

import llaso_pytest.metrics.base  # noqa: F401
from llaso_pytest.llm.fake_server import FakeOpenAIServer
from llaso_pytest.llm.prompts import default_prompt_dir

JUDGED_TEST = """
import pytest

ITEMS = {
    f"q{i}": {"question": f"What is {i}?", "answer": f"{i}" if i % 3 else "no idea",
              "reference": f"{i}"}
    for i in range(N)
}

@pytest.mark.llm
@pytest.mark.judge
@pytest.mark.parametrize("part", range(PARTS))
def test_judged(judge, record_metric, llaso_seed, part):
    items = {k: v for j, (k, v) in enumerate(ITEMS.items()) if j % PARTS == part}
    result = judge.rubric(items, prompt=PROMPT, name="helpfulness")
    record_metric(result.to_metric_result(seed=llaso_seed))
    assert result.n_errors == 0
"""


def _write(pytester: pytest.Pytester, *, n: int = 12, parts: int = 4) -> None:
    prompt = str(
        default_prompt_dir() / "judge_helpfulness.toml"
    )
    pytester.makepyfile(
        test_pytester_judged=JUDGED_TEST.replace("N)", f"{n})")
        .replace("PARTS", str(parts))
        .replace("PROMPT", repr(prompt))
    )


def _record(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())


def _recorded(record: dict) -> dict:
    """Provenance added through record_provenance."""
    return record["provenance"]


def test_judge_fixture_uses_the_fake_server_and_the_cache_on_rerun(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("LLASO_JUDGE_BASE_URL", "LLASO_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    _write(pytester)
    first = pytester.runpytest("-p", "no:cacheprovider")
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(
        [
            "*llaso llm usage*",
            "judge: 12 API calls (0 retries), cache 0 hits / 12 misses*",
            "judge endpoint: fake-judge at http://127.0.0.1:*/v1 (fake server*",
        ]
    )
    record = _record(pytester)
    judge_prov = _recorded(record)["llm_judge"]
    assert judge_prov["model"] == "fake-judge" and judge_prov["source"].startswith("fake server")
    second = pytester.runpytest("-p", "no:cacheprovider")
    second.assert_outcomes(passed=4)
    second.stdout.fnmatch_lines(["judge: 0 API calls (0 retries), cache 12 hits / 0 misses*"])
    assert record["usage"]["llm"]["judge"]["cache_misses"] == 12
    usage = _record(pytester)["usage"]["llm"]["judge"]
    assert (usage["api_calls"], usage["cache_hits"], usage["cost_usd"]) == (0, 12, None)
    r1 = [t["results"][0] for t in record["tests"]]
    r2 = [t["results"][0] for t in _record(pytester)["tests"]]
    assert [r["value"] for r in r1] == [r["value"] for r in r2]
    assert [r["signature"] for r in r1] == [
        r["signature"] for r in r2
    ]  # the fake server's port is not in it
    refresh = pytester.runpytest("-p", "no:cacheprovider", "--llaso-judge-refresh")
    refresh.stdout.fnmatch_lines(["judge: 12 API calls (0 retries), cache 0 hits / 12 misses*"])


def test_xdist_two_workers_share_the_cache_and_the_summary_adds_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    for var in ("LLASO_JUDGE_BASE_URL", "LLASO_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    _write(pytester, n=40, parts=8)
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    first.assert_outcomes(passed=8)
    first.stdout.fnmatch_lines(["judge: 40 API calls (0 retries), cache 0 hits / 40 misses*"])
    second = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    second.assert_outcomes(passed=8)
    second.stdout.fnmatch_lines(["judge: 0 API calls (0 retries), cache 40 hits / 0 misses*"])
    usage = _record(pytester)["usage"]["llm"]["judge"]
    assert (usage["api_calls"], usage["cache_hits"], usage["items_ok"]) == (0, 40, 40)


def test_a_configured_judge_keeps_its_key_out_of_record_and_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-llaso-test-SECRET-4242"
    with FakeOpenAIServer(api_key=secret) as server:
        monkeypatch.setenv("LLASO_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_JUDGE_MODEL", "real-judge")
        monkeypatch.setenv("LLASO_JUDGE_API_KEY", secret)
        _write(pytester, n=4, parts=1)
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert server.request_count == 4  # the key reached the server ...
    text = (pytester.path / ".llaso" / "runs" / "latest.json").read_text()
    assert secret not in text and secret not in result.stdout.str()  # ... and nowhere else
    for f in (pytester.path / ".llaso").rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    prov = _recorded(json.loads(text))["llm_judge"]
    assert prov["model"] == "real-judge" and prov["base_url"] == "http://127.0.0.1:*/v1"


def test_a_wrong_key_fails_the_items_clearly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(api_key="right") as server:
        monkeypatch.setenv("LLASO_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_JUDGE_MODEL", "real-judge")
        monkeypatch.setenv("LLASO_JUDGE_API_KEY", "wrong")
        _write(pytester, n=2, parts=1)
        result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*all 2 items are in an error state*HTTP 401*LLASO_JUDGE_API_KEY*"]
    )


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--llaso-judge-k", "0"], "", "*--llaso-judge-k must be >= 1, got 0*"),
        (
            [],
            "llaso_judge_timeout = soon",
            "*ini key llaso_judge_timeout must be a number, got 'soon'*",
        ),
        (
            [],
            "llaso_judge_concurrency = 0",
            "*llaso_judge_concurrency must be an integer in 1..1024*",
        ),
        (
            ["--llaso-llm-mode", "live"],
            "",
            "*--llaso-llm-mode=live needs the model under test: set LLASO_LLM_BASE_URL*",
        ),
        ([], "llaso_judge_response_format = xml", "*llaso_judge_response_format must be one of*"),
    ],
)
def test_bad_configuration_is_a_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    ini: str,
    message: str,
) -> None:
    for var in ("LLASO_LLM_BASE_URL", "LLASO_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_llm_client_skips_with_the_variables_to_set(pytester: pytest.Pytester,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LLASO_LLM_BASE_URL", "LLASO_LLM_MODEL"):
        monkeypatch.delenv(var, raising=False)
    pytester.makepyfile(test_x="def test_x(llm_client): pass")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*set LLASO_LLM_BASE_URL and LLASO_LLM_MODEL*"])


def test_live_mode_generates_with_the_model_under_test(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("LLASO_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_LLM_MODEL", "fake-llm")
        pytester.makepyfile(
            test_x="""
from llaso_pytest.llm.client import ChatRequest

def test_generate(llm_client, llaso_llm_mode):
    assert llaso_llm_mode == "live"
    message = {"role": "user", "content": "<source>hola</source>"}
    (out,) = llm_client.complete([ChatRequest(id="a", messages=(message,))])
    assert out.ok and out.content == "hola"
"""
        )
        result = pytester.runpytest("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["llm: 1 API calls*"])
    prov = _recorded(_record(pytester))["llm_model_under_test"]
    assert prov["model"] == "fake-llm"


def test_judge_errors_are_warned_recorded_and_listed_in_the_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def responder(req: dict) -> str:
        return (
            "Score: 4"
            if "What is 2?" in req["messages"][-1]["content"]
            else '{"reason": "ok", "score": 4}'
        )

    with FakeOpenAIServer(responder=responder) as server:
        monkeypatch.setenv("LLASO_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_JUDGE_MODEL", "real-judge")
        _write(pytester, n=6, parts=1)
        result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)  # the test asserts n_errors == 0
    result.stdout.fnmatch_lines(
        [
            "*LlasoWarning: judged set 'helpfulness': 1 of 6 items are in an error state "
            "(unparsable=1)*q2*",
            "*llaso judge errors*",
            "test_pytester_judged.py::test_judged[[]0[]] helpfulness: 1 of 6 judged items in an "
            "error state (unparsable=1), not scored: q2",
        ]
    )
    (test,) = _record(pytester)["tests"]
    (res,) = test["results"]
    assert res["n"] == 5 and "q2" not in res["items"]["ids"]
    assert res["extra"]["judge"]["error_items"][0]["id"] == "q2"


def test_live_generations_cut_at_max_tokens_fail_with_their_ids(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped QA suite in live mode: a truncated answer is a failed generation, not a score."""
    suite = Path(__file__).resolve().parents[2] / "suites" / "llm" / "test_qa.py"
    with FakeOpenAIServer(responder=lambda req: " ".join(["word"] * 300)) as server:
        monkeypatch.setenv("LLASO_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("LLASO_LLM_MODEL", "long-winded")
        # a subprocess: suites/llm/test_qa.py shares its basename with tests/metrics/test_qa.py
        result = pytester.runpytest_subprocess(
            str(suite), "-p", "no:cacheprovider", "--llaso-llm-cache", "none", "-k", "exact_match"
        )
    result.stdout.fnmatch_lines([
        "*20 of 20 generations failed for qa*",
        "*: cut off at max_tokens=256 (finish_reason=length)",
    ])
    assert result.ret != 0
