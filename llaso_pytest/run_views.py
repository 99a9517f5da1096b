"""What a run's transparency report shows, as plain data (no rendering): per-slice metrics
with intervals (slices below the minimum n marked), ASR confusion pairs, judge-versus-human
confusion matrices, and the difficulty profiles of datasets.

Read from the run record through the one result reader (:mod:`llaso_pytest.results`):
slice metrics are results named ``metric/key=value`` (``wer/speaker=1089``); confusion pairs
are a result's ``extra["top_confusions"]`` (``[ref, hyp, count]``); a judge-versus-human
matrix is a result's ``extra["agreement"]`` (``llm.calibration.Agreement.to_dict()``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Confusions", "JudgeMatrix", "RunViews", "Slice", "SliceFamily", "run_views"]

_SLICE = re.compile(r"^(?P<metric>[^/]+)/(?P<key>[^=]+)=(?P<value>.+)$")


@dataclass(frozen=True)
class Slice:
    label: str
    value: float
    ci: tuple[float, float] | None
    n: int
    below_min: bool  # fewer items than the minimum for an interval (or none was computed)


@dataclass(frozen=True)
class SliceFamily:
    """The slices of one metric by one key (``wer`` by ``speaker``) in one test."""

    nodeid: str
    metric: str
    key: str
    higher_is_better: bool
    slices: tuple[Slice, ...]


@dataclass(frozen=True)
class Confusions:
    nodeid: str
    metric: str
    pairs: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class JudgeMatrix:
    """Rows: the human label, columns: the judge's."""

    nodeid: str
    metric: str
    labels: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]
    kappa: float | None
    accuracy: float | None


@dataclass(frozen=True)
class RunViews:
    run_id: str
    slices: tuple[SliceFamily, ...]
    confusions: tuple[Confusions, ...]
    judge: tuple[JudgeMatrix, ...]
    profiles: tuple[tuple[str, Sequence[Any]], ...] = field(default_factory=tuple)


def run_views(record: Any, *, source: str, datasets: Sequence[Any] = (),
              min_n: int | None = None) -> RunViews:
    """The views of a run record; ``datasets``: :class:`cards.profile.DatasetView` objects
    whose difficulty profiles to include. ``min_n`` (default the bootstrap's minimum
    units) marks slices too small for an interval."""
    from llaso_pytest import stats
    from llaso_pytest.results import read_results

    floor = stats.MIN_UNITS if min_n is None else min_n
    results = list(read_results(record, source=source).values())
    families: dict[tuple[str, str, str], list[Slice]] = {}
    direction: dict[tuple[str, str, str], bool] = {}
    confusions: list[Confusions] = []
    judge: list[JudgeMatrix] = []
    seen_pairs: set[tuple[tuple[str, str, int], ...]] = set()
    for r in results:
        m = _SLICE.match(r.name)
        if m:
            key = (r.nodeid, m["metric"], m["key"])
            families.setdefault(key, []).append(Slice(
                m["value"], float(r.value), r.ci, r.n, r.ci is None or r.n < floor))
            direction[key] = r.higher_is_better
        pairs = r.extra.get("top_confusions")
        if isinstance(pairs, list) and pairs:
            tup = tuple((str(a), str(b), int(c)) for a, b, c in pairs)
            if tup not in seen_pairs:  # several class results carry the same list
                seen_pairs.add(tup)
                confusions.append(Confusions(r.nodeid, r.name, tup))
        ag = r.extra.get("agreement")
        if isinstance(ag, Mapping) and "confusion_human_by_judge" in ag:
            judge.append(JudgeMatrix(r.nodeid, r.name, tuple(map(str, ag["labels"])),
                                     tuple(tuple(int(x) for x in row) for row in
                                           ag["confusion_human_by_judge"]),
                                     ag.get("kappa"), ag.get("accuracy")))
    fams = tuple(SliceFamily(k[0], k[1], k[2], direction[k],
                             tuple(sorted(v, key=lambda s: s.label)))
                 for k, v in sorted(families.items()))
    profiles = []
    if datasets:
        from llaso_pytest.cards.profile import profile

        profiles = [(d.name, profile(d)) for d in datasets]
    run_id = record.run_id if hasattr(record, "run_id") else str(record.get("run_id", ""))
    return RunViews(run_id, fams, tuple(confusions), tuple(judge), tuple(profiles))
