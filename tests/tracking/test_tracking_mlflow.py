"""MLflow export against a real sqlite store: read back with MlflowClient / search_runs."""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llaso_pytest.cli import main as llaso_main
from llaso_pytest.record import read_record
from llaso_pytest.tracking import mlflow_export
from llaso_pytest.tracking.payload import MAX_KEY, build_payload, tracker_key

SECRET = "sk-llasoTESTsecret0123456789"

SUITE = """
from llaso_pytest import metrics

REFS = ["the cat sat on the mat", "a dog barked", "hello world again"] * 8

def test_wer(record_metric, record_provenance):
    record_provenance("endpoint", {"base_url": "http://judge", "api_key": "SECRET_HERE"})
    record_provenance("note", "called with SECRET_HERE")  # caught by value, not by name
    hyps = [r if i % 4 else r.replace("cat", "bat") for i, r in enumerate(REFS)]
    record_metric(metrics.wer(REFS, hyps, n_boot=200, seed=0))

def test_plain(record_metric):
    record_metric("accuracy", items={f"q{i}": float(i % 3 != 0) for i in range(30)},
                  higher_is_better=True)
""".replace("SECRET_HERE", SECRET)


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str) -> list[Any]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = _client(uri).get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    return list(_client(uri).search_runs([exp.experiment_id], order_by=["start_time ASC"]))


def _artifacts(client: Any, run_id: str, path: str = "llaso") -> set[str]:
    out: set[str] = set()
    for f in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, f.path) if f.is_dir else {f.path}
    return out


def test_limits_match_the_installed_mlflow() -> None:
    from mlflow.utils import validation as v

    assert (mlflow_export.MAX_METRICS, mlflow_export.MAX_PARAMS_TAGS,
            mlflow_export.MAX_ENTITIES) == (v.MAX_METRICS_PER_BATCH,
                                            v.MAX_PARAMS_TAGS_PER_BATCH,
                                            v.MAX_ENTITIES_PER_BATCH)
    from llaso_pytest.tracking import payload

    assert (payload.MAX_KEY, payload.MAX_PARAM_VALUE, payload.MAX_TAG_VALUE) == (
        v.MAX_ENTITY_KEY_LENGTH, v.MAX_PARAM_VAL_LENGTH, v.MAX_TAG_VAL_LENGTH)


@settings(deadline=None)
@given(st.integers(0, 5000), st.integers(0, 700), st.integers(0, 700))
def test_batches_cover_everything_once_within_every_limit(m: int, p: int, t: int) -> None:
    calls = mlflow_export.batches(m, p, t)
    for part, n in ((0, m), (1, p), (2, t)):
        covered = [i for c in calls for i in range(n)[c[part]]]
        assert covered == list(range(n))
    for ms, ps, ts in calls:
        dm, dp, dt = ms.stop - ms.start, ps.stop - ps.start, ts.stop - ts.start
        assert dm <= 1000 and dp <= 100 and dt <= 100 and dm + dp + dt <= 1000
        assert dm + dp + dt > 0


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_tracker_keys_are_valid_mlflow_names(text: str) -> None:
    from mlflow.utils.validation import path_not_unique, validate_param_and_metric_name

    key = tracker_key(text, reserve=8)
    assert len(key) <= MAX_KEY - 8
    assert validate_param_and_metric_name(key) and not path_not_unique(key)
    assert validate_param_and_metric_name(key + "/ci_high")
    if len(text) > MAX_KEY:  # a cut key carries the hash of the whole text
        assert tracker_key(text + "x", reserve=8) != key


