"""The shipped GitHub Actions workflows: schema-valid, zizmor-clean, and safe for forks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
FILES = ["llaso-eval.yml", "llaso-comment.yml", "llaso-baseline.yml"]
DOC = ROOT / "docs" / "github-actions.md"
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _tool(name: str) -> list[str]:
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(exe).exists():
        pytest.fail(f"{name} is not installed: pip install {name} (listed in the test extra)")
    return [exe]


def load(name: str) -> dict[Any, Any]:
    # ruamel.yaml comes with check-jsonschema (YAML 1.2: the key `on` stays a string)
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def on(data: dict[Any, Any]) -> dict[str, Any]:
    value = data.get("on", data.get(True))
    return value if isinstance(value, dict) else {value: None}


def steps(data: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for job in data["jobs"].values() for s in job.get("steps", [])]


def test_schema_validation() -> None:
    proc = subprocess.run(
        [*_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
         *(str(WORKFLOWS / f) for f in FILES)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_medium_severity_or_above() -> None:
    proc = subprocess.run(
        [*_tool("zizmor"), "--offline", "--format", "json", "--min-severity", "low",
         *(str(WORKFLOWS / f) for f in FILES)],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 10, 11, 12, 13, 14), proc.stderr
    findings = json.loads(proc.stdout or "[]")
    serious = [f for f in findings
               if f.get("determinations", {}).get("severity") in ("Medium", "High")]
    assert not serious, json.dumps(serious, indent=1)[:4000]
    assert proc.returncode == 0, proc.stdout[:2000]


def test_the_only_suppression_is_the_reviewed_workflow_run_trigger() -> None:
    ignores = []
    for f in FILES:
        for line in (WORKFLOWS / f).read_text().splitlines():
            if "zizmor: ignore" in line:
                ignores.append((f, line.strip()))
    assert ignores == [("llaso-comment.yml",
                        ("workflow_run: # zizmor: ignore[dangerous-triggers] reviewed: see the "
                        "comment above"))]


def test_zizmor_still_catches_a_broken_workflow(tmp_path: Path) -> None:
    # The audit is not vacuous: a classic injection and an unpinned action are caught.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\non:\n  pull_request_target:\npermissions: write-all\njobs:\n  x:\n"
        "    name: x\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    proc = subprocess.run([*_tool("zizmor"), "--offline", "--format", "json", str(bad)],
                          capture_output=True, text=True, timeout=300, check=False)
    idents = {f["ident"] for f in json.loads(proc.stdout or "[]")}
    assert {"template-injection", "unpinned-uses", "dangerous-triggers"} <= idents


def test_eval_runs_untrusted_code_read_only() -> None:
    data = load("llaso-eval.yml")
    assert set(on(data)) == {"pull_request"}
    assert data["permissions"] == {"contents": "read", "actions": "read"}
    for job in data["jobs"].values():
        assert "permissions" not in job or all(v in ("read", "none")
                                               for v in job["permissions"].values())
    text = (WORKFLOWS / "llaso-eval.yml").read_text()
    assert "secrets." not in text
    assert "--fail-on-regression" in text and "llaso compare" in text
    assert "llaso-baseline" in text


def test_the_baseline_is_chosen_by_the_checked_selection() -> None:
    # `gh run list --branch main --status success` also lists a fork's pull_request run from
    # its own `main`; the selection (tests/compare/test_baseline_run.py) takes push runs only
    text = (WORKFLOWS / "llaso-eval.yml").read_text()
    assert "gh run list" not in text
    (step,) = [s for s in steps(load("llaso-eval.yml")) if "llaso-baseline" in s.get("run", "")]
    assert re.search(r'python -m llaso_pytest\.baseline_run select --repo "\$REPO" \\\s+'
                     r'--workflow llaso-baseline\.yml --branch "\$BASE_REF"', step["run"])
    assert 'gh run download "$run_id"' in step["run"]
    assert set(on(load("llaso-baseline.yml"))) == {"push"}


def test_comment_job_never_runs_pull_request_code() -> None:
    data = load("llaso-comment.yml")
    assert set(on(data)) == {"workflow_run"}
    assert on(data)["workflow_run"]["workflows"] == ["llaso eval"]
    assert data["permissions"] == {}
    (job,) = data["jobs"].values()
    # contents: read for actions/checkout (a private repository refuses it otherwise)
    assert job["permissions"] == {"contents": "read", "actions": "read",
                                  "pull-requests": "write"}
    for step in steps(data):
        if step.get("uses", "").startswith("actions/checkout@"):
            # default branch only: no ref, no repository of the fork
            assert set(step.get("with", {})) == {"persist-credentials"}
        run = step.get("run", "")
        assert "pip install" not in run and "llaso compare" not in run
        assert not re.search(r"\bpytest\b", run)
    text = (WORKFLOWS / "llaso-comment.yml").read_text()
    assert "--expect-head-sha" in text and "--pr-file" in text
    assert "python llaso_pytest/github.py" in text


@pytest.mark.parametrize("name", FILES)
def test_hygiene(name: str) -> None:
    data = load(name)
    for step in steps(data):
        if "uses" in step:
            assert SHA_PIN.match(step["uses"]), f"{name}: {step['uses']} is not pinned by SHA"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        # expressions never go straight into a shell script (template injection)
        assert "${{" not in step.get("run", ""), f"{name}: expression inside run: {step}"
    assert "pull_request_target" not in on(data)


@pytest.mark.parametrize("name", FILES)
def test_docs_carry_the_same_workflows(name: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert (WORKFLOWS / name).read_text(encoding="utf-8").strip() in doc, (
        f"docs/github-actions.md is out of date with .github/workflows/{name}")
