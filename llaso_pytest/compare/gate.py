"""The gate: what a CI job does with a comparison (pass, or fail with an exit code).

A gate fails on a regression (after the family's correction and the tolerances), on an
``untested`` metric that matches ``fail_on_untested``, and when the comparison cannot vouch
for the head run at all (*vacuous*: no metric in common, an empty or subset head run, a
baseline from another suite, an interrupted run). Exit codes live in :data:`EXIT_CODES`, the
one table that the plugin, the CLI and docs/exit-codes.md follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from llaso_pytest.compare.tolerances import glob_pattern

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare.types import Comparison, MetricDiff

__all__ = ["EXIT_CODES", "Gate", "GateKind", "decide", "matches_untested"]

GateKind = Literal["pass", "regressed", "untested", "vacuous"]

#: Exit status for each gate outcome (``--llaso-fail-on-regression``, ``llaso compare
#: --fail-on-regression``). 1 is pytest's "tests failed"; 6 is not used by pytest.
EXIT_CODES: dict[GateKind, int] = {"pass": 0, "regressed": 1, "untested": 1, "vacuous": 6}


@dataclass(frozen=True)
class Gate:
    kind: GateKind
    reasons: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.kind != "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]


def matches_untested(m: MetricDiff, patterns: tuple[str, ...]) -> bool:
    """Whether ``m`` is selected by ``--llaso-fail-on-untested`` globs (a metric name, or
    ``nodeid_glob::name``; only ``*`` and ``?`` are wildcards)."""
    for p in patterns:
        subject = m.key if "::" in p else m.name
        if glob_pattern(p).fullmatch(subject):
            return True
    return False


def decide(comparison: Comparison, *, fail_on_untested: tuple[str, ...] = ()) -> Gate:
    """The gate for ``comparison``: the most serious outcome wins (a regression, then an
    untested metric the team gates on, then a vacuous comparison)."""
    level = comparison.level_text()
    regressed = [m for m in comparison.metrics if m.verdict == "regressed"]
    if regressed:
        names = ", ".join(m.name for m in regressed[:5]) + (", ..." if len(regressed) > 5 else "")
        return Gate("regressed", (f"{len(regressed)} metric(s) regressed at {level}: {names}",))
    untested = [m for m in comparison.metrics
                if m.verdict == "untested" and matches_untested(m, fail_on_untested)]
    if untested:
        reasons = tuple(f"{m.name} ({m.nodeid}) is untested: {m.untested_reason}"
                        for m in untested[:10])
        return Gate("untested", reasons)
    if comparison.problems:
        return Gate("vacuous", tuple(p.message for p in comparison.problems))
    return Gate("pass")
