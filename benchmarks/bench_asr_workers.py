"""Decoding work of the clean ASR suite serially, with ``-n 2``, and re-run (transcript cache).

Goal (issue 13, item 3): ``pytest -n 2`` decodes each utterance once, as a serial run does
(before the cache every worker decoded the whole set again); a re-run decodes nothing. The
probe counts ``transcribe`` calls (warm-ups included) and their seconds in every process.

    python benchmarks/bench_asr_workers.py [pytest args, e.g. --llaso-speech-engines=...]

Prints per run: wall time, decodes, decode seconds, and the ratios decodes(-n 2) /
decodes(serial) (goal 1.0) and wall(-n 2) / wall(serial), all measured in this run, with
the load average (the machine may be shared).
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = '''
import functools, os, time

def pytest_configure(config):
    from llaso_pytest.speech import engines
    for cls in (engines.PocketSphinxRecognizer, engines.FasterWhisperRecognizer):
        orig = cls.transcribe
        @functools.wraps(orig)
        def timed(self, x, _orig=orig):
            t0 = time.perf_counter()
            try:
                return _orig(self, x)
            finally:
                with open(os.environ["LLASO_DECODE_PROBE"], "a") as fh:
                    fh.write(f"{os.getpid()} {time.perf_counter() - t0:.6f}\\n")
        cls.transcribe = timed
'''


def _run(tmp: Path, label: str, cache: Path, extra: list[str], argv: list[str]) -> dict[str, float]:
    probe = tmp / f"{label}.probe"
    env = dict(os.environ, LLASO_DECODE_PROBE=str(probe),
               PYTHONPATH=os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "suites/asr", "-m", "clean", "-q", "-p",
           "llaso_decode_probe", "-p", "no:cacheprovider", f"--llaso-speech-cache={cache}",
           f"--llaso-dir={tmp / ('store-' + label)}", *extra, *argv]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{label}: pytest exited {proc.returncode}")
    rows = [line.split() for line in probe.read_text().splitlines()] if probe.exists() else []
    per = collections.Counter(pid for pid, _ in rows)
    return {"wall": wall, "decodes": len(rows), "decode_s": sum(float(s) for _, s in rows),
            "processes": len(per)}


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "llaso_decode_probe.py").write_text(PROBE)
        flite = REPO / ".llaso" / "cache" / "speech" / "flite"
        caches = {}
        for label in ("serial", "n2"):
            caches[label] = tmp / f"cache-{label}"
            caches[label].mkdir()
            if flite.is_dir():  # synthesised audio is not what is measured
                shutil.copytree(flite, caches[label] / "flite")
        runs = {
            "serial (cold cache)": _run(tmp, "serial", caches["serial"], [], argv),
            "-n 2 (cold cache)": _run(tmp, "n2", caches["n2"], ["-n", "2"], argv),
            "re-run (warm cache)": _run(tmp, "warm", caches["serial"], [], argv),
        }
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}, "
          f"cpu cores: {os.cpu_count()}")
    for label, r in runs.items():
        print(f"{label:22s} wall {r['wall']:7.1f} s  decodes {r['decodes']:4d}  decode "
              f"{r['decode_s']:7.1f} s  in {r['processes']} process(es)")
    serial, n2 = runs["serial (cold cache)"], runs["-n 2 (cold cache)"]
    ratio = n2["decodes"] / serial["decodes"]
    print(f"decodes -n 2 / serial: {ratio:.2f} (goal 1.00; every worker decoding everything "
          "would be 2.00)")
    print(f"wall -n 2 / serial: {n2['wall'] / serial['wall']:.2f}")
    print(f"decodes of the re-run: {runs['re-run (warm cache)']['decodes']} (goal 0)")
    return 0 if ratio <= 1.0 and runs["re-run (warm cache)"]["decodes"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
