"""Compare a run record with a baseline: per-metric verdicts, as plain data.

Metrics are matched by ``(nodeid, name)``. Where both runs carry per-item statistics for the
same item ids, the difference gets the paired test of :func:`llaso_pytest.stats.paired_tests`
(all metrics in one batch: identical numbers to testing each alone); with no per-item data the
two recorded intervals are compared (a normal approximation of the difference of independent
estimates); with neither, the metric is ``untested``. The p-values of each family (headline
metrics; slices such as ``wer/speaker=...``) are adjusted (:mod:`llaso_pytest.multiplicity`)
before verdicts, and tolerances apply on top. This module never imports pytest.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from llaso_pytest.compare.items import item_views
from llaso_pytest.compare.tolerances import Tolerance, find_tolerance, parse_tolerances
from llaso_pytest.compare.types import (
    Comparison,
    Flips,
    ItemChange,
    Method,
    MetricDiff,
    Pairing,
    Problem,
    RunInfo,
    SideValues,
    SignatureDiff,
    TestOutcome,
    ToleranceUse,
    Verdict,
)
from llaso_pytest.multiplicity import CORRECTIONS, Correction, adjust_pvalues
from llaso_pytest.provenance_diff import diff_provenance, environment_warnings
from llaso_pytest.results import ResultRecord, read_results, record_dict

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from llaso_pytest.record import RunRecord
    from llaso_pytest.stats import PairedInput, PairedTest

__all__ = ["check_record", "compare_files", "compare_records", "family_of", "load_record"]

DEFAULT_N_BOOT = 10_000
DEFAULT_SEED = 0
DEFAULT_CONFIDENCE = 0.95
DEFAULT_CORRECTION: Correction = "bh"
#: How many flipped item ids / largest changes a MetricDiff keeps (the counts are always exact).
MAX_FLIPS_KEPT = 500
MAX_CHANGES_KEPT = 10

_SLICE = re.compile(r"/[^/]*=")


def family_of(result: ResultRecord) -> str:
    """The multiplicity family of a result: ``extra["family"]`` when the test set one, else
    ``slices`` for slice metrics (a ``/key=value`` part, e.g. ``wer/speaker=1089``), else
    ``headline``."""
    family = result.extra.get("family")
    if isinstance(family, str) and family:
        return family
    return "slices" if _SLICE.search(result.name) else "headline"


# ----------------------------------------------------------------------------------------
# loading


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a run record file as a dict; :class:`~llaso_pytest.record.RecordError`
    (naming the file) when it is missing, truncated, foreign or of an unknown schema version."""
    from llaso_pytest.record import read_record

    return read_record(path, arrays=True).to_dict()


def check_record(record: Mapping[str, Any] | RunRecord, *, source: str) -> int:
    """Validate every result of a record the way :func:`compare_records` reads it, so that a
    malformed baseline is refused up front; returns the number of results."""
    return len(read_results(record, source=source))


def _selection(rec: Mapping[str, Any]) -> Mapping[str, Any]:
    sel = rec.get("selection")
    return sel if isinstance(sel, Mapping) else {}


def _selection_text(sel: Mapping[str, Any]) -> str | None:
    if not sel.get("subset"):
        return None
    parts = []
    if sel.get("keyword"):
        parts.append(f"-k {sel['keyword']!r}")
    if sel.get("markexpr"):
        parts.append(f"-m {sel['markexpr']!r}")
    if sel.get("last_failed"):
        parts.append("--lf")
    args = sel.get("args") or []
    if args:
        parts.append("args " + " ".join(map(str, args)))
    deselected = sel.get("deselected") or []
    if deselected:
        parts.append(f"{len(deselected)} of {sel.get('collected', '?')} tests deselected")
    return "; ".join(parts) or "a subset of the suite"


def _run_info(rec: Mapping[str, Any], source: str) -> RunInfo:
    git = (rec.get("provenance") or {}).get("git") or {}
    sel = _selection(rec)
    return RunInfo(
        run_id=str(rec.get("run_id", "?")),
        source=source,
        commit=git.get("commit") if isinstance(git, Mapping) else None,
        dirty=git.get("dirty") if isinstance(git, Mapping) else None,
        started_at=rec.get("started_at"),
        complete=rec.get("complete", True) is not False,
        subset=bool(sel.get("subset")),
        selection=_selection_text(sel),
    )


