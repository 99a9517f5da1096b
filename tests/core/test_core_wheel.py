"""It installs like a real package (issue 13, item 7).

The wheel is built from a copy of the sources (offline: ``pip wheel --no-build-isolation``),
installed into a fresh virtual environment outside the repository, and a small eval with a
judged metric runs there against the shipped fake OpenAI server; the shipped ASR model pins
are found there by name (package data, not ``<rootdir>/fixtures/models``). The dependencies (pytest,
NumPy, openai, ...) come from this environment's site-packages through a ``.pth`` line; the
editable install of the checkout is not reachable from there (its finder is not loaded and
the repository is not on the path), which the eval itself checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EVAL = '''
import pathlib
import sys

import pytest

import llaso_pytest
from llaso_pytest import metrics

ITEMS = {
    f"q{i}": {"question": f"What is {i} + 1?", "answer": str(i + 1) if i % 3 else "no idea",
              "reference": str(i + 1)}
    for i in range(8)
}


def test_installed_from_the_wheel():
    where = pathlib.Path(llaso_pytest.__file__).resolve()
    assert pathlib.Path(sys.prefix).resolve() in where.parents, where


@pytest.mark.judge
def test_judged(judge, record_metric, llaso_seed):
    result = judge.rubric(ITEMS, prompt="judge_helpfulness", name="helpfulness")
    assert result.n_errors == 0
    record_metric(result.to_metric_result(seed=llaso_seed))


def test_shipped_model_pins_resolve_by_name(llaso_speech_models):
    # no --llaso-speech-models-dir and no fixtures/models here: the pins ship in the package
    registry = llaso_speech_models.registry
    for name, file in (("pocketsphinx-en-us", "pocketsphinx-en-us.json"),
                       ("whisper-tiny.en", "whisper-tiny-en.json")):
        found = registry.manifest_path(name)
        assert found.name == file and pathlib.Path(sys.prefix).resolve() in \
            found.resolve().parents, found
    loaded = llaso_speech_models.get("pocketsphinx-en-us")  # verified against the pin, loaded
    assert loaded.pin["verified"] == "sha256"
    assert pathlib.Path(loaded.pin["manifest"]).resolve() == \
        registry.manifest_path("pocketsphinx-en-us").resolve()


def test_exact_match(record_metric):
    refs = [v["reference"] for v in ITEMS.values()]
    hyps = [v["answer"] for v in ITEMS.values()]
    record_metric(metrics.exact_match(refs, hyps, ids=list(ITEMS)))
'''


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc  # type: ignore[no-any-return]


def _sources(dest: Path) -> Path:
    """The files a source distribution holds (no build outputs, caches or compiled modules)."""
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "llaso_pytest", dest / "llaso_pytest",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    return dest


@pytest.mark.slow
def test_the_wheel_ships_its_runtime_files_and_runs_a_judged_eval_outside_the_repo(
    tmp_path: Path,
) -> None:
    (tmp_path / "src").mkdir()
    src = _sources(tmp_path / "src")
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", str(dist), str(src)])
    (wheel,) = dist.glob("llaso_pytest-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # every file of the package (data included), except the C source of the compiled helper
    package = {p.relative_to(src).as_posix() for p in (src / "llaso_pytest").rglob("*")
               if p.is_file() and p.suffix != ".c"}
    assert "llaso_pytest/llm/templates/judge_helpfulness.toml" in package
    assert "llaso_pytest/py.typed" in package
    assert "llaso_pytest/speech/model_manifests/pocketsphinx-en-us.json" in package
    assert package <= names, sorted(package - names)

    env_dir = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)])
    python = env_dir / "bin" / "python"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
          "--ignore-installed",  # else pip uninstalls the checkout's own install first
          "--prefix", str(env_dir), str(wheel)])
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"]).stdout.strip())
    (site / "_llaso_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    project = tmp_path / "project"
    project.mkdir()
    (project / "test_eval.py").write_text(EVAL)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LLASO_", "PYTEST_", "OPENAI_")) and k != "PYTHONPATH"}
    proc = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "test_eval.py"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    record = json.loads((project / ".llaso" / "runs" / "latest.json").read_text())
    results = {r["name"]: r for t in record["tests"] for r in t["results"]}
    judged = results["helpfulness"]
    assert judged["n"] == 8 and judged["signature"]["fields"]["prompt"] == "judge_helpfulness"
    # the template came out of the installed package, not out of a checkout
    prompt_path = Path(judged["extra"]["judge"]["prompt"]["path"])
    assert prompt_path.resolve().parent == (site / "llaso_pytest" / "llm" / "templates").resolve()
    assert results["exact_match"]["value"] == pytest.approx(5 / 8)
    # the shipped pin came out of the installed package and is what provenance records
    prov = record["provenance"]
    pin = prov.get("recorded", prov)["models"]["pocketsphinx-en-us"]
    manifests = (site / "llaso_pytest" / "speech" / "model_manifests").resolve()
    assert Path(pin["manifest"]).resolve() == manifests / "pocketsphinx-en-us.json"
    # the install into the fresh environment left this environment's own install alone
    assert list(Path(sysconfig.get_paths()["purelib"]).glob("llaso_pytest-*.dist-info"))
