"""Plugin wiring: options, markers, gpu skips, record_metric, run records."""

from __future__ import annotations

import json
import stat

import pytest

pytest_plugins = ["pytester"]


def test_help_shows_llaso_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*llaso-pytest: reproducible LLM and speech evaluation*", "*--llaso-out=PATH*",
         "*--llaso-seed=N*", "*--llaso-deterministic*", "*llaso_seed*"]
    )


def test_markers_registered_and_select(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.asr
        @pytest.mark.noisy
        def test_noisy(): pass
        @pytest.mark.asr
        @pytest.mark.clean
        def test_clean(): pass
        @pytest.mark.llm
        @pytest.mark.judge
        @pytest.mark.speech
        @pytest.mark.slow
        def test_other(): pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-m", "noisy")
    result.assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest("--markers")
    for name in ("llm", "speech", "asr", "noisy", "clean", "judge", "gpu", "slow"):
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}:*"])


def test_gpu_marker_skips_without_cuda(pytester: pytest.Pytester, monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.gpu
        def test_on_gpu(): pass
        def test_cpu(): pass
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*gpu: no CUDA device is visible*"])


def test_gpu_marker_runs_when_cuda_visible(pytester: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # The decision is the plugin's; the device probe is replaced to stand in for a GPU
    # (with monkeypatch, so the in-process run does not leave it replaced for later tests).
    import llaso_pytest.device

    monkeypatch.setattr(llaso_pytest.device, "cuda_available", lambda: True)
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.gpu
        def test_on_gpu(): pass
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_record_contents(pytester: pytest.Pytester, latest) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.asr
        @pytest.mark.clean
        def test_plain(record_metric, record_provenance):
            record_provenance("datasets", {"tiny": "sha256:abc"})
            record_metric("accuracy", 0.75, items={"a": 1.0, "b": 0.0, "c": 1.0, "d": 1.0},
                          higher_is_better=True)
            record_metric("latency_ms", 12.5, higher_is_better=False)

        def test_fails():
            assert False

        @pytest.mark.skip(reason="not today")
        def test_skipped(): pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*llaso results*", "*test_plain*accuracy*0.75*",
                                 "llaso: run record (complete) written to *.json"])
    rec = latest()
    assert rec["schema_version"] == 1 and rec["kind"] == "llaso-run-record"
    assert rec["complete"] is True and rec["exit_status"] == 1
    assert rec["summary"] == {"failed": 1, "passed": 1, "skipped": 1}
    tests = {t["nodeid"].split("::")[1]: t for t in rec["tests"]}
    plain = tests["test_plain"]
    assert plain["markers"] == ["asr", "clean"]
    assert plain["outcome"] == "passed" and plain["duration"] >= 0
    acc, lat = plain["results"]
    assert acc["name"] == "accuracy" and acc["value"] == 0.75 and acc["higher_is_better"] is True
    assert acc["items"]["ids"] == ["a", "b", "c", "d"]
    assert acc["n"] == 4
    assert lat["name"] == "latency_ms" and lat["higher_is_better"] is False
    assert (
        tests["test_fails"]["outcome"] == "failed"
        and "assert False" in tests["test_fails"]["longrepr"]
    )
    assert tests["test_skipped"]["outcome"] == "skipped"
    prov = rec["provenance"]
    assert prov["datasets"] == {"tiny": "sha256:abc"}
    for key in ("git", "command", "python", "platform", "cpu", "packages", "seed", "deterministic"):
        assert key in prov, key
    assert prov["packages"]["pytest"] == pytest.__version__
    assert prov["packages"]["numpy"]
    assert rec["started_at"] <= rec["finished_at"]
    # the named run file and latest.json are the same document, readable by other users
    runs = pytester.path / ".llaso" / "runs"
    named = [p for p in runs.glob("*.json") if p.name != "latest.json"]
    assert len(named) == 1 and json.loads(named[0].read_text()) == rec
    assert stat.S_IMODE(named[0].stat().st_mode) & 0o044
    assert (pytester.path / ".llaso" / "README.md").exists()
    assert (pytester.path / ".llaso" / ".gitignore").read_text().strip().endswith("*")


def test_llaso_out_option_and_git_provenance(pytester: pytest.Pytester) -> None:
    pytester.run("git", "init", "-q")
    pytester.run("git", "-c", "user.email=a@b", "-c", "user.name=n", "commit", "-q",
                 "--allow-empty", "-m", "init")
    pytester.makepyfile(
        "def test_ok(record_metric): record_metric('x', 1.0, higher_is_better=True)"
    )
    out = pytester.path / "out" / "my-run.json"
    pytester.runpytest(f"--llaso-out={out}").assert_outcomes(passed=1)
    rec = json.loads(out.read_text())
    git = rec["provenance"]["git"]
    assert git["available"] is True and len(git["commit"]) == 40 and git["dirty"] is False
    assert json.loads((pytester.path / ".llaso/runs/latest.json").read_text()) == rec