# ----------------------------------------------------------------------------------------
# per-metric parts


def _signature_diffs(a: ResultRecord, b: ResultRecord) -> tuple[SignatureDiff, ...]:
    from llaso_pytest.metrics.base import RESAMPLING_FIELDS

    names = a.signature.diff(b.signature, ignore=RESAMPLING_FIELDS)
    diffs = [SignatureDiff(k, a.signature.fields.get(k), b.signature.fields.get(k)) for k in names]
    if a.aggregate != b.aggregate:
        diffs.append(SignatureDiff("aggregate", a.aggregate, b.aggregate))
    if a.higher_is_better != b.higher_is_better:
        diffs.append(SignatureDiff("higher_is_better", a.higher_is_better, b.higher_is_better))
    if list(a.stats) != list(b.stats) and a.stats and b.stats:
        diffs.append(SignatureDiff("stats", list(a.stats), list(b.stats)))
    return tuple(diffs)


@dataclass
class _Pairs:
    ia: np.ndarray
    ib: np.ndarray
    n_base_only: int
    n_head_only: int
    ids: Sequence[str]

    @functools.cached_property
    def identity(self) -> bool:
        return self.n_base_only == 0 and self.n_head_only == 0 and \
            bool((self.ia == self.ib).all())


def _pair(a: ResultRecord, b: ResultRecord) -> _Pairs | str:
    """Index arrays of the items both runs hold (base order), or the reason there are none."""
    import numpy as np

    if not a.stats or not b.stats:
        return "per-item statistics missing in " + ("both runs" if not a.stats and not b.stats
                                                    else "the base" if not a.stats else "the head")
    na, nb = len(a.item_ids), len(b.item_ids)
    if na == nb and a.item_ids == b.item_ids:
        idx = np.arange(na)  # same ids in the same order: pair by position
        return _Pairs(idx, idx, 0, 0, a.item_ids)
    pos_b = {item: i for i, item in enumerate(b.item_ids)}
    if len(pos_b) != nb or len(set(a.item_ids)) != na:
        return "duplicate item ids"
    ia, ib = [], []
    for i, item in enumerate(a.item_ids):
        j = pos_b.get(item)
        if j is not None:
            ia.append(i)
            ib.append(j)
    if not ia:
        return "no item ids in common"
    return _Pairs(np.asarray(ia), np.asarray(ib), na - len(ia), nb - len(ia),
                  [a.item_ids[i] for i in ia])


