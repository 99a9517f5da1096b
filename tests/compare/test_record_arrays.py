"""Reading a record for a comparison: per-item columns decoded as NumPy, ids shared.

``read_record(path, arrays=True)`` (``llaso compare``, ``compare_files``) must give the same
comparison as the plain reader, refuse the same malformed files with the same messages, and
hold far less memory than Python lists of numbers.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llaso_pytest.compare import compare_files, compare_records
from llaso_pytest.record import RecordError, read_record
from llaso_pytest.record_arrays import numeric


def _record(m: int, n: int, *, seed: int, lists: bool = True) -> dict[str, Any]:
    """``m`` tests with a WER (integer columns) and a judge score (real, grouped); the
    columns as JSON lists, or (``lists=False``) as NumPy arrays, as a session holds them."""
    rng = np.random.default_rng(seed)

    def col(x: np.ndarray) -> Any:
        return x.tolist() if lists else x

    ref = np.random.default_rng(7).integers(3, 25, n)
    ids = [f"utt{i:05d}" for i in range(n)]
    tests = []
    for j in range(m):
        errors = rng.binomial(ref, 0.1 + 0.02 * (j % 2) * seed)
        score = rng.random(n)
        tests.append({"nodeid": f"t.py::test_{j}", "outcome": "passed", "duration": 0.0,
                      "markers": [], "results": [
                          {"name": "wer", "value": float(errors.sum() / ref.sum()),
                           "ci": None, "confidence": 0.95, "n": n, "higher_is_better": False,
                           "signature": {"text": "wer", "fields": {"metric": "wer"}},
                           "aggregate": "ratio", "extra": {},
                           "items": {"ids": ids, "groups": None,
                                     "scores": col(errors / ref),
                                     "stats": {"errors": col(errors),
                                               "ref_words": col(ref)}}},
                          {"name": "judge", "value": float(score.mean()), "ci": None,
                           "confidence": 0.95, "n": n, "higher_is_better": True,
                           "signature": {"text": "judge", "fields": {"metric": "judge"}},
                           "aggregate": "mean", "extra": {},
                           "items": {"ids": ids, "groups": [f"g{i % 9}" for i in range(n)],
                                     "scores": col(score),
                                     "stats": {"sum": col(score),
                                               "count": col(np.ones(n, int))}}}]})
    return {"schema_version": 1, "kind": "llaso-run-record", "run_id": f"r{seed}",
            "started_at": "2026-01-01T00:00:00+00:00", "complete": True, "provenance": {},
            "tests": tests}


def _write(tmp_path: Path, name: str, rec: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(rec), encoding="utf-8")
    return path


def test_columns_become_exact_arrays_and_ids_one_list(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _record(3, 500, seed=1))
    rec = read_record(path, arrays=True).to_dict()
    results = [r for t in rec["tests"] for r in t["results"]]
    wer = results[0]["items"]
    assert wer["stats"]["errors"].dtype == np.int32 and wer["scores"].dtype == np.float64
    plain = read_record(path).to_dict()["tests"][0]["results"][0]["items"]
    assert wer["stats"]["errors"].tolist() == plain["stats"]["errors"]
    assert wer["scores"].tolist() == plain["scores"]  # floats read back bit for bit
    assert len({id(r["items"]["ids"]) for r in results}) == 1  # six metrics, one id list
    assert len({id(r["items"]["groups"]) for r in results if r["items"]["groups"]}) == 1


def test_the_comparison_is_the_same_as_from_the_plain_reader(tmp_path: Path) -> None:
    a = _write(tmp_path, "a", _record(4, 400, seed=1))
    b = _write(tmp_path, "b", _record(4, 400, seed=2))
    fast = compare_files(a, b, n_boot=1000)
    plain = compare_records(read_record(a), read_record(b), n_boot=1000,
                            base_source=str(a), head_source=str(b))
    assert fast.to_dict() == plain.to_dict()
    methods = {str(m.method) for m in fast.metrics}
    assert "paired-bootstrap" in methods and any("cluster" in m for m in methods), methods


@pytest.mark.parametrize(("bad", "message"), [
    ("NaN", "not a finite number"), ("Infinity", "not a finite number"),
    ("1e400", "not a finite number"), (str(2**70), "integer out of range"),
    ('"x"', "must be a list of numbers"),
])
def test_a_bad_value_in_a_column_is_named_as_without_arrays(tmp_path: Path, bad: str,
                                                              message: str) -> None:
    text = json.dumps(_record(1, 100, seed=1))
    head, sep, rest = text.partition('"errors": [')
    path = tmp_path / "bad.json"
    path.write_text(head + sep + bad + ", " + rest, encoding="utf-8")
    for arrays in (False, True):
        with pytest.raises(RecordError, match=message) as info:
            compare_records(read_record(path, arrays=arrays).to_dict(),
                            read_record(path, arrays=arrays).to_dict())
        assert str(path) in str(info.value) or "errors" in str(info.value)


def test_only_long_flat_lists_of_finite_numbers_in_range_are_converted() -> None:
    assert numeric([1] * 10) == [1] * 10  # short: left alone
    assert numeric([1, 2.5] * 40).dtype == np.float64
    assert numeric([2**40] * 70).dtype == np.int64
    big = [2**63] * 70
    assert numeric(big) is big
    bools = [True] * 70
    assert numeric(bools) is bools
    nan = [float("nan")] * 70
    assert numeric(nan) is nan


def test_decoding_with_arrays_holds_a_fraction_of_the_memory(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _record(12, 5000, seed=1))
    peaks = {}
    for arrays in (False, True):
        tracemalloc.start()
        try:
            rec = read_record(path, arrays=arrays)
            held = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del rec
        peaks[arrays] = held
    assert peaks[True] < peaks[False] / 4, {k: v / 1e6 for k, v in peaks.items()}


def test_compare_records_holds_no_copy_of_each_metrics_statistics() -> None:
    """Before, every metric's (n, k) float64 matrices of both runs and its resampled columns
    stayed alive until the one batched product: about 50 bytes an item a metric. Now a metric
    costs its centred float32 column (4 bytes an item) and small results."""
    n = 20_000
    peaks = []
    for m in (4, 16):
        base = _record(m, n, seed=1, lists=False)
        head = _record(m, n, seed=2, lists=False)
        tracemalloc.start()
        try:
            compare_records(base, head, n_boot=200)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    per_metric = (peaks[1] - peaks[0]) / (12 * 2)
    assert per_metric < 12 * n, f"{per_metric / n:.1f} bytes an item a metric"