def test_duplicate_result_name_is_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_dup(record_metric):
            record_metric("x", 1.0, higher_is_better=True)
            record_metric("x", 2.0, higher_is_better=True)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*a result named 'x' was already recorded*name=*"])


@pytest.mark.parametrize("bad", ["float('nan')", "float('inf')", "'high'"])
def test_non_finite_value_is_an_error(pytester: pytest.Pytester, bad: str) -> None:
    pytester.makepyfile(
        f"""
        class R:
            def to_record(self):
                return {{"name": "wer", "value": {bad}}}
        def test_bad(record_metric):
            record_metric(R())
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*value of 'wer' is *a metric value must be a finite number*"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--llaso-seed=abc"], "*--llaso-seed*non-negative integer*'abc'*"),
        (["--llaso-seed=-3"], "*--llaso-seed*integer in*-3*"),
        (["--llaso-out=afile.txt/run.json"], "*--llaso-out*afile.txt*cannot write*"),
        (["--llaso-out=adir"], "*--llaso-out*adir*is a directory*"),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makefile(".txt", afile="x")
    pytester.mkdir("adir")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_ini_seed_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllaso_seed = twelve\n")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini key llaso_seed*'twelve'*"])


def test_secrets_never_enter_record_or_report(
    pytester: pytest.Pytester, monkeypatch, latest
) -> None:
    secret_env = {
        "OPENAI_API_KEY": "sk-live-0123456789abcdefXYZ",
        "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx",
        "MY_SERVICE_SECRET": "s3cr3t-value-42",
        "DB_PASSWORD": "hunter2hunter2",
    }
    for k, v in secret_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--service-api-key")
        def pytest_llaso_update_provenance(config, provenance):
            provenance["endpoint"] = {"base_url": "http://x", "api_key": "config-key-123456"}
        """
    )
    pytester.makepyfile(
        """
        import os
        def test_leaky(record_metric, record_provenance):
            record_provenance("judge", {"model": "m", "api_key": os.environ["OPENAI_API_KEY"],
                                        "note": "uses " + os.environ["HF_TOKEN"]})
            record_metric("x", 1.0, higher_is_better=True)
        """
    )
    result = pytester.runpytest("--llaso-seed=7", "--service-api-key", "sk-cli-0123456789abcdef")
    output = result.stdout.str() + result.stderr.str()
    text = (pytester.path / ".llaso" / "runs" / "latest.json").read_text()
    for value in [*secret_env.values(), "config-key-123456", "sk-cli-0123456789abcdef"]:
        assert value not in text
        assert value not in output
    rec = json.loads(text)
    assert rec["provenance"]["judge"]["api_key"] == "[REDACTED]"
    assert rec["provenance"]["endpoint"] == {"base_url": "http://x", "api_key": "[REDACTED]"}
    assert rec["provenance"]["environment"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_plugin_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, llaso_pytest.plugin, llaso_pytest.speech.pytest_plugin,"
        " llaso_pytest.llm.pytest_plugin;"
        "heavy = ['torch', 'scipy', 'openai', 'rouge_score', 'evaluate', 'jiwer', 'sacrebleu',"
        " 'numpy', 'faster_whisper', 'ctranslate2', 'pocketsphinx'];"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_plain_value_needs_a_direction(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(record_metric): record_metric('x', 1.0)")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*say higher_is_better=True or False*"])


def test_record_metric_result_object(pytester: pytest.Pytester, latest) -> None:
    pytester.makepyfile(
        """
        from llaso_pytest import metrics
        def test_wer(record_metric):
            refs = ["the cat sat", "on the mat", "a dog barked loudly"] * 10
            hyps = ["the cat sat", "on a mat", "a dog barked"] * 10
            result = metrics.wer(refs, hyps, ids=[f"u{i}" for i in range(30)])
            recorded = record_metric(result)
            assert recorded["name"] == "wer"
            record_metric(result, name="wer/again")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    (test,) = latest()["tests"]
    first, second = test["results"]
    assert second["name"] == "wer/again"
    # 2 errors over 10 reference words, whatever the bootstrap says
    assert first["value"] == pytest.approx(0.2)
    assert first["higher_is_better"] is False
    assert first["items"]["ids"] == [f"u{i}" for i in range(30)]
    assert first["n"] == 30
    assert first["signature"]["text"].startswith("wer")
    assert first["ci"] is not None and first["ci"][0] <= 0.2 <= first["ci"][1]