def _item_views(a: ResultRecord, b: ResultRecord, pairs: _Pairs
                ) -> tuple[Flips | None, tuple[ItemChange, ...], tuple[ItemChange, ...]]:
    """Per-item flips (pass/fail metrics) and the largest per-item changes."""
    import numpy as np

    if a.scores is None or b.scores is None:
        return None, (), ()
    # same items in the same order: no copies of the score columns
    sa = a.scores if pairs.identity else a.scores[pairs.ia]
    sb = b.scores if pairs.identity else b.scores[pairs.ib]
    ids = pairs.ids
    sign = 1.0 if b.higher_is_better else -1.0
    finite = np.isfinite(sa)
    finite &= np.isfinite(sb)
    all_finite = bool(finite.all())

    def is_binary(x: np.ndarray) -> bool:
        if all_finite:  # one pass: 0 and 1 are the only values with x * (1 - x) == 0
            return not bool(np.any(x * (1.0 - x)))
        return bool(((x == 0.0) | (x == 1.0) | ~finite).all())

    binary = bool(finite.any()) and is_binary(sa) and is_binary(sb)
    flips = None
    if binary:
        good = 1.0 if b.higher_is_better else 0.0
        broken = np.flatnonzero(finite & (sa == good) & (sb != good))
        fixed = np.flatnonzero(finite & (sa != good) & (sb == good))
        flips = Flips(n_fixed=int(fixed.size), n_broken=int(broken.size),
                      fixed=tuple(str(ids[i]) for i in fixed[:MAX_FLIPS_KEPT]),
                      broken=tuple(str(ids[i]) for i in broken[:MAX_FLIPS_KEPT]))
    change = sb - sa
    if sign < 0:
        np.negative(change, out=change)
    if not all_finite:
        change[~finite] = 0.0
    k = min(MAX_CHANGES_KEPT, change.size)
    low = np.argpartition(change, k - 1)[:k] if k < change.size else np.arange(change.size)
    high = np.argpartition(-change, k - 1)[:k] if k < change.size else np.arange(change.size)
    worst = [int(i) for i in low[np.lexsort((low, change[low]))] if change[i] < 0]
    best = [int(i) for i in high[np.lexsort((high, -change[high]))] if change[i] > 0]

    def item(i: int) -> ItemChange:
        return ItemChange(str(ids[i]), float(sa[i]), float(sb[i]), float(change[i]))

    return flips, tuple(map(item, worst)), tuple(map(item, best))


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _unpaired(a: ResultRecord, b: ResultRecord, confidence: float, reason: str
              ) -> tuple[TestOutcome | None, str]:
    """Compare the two recorded intervals (independent estimates, normal approximation);
    ``(None, why)`` when one side has no interval."""
    from llaso_pytest.stats import _norm_ppf, detectable_effect

    delta = b.value - a.value
    if a.ci is None or b.ci is None or not all(map(math.isfinite, (*a.ci, *b.ci, delta))):
        side = "the base" if a.ci is None else "the head"
        return None, f"no paired test ({reason}) and no interval in {side}"
    z_a = _norm_ppf(0.5 + a.confidence / 2)
    z_b = _norm_ppf(0.5 + b.confidence / 2)
    se = math.hypot((a.ci[1] - a.ci[0]) / (2 * z_a), (b.ci[1] - b.ci[0]) / (2 * z_b))
    z = _norm_ppf(0.5 + confidence / 2)
    oriented = delta if b.higher_is_better else -delta
    if se > 0:
        p_improve = _norm_cdf(oriented / se)
        p_value = min(1.0, 2.0 * (1.0 - _norm_cdf(abs(delta) / se)))
    else:
        p_improve = 0.5 if delta == 0 else float(oriented > 0)
        p_value = 1.0 if delta == 0 else 0.0
    outcome = TestOutcome(
        method="unpaired-intervals", delta_ci=(delta - z * se, delta + z * se),
        p_improve=p_improve, p_value=p_value, se=se,
        mde=detectable_effect(se, alpha=1 - confidence), n_units=min(a.n, b.n))
    return outcome, f"unpaired comparison of the two intervals ({reason})"


def _method(t: PairedTest) -> Method:
    clustered = t.resample == "groups"
    if t.test == "bootstrap":
        return "paired-cluster-bootstrap" if clustered else "paired-bootstrap"
    if t.test == "exact-sign-flip":
        return "exact-cluster-sign-flip" if clustered else "exact-sign-flip"
    return "cluster-sign-flip" if clustered else "sign-flip"


def _paired_outcome(t: PairedTest) -> TestOutcome:
    return TestOutcome(
        method=_method(t) if t.test is not None else "none", delta_ci=t.ci,
        p_improve=t.p_improve, p_value=t.p_value, se=t.se, mde=t.mde, n_units=t.n_units,
        n_differing=t.n_differing)


def _verdict(d: MetricDiff, tol: Tolerance | None, alpha: float) -> MetricDiff:
    """The verdict of a tested metric from its adjusted p-value, with the tolerance on top."""
    test = d.test
    if test is None or d.delta is None:
        raise ValueError(f"{d.key}: a verdict needs a test and a difference")
    notes = list(d.notes)
    hib = d.higher_is_better
    worse = -d.delta if hib else d.delta  # > 0: head is worse
    p = test.p_adjusted if test.p_adjusted is not None else test.p_value
    significant = p is not None and p <= alpha and d.delta != 0
    tol_use = None
    verdict: Verdict
    if significant:
        verdict = "regressed" if worse > 0 else "improved"
    else:
        verdict = "unchanged"
    if tol is not None:
        amount = tol.absolute(d.base_value or 0.0)
        if tol.sign is not None and (tol.sign == "+") != (not hib):
            notes.append(
                f"tolerance {tol.text!r} is written as allowing the metric to go "
                f"{'up' if tol.sign == '+' else 'down'}, but worse means "
                f"{'down' if hib else 'up'} for it; applied as an allowance of {amount:g} "
                "in the worse direction")
        within = verdict == "regressed" and worse <= amount
        if within:
            verdict = "unchanged"
        tol_use = ToleranceUse(amount=amount, text=tol.text, within=within)
    return replace(d, verdict=verdict, tolerance=tol_use, notes=tuple(notes))


