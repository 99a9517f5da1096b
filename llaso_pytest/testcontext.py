"""The pytest edge of :mod:`llaso_pytest.context`: one evaluation context per test.

Around each test (setup, call, teardown) the plugin opens an
:class:`~llaso_pytest.context.EvalContext` with the session seed, the datasets of the
test's parameters and fixture values (objects with a ``llaso_dataset`` attribute), and a
progress sink that writes to pytest's terminal reporter:

- interactive terminal: one line, rewritten in place at most ten times a second;
- non-interactive (a CI log): a line when a quarter of the work is done, or after
  ``llaso_progress_interval`` seconds without one, and a final line: a few lines per loop;
- ``-q`` or an xdist worker (which has no terminal of its own): nothing.

Loops shorter than ``llaso_progress_delay`` seconds (default 2) print nothing at all.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import pytest

from llaso_pytest import context

DEFAULTS = {"llaso_progress_delay": 2.0, "llaso_progress_interval": 30.0}
_REWRITE_EVERY_S = 0.1


@dataclass
class _Shown:
    last_line: float = 0.0
    quarter: int = 0
    any: bool = False


@dataclass
class TerminalProgress:
    """A progress sink writing through the terminal reporter (see the module docstring)."""

    reporter: Any
    capture: Any  # pytest's capture manager (output during a test is captured otherwise)
    interactive: bool
    delay: float
    interval: float
    _state: dict[int, _Shown] = field(default_factory=dict)

    def __call__(self, p: context.Progress, *, final: bool) -> None:
        st = self._state.setdefault(id(p), _Shown())
        now = time.monotonic()
        if final:
            self._state.pop(id(p), None)
            if st.any or p.elapsed >= self.delay:
                self._emit(p, st, final=True)
            return
        if p.elapsed < self.delay:
            return
        if self.interactive:
            if now - st.last_line >= _REWRITE_EVERY_S:
                self._emit(p, st, final=False)
            return
        if p.done >= p.total:
            return  # the final line says it
        quarter = (4 * p.done) // p.total if p.total > 0 else 0
        if quarter > st.quarter or not st.any or now - st.last_line >= self.interval:
            self._emit(p, st, final=False)

    def _emit(self, p: context.Progress, st: _Shown, *, final: bool) -> None:
        if self.capture is None:
            self._write(p, st, final=final)
            return
        # As pytest's live logging does: the line goes to the terminal, not to the test's
        # captured output.
        with self.capture.global_and_fixture_disabled():
            self._write(p, st, final=final)

    def _write(self, p: context.Progress, st: _Shown, *, final: bool) -> None:
        line = p.line()
        tr = self.reporter
        if self.interactive:
            if not st.any:
                tr.ensure_newline()
            tr.rewrite(line, erase=True)
            tr.write("\n" if final else "", flush=True)
        else:
            tr.ensure_newline()
            tr.write(line + "\n", flush=True)  # a CI log is a pipe: show it now
        st.any = True
        st.last_line = time.monotonic()
        st.quarter = (4 * p.done) // p.total if p.total > 0 else 0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("llaso_progress_delay", "seconds a long loop (decoding, judging) runs before "
                  "its progress is shown (default 2)",
                  default=str(DEFAULTS["llaso_progress_delay"]))
    parser.addini("llaso_progress_interval", "in a non-interactive log, the longest gap between "
                  "two progress lines in seconds (default 30)",
                  default=str(DEFAULTS["llaso_progress_interval"]))


def _seconds(config: pytest.Config, key: str) -> float:
    text = str(config.getini(key)).strip()
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise pytest.UsageError(f"ini key {key} = {text!r}: expected a number of seconds >= 0")
    return value


_SINK_KEY = pytest.StashKey[context.ProgressSink | None]()


@pytest.hookimpl(trylast=True)  # after pytest's own pytest_configure registers the reporter
def pytest_configure(config: pytest.Config) -> None:
    delay = _seconds(config, "llaso_progress_delay")
    interval = _seconds(config, "llaso_progress_interval")
    tr = config.pluginmanager.get_plugin("terminalreporter")
    quiet = config.get_verbosity() < 0
    worker = hasattr(config, "workerinput")
    sink: context.ProgressSink | None = None
    if tr is not None and not quiet and not worker:
        sink = TerminalProgress(reporter=tr,
                                capture=config.pluginmanager.get_plugin("capturemanager"),
                                interactive=bool(tr.isatty()), delay=delay, interval=interval)
    config.stash[_SINK_KEY] = sink


def _note_datasets(ctx: context.EvalContext, values: Any) -> None:
    for value in values:
        for name, sha in context.datasets_of(value).items():
            ctx.datasets.setdefault(name, sha)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[
        None, object, object]:
    from llaso_pytest.plugin import SETTINGS_KEY

    config = item.config
    sink = config.stash.get(_SINK_KEY, None)
    ctx = context.EvalContext(seed=config.stash[SETTINGS_KEY].seed, nodeid=item.nodeid)
    if sink is not None:
        ctx.sink = sink
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        _note_datasets(ctx, callspec.params.values())
    with context.activate(ctx):
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    ctx = context.current()
    funcargs = getattr(item, "funcargs", None)
    if ctx is not None and funcargs:
        _note_datasets(ctx, funcargs.values())
