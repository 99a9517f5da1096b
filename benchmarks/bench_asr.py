"""Benchmark of the shipped ASR suite: wall time, RTF per engine and condition, harness share.

    python benchmarks/bench_asr.py                 # the whole suite (clean + noisy)
    python benchmarks/bench_asr.py -m clean        # extra args go to pytest

It runs ``pytest suites/asr`` in a subprocess with a small probe plugin that times, with
``time.perf_counter``, everything that is model work: building the recognisers (loading
weights) and every ``transcribe`` call, warm-up runs included. What remains of the wall
time is the harness: interpreter and pytest start-up, hash verification, audio loading and
noise mixing, metrics with bootstrap CIs, recording and writing the run record. The probe
also times audio preparation and the metric calls, so the harness share is itemised.

Target (issue 5): harness share of wall time < 5%. RTF per engine per condition is read
from the run record the suite wrote (``rtf`` results, compute seconds / audio seconds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r'''
"""Timing probe loaded with -p llaso_bench_probe (benchmarks/bench_asr.py)."""
import functools, json, os, time

TOTALS = {"transcribe_s": 0.0, "transcribe_calls": 0, "load_s": 0.0, "prep_s": 0.0,
          "metrics_s": 0.0, "timed_s": 0.0}


def _wrap(obj, attr, key, count=None):
    orig = getattr(obj, attr)

    @functools.wraps(orig)
    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            TOTALS[key] += time.perf_counter() - t0
            if count:
                TOTALS[count] += 1

    setattr(obj, attr, timed)


def pytest_configure(config):
    TOTALS["configured_at"] = time.time()
    from llaso_pytest.speech import datasets, engines
    from llaso_pytest import metrics
    from llaso_pytest.metrics import speech as mspeech

    for cls in (engines.PocketSphinxRecognizer, engines.FasterWhisperRecognizer):
        _wrap(cls, "transcribe", "transcribe_s", "transcribe_calls")
        _wrap(cls, "__init__", "load_s")
    _wrap(datasets, "prepare_utterance", "prep_s")
    from llaso_pytest.speech import timing
    orig = timing.build_timing

    def build_timing(*a, **k):
        t = orig(*a, **k)
        TOTALS["timed_s"] += t.compute_seconds
        return t

    timing.build_timing = build_timing
    for name in ("wer", "cer"):
        _wrap(mspeech, name, "metrics_s")
        setattr(metrics, name, getattr(mspeech, name))


def pytest_unconfigure(config):
    TOTALS["unconfigured_at"] = time.time()
    with open(os.environ["LLASO_BENCH_PROBE_OUT"], "w") as fh:
        json.dump(TOTALS, fh)
'''


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        (tmpd / "llaso_bench_probe.py").write_text(PROBE)
        record = tmpd / "run.json"
        probe_out = tmpd / "probe.json"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(tmpd), env.get("PYTHONPATH", "")])
        env["LLASO_BENCH_PROBE_OUT"] = str(probe_out)
        cmd = [sys.executable, "-m", "pytest", "suites/asr", "-q", "-p", "llaso_bench_probe",
               "-p", "no:cacheprovider", f"--llaso-out={record}",
               "--llaso-speech-transcript-cache=off", *argv]  # measure decoding, not the cache
        t0 = time.time()
        w0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - w0
        if not probe_out.exists() or not record.exists():
            print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
            return 2
        probe = json.loads(probe_out.read_text())
        rec = json.loads(record.read_text())

    model = probe["transcribe_s"] + probe["load_s"]
    harness = wall - model
    startup = probe["configured_at"] - t0
    print(f"command: {' '.join(cmd[1:])}")
    print(f"outcome: {rec['summary']}  (exit {proc.returncode})")
    prov = rec["provenance"]
    models = prov.get("models") or prov.get("recorded", {}).get("models", {})
    print(f"cpu cores: {os.cpu_count()}, models: "
          + ", ".join(f"{n} on {m.get('device')} ({m.get('dtype')})" for n, m in models.items()))
    print()
    print(f"wall time of pytest suites/asr         {wall:8.1f} s")
    print(f"  model inference (transcribe calls)   {probe['transcribe_s']:8.1f} s  "
          f"({probe['transcribe_calls']} calls, warm-ups included)")
    print(f"    of which timed (RTF) decoding      {probe['timed_s']:8.1f} s, warm-up "
          f"{probe['transcribe_s'] - probe['timed_s']:.1f} s")
    print(f"  model loading                        {probe['load_s']:8.1f} s")
    print(f"  harness (wall - model)               {harness:8.1f} s  = "
          f"{100 * harness / wall:.1f}% of wall (target < 5%)")
    print(f"    interpreter + pytest start-up      {startup:8.1f} s")
    print(f"    audio load / resample / noise mix  {probe['prep_s']:8.1f} s")
    print(f"    WER/CER with bootstrap CIs         {probe['metrics_s']:8.1f} s")
    other = harness - startup - probe["prep_s"] - probe["metrics_s"]
    print(f"    everything else                    {other:8.1f} s  (hashing, flite cache, "
          "records, breakdown metrics)")
    print()
    print("RTF (compute s / audio s; lower is faster) per engine and condition:")
    table: dict[str, dict[str, float]] = defaultdict(dict)
    conds: list[str] = []
    for t in rec["tests"]:
        for r in t.get("results", []):
            if r["name"] != "rtf":
                continue
            sig = r["signature"]["fields"]
            cond = str(sig.get("condition"))
            engine = str(sig.get("model"))
            table[engine][cond] = float(r["value"])
            if cond not in conds:
                conds.append(cond)
    conds.sort(key=lambda c: (c != "clean", c))
    print(f"  {'engine':22s}" + "".join(f"{c:>12s}" for c in conds))
    for engine, row in sorted(table.items()):
        print(f"  {engine:22s}" + "".join(
            f"{row[c]:12.3f}" if c in row else f"{'-':>12s}" for c in conds))
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