# ----------------------------------------------------------------------------------------
# the comparison


def _check_settings(n_boot: int, confidence: float, correction: str) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot={n_boot!r}: use at least 100 resamples")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence={confidence}: expected a value in [0.5, 1)")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction={correction!r}: expected one of {', '.join(CORRECTIONS)}")


def _tested_nodeids(rec: Mapping[str, Any]) -> set[str]:
    return {str(t["nodeid"]) for t in rec.get("tests", ())}


def _missing_verdict(nodeid: str, rec_b: Mapping[str, Any], head_ids: set[str]
                     ) -> tuple[Verdict, str | None]:
    """``not-run`` or ``removed`` for a base metric the head did not record."""
    sel = _selection(rec_b)
    if nodeid in set(sel.get("deselected") or ()):
        return "not-run", "deselected in the head run"
    if nodeid not in head_ids and sel.get("subset"):
        return "not-run", "not selected in the head run (a subset run)"
    if nodeid not in head_ids and rec_b.get("complete", True) is False:
        return "not-run", "the head run was interrupted before this test"
    if nodeid in head_ids:
        outcome = next((t.get("outcome") for t in rec_b.get("tests", ())
                        if str(t["nodeid"]) == nodeid), None)
        if outcome not in (None, "passed"):
            return "removed", f"the test ran but did not record it (outcome: {outcome})"
    return "removed", None


def _problems(rec_a: Mapping[str, Any], rec_b: Mapping[str, Any], base: RunInfo,
              head: RunInfo, metrics: Sequence[MetricDiff]) -> list[Problem]:
    out: list[Problem] = []
    ids_a, ids_b = _tested_nodeids(rec_a), _tested_nodeids(rec_b)
    sel_b = _selection(rec_b)
    if not ids_b or sel_b.get("empty"):
        out.append(Problem("empty-head", f"the head run {head.source} ran no test"))
    if not ids_a or _selection(rec_a).get("empty"):
        out.append(Problem("empty-base", f"the baseline {base.source} ran no test"))
    if ids_a and ids_b and not ids_a & ids_b:
        out.append(Problem(
            "different-suite", f"the baseline {base.source} and the head run share no test: "
            "the baseline comes from another suite or another root folder"))
    # an unreliable metric was compared (and is shown); it only has no say in the gate
    compared = [m for m in metrics if m.verdict in ("improved", "regressed", "unchanged",
                                                    "untested", "unreliable")]
    if not compared:
        incomparable = sum(m.verdict == "incomparable" for m in metrics)
        out.append(Problem(
            "no-common-metric", "no metric could be compared"
            + (f" ({incomparable} incomparable: their signatures differ)" if incomparable
               else ": the runs have no metric in common")))
    if head.subset:
        not_run = sum(m.verdict == "not-run" for m in metrics)
        out.append(Problem("subset", f"the head run is a subset ({head.selection}): "
                           f"{not_run} baseline metric(s) not run"))
    for label, info in (("baseline", base), ("head run", head)):
        if not info.complete:
            out.append(Problem("incomplete", f"the {label} {info.source} is incomplete (the "
                               "session was interrupted)"))
    return out


def _run_warnings(rec_a: Mapping[str, Any], rec_b: Mapping[str, Any], info_a: RunInfo,
                  info_b: RunInfo, any_a: bool, any_b: bool) -> list[str]:
    warnings: list[str] = []
    for label, rec, info in (("base", rec_a, info_a), ("head", rec_b, info_b)):
        if not info.complete:
            warnings.append(f"the {label} run ({info.source}) is incomplete (the session was "
                            f"interrupted: {rec.get('interrupted_by') or 'unknown cause'})")
    if not any_a:
        warnings.append(f"the base run {info_a.source} holds no recorded metric: everything is "
                        "new")
    if not any_b:
        warnings.append(f"the head run {info_b.source} holds no recorded metric")
    return warnings


