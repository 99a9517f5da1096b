"""The sharded GitHub Actions example (docs/examples/llaso-eval-sharded.yml): schema-valid,
zizmor-clean, read-only, and its shard and merge steps work as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_workflows import SHA_PIN, _tool, on, steps

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "llaso-eval-sharded.yml"


def _load() -> dict[Any, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _step(job: str, name: str) -> dict[str, Any]:
    (step,) = [s for s in _load()["jobs"][job]["steps"] if s.get("name") == name]
    return step


def test_schema_validation_and_zizmor() -> None:
    proc = subprocess.run([*_tool("check-jsonschema"), "--builtin-schema",
                           "vendor.github-workflows", str(EXAMPLE)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([*_tool("zizmor"), "--offline", "--format", "json", "--min-severity",
                           "low", str(EXAMPLE)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert json.loads(proc.stdout or "[]") == [] and proc.returncode == 0, proc.stdout[:3000]


def test_read_only_pinned_and_one_report_for_the_comment_workflow() -> None:
    data = _load()
    assert data["name"] == "llaso eval"  # what llaso-comment.yml listens for
    assert set(on(data)) == {"pull_request"}
    assert data["permissions"] == {"contents": "read", "actions": "read"}
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "secrets." not in text and "pull_request_target" not in text
    for step in steps(data):
        if "uses" in step:
            assert SHA_PIN.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "${{" not in step.get("run", ""), step
    matrix = data["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert matrix == list(range(1, int(data["env"]["LLASO_SHARDS"]) + 1))
    assert data["jobs"]["eval"]["needs"] == ["baseline", "shard"]
    uploads = [s["with"]["name"] for s in steps(data) if "upload-artifact" in s.get("uses", "")]
    assert uploads == ["llaso-shard-${{ matrix.shard }}", "llaso-report"]
    assert "docs/examples/llaso-eval-sharded.yml" in (ROOT / "docs" / "github-actions.md"
                                                      ).read_text(encoding="utf-8")


SUITE = """
import pytest

@pytest.mark.parametrize("case", range(8))
def test_case(case, record_metric):
    record_metric("score", items={f"c{case}-{i}": float(i % 3) for i in range(10)},
                  higher_is_better=True)
"""


def _bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "LLASO_SUITES": "suite", "LLASO_SHARDS": "3"}
    full.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.mark.parametrize("with_baseline", [False, True])
def test_the_shard_and_merge_steps_run_as_written(tmp_path: Path, with_baseline: bool) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_suite.py").write_text(SUITE)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    run_shard = _step("shard", "Run the shard")["run"]
    if with_baseline:  # a previous record: the shards balance by its durations
        whole = _bash(run_shard.replace('--llaso-shard "$SHARD/$LLASO_SHARDS"', ""), tmp_path,
                      SHARD="1")
        assert whole.returncode == 0, whole.stdout[-2000:] + whole.stderr[-2000:]
        (tmp_path / "baseline").mkdir()
        (tmp_path / "llaso-shard.json").rename(tmp_path / "baseline" / "llaso-run.json")
    for k in (1, 2, 3):
        proc = _bash(run_shard, tmp_path, SHARD=str(k))
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        record = json.loads((tmp_path / "llaso-shard.json").read_text())
        assert record["shard"]["by"] == ("duration" if with_baseline else "count")
        # the layout actions/download-artifact makes of several artifacts: one folder each
        (tmp_path / "shards" / f"llaso-shard-{k}").mkdir(parents=True)
        (tmp_path / "llaso-shard.json").rename(
            tmp_path / "shards" / f"llaso-shard-{k}" / "llaso-shard.json")
    merge = _step("eval", "Merge the shards into one run record")["run"]
    proc = _bash(merge, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    merged = json.loads((tmp_path / "llaso-run.json").read_text())
    assert len(merged["tests"]) == 8 and merged["complete"] is True
    (tmp_path / "shards" / "llaso-shard-2" / "llaso-shard.json").unlink()
    refused = _bash(merge, tmp_path)
    assert refused.returncode == 2 and "missing work: shard(s) 2/3 not given" in refused.stderr
