"""Hand-built run records (Contract 3) and results (Contract 2) for the comparison tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def result(
    name: str,
    *,
    stats: Mapping[str, Sequence[float]],
    aggregate: str = "ratio",
    ids: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
    higher_is_better: bool = False,
    value: float | None = None,
    ci: tuple[float, float] | None = None,
    fields: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    cols = {k: [float(x) for x in v] for k, v in stats.items()}
    n = len(next(iter(cols.values()))) if cols else 0
    if ids is None:
        ids = [f"u{i}" for i in range(n)]
    if value is None and cols:
        sums = [sum(c) for c in cols.values()]
        value = sums[0] / sums[1]
        if ci is None and n >= 10:
            ci = _percentile_ci(cols)
    sig = {"metric": name, "normalizer": "basic", "n_boot": 1000, "seed": 0, **(fields or {})}
    return {
        "name": name,
        "value": value,
        "ci": None if ci is None else list(ci),
        "confidence": confidence,
        "n": n,
        "higher_is_better": higher_is_better,
        "signature": {"text": "|".join(f"{k}:{v}" for k, v in sig.items()), "fields": sig},
        "aggregate": aggregate,
        "items": {"ids": list(ids), "groups": None if groups is None else list(groups),
                  "stats": cols, "scores": None if scores is None else list(scores)},
        "extra": {},
    }


def _percentile_ci(cols: Mapping[str, Sequence[float]], n_boot: int = 300) -> tuple[float, float]:
    """A quick seeded percentile bootstrap of sum(col0)/sum(col1), for realistic records."""
    mat = np.column_stack([np.asarray(c, dtype=float) for c in cols.values()])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, mat.shape[0], size=(n_boot, mat.shape[0]))
    sums = mat[idx].sum(axis=1)
    vals = sums[:, 0] / sums[:, 1]
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


def wer_result(errors: Sequence[int], ref_words: Sequence[int], **kw: Any) -> dict[str, Any]:
    errors = list(errors)
    ref_words = list(ref_words)
    scores = [e / r for e, r in zip(errors, ref_words, strict=True)]
    return result(kw.pop("name", "wer"), stats={"errors": errors, "ref_words": ref_words},
                  aggregate="ratio", scores=scores, higher_is_better=False, **kw)


def accuracy_result(correct: Sequence[int], **kw: Any) -> dict[str, Any]:
    correct = [int(c) for c in correct]
    return result(kw.pop("name", "exact_match"),
                  stats={"sum": correct, "count": [1] * len(correct)}, aggregate="mean",
                  scores=correct, higher_is_better=True, **kw)


def record(tests: Mapping[str, Sequence[dict[str, Any]]], *, run_id: str = "run",
           provenance: Mapping[str, Any] | None = None, complete: bool = True) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "llaso-run-record",
        "run_id": run_id,
        "complete": complete,
        "interrupted_by": None,
        "started_at": "2026-11-21T20:00:00.000+00:00",
        "finished_at": "2026-11-21T20:01:00.000+00:00",
        "exit_status": 0,
        "summary": {"passed": len(tests)},
        "provenance": dict(provenance or {"git": {"commit": "abc123", "dirty": False},
                                          "seed": 1234, "packages": {"numpy": "2.0.0"}}),
        "tests": [{"nodeid": nodeid, "markers": [], "outcome": "passed", "duration": 0.1,
                   "results": list(results), "longrepr": None}
                  for nodeid, results in tests.items()],
    }


def synthetic_pair(
    *, n: int = 400, seed: int = 0, base_rate: float = 0.10, head_rate: float = 0.10,
    name: str = "wer", nodeid: str = "suites/asr/test_asr.py::test_wer[clean]",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two records holding one WER metric over the same items with given error rates."""
    rng = np.random.default_rng(seed)
    ref = rng.integers(5, 20, size=n)
    err_a = rng.binomial(ref, base_rate)
    err_b = rng.binomial(ref, head_rate)
    a = record({nodeid: [wer_result(err_a, ref, name=name)]}, run_id="base")
    b = record({nodeid: [wer_result(err_b, ref, name=name)]}, run_id="head")
    return a, b


def modified(rec: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(rec))


def write_json(path: Any, data: Any) -> Any:
    import json

    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def mixed_comparison() -> Any:
    """One metric of each verdict, flips, provenance changes, a crafted item id."""
    rng = np.random.default_rng(11)
    ref = rng.integers(5, 20, 300)
    ids = [f"utt{i}" for i in range(300)]
    ids[7] = "evil|<script>alert(1)</script>`**x**`"
    ok_a = (rng.random(300) < 0.8).astype(int)
    ok_b = ok_a.copy()
    ok_b[:60] = 1 - ok_b[:60]
    base_tests = {
        "suites/asr/test_asr.py::test_wer[clean]": [
            wer_result(rng.binomial(ref, 0.10), ref, ids=ids)],
        "suites/asr/test_asr.py::test_wer[noisy]": [
            wer_result(rng.binomial(ref, 0.30), ref, ids=ids)],
        "suites/llm/test_qa.py::test_exact_match": [accuracy_result(ok_a, ids=ids)],
        "suites/llm/test_qa.py::test_cer": [wer_result(rng.binomial(ref, 0.05), ref, name="cer",
                                                       ids=ids)],
        "suites/llm/test_old.py::test_removed": [accuracy_result(ok_a, ids=ids)],
    }
    head_tests = {
        "suites/asr/test_asr.py::test_wer[clean]": [
            wer_result(rng.binomial(ref, 0.14), ref, ids=ids)],
        "suites/asr/test_asr.py::test_wer[noisy]": [
            wer_result(rng.binomial(ref, 0.22), ref, ids=ids)],
        "suites/llm/test_qa.py::test_exact_match": [accuracy_result(ok_b, ids=ids)],
        "suites/llm/test_qa.py::test_cer": [wer_result(rng.binomial(ref, 0.05), ref, name="cer",
                                                       ids=ids, fields={"normalizer": "none"})],
        "suites/llm/test_new.py::test_added": [accuracy_result(ok_b, ids=ids)],
    }
    a = record(base_tests, run_id="base-run",
               provenance={"git": {"commit": "1111111111abc"}, "packages": {"jiwer": "3.0.4"},
                           "seed": 1})
    b = record(head_tests, run_id="head-run",
               provenance={"git": {"commit": "2222222222def", "dirty": True},
                           "packages": {"jiwer": "4.0.0"}, "seed": 1,
                           "models": {"asr": {"sha256": "abc"}}})
    from llaso_pytest.compare import compare_records

    return compare_records(a, b, n_boot=1000, seed=0)
