"""The controller's view of a session: collects per-test results, writes the run record.

Only the controller process (the single process, or xdist's controller) owns a
:class:`RunCollector`; workers ship everything on ``report.user_properties``. The record is
rewritten atomically while the session runs (throttled), so a session that dies half-way
leaves a valid record marked ``"complete": false`` holding every finished test.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.record import (
    RunRecord,
    Selection,
    ShardInfo,
    TestRecord,
    _json_default,
    atomic_write_text,
    dumps_record,
)

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.compare import Comparison, Gate
    from llaso_pytest.options import CompareSettings

__all__ = [
    "EXIT_RECORD_NOT_WRITTEN",
    "KEY_CASE",
    "KEY_CORPUS",
    "KEY_MARKERS",
    "KEY_PROVENANCE",
    "KEY_RESULT",
    "RunCollector",
    "SessionOutcome",
    "compact_results",
    "finish_session",
    "interruption",
    "merge_provenance",
    "outcome_lines",
    "utc_now",
]

#: Session exit status when the run record could not be written at all (disk full, read-only
#: folder): distinct from pytest's 0-5 and from the gate's codes (docs/exit-codes.md).
EXIT_RECORD_NOT_WRITTEN = 7

# Keys of the (name, value) pairs that travel on report.user_properties.
KEY_RESULT = "llaso_result"
#: Appended to ``item.user_properties`` at the start of every run of a test (its setup), so it
#: also marks where an attempt begins: a test rerun in the same session (pytest-rerunfailures)
#: keeps the earlier attempts' entries on the item, and only results after the last marker
#: belong to the attempt that counts.
KEY_MARKERS = "llaso_markers"
KEY_PROVENANCE = "llaso_provenance"
#: One case's one-item result (``record_case``), joined into its corpus on the controller.
KEY_CASE = "llaso_case"
#: The corpus a test that uses ``record_case`` belongs to (sent at setup, so a case that
#: records nothing is still known to be missing from its corpus).
KEY_CORPUS = "llaso_corpus"

_LONGREPR_LIMIT = 4000


def compact_results(report: Any) -> None:
    """Replace each recorded result on ``report.user_properties`` by its one-line summary
    (:func:`llaso_pytest.report.summary.result_line`), and each ``record_case`` payload by the
    corpus name and that line, once the collector has taken them: what JUnit XML writes stays
    small whatever the number of items."""
    from llaso_pytest.report.summary import result_line

    props = report.user_properties
    for i, entry in enumerate(props):
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], Mapping)):
            continue
        if entry[0] == KEY_RESULT:
            props[i] = (KEY_RESULT, result_line(entry[1]))
        elif entry[0] == KEY_CASE and isinstance(entry[1].get("result"), Mapping):
            # one case of a corpus (record_case): its one-item result as one line, too
            props[i] = (KEY_CASE, f"{entry[1].get('corpus')}: {result_line(entry[1]['result'])}")


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def merge_provenance(
    target: dict[str, Any], entries: Mapping[str, Any], *, source: str
) -> None:
    """Merge recorded provenance entries; dicts merge key by key, conflicts warn loudly."""
    for key, value in entries.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            for sub, subvalue in value.items():
                if sub in old and old[sub] != subvalue:
                    warnings.warn(
                        LlasoWarning(
                            f"provenance {key}.{sub} recorded twice with different values "
                            f"(first {old[sub]!r}, then {subvalue!r} from {source}); "
                            "keeping both under a list"
                        ),
                        stacklevel=2,
                    )
                    subvalue = [old[sub], subvalue]
                old[sub] = subvalue
        elif key in target and old != value:
            warnings.warn(
                LlasoWarning(
                    f"provenance {key!r} recorded twice with different values "
                    f"(first {old!r}, then {value!r} from {source}); keeping both under a list"
                ),
                stacklevel=2,
            )
            target[key] = [old, value]
        else:
            target[key] = value


@dataclass
class _TestState:
    nodeid: str
    outcome: str = "passed"
    duration: float = 0.0
    markers: tuple[str, ...] = ()
    results: list[dict[str, Any]] = field(default_factory=list)
    longrepr: str | None = None
    finished: bool = False
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric name -> payload
    corpus: str | None = None


def _phase_outcome(report: Any) -> str | None:
    """The test outcome a phase report implies, or None when it changes nothing."""
    wasxfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            return "xpassed" if wasxfail else "passed"
        if report.skipped:
            return "xfailed" if wasxfail else "skipped"
        return "failed"
    if report.failed:
        return "error"
    if report.skipped and report.when == "setup":
        return "xfailed" if wasxfail else "skipped"
    return None


class RunCollector:
    """Accumulates test outcomes and results on the controller and writes the run record."""

    def __init__(
        self,
        *,
        out_path: Path,
        latest_path: Path | None,
        provenance: dict[str, Any],
        run_id: str,
        started_at: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out_path = out_path
        self.latest_path = latest_path
        self.provenance = provenance
        self.run_id = run_id
        self.started_at = started_at
        self._tests: dict[str, _TestState] = {}
        self._clock = clock
        self._last_write = float("-inf")
        self._write_cost = 0.0
        self.record: RunRecord | None = None
        self.selection: Selection | None = None
        #: This run's share of the suite under ``--llaso-shard K/N``, else ``None``.
        self.shard: ShardInfo | None = None
        #: The last failed write (disk full, ...): results stay in memory, the write is
        #: retried at the next opportunity and at session end.
        self.write_error: OSError | None = None
        #: corpus node id -> how many of its cases were deselected (-k, --lf, -m)
        self.deselected_cases: dict[str, int] = {}
        self._corpus_version: dict[str, int] = {}
        self._joined: dict[str, tuple[int, TestRecord, list[str]]] = {}

    # -- collecting ----------------------------------------------------------------------
    def add_report(self, report: Any) -> None:
        state = self._tests.get(report.nodeid)
        if state is None or (state.finished and report.when == "setup"):
            # first run, or a rerun of a finished test (pytest-rerunfailures): the record keeps
            # only the last attempt, as pytest's own summary does
            state = self._tests[report.nodeid] = _TestState(report.nodeid)
        state.duration += float(getattr(report, "duration", 0.0) or 0.0)
        outcome = _phase_outcome(report)
        # setup/teardown errors override a pass; a call outcome overrides setup's default
        if (
            outcome is not None
            and (state.outcome in ("passed", "xpassed") or report.when == "call")
            and not (state.outcome == "error" and report.when == "call")
        ):
            state.outcome = outcome
        if report.failed and getattr(report, "longreprtext", None):
            text = report.longreprtext
            state.longrepr = text if len(text) <= _LONGREPR_LIMIT else (
                text[:_LONGREPR_LIMIT] + f"\n... [{len(text) - _LONGREPR_LIMIT} characters cut]"
            )
        results: dict[str, dict[str, Any]] = {}
        cases: dict[str, dict[str, Any]] = {}
        for name, value in self._pairs(report.user_properties):
            if name == KEY_RESULT:
                key = str(value.get("name")) if isinstance(value, Mapping) else repr(value)
                if key in results and report.when == "teardown":  # warn once per test
                    warnings.warn(LlasoWarning(
                        f"{report.nodeid}: result {key!r} was recorded twice in one run of the "
                        "test; keeping the last"), stacklevel=2)
                results.pop(key, None)
                results[key] = value
            elif name == KEY_CASE and isinstance(value, Mapping):
                cases[str(value["result"]["name"])] = dict(value)
            elif name == KEY_CORPUS:
                state.corpus = str(value)
            elif name == KEY_MARKERS:
                state.markers = tuple(value)
                results = {}  # a new attempt starts here: earlier attempts' results are stale
                cases = {}
            elif name == KEY_PROVENANCE:
                merge_provenance(self.provenance, value,
                                 source=report.nodeid)
        if results:  # item.user_properties accumulate: the latest phase holds them all
            state.results = list(results.values())
        if cases:
            state.cases = cases
        if state.corpus is not None:
            self._corpus_version[state.corpus] = self._corpus_version.get(state.corpus, 0) + 1
        if report.when == "teardown":
            state.finished = True
            self.maybe_write()

    @staticmethod
    def _pairs(props: Iterable[Any]) -> Iterable[tuple[str, Any]]:
        for entry in props:
            if isinstance(entry, Sequence) and len(entry) == 2 and isinstance(entry[0], str):
                yield entry[0], entry[1]

    # -- record --------------------------------------------------------------------------
    def unfinished(self) -> list[str]:
        """Node ids of tests that started but never reported their teardown (a crashed xdist
        worker, a killed process): the run did not finish them."""
        return sorted(s.nodeid for s in self._tests.values() if not s.finished)

    def corpora(self) -> list[tuple[TestRecord, list[str]]]:
        """Each corpus of ``record_case`` results as a test record holding its joined results,
        with the reasons it could not be joined (joined again only when a case arrived)."""
        members: dict[str, list[_TestState]] = {}
        for s in sorted(self._tests.values(), key=lambda s: s.nodeid):
            if s.corpus is not None:
                members.setdefault(s.corpus, []).append(s)
        out = []
        for key, states in members.items():
            version = self._corpus_version.get(key, 0)
            cached = self._joined.get(key)
            if cached is None or cached[0] != version:
                test, errors = self._join(key, states)
                cached = self._joined[key] = (version, test, errors)
            out.append((cached[1], cached[2]))
        return out

    def _join(self, key: str, states: list[_TestState]) -> tuple[TestRecord, list[str]]:
        from llaso_pytest.corpus import MAX_NAMED, CorpusError, join_cases

        by_name: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        for s in states:
            for name, payload in s.cases.items():
                by_name.setdefault(name, []).append((s.nodeid, payload["result"]))
        for cases in by_name.values():  # case-id order: the same in every run and shard
            cases.sort(key=lambda c: str(c[1]["items"]["ids"][0]))
        seed = self.provenance.get("seed")
        fallback = seed if isinstance(seed, int) and not isinstance(seed, bool) else 0
        deselected = self.deselected_cases.get(key, 0)
        # --lf leaves the cases that passed last time uncollected: their number is unknown
        last_failed = self.selection is not None and self.selection.last_failed
        shard = f"{self.shard.index}/{self.shard.count}" if self.shard is not None else None
        results, errors = [], []
        for name, cases in by_name.items():
            recorded = {nodeid for nodeid, _ in cases}
            missing = [s.nodeid for s in states if s.nodeid not in recorded]
            partial: dict[str, Any] = {
                "partial": bool(deselected or missing or last_failed or shard),
                "last_failed": last_failed, "deselected": deselected,
                "not_recorded": len(missing), "not_recorded_tests": missing[:MAX_NAMED]}
            if shard:  # the other shards' cases: llaso merge joins the shards' corpora
                partial["shard"] = shard
            try:
                joined = join_cases(name, cases, corpus=key, fallback_seed=fallback,
                                    partial=partial)
                results.append(check_result(joined, nodeid=key))
            except (CorpusError, ValueError) as exc:
                errors.append(str(exc))
                warnings.warn(LlasoWarning(f"llaso: {exc}"), stacklevel=2)
        outcomes = {s.outcome for s in states}
        outcome = "error" if errors else next(
            (o for o in ("error", "failed", "interrupted") if o in outcomes), "passed")
        test = TestRecord(
            nodeid=key, outcome=outcome, duration=round(sum(s.duration for s in states), 6),
            markers=tuple(sorted({m for s in states for m in s.markers})),
            results=tuple(results), longrepr="\n".join(errors) or None)
        return test, errors

    def corpus_errors(self) -> list[str]:
        """Why corpora could not be joined (they fail the session)."""
        return [e for _, errors in self.corpora() for e in errors]

    def build(self, *, complete: bool, exit_status: int | None,
              interrupted_by: str | None = None) -> RunRecord:
        ran = tuple(
            TestRecord(
                nodeid=s.nodeid,
                outcome=s.outcome if s.finished else "interrupted",
                duration=round(s.duration, 6),
                markers=s.markers,
                results=tuple(s.results),
                longrepr=s.longrepr,
            )
            for s in sorted(self._tests.values(), key=lambda s: s.nodeid)
        )
        summary: dict[str, int] = {}
        for t in ran:  # the tests that ran; a corpus is a result of them, not one more test
            summary[t.outcome] = summary.get(t.outcome, 0) + 1
        tests = ran + tuple(test for test, _ in self.corpora())
        return RunRecord(
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=utc_now() if complete or exit_status is not None else None,
            complete=complete,
            provenance=self.provenance,
            tests=tests,
            exit_status=exit_status,
            interrupted_by=interrupted_by,
            summary=dict(sorted(summary.items())),
            selection=self._selection(tests),
            shard=self.shard,
        )

    def _selection(self, tests: Sequence[TestRecord]) -> Selection | None:
        if self.selection is None:
            return None
        ran = any(t.outcome not in ("skipped", "interrupted") for t in tests)
        return dataclasses.replace(self.selection, empty=not ran)

    def maybe_write(self) -> None:
        """Rewrite the partial record, at most as often as keeps writing under ~10% of time."""
        now = self._clock()
        if now - self._last_write < max(1.0, 10 * self._write_cost):
            return
        try:
            self._write(self.build(complete=False, exit_status=None), latest=False)
        except OSError as exc:
            # Disk full or the folder gone mid-run: never an INTERNALERROR inside a report
            # hook. Every result stays in memory; the final write retries (and reports).
            if self.write_error is None:
                warnings.warn(LlasoWarning(
                    f"cannot update the partial run record {self.out_path}: "
                    f"{exc.strerror or exc}; results are kept in memory and the record is "
                    "written again when the session ends"), stacklevel=2)
            self.write_error = exc
            self._last_write = self._clock()  # retry after the usual interval, not every test

    def finish(self, *, complete: bool, exit_status: int, interrupted_by: str | None = None,
               usage: Mapping[str, Any] | None = None) -> RunRecord:
        """Build the final record and write it; raises the ``OSError`` of a failed write
        (``self.record`` holds the record either way)."""
        record = self.build(complete=complete, exit_status=exit_status,
                            interrupted_by=interrupted_by)
        if usage:
            record = record.replace(usage=dict(usage))
        self.record = record
        self._write(record, latest=True)
        self.write_error = None
        return record

    def _write(self, record: RunRecord, *, latest: bool) -> None:
        start = self._clock()
        text = dumps_record(record)
        atomic_write_text(self.out_path, text)
        if latest and self.latest_path is not None and self.latest_path != self.out_path:
            # a temp file of its own (mkstemp): sessions sharing a store may finish together
            try:
                atomic_write_text(self.latest_path, text)
            except OSError as exc:  # the record itself is safe: only the pointer is stale
                warnings.warn(LlasoWarning(
                    f"the run record is written to {self.out_path}, but {self.latest_path} "
                    f"could not be updated ({exc.strerror or exc}); it still holds an older "
                    "run"), stacklevel=2)
        self._last_write = self._clock()
        self._write_cost = self._last_write - start


def new_run_id(runs: Path, started: str) -> str:
    """A run id from the start time, unique in ``runs`` (``-2``, ``-3``... when taken)."""
    base = started.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    run_id, n = base, 1
    while (runs / f"{run_id}.json").exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def check_result(result: dict[str, Any], *, nodeid: str) -> dict[str, Any]:
    """A recorded result as plain JSON data; ``ValueError`` naming the test for a result the
    record cannot hold (no name, a non-finite value, something not JSON-able)."""
    name = result.get("name")
    value = result.get("value")
    if not isinstance(name, str) or not name:
        raise ValueError(f"record_metric in {nodeid}: a result needs a non-empty string name")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(
            f"record_metric in {nodeid}: value of {name!r} is {value!r}; a metric value must "
            "be a finite number (raise where an undefined metric is computed instead)"
        )
    try:
        text = json.dumps(result, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"record_metric in {nodeid}: result {name!r} is not JSON-able: {exc}") \
            from None
    plain: dict[str, Any] = json.loads(text)
    return plain


# -- the selection of tests ----------------------------------------------------------------
def build_selection(*, collected: int, deselected: Iterable[str], args: Sequence[str],
                    testpaths: Sequence[str], rootdir: Path, invocation_dir: Path,
                    keyword: str | None, markexpr: str | None,
                    last_failed: bool) -> Selection:
    """What the session was asked to run, with positional ``args`` made relative to
    ``rootdir``. ``subset`` is true when anything was deselected, ``--lf`` narrowed the run, or
    the args do not cover every configured test path (``testpaths``, else the root folder)."""
    rel_args = tuple(_relative_arg(a, rootdir=rootdir, cwd=invocation_dir) for a in args)
    roots = [_relative_arg(t, rootdir=rootdir, cwd=rootdir) for t in testpaths] or ["."]
    narrowed = bool(rel_args) and not all(
        any(_covers(arg, root) for arg in rel_args) for root in roots)
    desel = tuple(sorted(set(deselected)))
    return Selection(collected=collected, deselected=desel, args=rel_args,
                     keyword=keyword or None, markexpr=markexpr or None,
                     last_failed=last_failed, subset=bool(desel) or narrowed or last_failed)


def _relative_arg(arg: str, *, rootdir: Path, cwd: Path) -> str:
    path, sep, rest = arg.partition("::")
    full = Path(os.path.normpath(cwd / path))
    try:
        rel = full.relative_to(rootdir).as_posix()
    except ValueError:
        rel = full.as_posix()
    return f"{rel}{sep}{rest}"


def _covers(arg: str, root: str) -> bool:
    """True when test path ``arg`` (no ``::`` part) is ``root`` or a folder above it."""
    if "::" in arg:
        return False
    return arg == "." or root == arg or root.startswith(arg.rstrip("/") + "/")


# -- the end of a session -------------------------------------------------------------------
@dataclass(frozen=True)
class SessionOutcome:
    """Everything the end of a session produced, for the terminal summary and the exit status.

    ``record_error`` is set when the run record could not be written (the record then lives
    only in ``record``); ``save_refused`` says why ``--llaso-save`` did not save.
    """

    record: RunRecord
    record_path: Path
    exit_status: int
    record_error: str | None = None
    saved_baseline: Path | None = None
    save_refused: str | None = None
    comparison: Comparison | None = None
    gate: Gate | None = None
    compare_error: str | None = None
    baseline_path: Path | None = None
    fail_on_regression: bool = False
    report_paths: tuple[Path, ...] = ()


#: pytest exit statuses after which the comparison or the gate may set the session's status.
_GATEABLE = (0, 1, 5)  # OK, TESTS_FAILED, NO_TESTS_COLLECTED


def interruption(*, exitstatus: int, shouldstop: str | bool, shouldfail: str | bool
                 ) -> str | None:
    """Why a session did not run to its end, or ``None`` (pytest's exit status and flags)."""
    if exitstatus == 2:  # INTERRUPTED
        return "KeyboardInterrupt" if shouldstop is False else str(shouldstop)
    if shouldfail:
        return str(shouldfail)
    if exitstatus not in _GATEABLE:
        names = {3: "internal error", 4: "usage error"}
        return names.get(exitstatus, f"exit status {exitstatus}")
    return None


def finish_session(collector: RunCollector, settings: CompareSettings, *, exitstatus: int,
                   interrupted_by: str | None, usage: Mapping[str, Any],
                   store_dir: Path) -> SessionOutcome:
    """Compare with the baseline, gate, write the record and save it as a baseline.

    Whatever goes wrong in the comparison, the record is still written; whatever goes wrong
    writing it (disk full), the outcome still holds it and says what was not written.
    """
    unfinished = collector.unfinished()
    if unfinished and interrupted_by is None:
        shown = ", ".join(unfinished[:3]) + (f" and {len(unfinished) - 3} more"
                                              if len(unfinished) > 3 else "")
        interrupted_by = (f"{len(unfinished)} test(s) did not finish ({shown}): a crashed "
                          "worker or a killed process")
    complete = interrupted_by is None
    status = int(exitstatus)
    if status == 0 and collector.corpus_errors():
        status = 1  # a corpus that cannot be joined is a failure, named in its test record
    comparison: Comparison | None = None
    gate: Gate | None = None
    compare_error: str | None = None
    if settings.baseline is not None:
        try:
            comparison = _compare(collector, settings, complete=complete,
                                  interrupted_by=interrupted_by)
            gate = comparison.gate(fail_on_untested=settings.fail_on_untested)
        except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
            compare_error, code = _comparison_failure(exc, settings)
            if status in _GATEABLE:
                status = code
        else:
            if settings.fail_on_regression and gate.failed and status in (0, 5):
                status = gate.exit_code
    record_error: str | None = None
    try:
        record = collector.finish(complete=complete, exit_status=status,
                                  interrupted_by=interrupted_by, usage=usage)
    except OSError as exc:
        record = collector.record if collector.record is not None else \
            collector.build(complete=complete, exit_status=status, interrupted_by=interrupted_by)
        record_error = _write_failure(exc, collector, record)
        status = EXIT_RECORD_NOT_WRITTEN
    saved, refused = _save(record, settings, out_path=collector.out_path, store_dir=store_dir,
                           record_error=record_error)
    return SessionOutcome(
        record=record, record_path=collector.out_path, exit_status=status,
        record_error=record_error, saved_baseline=saved, save_refused=refused,
        comparison=comparison, gate=gate, compare_error=compare_error,
        baseline_path=settings.baseline_path, fail_on_regression=settings.fail_on_regression,
        report_paths=tuple(o.path for o in settings.outputs) if comparison is not None else (),
    )


def _write_failure(exc: OSError, collector: RunCollector, record: RunRecord) -> str:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    n_results = sum(len(t.results) for t in record.tests)
    return (f"llaso: cannot write the run record {collector.out_path}: {why}. Nothing of this "
            f"run was saved: {len(record.tests)} test outcome(s) and {n_results} result(s) "
            f"exist only in this session's memory (and {collector.latest_path} was not "
            f"updated). Free space or pass a writable --llaso-out, then rerun")


def _save(record: RunRecord, settings: CompareSettings, *, out_path: Path, store_dir: Path,
          record_error: str | None) -> tuple[Path | None, str | None]:
    """Save the record as the baseline ``--llaso-save`` names, unless it would mislead: a
    baseline must cover the whole suite, or every test it lacks reads "removed" later."""
    name = settings.save_name
    if name is None:
        return None, None
    from llaso_pytest import store

    cause = None
    sel = record.selection
    if record_error is not None:
        cause = "the run record could not be written"
    elif not record.complete:
        cause = f"this run is incomplete ({record.interrupted_by})"
    elif sel is not None and sel.empty:
        cause = (f"no test ran ({sel.collected} collected, {len(sel.deselected)} deselected"
                 f"{_narrowing(sel)}), so it holds no results to compare with")
    elif sel is not None and sel.subset:
        ran = sel.collected - len(sel.deselected)
        cause = (f"this is a subset run ({ran} of {sel.collected} collected tests selected"
                 f"{_narrowing(sel)}); later runs of the whole suite would read every other "
                 "test as new")
    if cause is None:
        try:
            return store.save_baseline(record, name, store_dir=store_dir), None
        except OSError as exc:
            cause = f"the baseline could not be written ({exc.strerror or exc})"
    why = f"--llaso-save {name}: not saved, because {cause}."
    if record_error is None:
        why += f" To save it anyway: llaso baseline save {name} {out_path}"
    warnings.warn(LlasoWarning(why), stacklevel=2)
    return None, why


def _narrowing(sel: Selection) -> str:
    parts = []
    if sel.keyword:
        parts.append(f"-k {sel.keyword!r}")
    if sel.markexpr:
        parts.append(f"-m {sel.markexpr!r}")
    if sel.last_failed:
        parts.append("--lf")
    if sel.args:
        parts.append(f"args {' '.join(sel.args)}")
    return f", by {', '.join(parts)}" if parts else ""


def _comparison_failure(exc: Exception, settings: CompareSettings) -> tuple[str, int]:
    """The message and exit status for a comparison that could not be made.

    Unusable input (a record the comparer refuses, a report file that cannot be written) is
    pytest's USAGE_ERROR (4), like ``llaso compare``'s exit status 2; anything else is a bug:
    INTERNAL_ERROR (3), with the traceback.
    """
    from llaso_pytest.record import RecordError

    what = f"llaso: the comparison with the baseline {settings.baseline_path} failed"
    if isinstance(exc, (RecordError, ValueError)):
        return f"{what}: {exc}", 4
    if isinstance(exc, OSError):
        return f"{what}: cannot write a report: {exc}", 4
    import traceback

    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"{what} (an internal error, please report it):\n{trace}", 3


def _compare(collector: RunCollector, settings: CompareSettings, *, complete: bool,
             interrupted_by: str | None) -> Comparison:
    """Compare the finished run with the baseline and write the requested report files."""
    from llaso_pytest import compare, report

    if settings.baseline is None:  # pragma: no cover - finish_session checks it
        raise ValueError("no baseline to compare with")
    head = collector.build(complete=complete, exit_status=None, interrupted_by=interrupted_by)
    # The bootstrap seed is compare.DEFAULT_SEED, not the session seed: `llaso compare` of the
    # same two records then gives the same intervals and verdicts (docs/compare.md).
    comparison = compare.compare_records(
        settings.baseline, head, tolerances=dict(settings.tolerances or {}),
        seed=compare.DEFAULT_SEED, base_source=str(settings.baseline_path),
        head_source="this run", correction=settings.correction)
    for out in settings.outputs:
        atomic_write_text(out.path, report.render(comparison, out.fmt))
    return comparison


# -- terminal text --------------------------------------------------------------------------
Style = Literal["plain", "section", "error", "warning"]


def outcome_lines(outcome: SessionOutcome) -> list[tuple[Style, str]]:
    """The end-of-session summary as (style, text) lines; the plugin only prints them."""
    lines: list[tuple[Style, str]] = []
    if outcome.comparison is not None:
        from llaso_pytest import report

        lines.append(("section", f"llaso comparison with {outcome.baseline_path}"))
        text = report.render(outcome.comparison, "text")
        lines.extend(("plain", line) for line in text.rstrip("\n").splitlines())
        gate = outcome.gate
        if gate is not None and gate.failed:
            verdict = "failing the session" if outcome.fail_on_regression else \
                "not gating (add --llaso-fail-on-regression)"
            what = "significant regression against the baseline" if gate.kind == "regressed" \
                else f"the gate fails ({gate.kind})"
            lines.append(("error", f"llaso: {what}: {verdict}"))
            lines.extend(("error", f"llaso: {reason}") for reason in gate.reasons)
        lines.extend(("plain", f"llaso: comparison written to {p}") for p in outcome.report_paths)
    if outcome.compare_error is not None:
        lines.append(("section", "llaso comparison failed"))
        lines.extend(("error", line) for line in outcome.compare_error.splitlines())
    record = outcome.record
    state = "complete" if record.complete else f"INCOMPLETE ({record.interrupted_by})"
    if outcome.record_error is not None:
        lines.append(("error", outcome.record_error))
    else:
        lines.append(("plain", f"llaso: run record ({state}) written to {outcome.record_path}"))
    if outcome.saved_baseline is not None:
        lines.append(("plain", f"llaso: saved as baseline {outcome.saved_baseline}"))
    if outcome.save_refused is not None:
        lines.append(("warning", f"llaso: {outcome.save_refused}"))
    return lines
