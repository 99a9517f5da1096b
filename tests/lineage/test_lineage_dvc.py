"""DVC-tracked data against real DVC repositories built here (``dvc init``/``add``/``repro``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.lineage import DvcMismatchError, data_provenance, dvc_lineage
from llaso_pytest.lineage.dvc import dvc_md5, find_out, find_repo, verify

DVC = str(Path(sys.executable).with_name("dvc"))


def _dvc(repo: Path, *args: str) -> str:
    if not Path(DVC).exists():  # installed by make setup: LLASO_STRICT_SKIPS fails this
        pytest.skip(f"dvc is not installed next to {sys.executable}")
    out = subprocess.run([DVC, *args], cwd=repo, capture_output=True, text=True, timeout=120,
                         check=False, env={"PATH": str(Path(DVC).parent) + ":/usr/bin:/bin",
                                           "HOME": str(repo), "DVC_NO_ANALYTICS": "1"})
    assert out.returncode == 0, f"dvc {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC repository: ``data.csv`` and ``audio/`` added, ``prepared.csv`` from a stage."""
    repo = tmp_path_factory.mktemp("dvc") / "repo"
    repo.mkdir()
    _dvc(repo, "init", "--no-scm", "-q")
    (repo / "data.csv").write_bytes(b"id,text\r\nu1,hello\r\nu2,world\r\n")
    (repo / "audio" / "sub").mkdir(parents=True)
    (repo / "audio" / "a.wav").write_bytes(b"RIFF" + bytes(range(256)) * 4)
    (repo / "audio" / "sub" / "b.wav").write_bytes(b"RIFF" + b"\x00\x01" * 300)
    (repo / "params.yaml").write_text("prepare:\n  seed: 20\n  lowercase: true\n")
    (repo / "prepare.py").write_text(
        "from pathlib import Path\n"
        "Path('prepared.csv').write_text(Path('data.csv').read_text().lower())\n")
    _dvc(repo, "add", "-q", "data.csv", "audio")
    _dvc(repo, "stage", "add", "-q", "-n", "prepare", "-d", "data.csv", "-d", "prepare.py",
         "-p", "prepare.seed,prepare.lowercase", "-o", "prepared.csv",
         f"{sys.executable} prepare.py")
    _dvc(repo, "repro", "-q")
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(template, copy, symlinks=True)
    return copy


def test_hashes_are_the_ones_dvc_recorded(repo: Path) -> None:
    import yaml

    for name in ("data.csv", "audio"):
        (out,) = yaml.safe_load((repo / f"{name}.dvc").read_text())["outs"]
        assert dvc_md5(repo / name) == out["md5"]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    (out,) = lock["stages"]["prepare"]["outs"]
    assert dvc_md5(repo / "prepared.csv") == out["md5"]
    assert dvc_md5(repo / "audio").endswith(".dir")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["md5", "md5-dos2unix"]))
def test_file_hash_agrees_with_dvc_data(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                        name: str) -> None:
    from dvc_data.hashfile.hash import file_md5

    text_like = data.replace(b"\x00", b"a") + b"\r\nline\r\n"
    folder = tmp_path_factory.mktemp("h")
    for i, payload in enumerate((data, text_like)):
        p = folder / f"f{i}"
        p.write_bytes(payload)
        assert dvc_md5(p, hash_name=name) == file_md5(str(p), name=name)


def test_entries_found_for_files_folders_and_stage_outputs(repo: Path) -> None:
    assert find_repo(repo / "audio" / "sub") == repo.resolve()
    data = find_out(repo / "data.csv")
    assert data is not None and data.source == "data.csv.dvc" and data.hash_name == "md5"
    inner = find_out(repo / "audio" / "sub" / "b.wav")  # a file inside a tracked folder
    assert inner is not None and inner.path == "audio" and inner.nfiles == 2
    assert inner.size == 4 + 1024 + 4 + 600
    stage = find_out(repo / "prepared.csv")
    assert stage is not None and stage.source == "dvc.lock" and stage.stage == "prepare"
    assert stage.params == {"params.yaml": {"prepare.seed": 20, "prepare.lowercase": True}}
    assert [d["path"] for d in stage.deps] == ["data.csv", "prepare.py"]
    assert stage.cmd is not None and stage.cmd.endswith("prepare.py")
    assert find_out(repo / "params.yaml") is None  # in the repo, tracked by no entry
    assert find_out(repo.parent) is None  # outside any DVC repository