def test_session_is_one_run_with_values_bounds_tags_artifacts(
        pytester: pytest.Pytester, mlflow_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    pytester.makepyfile(test_suite=SUITE)
    res = pytester.runpytest("-p", "no:cacheprovider", f"--llaso-mlflow={mlflow_store}",
                             "--llaso-mlflow-experiment=session")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*llaso export: mlflow*", "logged as MLflow run * in experiment "
                              "'session' at sqlite:*(1 log_batch call(s))"])
    record = read_record(pytester.path / ".llaso" / "runs" / "latest.json")
    (run,) = _runs(mlflow_store, "session")
    client = _client(mlflow_store)
    assert run.info.run_name == record.run_id and run.info.status == "FINISHED"
    data = run.data
    assert data.tags["llaso.run_id"] == record.run_id
    assert data.tags["mlflow.source.git.commit"] == record.provenance["git"]["commit"] \
        if record.provenance["git"].get("commit") else True
    keys = {"test_suite.py::test_wer": "test_suite.py/test_wer/wer",
            "test_suite.py::test_plain": "test_suite.py/test_plain/accuracy"}
    for nodeid, result in record.results():
        key = keys[nodeid]
        assert data.metrics[key] == pytest.approx(result["value"], rel=0, abs=0)
        assert data.metrics[f"{key}/ci_low"] == result["ci"][0]
        assert data.metrics[f"{key}/ci_high"] == result["ci"][1]
        assert data.metrics[f"{key}/n"] == result["n"]
        assert data.tags[f"signature/{key}"] == result["signature"]["text"]
    assert data.params["provenance.seed"] == str(record.provenance["seed"])
    assert data.params["provenance.python.version"] == record.provenance["python"]["version"]
    assert data.params["provenance.endpoint.api_key"] == "[REDACTED]"
    assert data.params["provenance.note"] == "called with [REDACTED]"
    stored = json.dumps([data.params, data.tags, list(data.metrics)])
    assert SECRET not in stored
    files = _artifacts(client, run.info.run_id)
    assert {"llaso/run-record.json", "llaso/keys.json",
            "llaso/items/test_suite.py/test_wer/wer.csv",
            "llaso/items/test_suite.py/test_plain/accuracy.csv"} <= files
    local = client.download_artifacts(run.info.run_id, "llaso", str(pytester.path / "dl"))
    text = Path(local, "run-record.json").read_text()
    assert SECRET not in text and json.loads(text)["run_id"] == record.run_id
    table = Path(local, "items", "test_suite.py", "test_plain", "accuracy.csv").read_text()
    rows = list(csv.reader(io.StringIO(table)))
    items = dict(record.results())["test_suite.py::test_plain"]["items"]
    assert rows[0] == ["item", "group", "score", *items["stats"]]
    assert [r[0] for r in rows[1:]] == items["ids"]
    assert [float(r[2]) for r in rows[1:]] == items["scores"]
    for j, col in enumerate(items["stats"].values()):
        assert [float(r[3 + j]) for r in rows[1:]] == col
    # a second session is a second run; with a baseline it carries the comparison
    base = pytester.path / ".llaso" / "runs" / "latest.json"
    saved = pytester.path / "base.json"
    saved.write_text(base.read_text())
    res = pytester.runpytest("-p", "no:cacheprovider", f"--llaso-mlflow={mlflow_store}",
                             "--llaso-mlflow-experiment=session", f"--llaso-baseline={saved}")
    res.assert_outcomes(passed=2)
    first, second = _runs(mlflow_store, "session")
    assert first.info.run_id == run.info.run_id and second.info.run_id != run.info.run_id
    assert second.data.tags["verdict/test_suite.py/test_wer/wer"] == "unchanged"
    assert second.data.tags["llaso.baseline_run_id"] == record.run_id
    assert second.data.metrics["compare/test_suite.py/test_wer/wer/delta"] == 0.0
    assert "llaso/comparison.json" in _artifacts(client, second.info.run_id)


