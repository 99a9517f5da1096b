"""The typed result of a comparison: per-metric verdicts and the run-level summary.

Built by :mod:`llaso_pytest.compare.core`, rendered by :mod:`llaso_pytest.report`. Closed
sets are ``Literal`` types; groups of fields are nested parts, so a misspelt field is a type
error rather than a runtime surprise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from llaso_pytest.multiplicity import Correction
from llaso_pytest.provenance_diff import ProvenanceDiff

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare.gate import Gate

__all__ = [
    "FAMILIES",
    "METHODS",
    "VERDICTS",
    "Comparison",
    "Flips",
    "ItemChange",
    "ItemView",
    "Method",
    "MetricDiff",
    "Pairing",
    "Problem",
    "RunInfo",
    "SideValues",
    "SignatureDiff",
    "TestOutcome",
    "ToleranceUse",
    "Verdict",
]

Verdict = Literal["improved", "regressed", "unchanged", "untested", "new", "removed",
                  "not-run", "incomparable", "unreliable"]
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
#: How the difference was tested: the test (bootstrap, sign-flip randomisation, exact
#: sign-flip, or a normal approximation from the two recorded intervals) and its units.
Method = Literal["paired-bootstrap", "paired-cluster-bootstrap", "sign-flip",
                 "cluster-sign-flip", "exact-sign-flip", "exact-cluster-sign-flip",
                 "unpaired-intervals", "none"]
METHODS: tuple[Method, ...] = get_args(Method)
Family = Literal["headline", "slices"]
FAMILIES: tuple[Family, ...] = get_args(Family)
ProblemKind = Literal["no-common-metric", "empty-head", "empty-base", "subset", "different-suite",
                      "incomplete"]


@dataclass(frozen=True)
class SignatureDiff:
    field: str
    base: Any
    head: Any


@dataclass(frozen=True)
class ItemChange:
    """One item's per-item score in both runs; ``change`` is oriented (positive = better)."""

    item: str
    base: float
    head: float
    change: float


ItemRole = Literal["now wrong", "now right", "worse", "better"]


@dataclass(frozen=True)
class ItemView:
    """What a report shows of one flipped or changed item: its texts in both runs.

    ``view`` says how (:data:`llaso_pytest.itemtext.VIEWS`): ``words``/``chars`` with the
    aligned rows (``alignment``: REF, HYP and S/D/I marks, per run), ``pair`` (reference
    against prediction), ``judge`` (the judge's reason). A text is ``None`` where the run did
    not record it (older record, ``--llaso-item-text none``); ``truncated`` when any shown
    text was cut at the record's limit.
    """

    item: str
    role: ItemRole
    view: str
    base_score: float | None = None
    head_score: float | None = None
    ref: str | None = None
    base_hyp: str | None = None
    head_hyp: str | None = None
    base_reason: str | None = None
    head_reason: str | None = None
    base_alignment: tuple[str, str, str] | None = None
    head_alignment: tuple[str, str, str] | None = None
    truncated: bool = False


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    source: str
    commit: str | None = None
    dirty: bool | None = None
    started_at: str | None = None
    complete: bool = True
    subset: bool = False
    selection: str | None = None  # how the run was narrowed (-k, -m, args), when it was


@dataclass(frozen=True)
class SideValues:
    """What one run recorded for the metric."""

    value: float
    ci: tuple[float, float] | None
    n: int


@dataclass(frozen=True)
class TestOutcome:
    """The statistical test of the difference and its family-adjusted p-value."""

    method: Method
    delta_ci: tuple[float, float] | None = None
    p_improve: float | None = None  # P(head better than base)
    p_value: float | None = None  # two-sided, H0: no difference
    p_adjusted: float | None = None  # after the family's correction
    se: float | None = None
    mde: float | None = None  # minimum detectable |delta| at 80% power
    n_units: int = 0  # resampling units (items, or groups for a clustered test)
    n_differing: int = 0  # units whose statistics differ between the runs


@dataclass(frozen=True)
class Pairing:
    n_paired: int
    n_base_only: int = 0
    n_head_only: int = 0


@dataclass(frozen=True)
class Flips:
    """Pass/fail metrics: items fixed (bad -> good) and broken (good -> bad)."""

    n_fixed: int
    n_broken: int
    fixed: tuple[str, ...] = ()
    broken: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToleranceUse:
    amount: float  # absolute units
    text: str
    within: bool = False  # significantly worse, but by no more than the tolerance


