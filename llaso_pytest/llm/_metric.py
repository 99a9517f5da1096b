"""Turn a :class:`~llaso_pytest.llm.judge.JudgeResult` into a metric result (Contract 1).

Kept apart from ``judge.py`` so the judge's logic does not depend on NumPy or the metrics core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.judge import JudgeResult
    from llaso_pytest.metrics.base import MetricResult

__all__ = ["NoVerdictsError", "judge_cost_results", "judge_metric_result"]


class NoVerdictsError(LlasoError, ValueError):
    """Every item of a judged set ended in an error state: there is no score to report."""


def judge_metric_result(result: JudgeResult, *, confidence: float, n_boot: int, seed: int | None,
                        signature_extra: Mapping[str, Any] | None = None) -> MetricResult:
    """Mean item value over items without errors, bootstrap CI, judge details in ``extra``."""
    import numpy as np

    from llaso_pytest.metrics.base import mean_result

    ok = result.ok
    if not ok:
        first = "; ".join(str(v.error) for v in result.errors[:3])
        raise NoVerdictsError(
            f"judged set {result.name!r}: all {result.n_items} items are in an error state "
            f"({result.errors_by_kind}); first: {first}"
        )
    from llaso_pytest.itemtext import ItemTexts

    values = np.array([float(v.value) for v in ok if v.value is not None], dtype=np.float64)
    inputs = [result.inputs.get(v.id, {}) for v in ok]
    texts = ItemTexts("judge", {
        "ref": [_first(x, REFERENCE_VARIABLES) for x in inputs],
        "hyp": [_first(x, PREDICTION_VARIABLES) for x in inputs],
        "reason": [v.reason for v in ok],
    })
    fields: dict[str, Any] = {"source": "judge"}
    fields.update(result.signature_fields())
    return mean_result(
        result.name, values, item_ids=tuple(v.id for v in ok), groups=None,
        higher_is_better=True, confidence=confidence, n_boot=n_boot, seed=seed,
        signature_fields=fields, signature_extra=signature_extra, extra={"judge": result.summary()},
        texts=texts,
    )


#: Template variables that hold the judged text and its reference, in order of preference
#: (the first one an item has is what reports show next to the judge's reason).
PREDICTION_VARIABLES = ("answer", "response", "prediction", "output", "summary", "translation",
                        "hypothesis")
REFERENCE_VARIABLES = ("reference", "expected", "gold", "target")


def _first(variables: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    return next((str(variables[k]) for k in names if k in variables), None)


def judge_cost_results(result: JudgeResult, *, confidence: float, n_boot: int, seed: int | None,
                       signature_extra: Mapping[str, Any] | None = None) -> list[MetricResult]:
    """Per-item cost and latency of a judged set (``[]`` without prices; lower is better)."""
    if result.prices is None:
        return []
    import numpy as np

    from llaso_pytest.metrics.base import mean_result

    j = result.judge
    common = {"judge_model": j.get("model"), "judge_url": j.get("base_url"),
              "prompt": result.prompt.get("name"),
              "prompt_sha256": str(result.prompt.get("sha256", ""))[:12], "k": result.k}
    out = []
    for what, unit, values, fields in (
            ("cost_usd", "USD per item", {v.id: v.cost_usd for v in result.verdicts},
             {"source": "judge-cost", "price_in": result.prices[0],
              "price_out": result.prices[1]}),
            ("latency_s", "seconds of API calls per item",
             {v.id: v.latency_s for v in result.verdicts}, {"source": "judge-latency"})):
        known = {i: x for i, x in values.items() if x is not None}
        if not known:
            continue
        out.append(mean_result(
            f"{result.name}/{what}", np.array(list(known.values()), dtype=np.float64),
            item_ids=tuple(known), groups=None, higher_is_better=False,
            confidence=confidence, n_boot=n_boot, seed=seed,
            signature_fields={**fields, **common}, signature_extra=signature_extra,
            extra={"unit": unit, "total": float(sum(known.values())),
                   "items_without": sorted(set(values) - set(known))}))
    return out