def test_cli_exports_an_existing_record_once(pytester: pytest.Pytester, mlflow_store: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
    path = str(pytester.path / ".llaso" / "runs" / "latest.json")
    args = ["export", "mlflow", path, "--tracking-uri", mlflow_store, "--experiment", "cli"]
    assert llaso_main(args) == 0
    assert "logged" in capsys.readouterr().out
    assert llaso_main(args) == 2  # the same record twice would count the session twice
    assert "is already in MLflow" in capsys.readouterr().err
    assert llaso_main([*args, "--again"]) == 0
    assert len(_runs(mlflow_store, "cli")) == 2


def test_many_metrics_are_batched(mlflow_store: str) -> None:
    from llaso_pytest.record import RunRecord, TestRecord

    results = [{"name": f"m{i}", "value": i / 10, "ci": [i / 10 - 0.1, i / 10 + 0.1],
                "confidence": 0.95, "n": 50, "higher_is_better": True,
                "signature": {"text": f"m{i}|boot:100", "fields": {"metric": f"m{i}"}},
                "aggregate": "mean",
                "items": {"ids": [], "stats": {}}, "extra": {}} for i in range(300)]
    record = RunRecord(run_id="20261202T000000Z-many", started_at="x", finished_at="y",
                       complete=True, provenance={"seed": 0},
                       tests=(TestRecord(nodeid="t.py::test_many", outcome="passed",
                                         duration=0.0, markers=(), results=tuple(results)),))
    payload = build_payload(record)
    assert len(payload.metrics) == 1200 and len(payload.tags) >= 300
    done = mlflow_export.export(record, tracking_uri=mlflow_store, experiment="many")
    assert done.batches == 4  # 1200 metrics + 304 tags + params: 4 calls, not 1500
    (run,) = _runs(mlflow_store, "many")
    assert len(run.data.metrics) == 1200 and run.data.metrics["t.py/test_many/m299/n"] == 50


def test_failed_export_keeps_the_record_and_exits_8(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    res = pytester.runpytest("-p", "no:cacheprovider", "--llaso-mlflow=http://127.0.0.1:9")
    assert res.ret == 8
    res.stdout.fnmatch_lines(["*llaso export: mlflow FAILED*",
                              "*export to MLflow at http://127.0.0.1:9*failed*retry with: "
                              "llaso export mlflow */.llaso/runs/*.json --tracking-uri "
                              "http://127.0.0.1:9"])
    assert read_record(pytester.path / ".llaso" / "runs" / "latest.json").complete


def test_bad_uri_is_a_usage_error_before_tests_run(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    pytester.makepyfile(test_suite=SUITE)
    res = pytester.runpytest("-p", "no:cacheprovider", "--llaso-mlflow=./mlruns")
    assert res.ret == 4
    res.stderr.fnmatch_lines(["*--llaso-mlflow*file store*MLFLOW_ALLOW_FILE_STORE=true*"
                              "sqlite:///mlflow.db*"])


def test_long_param_values_are_cut_visibly() -> None:
    from llaso_pytest.record import RunRecord

    record = RunRecord(run_id="r", started_at="x", finished_at="y", complete=True,
                       provenance={"note": "x" * 7000, "nested": {"a:b c": [1, 2]}})
    params = dict(build_payload(record).params)
    assert len(params["provenance.note"]) == 6000
    assert params["provenance.note"].endswith("[cut at 6000 characters; the full value is in "
                                              "llaso/run-record.json]")
    assert params["provenance.nested.a_b c"] == "[1, 2]"
    assert all(re.fullmatch(r"[/\w.\- ]+", k) and posixpath.normpath(k) == k for k in params)


def test_keys_that_sanitise_alike_stay_apart() -> None:
    from llaso_pytest.record import RunRecord

    record = RunRecord(run_id="r", started_at="x", finished_at="y", complete=True,
                       provenance={"a:b": 1, "a_b": 2, "a?b": 3})
    payload = build_payload(record)
    params = dict(payload.params)
    assert len(params) == 3 and params["provenance.a_b"] in ("1", "2", "3")
    assert sorted(params.values()) == ["1", "2", "3"]
    meaning = {m["text"]: k for k, m in payload.keys.items()}
    for text, value in (("provenance.a:b", "1"), ("provenance.a?b", "3")):
        assert params[meaning[text]] == value  # keys.json maps every changed key back


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_tracking_server_receives_the_session(pytester: pytest.Pytester,
                                                     tmp_path: Path) -> None:
    """`mlflow server` on loopback (sqlite backend, artifacts proxied by the server): the same
    export through the REST API, read back over HTTP with MlflowClient."""
    import subprocess
    import sys
    import time
    import urllib.request

    # loaded here, before the in-process run (whose sys.modules snapshot would unload it)
    pytest.importorskip("mlflow.tracking")
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    server = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'srv.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, "mlflow server exited during start-up"
            assert time.monotonic() < deadline, "mlflow server did not start in 180 s"
            time.sleep(0.5)
        pytester.makepyfile(test_suite=SUITE)
        res = pytester.runpytest("-p", "no:cacheprovider", f"--llaso-mlflow={uri}",
                                 "--llaso-mlflow-experiment=served")
        res.assert_outcomes(passed=2)
        assert res.ret == 0
        record = read_record(pytester.path / ".llaso" / "runs" / "latest.json")
        (run,) = _runs(uri, "served")
        assert run.info.run_name == record.run_id and run.info.status == "FINISHED"
        for nodeid, result in record.results():
            key = nodeid.replace("::", "/") + "/" + result["name"]
            assert run.data.metrics[key] == result["value"]
            assert run.data.metrics[f"{key}/ci_low"] == result["ci"][0]
            assert run.data.metrics[f"{key}/n"] == result["n"]
        assert SECRET not in json.dumps([run.data.params, run.data.tags])
        client = _client(uri)
        assert "llaso/run-record.json" in _artifacts(client, run.info.run_id)
        local = client.download_artifacts(run.info.run_id, "llaso/run-record.json",
                                          str(tmp_path / "dl"))
        assert json.loads(Path(local).read_text())["run_id"] == record.run_id
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