@dataclass(frozen=True)
class MetricDiff:
    """The comparison of one metric (one ``(nodeid, name)``) between base and head."""

    nodeid: str
    name: str
    verdict: Verdict
    higher_is_better: bool = True
    family: str = "headline"
    base: SideValues | None = None
    head: SideValues | None = None
    delta: float | None = None  # head - base (raw units; see higher_is_better)
    test: TestOutcome | None = None
    pairing: Pairing | None = None
    tolerance: ToleranceUse | None = None
    signature_diffs: tuple[SignatureDiff, ...] = ()
    flips: Flips | None = None
    worst_changes: tuple[ItemChange, ...] = ()
    best_changes: tuple[ItemChange, ...] = ()
    item_texts: tuple[ItemView, ...] = ()  # flipped and most worsened items with their texts
    untested_reason: str | None = None
    notes: tuple[str, ...] = ()
    signature: str | None = None
    # a judged metric whose judge fell short of its declared agreement in either run: shown
    # with its numbers, verdict "unreliable", never gating (llaso_pytest.llm.reliability)
    unreliable_reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.nodeid}::{self.name}"

    # flat read-only views for renderers and callers
    @property
    def method(self) -> Method | None:
        return None if self.test is None else self.test.method

    @property
    def base_value(self) -> float | None:
        return None if self.base is None else self.base.value

    @property
    def head_value(self) -> float | None:
        return None if self.head is None else self.head.value

    @property
    def base_ci(self) -> tuple[float, float] | None:
        return None if self.base is None else self.base.ci

    @property
    def head_ci(self) -> tuple[float, float] | None:
        return None if self.head is None else self.head.ci

    @property
    def base_n(self) -> int | None:
        return None if self.base is None else self.base.n

    @property
    def head_n(self) -> int | None:
        return None if self.head is None else self.head.n

    @property
    def delta_ci(self) -> tuple[float, float] | None:
        return None if self.test is None else self.test.delta_ci

    @property
    def p_value(self) -> float | None:
        return None if self.test is None else self.test.p_value

    @property
    def p_adjusted(self) -> float | None:
        return None if self.test is None else self.test.p_adjusted

    @property
    def p_improve(self) -> float | None:
        return None if self.test is None else self.test.p_improve

    @property
    def mde(self) -> float | None:
        return None if self.test is None else self.test.mde

    @property
    def significant(self) -> bool:
        return self.verdict in ("improved", "regressed") or (
            self.tolerance is not None and self.tolerance.within)

    @property
    def n_paired(self) -> int:
        return 0 if self.pairing is None else self.pairing.n_paired

    @property
    def pass_fail(self) -> bool:
        return self.flips is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = self.key
        out: dict[str, Any] = finite(d)
        return out


@dataclass(frozen=True)
class Problem:
    """Why a comparison cannot vouch for the head run (a gate on it would pass vacuously)."""

    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class Comparison:
    """Everything a report shows: runs, settings, per-metric verdicts, provenance changes."""

    base: RunInfo
    head: RunInfo
    metrics: tuple[MetricDiff, ...]
    provenance_diffs: tuple[ProvenanceDiff, ...] = ()
    n_boot: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    correction: Correction = "bh"
    tolerances: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    problems: tuple[Problem, ...] = ()

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    def counts(self, family: str | None = None) -> dict[Verdict, int]:
        out: dict[Verdict, int] = {v: 0 for v in VERDICTS}
        for m in self.metrics:
            if family is None or m.family == family:
                out[m.verdict] += 1
        return out

    def families(self) -> list[str]:
        seen = dict.fromkeys(m.family for m in self.metrics)
        return sorted(seen, key=lambda f: (f != "headline", f))

    @property
    def regressions(self) -> tuple[MetricDiff, ...]:
        return tuple(m for m in self.metrics if m.verdict == "regressed")

    @property
    def has_regression(self) -> bool:
        """True when any metric regressed significantly (after correction, beyond tolerance)."""
        return any(m.verdict == "regressed" for m in self.metrics)

    def level_text(self) -> str:
        """How significance is judged: ``FDR 5%``, ``FWER 5%`` or ``alpha 5%`` per test."""
        pct = f"{self.alpha * 100:g}%"
        return {"bh": f"FDR {pct}", "holm": f"FWER {pct}", "none": f"{pct} per test"}[
            self.correction]

    def summary_line(self) -> str:
        c = self.counts()
        level = self.level_text()
        parts = [f"{c['regressed']} regressed", f"{c['improved']} improved"]
        head = f"{', '.join(parts)} at {level}"
        rest = [f"{c['unchanged']} unchanged", f"{c['untested']} untested"]
        for verdict in ("incomparable", "unreliable", "new", "removed", "not-run"):
            if c[verdict]:
                rest.append(f"{c[verdict]} {verdict}")
        return head + "; " + ", ".join(rest)

    def gate(self, *, fail_on_untested: tuple[str, ...] | list[str] = ()) -> Gate:
        """The pass/fail decision a CI job acts on (see :mod:`llaso_pytest.compare.gate`)."""
        from llaso_pytest.compare.gate import decide

        return decide(self, fail_on_untested=tuple(fail_on_untested))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = finite({
            "kind": "llaso-comparison",
            "schema_version": 2,
            "base": asdict(self.base),
            "head": asdict(self.head),
            "settings": {"n_boot": self.n_boot, "seed": self.seed,
                         "confidence": self.confidence, "correction": self.correction,
                         "tolerances": list(self.tolerances)},
            "counts": self.counts(),
            "families": {f: self.counts(f) for f in self.families()},
            "has_regression": self.has_regression,
            "summary": self.summary_line(),
            "metrics": [m.to_dict() for m in self.metrics],
            "provenance_diffs": [asdict(p) for p in self.provenance_diffs],
            "warnings": list(self.warnings),
            "problems": [asdict(p) for p in self.problems],
        })
        return out


def finite(x: Any) -> Any:
    """JSON-safe: tuples to lists, NaN/inf to None."""
    if isinstance(x, Mapping):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
