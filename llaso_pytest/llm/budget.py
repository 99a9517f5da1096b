"""Spending limits of a run: ``--llaso-budget-usd`` and ``--llaso-budget-calls``.

Once a limit is reached, no new judge or generation call starts: the item gets the explicit
outcome ``budget_exceeded`` (never a score), and the run is incomplete. The guarantee
(docs/llm.md, "Budgets"):

- **Global across processes.** All processes of a session (xdist workers on this machine)
  share one :class:`Ledger`, a SQLite file that each call reserves against in one
  ``BEGIN IMMEDIATE`` transaction, so the calls limit is never exceeded, whatever the workers.
- **Checked before every API call** (a cache hit is free and always served). The spending is
  known only when a reply arrives, so calls already in flight when the USD limit is reached
  still finish: the overshoot is at most one window of calls per process (the endpoint's
  concurrency).
- **Deterministic in one process.** Within a batch, first calls are admitted in input order,
  and item ``i`` is admitted against the spending before the batch plus the cost of items
  ``0 .. i - window`` (all settled by then): which items end ``budget_exceeded`` depends on
  the requests and the server's token counts only, not on thread timing. Under xdist the limit
  stays global but which items trip depends on how tests were spread over workers.

A call's cost is its token counts times the endpoint's prices (USD per million tokens). A
loopback endpoint without prices (the fake server, a local vLLM) counts as free; a reply
without token counts makes the spending unknown, and a USD limit then stops new calls.

Pytest-free; the LLM sub-plugin creates the ledger and hands it to the clients.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.client import CallOutcome
    from llaso_pytest.llm.config import EndpointConfig

__all__ = ["BUDGET_EXCEEDED", "BatchGate", "BudgetError", "BudgetLimits", "Ledger", "call_cost",
           "parse_budget_calls", "parse_budget_usd"]

#: The outcome (``CallOutcome.error_type``, judge ``error_kind``) of an item not called.
BUDGET_EXCEEDED = "budget_exceeded"


class BudgetError(LlasoError, ValueError):
    """A budget that cannot be kept (a bad limit, a ledger that cannot be opened)."""


@dataclass(frozen=True)
class BudgetLimits:
    """The run's limits; ``None`` is no limit."""

    usd: float | None = None
    calls: int | None = None

    def __post_init__(self) -> None:
        if self.usd is not None and not (math.isfinite(self.usd) and self.usd >= 0):
            raise BudgetError(f"--llaso-budget-usd must be a number of USD >= 0, got {self.usd!r}")
        if self.calls is not None and (isinstance(self.calls, bool) or self.calls < 0):
            raise BudgetError(f"--llaso-budget-calls must be an integer >= 0, got {self.calls!r}")

    @property
    def active(self) -> bool:
        return self.usd is not None or self.calls is not None

    def describe(self) -> str:
        parts = []
        if self.usd is not None:
            parts.append(f"--llaso-budget-usd {self.usd:g}")
        if self.calls is not None:
            parts.append(f"--llaso-budget-calls {self.calls}")
        return ", ".join(parts)


def parse_budget_usd(text: str) -> float:
    """A spending limit in USD: a finite number >= 0 (``0`` allows no paid call)."""
    from llaso_pytest.options import OptionError

    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"a budget is a number of USD, e.g. 2.50, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise OptionError(f"a budget is a finite number of USD >= 0, got {text!r}")
    return value


def parse_budget_calls(text: str) -> int:
    """A limit of API calls: an integer >= 0."""
    from llaso_pytest.options import OptionError

    try:
        value = int(text.strip())
    except ValueError:
        raise OptionError(f"a budget of calls is an integer, got {text!r}") from None
    if value < 0:
        raise OptionError(f"a budget of calls is an integer >= 0, got {text!r}")
    return value