def test_provenance_records_dvc_next_to_sha256(repo: Path) -> None:
    import hashlib

    info = data_provenance(repo / "prepared.csv")
    assert info["sha256"] == hashlib.sha256((repo / "prepared.csv").read_bytes()).hexdigest()
    assert info["dvc"]["stage"] == "prepare" and info["dvc"]["matches"] is True
    assert info["dvc"]["params"] == {"params.yaml": {"prepare.seed": 20,
                                                     "prepare.lowercase": True}}
    folder = data_provenance(repo / "audio")
    assert folder["nfiles"] == 2 and folder["dvc"]["md5"].endswith(".dir")
    assert "dvc" not in data_provenance(repo / "params.yaml")


def test_a_change_behind_dvcs_back_is_detected_and_named(repo: Path) -> None:
    (repo / "audio" / "sub" / "b.wav").write_bytes(b"RIFF changed")
    assert "modified" in _dvc(repo, "status")  # DVC itself agrees the data changed
    check = verify(find_out(repo / "audio"))  # type: ignore[arg-type]
    assert not check.matches and check.changed == ("audio/sub/b.wav",)
    with pytest.raises(DvcMismatchError) as err:
        dvc_lineage(repo / "audio" / "a.wav")
    text = str(err.value)
    assert "audio: the workspace copy differs from audio.dvc" in text
    assert "differing files: audio/sub/b.wav" in text and "dvc checkout audio" in text
    with pytest.warns(LlasoWarning, match="differs from audio.dvc"):
        info = dvc_lineage(repo / "audio", on_mismatch="warn")
    assert info is not None and info["matches"] is False
    assert info["changed"] == ["audio/sub/b.wav"]
    (repo / "prepared.csv").write_text("edited by hand\n")
    with pytest.raises(DvcMismatchError, match=r"differs from dvc.lock \(stage 'prepare'.*"
                       r"dvc repro"):
        data_provenance(repo / "prepared.csv")


def test_dvc_status_clean_means_no_warning(repo: Path) -> None:
    assert "up to date" in _dvc(repo, "status").lower()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in ("data.csv", "audio", "prepared.csv"):
            entry = dvc_lineage(repo / p)
            assert entry is not None and entry["matches"] is True


SUITE = """
def test_data(record_dataset, record_metric):
    info = record_dataset(r"{path}", name="eval-set")
    record_metric("rows", float(info["size"]), higher_is_better=True)
"""


def test_plugin_fixture_fails_or_warns_by_option(repo: Path, pytester: pytest.Pytester) -> None:
    import json

    pytester.makepyfile(SUITE.format(path=repo / "prepared.csv"))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    entry = rec["provenance"]["datasets"]["eval-set"]
    assert entry["dvc"]["stage"] == "prepare" and entry["dvc"]["matches"] is True
    (repo / "prepared.csv").write_text("edited\n")
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*prepared.csv: the workspace copy differs from dvc.lock*"])
    res = pytester.runpytest("-p", "no:cacheprovider", "--llaso-dvc-mismatch=warn")
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*LlasoWarning*differs from dvc.lock*"])
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    assert rec["provenance"]["datasets"]["eval-set"]["dvc"]["matches"] is False


def test_speech_dataset_records_and_checks_its_dvc_audio(repo: Path,
                                                         pytester: pytest.Pytester) -> None:
    import hashlib
    import json

    utts = [{"id": f"u{i}", "speaker": "s", "text": "x", "duration": 0.1,
             "sample_rate": 16000, "path": rel,
             "sha256": hashlib.sha256((repo / "audio" / rel).read_bytes()).hexdigest()}
            for i, rel in enumerate(("a.wav", "sub/b.wav"))]
    manifest = pytester.path / "ds.json"
    manifest.write_text(json.dumps({"schema_version": 1, "kind": "files", "name": "dvc-audio",
                                    "root": str(repo / "audio"), "utterances": utts}))
    pytester.makepyfile(f"""
def test_load(llaso_speech_datasets, record_metric):
    ds = llaso_speech_datasets(r"{manifest}")
    record_metric("n", float(len(ds.utterances)), higher_is_better=True)
""")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    dvc = rec["provenance"]["datasets"]["dvc-audio"]["dvc"]
    assert list(dvc) == ["audio"]  # the manifest itself is not DVC-tracked
    assert dvc["audio"]["source"] == "audio.dvc" and dvc["audio"]["matches"] is True
    (repo / "audio" / "extra.wav").write_bytes(b"added behind DVC's back")
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*audio: the workspace copy differs from audio.dvc*"
                              "differing files: audio/extra.wav*"])
