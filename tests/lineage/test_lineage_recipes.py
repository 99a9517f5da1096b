"""The recipes of docs/tracking.md, run as printed: MLflow from CI, a DVC eval set, uv locks."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from llaso_pytest.cli import main as llaso_main

DOC = (Path(__file__).parents[2] / "docs" / "tracking.md").read_text(encoding="utf-8")
SUITE = """
def test_accuracy(record_metric):
    record_metric("accuracy", items={f"q{i}": float(i % 4 != 0) for i in range(40)},
                  higher_is_better=True)
"""


def _blocks() -> list[tuple[str, str]]:
    """The page's fenced blocks as (language, text)."""
    out: list[tuple[str, str]] = []
    lang: str | None = None
    lines: list[str] = []
    for line in DOC.splitlines():
        if line.startswith("```") and lang is None:
            lang, lines = line[3:].strip(), []
        elif line.startswith("```"):
            out.append((str(lang), "\n".join(lines) + "\n"))
            lang = None
        elif lang is not None:
            lines.append(line)
    return out


def _block(lang: str, marker: str) -> str:
    found = [text for kind, text in _blocks() if kind == lang and marker in text]
    assert len(found) == 1, f"docs/tracking.md: one ```{lang} block with {marker!r}"
    return found[0]


_READ_BACK = """
import json, sys
from mlflow.tracking import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
exp = client.get_experiment_by_name(sys.argv[2])
runs = client.search_runs([exp.experiment_id]) if exp is not None else []
print(json.dumps([r.data.metrics for r in runs]))
"""


def _child(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """MLflow runs in child processes here: its import must not outlive an in-process run."""
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_mlflow_from_ci_recipe(pytester: pytest.Pytester,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:  # installed by make setup
        pytest.skip("mlflow is not installed (LLASO_STRICT_SKIPS fails this)")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    pytester.makeini(_block("ini", "llaso_mlflow"))
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    uri = "sqlite:///" + str(pytester.path / "mlruns" / "mlflow.db")

    def metrics() -> list[dict[str, float]]:
        out = _child("-c", _READ_BACK, uri, "nightly-evals", cwd=pytester.path)
        assert out.returncode == 0, out.stderr
        return list(json.loads(out.stdout.splitlines()[-1]))

    assert (pytester.path / "mlruns" / "mlartifacts").is_dir()  # artifacts beside the db
    argv = shlex.split(_block("console", "llaso export mlflow").strip())[1:]
    cli = ("-m", "llaso_pytest.cli", *argv)
    again = _child(*cli, cwd=pytester.path)
    assert again.returncode == 2 and "already in MLflow" in again.stderr
    assert _child(*cli, "--again", cwd=pytester.path).returncode == 0
    runs = metrics()  # the session's run, and the one `--again` added
    assert [r["test_suite.py/test_accuracy/accuracy"] for r in runs] == [0.75, 0.75]


def test_dvc_eval_set_recipe(pytester: pytest.Pytester) -> None:
    dvc = Path(sys.executable).with_name("dvc")
    if not dvc.exists():  # installed by make setup: LLASO_STRICT_SKIPS fails this
        pytest.skip("dvc is not installed")
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "eval.jsonl").write_text('{"id": "q1", "text": "hello"}\n')
    for line in _block("console", "dvc add").strip().splitlines():
        args = shlex.split(line)
        assert args[0] == "dvc"
        subprocess.run([str(dvc), *args[1:]], cwd=pytester.path, check=True,
                       capture_output=True, timeout=120,
                       env={"PATH": f"{dvc.parent}:/usr/bin:/bin", "HOME": str(pytester.path),
                            "DVC_NO_ANALYTICS": "1"})
    pytester.makepyfile(test_eval=_block("python", "record_dataset"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    entry = rec["provenance"]["datasets"]["eval"]
    assert entry["dvc"]["source"] == "data/eval.jsonl.dvc" and entry["dvc"]["matches"]
    (pytester.path / "data" / "eval.jsonl").write_text('{"id": "q1", "text": "edited"}\n')
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*eval.jsonl: the workspace copy differs from "
                              "data/eval.jsonl.dvc*dvc checkout data/eval.jsonl*"])


def test_uv_locked_environment_recipe(pytester: pytest.Pytester,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    steps = _block("console", "uv run pytest").strip().splitlines()
    pytest_args = shlex.split(steps[-1])[3:]  # `uv run pytest ARGS`: uv is not needed here
    assert pytest_args[0] == "suites"
    pytester.makeini("[pytest]\ntestpaths = suites\n")  # the project's suites are the suite
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_suite.py").write_text(SUITE)
    (pytester.path / "uv.lock").write_text('version = 1\n[[package]]\nname = "numpy"\n'
                                           'version = "2.0.0"\n')
    pytester.runpytest("-p", "no:cacheprovider", *pytest_args).assert_outcomes(passed=1)
    (pytester.path / "uv.lock").write_text('version = 1\n[[package]]\nname = "numpy"\n'
                                           'version = "2.1.0"\n')
    pytester.runpytest("-p", "no:cacheprovider", "suites").assert_outcomes(passed=1)
    argv = shlex.split(_block("console", "llaso compare").strip())[1:]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(pytester.path)
        assert llaso_main(argv) == 0
    out = capsys.readouterr().out
    assert "locks.uv.lock.sha256" in out.split("provenance differs:")[1].splitlines()[0]
    warning = _block("", "warning: the environment lock").strip()
    assert warning in out