def _start_diff(key: tuple[str, str], a: ResultRecord | None, b: ResultRecord | None, *,
                rec_b: Mapping[str, Any], head_ids: set[str],
                pairings: dict[tuple[int, int], _Pairs | str], confidence: float
                ) -> tuple[MetricDiff, PairedInput | None]:
    """The diff of one metric as far as it goes without the batched paired test, and that
    test's input when it needs one (``pairings`` caches pairs of id lists shared by metrics)."""
    from llaso_pytest.metrics.base import aggregate_fn
    from llaso_pytest.stats import ItemColumns, PairedInput

    nodeid, name = key
    ref = b if b is not None else a
    if ref is None:  # pragma: no cover - every key comes from one of the two runs
        raise KeyError(key)
    d = MetricDiff(
        nodeid=nodeid, name=name, verdict="unchanged", higher_is_better=ref.higher_is_better,
        family=family_of(ref),
        base=None if a is None else SideValues(a.value, a.ci, a.n),
        head=None if b is None else SideValues(b.value, b.ci, b.n),
        signature=ref.signature.text)
    d = replace(d, notes=_corpus_notes(a, b))
    if a is None:
        return replace(d, verdict="new"), None
    if b is None:
        verdict, why = _missing_verdict(nodeid, rec_b, head_ids)
        return replace(d, verdict=verdict, notes=d.notes + ((why,) if why else ())), None
    d = replace(d, delta=b.value - a.value)
    sig = _signature_diffs(a, b)
    if sig:
        return replace(d, verdict="incomparable", signature_diffs=sig), None
    pkey = (id(a.item_ids), id(b.item_ids))
    pairs = pairings.get(pkey)
    if pairs is None or not a.stats or not b.stats:
        pairs = _pair(a, b)
        if a.stats and b.stats:
            pairings[pkey] = pairs
    try:
        aggregate_fn(a.aggregate)
    except ValueError as exc:
        pairs = f"cannot recompute the value from item statistics: {exc}"
    if isinstance(pairs, str):
        outcome, why = _unpaired(a, b, confidence, pairs)
        if outcome is None:
            return replace(d, verdict="untested", untested_reason=why,
                           notes=(*d.notes, why)), None
        return replace(d, test=outcome, notes=(*d.notes, why)), None
    notes: list[str] = list(d.notes)
    if pairs.n_base_only or pairs.n_head_only:
        notes.append(
            f"{pairs.ia.size} items paired; {pairs.n_base_only} only in the base, "
            f"{pairs.n_head_only} only in the head (left out of the paired test)")
    flips, worst, best = _item_views(a, b, pairs)
    texts = item_views(a, b, flips=flips, worst=worst)
    # the records' own arrays, rows picked when the test runs: the batch holds no copies
    sa = ItemColumns(tuple(a.stats.values()), None if pairs.identity else pairs.ia)
    sb = ItemColumns(tuple(b.stats.values()), None if pairs.identity else pairs.ib)
    groups: Sequence[str] | None = None
    if a.groups is not None and b.groups is not None:
        if pairs.identity and a.groups == b.groups:
            groups = a.groups
        else:
            ga = [a.groups[i] for i in pairs.ia]
            gb = [b.groups[i] for i in pairs.ib]
            if ga == gb:
                groups = ga
    if a.groups is not None and b.groups is not None and groups is None:
        notes.append("groups differ between the runs: items resampled, not groups")
    job = PairedInput(sa, sb, a.aggregate, a.higher_is_better, groups=groups,
                      label=f"{nodeid}::{name}")
    d = replace(d, pairing=Pairing(int(pairs.ia.size), pairs.n_base_only, pairs.n_head_only),
                flips=flips, worst_changes=worst, best_changes=best, item_texts=texts,
                notes=tuple(notes))
    return d, job


def _corpus_notes(a: ResultRecord | None, b: ResultRecord | None) -> tuple[str, ...]:
    """Notes for a corpus joined from cases (``record_case``) that is partial on a side."""
    notes = []
    for side, r in (("base", a), ("head", b)):
        info = None if r is None else r.extra.get("corpus")
        if not isinstance(info, Mapping) or not info.get("partial"):
            continue
        parts = []
        if info.get("deselected"):
            parts.append(f"{info['deselected']} deselected (-k, -m, --lf)")
        if info.get("last_failed"):
            parts.append("only the cases that failed before (--lf)")
        if info.get("not_recorded"):
            parts.append(f"{info['not_recorded']} recorded nothing")
        notes.append(f"partial corpus in the {side}: {info.get('cases')} cases, "
                     + ", ".join(parts))
    return tuple(notes)


