"""Start-up cost of the plugin: `pytest --collect-only` on a 200-test suite, with and without.

Runs each variant alternately (so drift hits both), repeated, and prints medians and the
median difference. Target (issue 2): under +50 ms. Also times a full run of the same suite,
where the plugin additionally collects provenance and writes the run record.

    python benchmarks/bench_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_suite(root: Path, *, files: int = 20, per_file: int = 10) -> None:
    for f in range(files):
        body = "\n".join(f"def test_{f}_{i}():\n    assert {i} == {i}\n" for i in range(per_file))
        (root / f"test_mod{f}.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")


# Byte-code caching as users have it: a PYTHONDONTWRITEBYTECODE=1 environment would make every
# run recompile the plugin's modules (and pytest's), measuring the compiler, not the plugin.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=ENV,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_suite(root)
        for label, extra in (("collect-only", ["--collect-only"]), ("full run", [])):
            with_plugin: list[float] = []
            without: list[float] = []
            timed(base + extra, root)  # warm the file-system cache and write .pyc files
            timed(base + extra + ["-p", "no:llaso"], root)
            for _ in range(args.repeat):
                with_plugin.append(timed(base + extra, root))
                without.append(timed(base + extra + ["-p", "no:llaso"], root))
            diffs = [a - b for a, b in zip(with_plugin, without, strict=True)]
            print(
                f"{label:13s} 200 tests, {args.repeat} runs each: "
                f"with llaso {statistics.median(with_plugin) * 1e3:7.1f} ms, "
                f"without {statistics.median(without) * 1e3:7.1f} ms, "
                f"median difference {statistics.median(diffs) * 1e3:+6.1f} ms"
                + ("  (target < +50 ms)" if label == "collect-only" else "")
            )


if __name__ == "__main__":
    main()
