"""The controller's view of a session: collects per-test results, writes the run record.

Only the controller process (the single process, or xdist's controller) owns a
:class:`RunCollector`; workers ship everything on ``report.user_properties``. The record is
rewritten atomically while the session runs (throttled), so a session that dies half-way
leaves a valid record marked ``"complete": false`` holding every finished test.
"""

from __future__ import annotations

import datetime as _dt
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llaso_pytest.errors import LlasoWarning
from llaso_pytest.record import RunRecord, TestRecord, atomic_write_text, dumps_record

__all__ = [
    "KEY_MARKERS",
    "KEY_PROVENANCE",
    "KEY_RESULT",
    "RunCollector",
    "merge_provenance",
    "utc_now",
]

# Keys of the (name, value) pairs that travel on report.user_properties.
KEY_RESULT = "llaso_result"
#: Appended to ``item.user_properties`` at the start of every run of a test (its setup), so it
#: also marks where an attempt begins: a test rerun in the same session (pytest-rerunfailures)
#: keeps the earlier attempts' entries on the item, and only results after the last marker
#: belong to the attempt that counts.
KEY_MARKERS = "llaso_markers"
KEY_PROVENANCE = "llaso_provenance"

_LONGREPR_LIMIT = 4000


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
        for name, value in self._pairs(report.user_properties):
            if name == KEY_RESULT:
                key = str(value.get("name")) if isinstance(value, Mapping) else repr(value)
                if key in results and report.when == "teardown":  # warn once per test
                    warnings.warn(LlasoWarning(
                        f"{report.nodeid}: result {key!r} was recorded twice in one run of the "
                        "test; keeping the last"), stacklevel=2)
                results.pop(key, None)
                results[key] = value
            elif name == KEY_MARKERS:
                state.markers = tuple(value)
                results = {}  # a new attempt starts here: earlier attempts' results are stale
            elif name == KEY_PROVENANCE:
                merge_provenance(self.provenance, value,
                                 source=report.nodeid)
        if results:  # item.user_properties accumulate: the latest phase holds them all
            state.results = list(results.values())
        if report.when == "teardown":
            state.finished = True
            self.maybe_write()

    @staticmethod
    def _pairs(props: Iterable[Any]) -> Iterable[tuple[str, Any]]:
        for entry in props:
            if isinstance(entry, Sequence) and len(entry) == 2 and isinstance(entry[0], str):
                yield entry[0], entry[1]

    # -- record --------------------------------------------------------------------------
    def build(self, *, complete: bool, exit_status: int | None,
              interrupted_by: str | None = None) -> RunRecord:
        tests = tuple(
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
        for t in tests:
            summary[t.outcome] = summary.get(t.outcome, 0) + 1
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
        )

    def maybe_write(self) -> None:
        """Rewrite the partial record, at most as often as keeps writing under ~10% of time."""
        now = self._clock()
        if now - self._last_write < max(1.0, 10 * self._write_cost):
            return
        self._write(self.build(complete=False, exit_status=None), latest=False)

    def finish(self, *, complete: bool, exit_status: int, interrupted_by: str | None = None,
               usage: Mapping[str, Any] | None = None) -> RunRecord:
        record = self.build(complete=complete, exit_status=exit_status,
                            interrupted_by=interrupted_by)
        if usage:
            record = record.replace(usage=dict(usage))
        self._write(record, latest=True)
        self.record = record
        return record

    def _write(self, record: RunRecord, *, latest: bool) -> None:
        start = self._clock()
        text = dumps_record(record)
        atomic_write_text(self.out_path, text)
        if latest and self.latest_path is not None and self.latest_path != self.out_path:
            # a temp file of its own (mkstemp): sessions sharing a store may finish together
            atomic_write_text(self.latest_path, text)
        self._last_write = self._clock()
        self._write_cost = self._last_write - start