def _with_test(d: MetricDiff, t: PairedTest) -> MetricDiff:
    """``d`` completed with its paired test (``untested`` when no test was possible)."""
    notes = list(d.notes) + list(t.notes)
    if d.pairing is not None and (d.pairing.n_base_only or d.pairing.n_head_only):
        notes.append(f"delta {t.delta:+.4g} is over the {d.pairing.n_paired} paired items")
    if t.p_value is None:
        return replace(d, delta=t.delta, test=_paired_outcome(t), verdict="untested",
                       untested_reason=t.untested, notes=tuple(notes))
    return replace(d, delta=t.delta, test=_paired_outcome(t), notes=tuple(notes))


def compare_records(
    base: Mapping[str, Any] | RunRecord,
    head: Mapping[str, Any] | RunRecord,
    *,
    tolerances: Mapping[str, Tolerance] | str | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    correction: Correction = DEFAULT_CORRECTION,
    base_source: str = "base",
    head_source: str = "head",
) -> Comparison:
    """Compare two run records (dicts of Contract 3, or :class:`RunRecord`) metric by metric.

    Raises :class:`~llaso_pytest.record.RecordError` (naming ``base_source``/``head_source``)
    when a record is malformed; never returns a silently empty comparison.
    """
    from llaso_pytest.record import RecordError
    from llaso_pytest.stats import paired_tests

    _check_settings(n_boot, confidence, correction)
    if isinstance(tolerances, str) or tolerances is None:
        tolerances = parse_tolerances(tolerances)
    # each record parsed (and its values checked) once: read_results takes the parsed one
    run_a, run_b = _parsed(base, base_source), _parsed(head, head_source)
    rec_a, rec_b = record_dict(run_a, source=base_source), record_dict(run_b, source=head_source)
    res_a = read_results(run_a, source=base_source)
    res_b = read_results(run_b, source=head_source)
    info_a, info_b = _run_info(rec_a, base_source), _run_info(rec_b, head_source)
    if not res_a and not res_b:
        raise RecordError(
            f"neither {base_source} nor {head_source} holds any recorded metric; nothing to "
            "compare (did the tests call record_metric?)")
    warnings = _run_warnings(rec_a, rec_b, info_a, info_b, bool(res_a), bool(res_b))
    alpha = 1.0 - confidence
    head_ids = _tested_nodeids(rec_b)
    keys = list(res_a) + [k for k in res_b if k not in res_a]
    diffs: dict[tuple[str, str], MetricDiff] = {}
    jobs: list[PairedInput] = []
    pending: list[tuple[int, tuple[str, str]]] = []  # (index into jobs, key)
    pairings: dict[tuple[int, int], _Pairs | str] = {}
    for key in keys:
        d, job = _start_diff(key, res_a.get(key), res_b.get(key), rec_b=rec_b,
                             head_ids=head_ids, pairings=pairings, confidence=confidence)
        diffs[key] = d
        if job is not None:
            pending.append((len(jobs), key))
            jobs.append(job)
    tests = paired_tests(jobs, n_boot=n_boot, seed=seed, confidence=confidence) if jobs else []
    for index, key in pending:
        diffs[key] = _with_test(diffs[key], tests[index])
    for key in keys:  # before the families: an unreliable metric is no hypothesis that gates
        diffs[key] = _reliability(diffs[key], res_a.get(key), res_b.get(key))

    metrics = _judge(keys, diffs, tolerances, correction, alpha)
    unused = [t.text for t in tolerances.values() if not any(t.matches(*k) for k in keys)]
    for text in unused:
        warnings.append(f"tolerance {text!r} matches no compared metric")
    prov = tuple(diff_provenance(rec_a.get("provenance") or {}, rec_b.get("provenance") or {}))
    warnings.extend(_data_warnings(prov))
    warnings.extend(environment_warnings(prov))
    partial = [m.key for m in metrics if any(n.startswith("partial corpus") for n in m.notes)]
    if partial:
        warnings.append(f"{len(partial)} corpus result(s) are partial (cases deselected, rerun "
                        "with --lf, or that recorded nothing), compared over the cases both runs "
                        f"have: {', '.join(partial[:5])}{', ...' if len(partial) > 5 else ''}")
    problems = _problems(rec_a, rec_b, info_a, info_b, metrics)
    return Comparison(
        base=info_a, head=info_b, metrics=tuple(metrics), provenance_diffs=prov,
        n_boot=n_boot, seed=seed, confidence=confidence, correction=correction,
        tolerances=tuple(t.text for t in tolerances.values()), warnings=tuple(warnings),
        problems=tuple(problems))


