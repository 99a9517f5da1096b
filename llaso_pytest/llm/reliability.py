"""Judge reliability: the agreement a judged metric needs, measured, recorded and enforced.

A judged metric declares what it needs (:class:`Requirement`: ``min_kappa`` against a
labelled calibration set whose hash is recorded, and for pairwise judging a
``max_order_disagreement``: a judge that always answers "A" disagrees with itself on every
swapped pair). :func:`assess` measures the judge against it; :func:`mark` stores the outcome
in the metric's ``extra["reliability"]``:

``{"state": "reliable" | "unreliable", "reasons": [...], "requirement": {...},
"measured": {"kappa": ..., "n_labels": ..., "labels_sha256": ..., "order_disagreement": ...},
"judge": {...}}``

An unreliable metric is recorded and shown like any other (value, interval) with its state:
the run summary marks it, the comparer gives it the verdict ``unreliable`` (never
``regressed``, so it never gates), and :func:`check` does not apply the test's quality bar to
it (it warns instead). It is never silently trusted and never dropped. Pure Python, no pytest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.calibration import Agreement
    from llaso_pytest.metrics.base import MetricResult

__all__ = ["RELIABILITY_KEY", "Reliability", "Requirement", "assess", "check", "mark",
           "state_of"]

#: where a result's reliability lives in its ``extra`` (read by compare and the reports)
RELIABILITY_KEY = "reliability"
State = Literal["reliable", "unreliable"]


@dataclass(frozen=True)
class Requirement:
    """What a judged metric needs from its judge (``None``: not required)."""

    min_kappa: float | None = None
    max_order_disagreement: float | None = None

    def __post_init__(self) -> None:
        if self.min_kappa is not None and not -1.0 <= self.min_kappa <= 1.0:
            raise ValueError(f"min_kappa must be within [-1, 1], got {self.min_kappa!r}")
        m = self.max_order_disagreement
        if m is not None and not 0.0 <= m <= 1.0:
            raise ValueError(f"max_order_disagreement must be within [0, 1], got {m!r}")
        if self.min_kappa is None and m is None:
            raise ValueError("a Requirement needs min_kappa or max_order_disagreement")


@dataclass(frozen=True)
class Reliability:
    """The judge measured against a :class:`Requirement`."""

    state: State
    requirement: Requirement
    reasons: tuple[str, ...] = ()
    measured: Mapping[str, Any] = field(default_factory=dict)
    judge: Mapping[str, Any] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        return self.state == "reliable"

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "reasons": list(self.reasons),
                "requirement": {"min_kappa": self.requirement.min_kappa,
                                "max_order_disagreement": self.requirement.max_order_disagreement},
                "measured": dict(self.measured), "judge": dict(self.judge)}


class ReliabilityError(LlasoError, ValueError):
    """The reliability could not be assessed: a required measurement is missing."""


def assess(requirement: Requirement, *, agreement: Agreement | None = None,
           labels_sha256: str | None = None, pairwise: Mapping[str, Any] | None = None,
           judge: Mapping[str, Any] | None = None) -> Reliability:
    """Measure the judge against ``requirement``.

    ``agreement`` is the judge's :func:`~llaso_pytest.llm.calibration.agreement` with the
    human labels of the calibration set (``labels_sha256`` names that set); ``pairwise`` a
    :meth:`~llaso_pytest.llm.judge.JudgeResult.pairwise_summary`. A kappa that is NaN
    (undefined) or measured on no item falls short, as does an agreement measured with judge
    errors on labelled items: an unknown agreement is not a sufficient one.
    """
    reasons: list[str] = []
    measured: dict[str, Any] = {}
    if requirement.min_kappa is not None:
        if agreement is None or labels_sha256 is None:
            raise ReliabilityError("min_kappa needs the judge's agreement with a labelled "
                                   "calibration set and that set's labels_sha256")
        kappa = agreement.kappa
        measured.update(kappa=None if math.isnan(kappa) else kappa, n_labels=agreement.n,
                        accuracy=agreement.accuracy, labels_sha256=labels_sha256,
                        judge_errors=len(agreement.judge_errors))
        if agreement.n == 0 or math.isnan(kappa):
            reasons.append(f"kappa is undefined on {agreement.n} labelled items "
                           f"(needs >= {requirement.min_kappa:g})")
        elif kappa < requirement.min_kappa:
            reasons.append(f"kappa {kappa:.3f} against {agreement.n} human labels is below the "
                           f"required {requirement.min_kappa:g}")
        if agreement.judge_errors:
            reasons.append(f"{len(agreement.judge_errors)} labelled items got no verdict")
    if requirement.max_order_disagreement is not None:
        if pairwise is None:
            raise ReliabilityError("max_order_disagreement needs a pairwise summary "
                                   "(judge.pairwise(...).pairwise_summary())")
        rate = pairwise.get("order_disagreement_rate")
        measured.update(order_disagreement=rate,
                        first_position_win_rate=pairwise.get("first_position_win_rate"),
                        order_pairs=pairwise.get("order_pairs"))
        if not isinstance(rate, (int, float)) or math.isnan(rate):
            reasons.append("order disagreement could not be measured")
        elif rate > requirement.max_order_disagreement:
            reasons.append(f"the two position orders disagree on {rate:.0%} of pairs, above the "
                           f"allowed {requirement.max_order_disagreement:.0%} (position bias)")
    return Reliability("unreliable" if reasons else "reliable", requirement, tuple(reasons),
                       measured, dict(judge or {}))


def mark(result: MetricResult, reliability: Reliability) -> MetricResult:
    """``result`` with its reliability in ``extra`` and the requirement in the signature
    (a bar raised between runs makes the metrics incomparable, never "unchanged")."""
    from llaso_pytest.metrics.base import Signature

    req = reliability.requirement
    fields = dict(result.signature.fields)
    if req.min_kappa is not None:
        fields["min_kappa"] = req.min_kappa
        fields["calibration_sha256"] = str(reliability.measured.get("labels_sha256", ""))[:12]
    if req.max_order_disagreement is not None:
        fields["max_order_disagreement"] = req.max_order_disagreement
    extra = {**result.extra, RELIABILITY_KEY: reliability.to_dict()}
    return replace(result, signature=Signature(fields), extra=extra)


def state_of(result: Any) -> State | None:
    """The reliability state of a result (a MetricResult, or its record dict), if declared."""
    extra = result.get("extra") if isinstance(result, Mapping) else getattr(result, "extra", None)
    info = extra.get(RELIABILITY_KEY) if isinstance(extra, Mapping) else None
    state = info.get("state") if isinstance(info, Mapping) else None
    return state if state in ("reliable", "unreliable") else None


def check(result: MetricResult, bar: Callable[[float], bool], message: str) -> bool:
    """Apply a quality bar only when the judge is reliable; returns whether it was applied.

    Reliable (or undeclared): ``bar(result.value)`` must hold, else :class:`AssertionError`
    with ``message``. Unreliable: the bar is not applied and a ``LlasoWarning`` says why; the
    result stays recorded with its state.
    """
    if state_of(result) == "unreliable":
        from llaso_pytest.metrics.base import warn

        reasons = "; ".join(result.extra[RELIABILITY_KEY]["reasons"])
        warn(f"{result.name} = {result.value:.4g} is unreliable ({reasons}): recorded, "
             "not gated")
        return False
    if not bar(result.value):
        raise AssertionError(message)
    return True
