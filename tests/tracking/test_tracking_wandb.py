"""W&B offline export: the run folder is read back record by record, as ``wandb sync`` reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest.record import read_record

SECRET = "sk-llasoWANDBsecret0123456789"

SUITE = """
def test_plain(record_metric, record_provenance):
    record_provenance("endpoint", {"api_key": "SECRET_HERE", "model": "m"})
    record_metric("accuracy", items={f"q{i}": float(i % 3 != 0) for i in range(30)},
                  higher_is_better=True)
""".replace("SECRET_HERE", SECRET)


def _run_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))


def _decoded(records: list[Any], kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rec in records:
        if rec.WhichOneof("record_type") == kind:
            for item in getattr(rec, kind).update:
                key = item.key or "/".join(item.nested_key)
                out[key] = json.loads(item.value_json)
    return out


def test_session_writes_one_offline_run(pytester: pytest.Pytester,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")  # installed by make setup: LLASO_STRICT_SKIPS fails this
    from wandb_log import records

    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    pytester.makepyfile(test_suite=SUITE)
    out = pytester.path / "wb"
    # in a subprocess: wandb in the test process (with torch loaded there) swallowed the inner
    # session's terminal output
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--llaso-wandb={out}",
                                        "--llaso-wandb-project=evals", f"-k not {SECRET}")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*llaso export: wandb*", "logged as W&B offline run *offline-run-*"
                              "(project 'evals'; upload with `wandb sync *`)"])
    record = read_record(pytester.path / ".llaso" / "runs" / "latest.json")
    (run_file,) = _run_files(out)
    recs = records(run_file)
    (run,) = [r.run for r in recs if r.WhichOneof("record_type") == "run"]
    assert run.display_name == record.run_id and run.project == "evals"
    config = {u.key: json.loads(u.value_json) for u in run.config.update}
    summary = _decoded(recs, "summary")
    ((nodeid, result),) = record.results()
    key = "test_suite.py/test_plain/accuracy"
    assert summary[key] == result["value"]
    assert [summary[f"{key}/ci_low"], summary[f"{key}/ci_high"]] == result["ci"]
    assert summary[f"{key}/n"] == 30
    assert summary[f"signature/{key}"] == result["signature"]["text"]
    assert config["provenance.seed"] == str(record.provenance["seed"])
    assert config["provenance.endpoint.api_key"] == "[REDACTED]"
    artifacts = [r.artifact for r in recs if r.WhichOneof("record_type") == "artifact"]
    assert [a.name for a in artifacts] == [f"llaso-{record.run_id}"]
    assert artifacts[0].type == "llaso-run"
    for path in run_file.parent.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    # a second session is a second offline run
    pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                  f"--llaso-wandb={out}").assert_outcomes(passed=1)
    assert len(_run_files(out)) == 2
    from llaso_pytest.cli import main as llaso_main  # an existing record, exported again

    latest = str(pytester.path / ".llaso" / "runs" / "latest.json")
    assert llaso_main(["export", "wandb", latest, "--dir", str(out), "--project", "cli"]) == 0
    runs = [next(r.run for r in records(f) if r.WhichOneof("record_type") == "run")
            for f in _run_files(out)]
    assert sorted(r.project for r in runs) == ["cli", "evals", "llaso"]
