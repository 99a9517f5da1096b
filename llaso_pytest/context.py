"""The evaluation context: what the running test tells the scientific core.

The core (metrics, the speech runner, the judge) never imports pytest. The plugin opens an
:class:`EvalContext` around each test (setup, call and teardown) with :func:`activate`;
the core reads it with :func:`current`:

- **seed**: a metric called with its default seed (:data:`AUTO_SEED`) bootstraps with the
  context's seed (the session's ``--llaso-seed``, which the shipped suites used to pass as
  ``seed=llaso_seed``); outside a test the default is ``0``, as before. An explicit
  ``seed=`` (``0`` included) always wins.
- **datasets**: loaders call :func:`note_dataset` (name -> content sha256); every metric the
  test computes afterwards adds them to its signature as the field ``datasets``. The plugin
  also notes the datasets of the test's parameters (objects with a ``llaso_dataset``
  attribute, see :func:`datasets_of`), so a case loaded at collection time counts for the
  test that receives it.
- **progress**: long loops report through :func:`progress`; the plugin routes it to pytest's
  terminal reporter, the core's default sink does nothing.

The context lives in a :class:`contextvars.ContextVar`, so threads the core starts itself
see none (they get the defaults); nothing here is global state a test must clear.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "AUTO_SEED",
    "EvalContext",
    "Progress",
    "ProgressSink",
    "activate",
    "current",
    "datasets_of",
    "note_dataset",
    "progress",
    "resolve_seed",
    "signature_fields",
]


class _AutoSeed(int):
    """The default ``seed=`` of the metrics: "the test's seed, else 0" (an ``int`` 0)."""

    def __repr__(self) -> str:
        return "AUTO_SEED"


#: Default ``seed=`` of every metric: the context's seed inside a test, ``0`` outside.
#: Compared by identity, so an explicit ``seed=0`` stays ``0``.
AUTO_SEED: int = _AutoSeed(0)


class ProgressSink(Protocol):
    """Where progress goes: called on start, after items, and once on finish."""

    def __call__(self, p: Progress, *, final: bool) -> None: ...


def _no_sink(p: Progress, *, final: bool) -> None:
    return None


@dataclass
class EvalContext:
    """What the running test contributes to the metrics it computes."""

    seed: int | None = None
    nodeid: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)
    sink: ProgressSink = _no_sink


_CURRENT: contextvars.ContextVar[EvalContext | None] = contextvars.ContextVar(
    "llaso_eval_context", default=None
)


def current() -> EvalContext | None:
    """The active context, or None (a notebook, a script, a thread started by the core)."""
    return _CURRENT.get()


@contextlib.contextmanager
def activate(ctx: EvalContext) -> Iterator[EvalContext]:
    """Make ``ctx`` the current context inside the ``with`` block."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)


def resolve_seed(seed: int | None) -> int | None:
    """``seed`` as given, except :data:`AUTO_SEED`: the context's seed, else ``0``."""
    if seed is not AUTO_SEED:
        return seed
    ctx = _CURRENT.get()
    if ctx is None or ctx.seed is None:
        return 0
    return int(ctx.seed)


def note_dataset(name: str, sha256: str) -> None:
    """Tell the current test it uses dataset ``name`` with content hash ``sha256``.

    Outside a test this does nothing. Loading ``name`` again with other content (a test
    that rewrites its file) replaces the hash: each metric is signed with the datasets as
    they were loaded when it was computed.
    """
    from llaso_pytest.errors import LlasoError

    ctx = _CURRENT.get()
    if ctx is None:
        return
    if not isinstance(name, str) or not name or not isinstance(sha256, str) or not sha256:
        raise LlasoError(
            f"note_dataset(name, sha256) needs two non-empty strings, got {name!r}, {sha256!r}"
        )
    ctx.datasets[name] = sha256


def datasets_of(obj: Any) -> Mapping[str, str]:
    """The datasets an object says it comes from: its ``llaso_dataset`` attribute, a
    ``(name, sha256)`` pair or a mapping of them (a loaded case, a corpus). Else ``{}``."""
    found = getattr(obj, "llaso_dataset", None)
    if found is None or isinstance(obj, type):
        return {}
    if isinstance(found, Mapping):
        return {str(k): str(v) for k, v in found.items()}
    if isinstance(found, tuple) and len(found) == 2:
        return {str(found[0]): str(found[1])}
    return {}


def signature_fields() -> dict[str, str]:
    """Signature fields the current test adds to every metric: ``datasets`` when any."""
    ctx = _CURRENT.get()
    if ctx is None or not ctx.datasets:
        return {}
    return {"datasets": ",".join(f"{k}@{v[:16]}" for k, v in sorted(ctx.datasets.items()))}


# ----------------------------------------------------------------------------------------
# progress


@dataclass
class Progress:
    """Progress of one long loop: ``done`` of ``total`` items since ``started`` (monotonic)."""

    label: str
    total: int
    unit: str = "items"
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    sink: ProgressSink = _no_sink
    finished: bool = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float | None:
        """Items per second so far (None before the first item)."""
        el = self.elapsed
        return self.done / el if self.done and el > 0 else None

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.sink(self, final=False)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.sink(self, final=True)

    def line(self) -> str:
        """``label: done/total items, elapsed, rate, eta`` as one line of text."""
        rate = self.rate
        parts = [f"{self.label}: {self.done}/{self.total} {self.unit}",
                 f"{self.elapsed:.1f} s elapsed"]
        if rate is not None:
            parts.append(f"{rate:.3g} {self.unit}/s")
            if not self.finished and self.done < self.total:
                parts.append(f"about {(self.total - self.done) / rate:.0f} s left")
        return ", ".join(parts)


@contextlib.contextmanager
def progress(label: str, total: int, *, unit: str = "items") -> Iterator[Progress]:
    """Report progress of a loop of ``total`` items to the current test's sink.

    ``with progress("decoding", n) as p: ... p.advance()``. Outside a test nothing is shown.
    The final line is emitted when the block ends, also when it ends with an error.
    """
    ctx = _CURRENT.get()
    p = Progress(label=label, total=int(total), unit=unit,
                 sink=_no_sink if ctx is None else ctx.sink)
    p.sink(p, final=False)
    try:
        yield p
    finally:
        p.finish()
