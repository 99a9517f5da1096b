"""Adapter: a Hugging Face ``evaluate`` metric with llaso intervals, signature and record.

``evaluate.load("name")`` downloads the metric script from the Hugging Face Hub, which is
neither reproducible nor possible offline, so this adapter takes either

* a local path (a metric script ``.py`` or a directory holding ``<dir>.py``), loaded
  with ``evaluate.load(path)``, or
* an already-loaded module (anything with a ``compute(predictions=, references=)``
  method, e.g. an ``evaluate.EvaluationModule``),

and says so clearly when given anything else (such as a bare Hub name).

The metric is computed per item (``compute(predictions=[h], references=[r])[key]``) and
the corpus value is the mean of the item scores, bootstrapped like every other metric.
That is right for decomposable metrics (accuracy, exact match, per-item similarity); the
metric's own corpus ``compute`` on all items is recorded in ``extra["corpus_value"]``
so a difference from the item mean is visible.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llaso_pytest.context import AUTO_SEED
from llaso_pytest.errors import MetricInputError
from llaso_pytest.metrics.base import MetricResult, build_result, check_parallel

__all__ = ["hf_metric", "load_hf_metric"]


_OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE")


@contextlib.contextmanager
def _hub_offline() -> Iterator[None]:
    """The Hugging Face libraries' offline switches on for the call (they read them when first
    imported, which is inside it), restored afterwards."""
    saved = {k: os.environ.get(k) for k in _OFFLINE_ENV}
    os.environ.update(dict.fromkeys(_OFFLINE_ENV, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _local_script(path: Path) -> Path:
    """The metric script ``evaluate.load`` would load from ``path`` locally: the ``.py`` file
    itself, or ``<dir>/<dir name>.py``. Anything else is refused here, because ``evaluate``
    would take it for a Hub name and go to the network."""
    if path.is_dir():
        script = path / f"{path.resolve().name}.py"
        if not script.is_file():
            found = sorted(p.name for p in path.glob("*.py"))[:5]
            raise MetricInputError(
                f"hf_metric: the folder {str(path)!r} has no metric script {script.name!r} "
                f"(evaluate loads <folder>/<folder name>.py; Python files there: "
                f"{found or 'none'}). Rename the script or pass the script's path; "
                "llaso-pytest never falls back to the Hugging Face Hub."
            )
        return script
    if path.suffix != ".py":
        raise MetricInputError(
            f"hf_metric: {str(path)!r} is not a metric script (expected a .py file or a "
            "folder holding <folder name>.py); llaso-pytest never falls back to the Hugging "
            "Face Hub."
        )
    return path


def load_hf_metric(metric: Any) -> tuple[Any, str, str]:
    """Resolve ``metric`` to ``(module, name, source)``; never touches the network."""
    if hasattr(metric, "compute") and callable(metric.compute):
        name = str(getattr(metric, "name", None) or type(metric).__name__)
        return metric, name, "module"
    if isinstance(metric, (str, os.PathLike)):
        path = Path(metric)
        if not path.exists():
            raise MetricInputError(
                f"hf_metric: {str(metric)!r} is not an existing local path. "
                "evaluate.load('<name>') would download the metric script from the Hugging "
                "Face Hub; llaso-pytest loads metrics only from a local path (a metric script "
                "or its directory) or an already-loaded module, so runs stay reproducible "
                "offline. Download the script once, commit it, and pass its path."
            )
        script = _local_script(path)
        digest = hashlib.sha256(script.read_bytes()).hexdigest()[:16]
        with _hub_offline():
            try:
                import evaluate
            except ImportError as exc:
                raise ImportError(
                    "hf_metric with a path needs the 'evaluate' package (pip install "
                    "evaluate), or pass an already-loaded module"
                ) from exc
            # an absolute path: evaluate decides "local" from its basename ("dir/" and "."
            # would read as Hub names)
            module = evaluate.load(str(path.resolve()))
        name = str(getattr(module, "name", None) or path.stem)
        return module, name, f"path-sha256:{digest}"
    raise MetricInputError(
        f"hf_metric needs a local path or a loaded evaluate module, got "
        f"{type(metric).__name__} {metric!r}"[:200]
    )


def _scalar(out: Any, key: str | None, what: str) -> tuple[float, str]:
    if not isinstance(out, Mapping):
        raise MetricInputError(f"{what}: compute() returned {type(out).__name__}, expected a dict")
    if key is None:
        nums = [
            k for k, v in out.items() if isinstance(v, numbers.Real) and not isinstance(v, bool)
        ]
        if len(nums) != 1:
            raise MetricInputError(
                f"{what}: compute() returned keys {sorted(out)}; pass key= to choose the score"
            )
        key = nums[0]
    if key not in out:
        raise MetricInputError(f"{what}: compute() result has no key {key!r} (keys: {sorted(out)})")
    v = out[key]
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise MetricInputError(f"{what}: score {key!r} is {v!r}, expected a finite number")
    return float(v), key


def hf_metric(
    metric: Any,
    references: Sequence[Any],
    hypotheses: Sequence[Any],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    key: str | None = None,
    name: str | None = None,
    higher_is_better: bool = True,
    compute_kwargs: Mapping[str, Any] | None = None,
) -> MetricResult:
    """Per-item scores of an ``evaluate`` metric, their mean, a bootstrap CI and a signature.

    ``key`` selects the score in ``compute()``'s dict (needed when it returns several
    numbers); ``higher_is_better`` is the metric's direction (``evaluate`` does not say).
    """
    module, mname, source = load_hf_metric(metric)
    refs, hyps, ids_given, grp = check_parallel(references, hypotheses, ids=ids, groups=groups)
    n = len(refs)
    id_t = ids_given or tuple(str(i) for i in range(n))
    kw = dict(compute_kwargs or {})
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        if r is None or h is None:
            raise MetricInputError(
                f"{'reference' if r is None else 'hypothesis'} for item id {id_t[i]!r} is None"
            )
    scores = np.empty(n, dtype=np.float64)
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        scores[i], key = _scalar(
            module.compute(predictions=[h], references=[r], **kw), key, f"{mname} item {id_t[i]!r}"
        )
    corpus, _ = _scalar(module.compute(predictions=hyps, references=refs, **kw), key, mname)
    try:
        from importlib.metadata import version

        ev = version("evaluate")
    except ImportError:
        ev = "none"
    sig = {"hf_metric": mname, "key": key, "source": source, "evaluate": ev,
           **{f"kw.{k}": repr(v) for k, v in sorted(kw.items())}}
    return build_result(
        name=name or mname, stats={"score": scores, "count": np.ones(n, dtype=np.int64)},
        aggregate_kind="mean", higher_is_better=higher_is_better, item_ids=id_t, groups=grp,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_fields=sig,
        signature_extra=signature_extra, scores=scores, extra={"corpus_value": corpus},
    )
