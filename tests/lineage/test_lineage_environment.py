"""Environment provenance: lock files, containers, torch precision; diffed by ``llaso compare``."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest import provenance
from llaso_pytest.cli import main as llaso_main
from llaso_pytest.container import container_info, parse_containerenv
from llaso_pytest.lockfiles import LOCK_KINDS, find_locks, locks_provenance
from llaso_pytest.provenance_diff import diff_provenance, environment_warnings

UV_LOCK = 'version = 1\nrequires-python = ">=3.11"\n\n[[package]]\nname = "numpy"\n'


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- lock files ----------------------------------------------------------------------------
def test_every_lock_kind_is_found_with_its_hash(tmp_path: Path) -> None:
    files = {"uv.lock": "uv", "pylock.toml": "pylock", "pylock.dev.toml": "pylock",
             "requirements.txt": "pip-requirements", "requirements-dev.txt": "pip-requirements",
             "requirements/ci.txt": "pip-requirements", "poetry.lock": "poetry",
             "environment.yml": "conda", "Pipfile.lock": "pipenv", "pdm.lock": "pdm"}
    (tmp_path / "requirements").mkdir()
    for i, name in enumerate(files):
        (tmp_path / name).write_text(f"content {i}\n")
    (tmp_path / "README.md").write_text("not a lock")
    (tmp_path / "uv.lock.bak").write_text("not a lock either")
    found = {lock.path: lock for lock in find_locks(tmp_path)}
    assert {p: lock.kind for p, lock in found.items()} == files
    for i, name in enumerate(files):
        assert found[name].sha256 == _sha(f"content {i}\n")
        assert found[name].size == len(f"content {i}\n")
    assert set(LOCK_KINDS.values()) and all(k in LOCK_KINDS for k in files.values())


def test_no_lock_is_an_empty_section_and_absent_from_provenance(tmp_path: Path) -> None:
    assert locks_provenance(tmp_path) == {}
    prov = provenance.collect(rootdir=str(tmp_path), argv=["pytest"])
    assert "locks" not in prov
    (tmp_path / "uv.lock").write_text(UV_LOCK)
    prov = provenance.collect(rootdir=str(tmp_path), argv=["pytest"])
    assert prov["locks"] == {"uv.lock": {"kind": "uv", "sha256": _sha(UV_LOCK),
                                         "size": len(UV_LOCK)}}


# -- containers ----------------------------------------------------------------------------
def _root(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_no_container_evidence_means_absent(tmp_path: Path) -> None:
    root = _root(tmp_path, {"proc/self/cgroup": "0::/\n"})
    # the image variables alone are no evidence of a container: never guessed
    assert container_info(root=root, environ={"LLASO_CONTAINER_DIGEST": "sha256:ab"}) is None


def test_docker_with_a_declared_digest(tmp_path: Path) -> None:
    root = _root(tmp_path, {".dockerenv": "", "proc/self/cgroup": "0::/\n"})
    info = container_info(root=root, environ={
        "LLASO_CONTAINER_IMAGE": "ghcr.io/acme/eval:1.2",
        "LLASO_CONTAINER_DIGEST": "sha256:" + "a" * 64})
    assert info == {"runtime": "docker", "image": "ghcr.io/acme/eval:1.2",
                    "image_source": "$LLASO_CONTAINER_IMAGE",
                    "image_digest": "sha256:" + "a" * 64,
                    "image_digest_source": "$LLASO_CONTAINER_DIGEST",
                    "detected_by": ["/.dockerenv"]}


def test_podman_containerenv_names_the_image(tmp_path: Path) -> None:
    text = ('engine="podman-4.9.3"\nname="eval"\nid="0123456789ab"\n'
            'image="quay.io/acme/eval:latest"\nimageid="' + "b" * 64 + '"\nrootless=1\n')
    assert parse_containerenv(text)["imageid"] == "b" * 64
    root = _root(tmp_path, {"run/.containerenv": text})
    info = container_info(root=root, environ={"container": "podman"})
    assert info == {"runtime": "podman", "engine": "podman-4.9.3",
                    "image": "quay.io/acme/eval:latest", "image_source": "/run/.containerenv",
                    "image_id": "b" * 64, "detected_by": ["/run/.containerenv", "$container"]}


def test_kubernetes_from_cgroup_and_service_env(tmp_path: Path) -> None:
    cgroup = ("12:memory:/kubepods/burstable/pod1234/"
              "docker-" + "c" * 64 + ".scope\n0::/\n")
    root = _root(tmp_path, {"proc/self/cgroup": cgroup})
    info = container_info(root=root, environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert info == {"orchestrator": "kubernetes",
                    "detected_by": ["/proc/self/cgroup", "$KUBERNETES_SERVICE_HOST"]}
    docker_v1 = _root(tmp_path / "v1", {"proc/self/cgroup": "4:memory:/docker/" + "d" * 64})
    assert container_info(root=docker_v1, environ={}) == {
        "runtime": "docker", "detected_by": ["/proc/self/cgroup"]}


def test_this_machine_is_described_as_it_is() -> None:
    info = container_info()
    if os.path.exists("/.dockerenv"):
        assert info is not None and info["runtime"] == "docker"
        assert "/.dockerenv" in info["detected_by"]
    elif info is not None:
        assert info["detected_by"]  # whatever says so is named


# -- torch precision -----------------------------------------------------------------------
def _torch_like(*, tf32: bool, precision: str) -> Any:
    """An object with torch's documented attribute names, for switches the CPU build cannot
    show (real torch: test_real_torch_precision_on_the_cpu_is_recorded, and on CUDA
    test_real_torch_precision_is_recorded, marked gpu)."""
    ns = types.SimpleNamespace
    return ns(
        __version__="2.9.0",
        get_float32_matmul_precision=lambda: precision,
        are_deterministic_algorithms_enabled=lambda: False,
        get_default_dtype=lambda: "torch.float32",
        backends=ns(cuda=ns(matmul=ns(allow_tf32=tf32,
                                      allow_fp16_reduced_precision_reduction=True)),
                    cudnn=ns(allow_tf32=True, benchmark=False, deterministic=False)),
        is_autocast_enabled=lambda device: device == "cuda",
        get_autocast_dtype=lambda device: "torch.float16" if device == "cuda" else
        "torch.bfloat16",
    )


def test_precision_settings_are_read_and_missing_switches_left_out() -> None:
    got = provenance.torch_precision(_torch_like(tf32=True, precision="high"))
    assert got == {"float32_matmul_precision": "high", "deterministic_algorithms": False,
                   "default_dtype": "float32", "cuda_matmul_allow_tf32": True,
                   "cudnn_allow_tf32": True,
                   "cuda_matmul_allow_fp16_reduced_precision_reduction": True,
                   "cudnn_benchmark": False, "cudnn_deterministic": False}
    with_amp = provenance.torch_precision(_torch_like(tf32=True, precision="high"),
                                          autocast=True)
    assert with_amp["autocast"] == {"cuda": {"enabled": True, "dtype": "float16"},
                                    "cpu": {"enabled": False, "dtype": "bfloat16"}}


def test_torch_is_never_imported_for_provenance() -> None:
    code = ("import sys; from llaso_pytest import provenance;"
            "p = provenance.collect(rootdir='.', argv=['x']);"
            "print('torch' in sys.modules, 'torch' in p, provenance.torch_precision())")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False", "{}"]


def test_real_torch_precision_on_the_cpu_is_recorded() -> None:
    """With real torch (installed by make setup for the local LLM), in a fresh process so the
    switches do not leak into other tests: what provenance reads is what torch says."""
    pytest.importorskip("torch")
    code = """
