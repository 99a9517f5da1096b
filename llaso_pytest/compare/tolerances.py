"""Tolerances: how much worse a metric may get and still count as ``unchanged``.

``--llaso-tolerance "wer:+0.5pp, bleu:-1.0, rouge*:2%"`` is parsed here into
:class:`Tolerance` objects; :func:`find_tolerance` picks the most specific one for a metric.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Tolerance", "find_tolerance", "glob_pattern", "parse_tolerances"]


@dataclass(frozen=True)
class Tolerance:
    """How much worse a metric may get and still count as ``unchanged``.

    ``amount`` is non-negative; ``unit`` is ``"abs"`` (same units as the value), ``"pp"``
    (percentage points: 0.5pp = 0.005 of a 0..1 value) or ``"rel"`` (percent of the baseline
    value). ``sign`` is the direction written by the user (``+``: the metric may go up, as
    WER; ``-``: it may go down, as BLEU; ``None``: either), checked against the metric.
    """

    pattern: str
    amount: float
    unit: str = "abs"
    sign: str | None = None
    text: str = ""

    def absolute(self, base_value: float) -> float:
        """The tolerance in the value's own units for a given baseline value."""
        if self.unit == "pp":
            return self.amount / 100.0
        if self.unit == "rel":
            return abs(base_value) * self.amount / 100.0
        return self.amount

    @property
    def targets_test(self) -> bool:
        """``nodeid_glob::name`` (one test, or tests matching a glob) rather than a name."""
        return "::" in self.pattern and not self.pattern.startswith("::")

    def _subject(self, nodeid: str, name: str) -> str:
        return f"{nodeid}::{name}" if self.targets_test else name

    def matches(self, nodeid: str, name: str) -> bool:
        """Whether this tolerance applies to metric ``name`` of test ``nodeid``.

        Only ``*`` (any text) and ``?`` (one character) are wildcards; everything else is
        literal, so the brackets of a parametrized id (``test_wer[noisy]``) match themselves
        (``fnmatch`` would read ``[noisy]`` as a character class).
        """
        return glob_pattern(self.pattern).fullmatch(self._subject(nodeid, name)) is not None

    def specificity(self, nodeid: str, name: str) -> tuple[int, int]:
        """Sort key of a matching tolerance, most specific first: the exact ``nodeid::name``,
        then node-id globs, the exact metric name, name globs; among globs of one kind the one
        with more literal characters."""
        exact = self.pattern == self._subject(nodeid, name)
        rank = (0 if exact else 1) if self.targets_test else (2 if exact else 3)
        literal = len(self.pattern) - self.pattern.count("*") - self.pattern.count("?")
        return rank, -literal


@functools.lru_cache(maxsize=256)
def glob_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` as a regular expression in which only ``*`` and ``?`` are wildcards."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                              for ch in pattern), re.DOTALL)


_TOL_RE = re.compile(
    r"^\s*(?P<pattern>.+?)\s*[:=]\s*(?P<sign>[+-])?\s*(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"\s*(?P<unit>pp|%|abs)?\s*$"
)


def parse_tolerances(text: str | Iterable[str] | None) -> dict[str, Tolerance]:
    """Parse ``"wer:+0.5pp, bleu:-1.0, rougeL:2%"`` (or a list of such entries).

    Keys are metric names or globs (``rouge*``), or ``nodeid_glob::name`` to target one test;
    only ``*`` and ``?`` are wildcards. The most specific matching entry applies (see
    :func:`find_tolerance`).
    Units: none = absolute, ``pp`` = percentage points, ``%`` = relative to the baseline value.
    Raises :class:`ValueError` naming the bad entry.
    """
    if text is None:
        return {}
    chunks = [text] if isinstance(text, str) else list(text)
    entries = [e.strip() for chunk in chunks for e in re.split(r"[,\n;]", chunk)]
    out: dict[str, Tolerance] = {}
    for entry in entries:
        if not entry or entry.startswith("#"):
            continue
        m = _TOL_RE.match(entry)
        if m is None:
            raise ValueError(
                f"bad tolerance {entry!r}: expected METRIC:[+|-]AMOUNT[pp|%], "
                "e.g. 'wer:+0.5pp' or 'bleu:-1.0'"
            )
        amount = float(m["num"])
        if not math.isfinite(amount):
            raise ValueError(f"bad tolerance {entry!r}: amount must be finite")
        unit = {"pp": "pp", "%": "rel", "abs": "abs", None: "abs"}[m["unit"]]
        pattern = m["pattern"]
        if pattern in out:
            raise ValueError(f"bad tolerance {entry!r}: {pattern!r} given twice")
        out[pattern] = Tolerance(pattern=pattern, amount=amount, unit=unit, sign=m["sign"],
                                 text=entry)
    return out


def find_tolerance(tolerances: Mapping[str, Tolerance], nodeid: str, name: str
                    ) -> Tolerance | None:
    """The most specific tolerance for ``(nodeid, name)`` (see :meth:`Tolerance.specificity`;
    ties go to the entry given first), or ``None``."""
    matching = [t for t in tolerances.values() if t.matches(nodeid, name)]
    if not matching:
        return None
    return min(matching, key=lambda t: t.specificity(nodeid, name))  # min() keeps the first tie
