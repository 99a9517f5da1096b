"""Git LFS pointers in place of data: a real ``git lfs`` clone without the objects."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from llaso_pytest.lineage import LfsPointerError, read_pointer, sha256_data
from llaso_pytest.lineage.lfs import MAX_POINTER_SIZE

AUDIO = bytes(range(256)) * 12


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    if shutil.which("git-lfs") is None:  # Debian git-lfs, installed by make setup
        pytest.skip("git-lfs is not installed (make setup installs it)")
    full = {**os.environ, "GIT_CONFIG_GLOBAL": str(cwd / ".gitconfig-test"),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", **(env or {})}
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=full,
                         timeout=60, check=False)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A clone of an LFS repository made with GIT_LFS_SKIP_SMUDGE=1: pointers, not data."""
    src = tmp_path / "src"
    src.mkdir()
    _git(src, "init", "-q")
    _git(src, "lfs", "install", "--local")
    _git(src, "lfs", "track", "*.wav", "*.jsonl")
    (src / "utt1.wav").write_bytes(AUDIO)
    (src / "data.jsonl").write_text('{"id": "q1"}\n')
    _git(src, "add", ".gitattributes", "utt1.wav", "data.jsonl")
    _git(src, "commit", "-qm", "data")
    _git(tmp_path, "clone", "-q", str(src), "clone", env={"GIT_LFS_SKIP_SMUDGE": "1"})
    return tmp_path / "clone"


def test_a_real_pointer_is_recognised_and_refused(clone: Path) -> None:
    pointer = read_pointer(clone / "utt1.wav")
    assert pointer is not None and pointer.well_formed
    assert pointer.oid == hashlib.sha256(AUDIO).hexdigest() and pointer.size == len(AUDIO)
    with pytest.raises(LfsPointerError) as err:
        sha256_data(clone / "utt1.wav", expected=hashlib.sha256(AUDIO).hexdigest())
    text = str(err.value)
    assert f"{clone / 'utt1.wav'} is a Git LFS pointer file" in text
    assert "run `git lfs pull`" in text and "the data exists in LFS" in text
    assert f"{len(AUDIO)} bytes" in text


def test_pointer_of_git_lfs_pointer_command(tmp_path: Path) -> None:
    data = tmp_path / "x.bin"
    data.write_bytes(AUDIO)
    text = _git(tmp_path, "lfs", "pointer", f"--file={data}")
    (tmp_path / "p").write_text(text)
    pointer = read_pointer(tmp_path / "p")
    assert pointer is not None and pointer.oid == hashlib.sha256(AUDIO).hexdigest()
    assert sha256_data(data) == hashlib.sha256(AUDIO).hexdigest()  # the data itself hashes


def test_lookalikes_are_data(tmp_path: Path) -> None:
    cases = {
        "later": b"notes\nversion https://git-lfs.github.com/spec/v1\n",
        "big": b"version https://git-lfs.github.com/spec/v1\n" + b"x" * MAX_POINTER_SIZE,
        "other": b"version https://example.org/spec/v1\noid sha256:" + b"0" * 64 + b"\n",
    }
    for name, payload in cases.items():
        (tmp_path / name).write_bytes(payload)
        assert read_pointer(tmp_path / name) is None, name
        assert sha256_data(tmp_path / name) == hashlib.sha256(payload).hexdigest()
    bad = tmp_path / "malformed"
    bad.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid md5:abc\n")
    pointer = read_pointer(bad)
    assert pointer is not None and not pointer.well_formed
    with pytest.raises(LfsPointerError, match="a malformed pointer"):
        sha256_data(bad)


def test_speech_and_llm_loaders_refuse_pointers(clone: Path) -> None:
    from llaso_pytest.llm.predictions import PredictionsError, load_dataset
    from llaso_pytest.speech.errors import SpeechError
    from llaso_pytest.speech.manifest import sha256_file

    with pytest.raises(SpeechError, match="git lfs pull"):
        sha256_file(clone / "utt1.wav")
    (clone / "manifest.json").write_text(json.dumps({
        "name": "qa", "task": "qa", "language": "en", "fields": {"id": "str"},
        "data": {"path": "data.jsonl", "sha256": hashlib.sha256(b'{"id": "q1"}\n').hexdigest()},
    }))
    with pytest.raises(PredictionsError, match="data.jsonl is a Git LFS pointer file.*"
                       "the data exists in LFS.*git lfs pull"):
        load_dataset(clone / "manifest.json")


def test_record_dataset_fails_the_test_naming_the_fix(clone: Path,
                                                      pytester: pytest.Pytester) -> None:
    pytester.makepyfile(f"""
def test_data(record_dataset):
    record_dataset(r"{clone / 'utt1.wav'}")
""")
    res = pytester.runpytest("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*utt1.wav is a Git LFS pointer file*run `git lfs pull`*"])