import json, torch
from llaso_pytest import provenance
torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.benchmark = True
torch.set_float32_matmul_precision("medium")
info = provenance.torch_info()
with torch.autocast("cpu", dtype=torch.bfloat16):
    amp = provenance.torch_precision(autocast=True)["autocast"]
from execnet.gateway_base import dumps  # what xdist sends from a worker to the controller
dumps(info)
print(json.dumps({"info": info, "amp": amp, "version_type": type(info["version"]).__name__,
                  "truth": [torch.get_float32_matmul_precision(),
                            torch.backends.cuda.matmul.allow_tf32,
                            torch.backends.cudnn.benchmark, torch.__version__]}))
"""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    precision, tf32, benchmark, version = got["truth"]
    assert (precision, tf32, benchmark) == ("medium", True, True)
    assert got["info"]["version"] == version and got["version_type"] == "str"
    p = got["info"]["precision"]
    assert p["float32_matmul_precision"] == precision
    assert p["cuda_matmul_allow_tf32"] is tf32 and p["cudnn_benchmark"] is benchmark
    assert p["default_dtype"] == "float32"
    assert got["amp"]["cpu"] == {"enabled": True, "dtype": "bfloat16"}


@pytest.mark.gpu
def test_real_torch_precision_is_recorded() -> None:
    torch = pytest.importorskip("torch")
    before = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        info = provenance.torch_info()
        assert info is not None
        assert info["precision"]["cuda_matmul_allow_tf32"] is True
        assert info["precision"]["float32_matmul_precision"] == "high"
        with torch.autocast("cuda", dtype=torch.float16):
            amp = provenance.torch_precision(autocast=True)["autocast"]
        assert amp["cuda"] == {"enabled": True, "dtype": "float16"}
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
        torch.set_float32_matmul_precision("highest")


def test_cuda_driver_from_proc(tmp_path: Path) -> None:
    assert provenance.cuda_driver(root=str(tmp_path)) is None
    _root(tmp_path, {"proc/driver/nvidia/version":
                     "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  "
                     "Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 UTC "
                     "2024\nGCC version:  gcc version 12.2.0\n"})
    assert provenance.cuda_driver(root=str(tmp_path)) == "550.54.14"


# -- differences and warnings --------------------------------------------------------------
def _prov(lock: str, tf32: bool, digest: str) -> dict[str, Any]:
    return {"locks": {"uv.lock": {"kind": "uv", "sha256": _sha(lock), "size": len(lock)}},
            "container": {"runtime": "docker", "image_digest": digest,
                          "detected_by": ["/.dockerenv"]},
            "torch": {"version": "2.9.0", "precision": provenance.torch_precision(
                _torch_like(tf32=tf32, precision="high" if tf32 else "highest"))}}


def test_changed_lock_image_and_precision_are_named_and_warned() -> None:
    base = _prov(UV_LOCK, False, "sha256:" + "1" * 64)
    head = _prov(UV_LOCK + "# bumped\n", True, "sha256:" + "2" * 64)
    paths = {p.path for p in diff_provenance(base, head)}
    assert {"locks.uv.lock.sha256", "locks.uv.lock.size", "container.image_digest",
            "torch.precision.cuda_matmul_allow_tf32",
            "torch.precision.float32_matmul_precision"} == paths
    warns = environment_warnings(diff_provenance(base, head))
    assert [w.split(" differs")[0] for w in warns] == [
        "the environment lock", "the container image", "the precision setting"]
    assert "torch.precision.float32_matmul_precision: 'highest' -> 'high'" in warns[2]
    assert environment_warnings(diff_provenance(base, base)) == []
    no_lock = {k: v for k, v in head.items() if k != "locks"}
    assert "locks.uv.lock.sha256 (base only)" in environment_warnings(
        diff_provenance(base, no_lock))[0]


def _record(path: Path, prov: dict[str, Any]) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "compare_testutil", Path(__file__).parents[1] / "compare" / "compare_testutil.py")
    assert spec is not None and spec.loader is not None
    util = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(util)
    rec, _ = util.synthetic_pair()
    rec["provenance"] = prov
    path.write_text(json.dumps(rec))
    return path


def test_llaso_compare_names_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    base = _record(tmp_path / "base.json", _prov(UV_LOCK, False, "sha256:" + "1" * 64))
    head = _record(tmp_path / "head.json", _prov(UV_LOCK + "x", True, "sha256:" + "1" * 64))
    assert llaso_main(["compare", str(base), str(head)]) == 0
    out = capsys.readouterr().out
    assert "provenance differs: torch.precision.float32_matmul_precision, " \
        "torch.precision.cuda_matmul_allow_tf32, locks.uv.lock.sha256" in out
    assert "warning: the environment lock differs between the runs (locks.uv.lock.sha256" in out
    assert "warning: the precision setting differs between the runs" in out
    assert "container image" not in out


def test_plugin_records_locks_and_container(pytester: pytest.Pytester) -> None:
    (pytester.path / "uv.lock").write_text(UV_LOCK)
    pytester.makepyfile("def test_x(record_metric):\n"
                        "    record_metric('acc', 1.0, higher_is_better=True)\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    assert rec["provenance"]["locks"]["uv.lock"]["sha256"] == _sha(UV_LOCK)
    assert rec["provenance"].get("container") == container_info()


TORCH_CONFTEST = """
import sys, types
ns = types.SimpleNamespace
torch = types.ModuleType("torch")  # a stand-in with torch's attribute names (no torch here)
torch.__version__ = "2.9.0"
torch.version = ns(cuda=None)
torch.cuda = ns(is_available=lambda: False)
torch.backends = ns(cuda=ns(matmul=ns(allow_tf32=False)),
                    cudnn=ns(allow_tf32=True, benchmark=False, deterministic=False,
                             is_available=lambda: False, version=lambda: None))
torch.get_float32_matmul_precision = lambda: "highest"
torch.are_deterministic_algorithms_enabled = lambda: False
torch.get_default_dtype = lambda: "torch.float32"
torch.manual_seed = lambda seed: None
sys.modules["torch"] = torch
"""


def test_precision_each_test_ran_under_is_recorded(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TORCH_CONFTEST)
    pytester.makepyfile("""
import sys
def test_a(record_metric):
    record_metric("acc", 1.0, higher_is_better=True)
def test_b(record_metric):
    sys.modules["torch"].backends.cuda.matmul.allow_tf32 = True  # a fixture flips TF32
    record_metric("acc", 1.0, higher_is_better=True)
""")
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*provenance torch.precision recorded twice with different "
                              "values*"])
    rec = json.loads((pytester.path / ".llaso" / "runs" / "latest.json").read_text())
    first, second = rec["provenance"]["torch"]["precision"]
    assert first["cuda_matmul_allow_tf32"] is False
    assert second["cuda_matmul_allow_tf32"] is True
    assert first["float32_matmul_precision"] == "highest"
