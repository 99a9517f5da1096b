"""The open aggregate registry: a corpus metric defined outside llaso-pytest, end to end."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from llaso_pytest import aggregates, stats
from llaso_pytest.aggregates import AggregateError, register_aggregate
from llaso_pytest.errors import LlasoError
from llaso_pytest.metrics.base import MetricResult, from_stats

# --- a METEOR-like metric of a "third party": summed matches, lengths and chunks --------


def _meteor_like(summed: np.ndarray, params: Mapping[str, str]) -> np.ndarray:
    """Columns (matches, hyp_len, ref_len, chunks): METEOR's F-mean with its chunk penalty."""
    s = aggregates.columns(summed, 4, "meteor_like")
    alpha = float(params.get("alpha", "0.9"))
    m, h, r, ch = s[:, 0], s[:, 1], s[:, 2], s[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        p, rec = m / h, m / r
        fmean = p * rec / (alpha * p + (1 - alpha) * rec)
        penalty = 0.5 * (ch / m) ** 3
    return np.where(m > 0, fmean * (1 - penalty), 0.0)


register_aggregate("meteor_like", _meteor_like)
register_aggregate("meteor_like", _meteor_like)  # a re-import registers again: a no-op


def _items(n: int, seed: int, quality: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.integers(5, 25, size=n)
    hyp = np.maximum(1, ref + rng.integers(-3, 4, size=n))
    matches = rng.binomial(np.minimum(ref, hyp), quality)
    chunks = np.minimum(matches, rng.integers(1, 4, size=n))
    return {"matches": matches, "hyp_len": hyp, "ref_len": ref, "chunks": chunks}


def _by_hand(cols: Mapping[str, np.ndarray], alpha: float = 0.9) -> float:
    m, h, r, ch = (float(np.sum(cols[k])) for k in ("matches", "hyp_len", "ref_len", "chunks"))
    p, rec = m / h, m / r
    return p * rec / (alpha * p + (1 - alpha) * rec) * (1 - 0.5 * (ch / m) ** 3)


def test_registered_metric_value_interval_and_record() -> None:
    cols = _items(300, seed=1, quality=0.7)
    res = from_stats("meteor", cols, aggregate="meteor_like(alpha=0.8)", higher_is_better=True,
                     n_boot=400, seed=3)
    assert res.value == pytest.approx(_by_hand(cols, alpha=0.8), rel=1e-12)
    assert res.ci is not None and res.ci[0] < res.value < res.ci[1]
    # the same engine on the same statistics by kind name gives the same interval
    boot = stats.bootstrap_ci(res.stat_matrix(), "meteor_like(alpha=0.8)", n_boot=400, seed=3)
    assert boot.ci == res.ci
    # the record re-aggregates without knowing the metric
    back = MetricResult.from_record(res.to_record())
    summed = np.array([float(np.sum(v)) for v in back.stats.values()])
    assert aggregates.aggregate(back.aggregate, summed)[0] == res.value


def test_registered_metric_compares_through_compare_records() -> None:
    from llaso_pytest.compare import compare_records

    def run(quality: float, run_id: str) -> dict[str, object]:
        res = from_stats("meteor", _items(400, seed=7, quality=quality),
                         aggregate="meteor_like", higher_is_better=True, n_boot=200)
        return {"schema_version": 1, "kind": "llaso-run-record", "run_id": run_id,
                "complete": True, "interrupted_by": None,
                "started_at": "2026-11-21T20:00:00.000+00:00",
                "finished_at": "2026-11-21T20:01:00.000+00:00", "exit_status": 0,
                "summary": {"passed": 1}, "provenance": {},
                "tests": [{"nodeid": "t.py::test_meteor", "markers": [], "outcome": "passed",
                           "duration": 0.1, "results": [res.to_record()], "longrepr": None}]}

    base, same, worse = run(0.8, "base"), run(0.8, "same"), run(0.6, "worse")
    assert [m.verdict for m in compare_records(base, worse, n_boot=500).metrics] == ["regressed"]
    assert [m.verdict for m in compare_records(worse, base, n_boot=500).metrics] == ["improved"]
    assert [m.verdict for m in compare_records(base, same, n_boot=500).metrics] == ["unchanged"]


def test_registry_errors_name_the_known_aggregates() -> None:
    def other(summed: np.ndarray, params: Mapping[str, str]) -> np.ndarray:
        return np.zeros(np.shape(summed)[0])

    with pytest.raises(AggregateError, match=r"'meteor_like' is already registered .*"
                       r"test_aggregates.*replace=True.*Known aggregates: bleu, chrf"):
        register_aggregate("meteor_like", other)
    with pytest.raises(AggregateError, match=r"'bleu' is built in .*metrics\.text"):
        register_aggregate("bleu", other)
    with pytest.raises(AggregateError, match="name 'bad name' is invalid"):
        register_aggregate("bad name", other)
    with pytest.raises(ValueError, match=r"unknown aggregate 'meteor2'; known aggregates: .*"
                       r"meteor_like.*register_aggregate"):
        aggregates.aggregate_fn("meteor2")
    with pytest.raises(AggregateError, match="unknown aggregate 'nope'"):
        from_stats("x", {"a": [1.0]}, aggregate="nope", higher_is_better=True)
    assert issubclass(AggregateError, LlasoError) and issubclass(AggregateError, ValueError)
    assert {"bleu", "chrf", "ter", "mean", "ratio", "wil", "meteor_like"} <= set(
        aggregates.registered()
    )
    register_aggregate("test_aggregates.replaced", other)
    register_aggregate("test_aggregates.replaced", _meteor_like, replace=True)
    row = np.array([[5.0, 6.0, 7.0, 1.0]])
    assert aggregates.aggregate("test_aggregates.replaced", row) == _meteor_like(row, {})


def test_from_stats_refuses_bad_columns() -> None:
    with pytest.raises(ValueError, match=r"one value per item .*'a': 2, 'b': 3"):
        from_stats("x", {"a": [1, 2], "b": [1, 2, 3]}, aggregate="ratio", higher_is_better=False)
    with pytest.raises(ValueError, match=r"stats\['a'\] is not finite at \[1\]"):
        from_stats("x", {"a": [1, np.nan], "b": [1, 2]}, aggregate="ratio",
                   higher_is_better=False)
    with pytest.raises(ValueError, match=r"stats\['a'\] must be a 1-d array of numbers"):
        from_stats("x", {"a": ["1", "2"], "b": [1, 2]}, aggregate="ratio",
                   higher_is_better=False)


def test_builtin_names_resolve_before_their_module_is_imported() -> None:
    code = (
        "import sys\n"
        "from llaso_pytest import aggregates as a\n"
        "assert 'llaso_pytest.metrics.text' not in sys.modules\n"
        "assert {'bleu', 'ter', 'wil'} <= set(a.registered())\n"
        "print(a.aggregate('ter', [[3.0, 10.0]])[0], a.aggregate('wil', [[1.0, 2.0, 2.0]])[0])\n"
        "assert 'llaso_pytest.metrics.text' in sys.modules\n"
        "assert 'llaso_pytest.stats' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["30.0", "0.75"]


def test_registry_module_imports_neither_stats_nor_metrics() -> None:
    import llaso_pytest.aggregates as mod

    tree = ast.parse(Path(mod.__file__ or "").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {m for m in imported if m.startswith(("llaso_pytest.stats",
                                                     "llaso_pytest.metrics"))}
    assert "pytest" not in imported