def _unreliable(res: ResultRecord | None, side: str) -> str | None:
    """Why ``res`` is unreliable (``extra.reliability.state``, llaso_pytest.llm.reliability)."""
    info = res.extra.get("reliability") if res is not None else None
    if not isinstance(info, Mapping) or info.get("state") != "unreliable":
        return None
    reasons = info.get("reasons")
    text = "; ".join(str(r) for r in reasons) if isinstance(reasons, list) and reasons else ""
    return f"{side}: {text or 'its judge fell short of the declared agreement'}"


def _reliability(d: MetricDiff, a: ResultRecord | None, b: ResultRecord | None) -> MetricDiff:
    """A metric whose judge is unreliable in either run gets the verdict ``unreliable``
    (numbers and test kept for display, no verdict from them, never gating). New, removed,
    not-run and incomparable metrics keep their verdict and get the reason as a note."""
    why = "; ".join(r for r in (_unreliable(a, "base"), _unreliable(b, "head")) if r)
    if not why:
        return d
    note = f"judge unreliable ({why}): reported, not gating"
    if d.verdict in ("unchanged", "untested"):
        return replace(d, verdict="unreliable", unreliable_reason=why,
                       notes=(*d.notes, note))
    return replace(d, unreliable_reason=why, notes=(*d.notes, note))


def _parsed(record: Mapping[str, Any] | RunRecord, source: str) -> RunRecord:
    from llaso_pytest.record import RunRecord, parse_record

    if isinstance(record, RunRecord):
        return record
    return parse_record(dict(record), source=source)


def _judge(keys: Sequence[tuple[str, str]], diffs: dict[tuple[str, str], MetricDiff],
           tolerances: Mapping[str, Tolerance], correction: Correction, alpha: float
           ) -> list[MetricDiff]:
    """Adjust the p-values per family, then give every tested metric its verdict. A metric
    identical on every unit in both runs is no hypothesis (its difference is exactly 0) and
    stays out of the family."""
    families: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        d = diffs[key]
        if d.test is not None and d.test.p_value is not None and d.verdict == "unchanged":
            if d.test.n_differing == 0 and d.test.method != "unpaired-intervals":
                # identical on every unit: the difference is known to be 0, not tested
                diffs[key] = _verdict(d, find_tolerance(tolerances, *key), alpha)
                continue
            families.setdefault(d.family, []).append(key)
    for members in families.values():
        raw = [diffs[k].test.p_value for k in members]  # type: ignore[union-attr]
        adjusted = adjust_pvalues(raw, correction)  # type: ignore[arg-type]
        for k, p_adj in zip(members, adjusted, strict=True):
            d = diffs[k]
            if d.test is None:  # pragma: no cover - only tested metrics enter a family
                raise ValueError(f"{d.key}: no test to adjust")
            d = replace(d, test=replace(d.test, p_adjusted=float(p_adj)))
            diffs[k] = _verdict(d, find_tolerance(tolerances, *k), alpha)
    return [diffs[k] for k in keys]


def _data_warnings(prov: Sequence[Any]) -> list[str]:
    out = []
    data = [p for p in prov if p.section in ("datasets", "prompts")]
    changed = [p.path for p in data if p.change == "changed"]
    if changed:
        out.append("the evaluation data changed between the runs ("
                   + ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
                   + "): differences may come from the data, not the system")
    for side, change in (("head", "only-base"), ("base", "only-head")):
        absent = sorted({p.section for p in data if p.change == change})
        if absent:
            out.append(f"the {side} run recorded no {' or '.join(absent)} provenance for "
                       f"{sum(p.change == change for p in data)} value(s) the other run "
                       "recorded: whether the evaluation data changed cannot be told")
    return out


def compare_files(base_path: str | os.PathLike[str], head_path: str | os.PathLike[str], *,
                  tolerances: Mapping[str, Tolerance] | str | None = None,
                  n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
                  confidence: float = DEFAULT_CONFIDENCE,
                  correction: Correction = DEFAULT_CORRECTION) -> Comparison:
    """:func:`compare_records` on two record files (errors name the file)."""
    return compare_records(load_record(base_path), load_record(head_path), tolerances=tolerances,
                           n_boot=n_boot, seed=seed, confidence=confidence,
                           correction=correction, base_source=os.fspath(base_path),
                           head_source=os.fspath(head_path))