def call_cost(endpoint: EndpointConfig, prompt_tokens: int | None,
              completion_tokens: int | None) -> float | None:
    """USD of one reply from its token counts; ``None`` when unknown (no counts, or no prices
    on an endpoint that is not a loopback one)."""
    if prompt_tokens is None or completion_tokens is None:
        return None
    if endpoint.price_in is None or endpoint.price_out is None:
        return 0.0 if endpoint.is_local else None
    return (prompt_tokens * endpoint.price_in + completion_tokens * endpoint.price_out) / 1e6


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    process TEXT PRIMARY KEY,
    calls INTEGER NOT NULL DEFAULT 0,
    usd REAL NOT NULL DEFAULT 0,
    unknown INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0
)
"""


class Ledger:
    """What the processes of one session spent, in a SQLite file they share.

    ``process`` names this process's row (``main``, ``gw0``...). Every method is one
    transaction; :meth:`try_call` holds the file's write lock while it checks and reserves.
    """

    def __init__(self, path: str | os.PathLike[str], *, limits: BudgetLimits,
                 process: str) -> None:
        self.path = Path(path)
        self.limits = limits
        self.process = process
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO spend (process) VALUES (?)", (process,))
        except sqlite3.Error as exc:
            raise BudgetError(f"cannot open the budget ledger {self.path}: {exc}; the budget "
                              "is shared by the processes of one machine (xdist -n N)") from None

    @classmethod
    def create(cls, *, limits: BudgetLimits, process: str = "main") -> Ledger:
        """A new ledger in a temporary file (the controller's; workers open its path)."""
        fd, name = tempfile.mkstemp(prefix="llaso-budget-", suffix=".sqlite3")
        os.close(fd)
        return cls(name, limits=limits, process=process)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _row(self, db: sqlite3.Connection, *, own: bool | None) -> tuple[int, float, int, int]:
        where = "" if own is None else ("WHERE process = ?" if own else "WHERE process != ?")
        args = () if own is None else (self.process,)
        row = db.execute("SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(usd), 0), "
                         f"COALESCE(SUM(unknown), 0), COALESCE(SUM(refused), 0) FROM spend "
                         f"{where}", args).fetchone()
        return int(row[0]), float(row[1]), int(row[2]), int(row[3])

    def own_usd(self) -> float:
        with self._transaction() as db:
            return self._row(db, own=True)[1]

    def try_call(self, *, own_usd: float | None = None) -> str | None:
        """Reserve one API call, or say why not (and count the refusal). ``own_usd`` is this
        process's spending to decide on (the batch's deterministic view); by default its
        recorded spending."""
        lim = self.limits
        with self._transaction() as db:
            calls, usd, unknown, _ = self._row(db, own=None)
            if own_usd is not None:
                usd = self._row(db, own=False)[1] + own_usd
            reason = None
            if lim.calls is not None and calls >= lim.calls:
                reason = f"the budget of {lim.calls} API calls is spent"
            elif lim.usd is not None and unknown:
                reason = (f"the spending is unknown ({unknown} replies had no token counts), "
                          f"so the budget of ${lim.usd:g} cannot be kept")
            elif lim.usd is not None and usd >= lim.usd:
                reason = f"the budget of ${lim.usd:g} is spent (${usd:.6f})"
            column = "refused" if reason is not None else "calls"
            db.execute(f"UPDATE spend SET {column} = {column} + 1 WHERE process = ?",
                       (self.process,))
        if reason is None:
            return None
        return f"{BUDGET_EXCEEDED}: not called, {reason} ({lim.describe()})"

    def add_cost(self, usd: float | None) -> None:
        """Record the cost of a finished call (``None``: unknown)."""
        with self._transaction() as db:
            if usd is None:
                db.execute("UPDATE spend SET unknown = unknown + 1 WHERE process = ?",
                           (self.process,))
            else:
                db.execute("UPDATE spend SET usd = usd + ? WHERE process = ?",
                           (usd, self.process))

    def snapshot(self) -> dict[str, Any]:
        """The whole session's spending against the limits (the run record's usage)."""
        with self._transaction() as db:
            calls, usd, unknown, refused = self._row(db, own=None)
            processes = int(db.execute("SELECT COUNT(*) FROM spend").fetchone()[0])
        return {"limit_usd": self.limits.usd, "limit_calls": self.limits.calls,
                "spent_usd": round(usd, 9), "calls": calls, "calls_refused": refused,
                "replies_without_usage": unknown, "exceeded": refused > 0,
                "processes": processes}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def remove(self) -> None:
        """Close and delete the file (and SQLite's side files)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")


class BatchGate:
    """The budget's view of one batch of ``size`` requests (see the module docstring).

    The client calls :meth:`admit` before each API call and :meth:`settle` once an item's
    outcome is known (also for a cache hit or an item that never got to call).
    """

    def __init__(self, ledger: Ledger, endpoint: EndpointConfig, *, size: int, window: int,
                 cancelled: threading.Event) -> None:
        self._ledger = ledger
        self._endpoint = endpoint
        self._window = max(1, window)
        self._cancelled = cancelled
        self._cond = threading.Condition()
        self._decided = [False] * size
        self._settled = [False] * size
        self._cost = [0.0] * size
        self._next_undecided = 0
        self._next_unsettled = 0
        self._prefix = [0.0]  # _prefix[k]: the cost of items 0 .. k - 1 (k <= _next_unsettled)
        self._base_usd = ledger.own_usd()

    def _advance(self) -> None:
        n = len(self._decided)
        while self._next_undecided < n and self._decided[self._next_undecided]:
            self._next_undecided += 1
        while self._next_unsettled < n and self._settled[self._next_unsettled]:
            self._prefix.append(self._prefix[-1] + self._cost[self._next_unsettled])
            self._next_unsettled += 1

    def admit(self, index: int, *, first: bool) -> str | None:
        """``None`` to go ahead with the call, else why not (``budget_exceeded: ...``, or
        ``interrupted`` after Ctrl-C). A first call waits for its turn."""
        if not first:  # a retry or the second pass: against what is recorded now
            return self._ledger.try_call()
        with self._cond:
            while not (self._next_undecided >= index
                       and self._next_unsettled > index - self._window):
                if self._cancelled.is_set():
                    return "interrupted before the call"
                self._cond.wait(timeout=0.1)
            # exactly items 0 .. index - window: what settled since is not looked at
            known = self._prefix[max(0, index - self._window + 1)]
            try:
                return self._ledger.try_call(own_usd=self._base_usd + known)
            finally:
                self._decided[index] = True
                self._advance()
                self._cond.notify_all()

    def settle(self, index: int, outcome: CallOutcome | None) -> None:
        """Record the outcome of item ``index`` (``None``: deferred to a second pass, or the
        worker failed): its cost, once; later passes only add to the ledger."""
        called = outcome is not None and not outcome.cached and outcome.attempts > 0
        cost: float | None = 0.0
        if called and outcome is not None and outcome.ok:
            cost = call_cost(self._endpoint, outcome.prompt_tokens, outcome.completion_tokens)
        if called and outcome is not None and outcome.ok:
            self._ledger.add_cost(cost)
        with self._cond:
            if not self._settled[index]:
                self._cost[index] = cost or 0.0
                self._settled[index] = True
                self._decided[index] = True
                self._advance()
                self._cond.notify_all()
