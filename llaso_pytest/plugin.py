"""pytest plugin entry point: options, ini keys, markers, fixtures and report hooks.

Hook wiring only. The work happens in ``session`` (collecting and writing the run record),
``provenance``, ``seeding``, ``compare`` and ``report``. Nothing heavy is imported here:
NumPy, torch, the metric libraries and the LLM client load inside the functions that use them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest import hookspecs, provenance, seeding, store
from llaso_pytest.errors import LlasoWarning
from llaso_pytest.record import RunRecord, _json_default
from llaso_pytest.session import (
    KEY_MARKERS,
    KEY_PROVENANCE,
    KEY_RESULT,
    RunCollector,
    utc_now,
)

# Assertion helpers get pytest's assertion rewriting (before any test imports them).
pytest.register_assert_rewrite("llaso_pytest.assertions")

# Area plugins (speech, LLM) with their own fixtures and options; import-light too.
pytest_plugins = ["llaso_pytest.speech.pytest_plugin", "llaso_pytest.llm.pytest_plugin"]

MARKERS: dict[str, str] = {
    "llm": "an evaluation of a language model",
    "speech": "an evaluation of a speech model",
    "asr": "an automatic speech recognition evaluation",
    "noisy": "evaluates under noisy conditions",
    "clean": "evaluates under clean conditions",
    "judge": "calls an LLM judge",
    "gpu": "needs a CUDA device; skipped with a reason when none is visible",
    "slow": "a slow evaluation",
}


@dataclass(frozen=True)
class Settings:
    """Parsed and validated ``--llaso-*`` options and ``llaso_*`` ini keys."""

    store_dir: Path
    out_path: Path
    latest_path: Path
    seed: int
    deterministic: bool


@dataclass(frozen=True)
class CompareSettings:
    """What to compare this run with, and what to do with the result (controller only)."""

    baseline_path: Path | None
    baseline: Any  # the baseline RunRecord, read and validated at start-up
    save_name: str | None
    fail_on_regression: bool
    tolerances: Any  # dict[str, compare.Tolerance]
    outputs: tuple[Path, ...]


SETTINGS_KEY = pytest.StashKey[Settings]()
COMPARE_SETTINGS_KEY = pytest.StashKey[CompareSettings]()
COMPARISON_KEY = pytest.StashKey[Any]()
COLLECTOR_KEY = pytest.StashKey[RunCollector]()
PENDING_PROVENANCE_KEY = pytest.StashKey[dict[str, Any]]()
DETERMINISM_KEY = pytest.StashKey[dict[str, Any]]()
CUDA_KEY = pytest.StashKey[bool]()
SAVED_KEY = pytest.StashKey[Path]()
SAVE_REFUSED_KEY = pytest.StashKey[str]()
COMPARE_ERROR_KEY = pytest.StashKey[str]()


def _seed_type(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--llaso-seed expects a non-negative integer, got {text!r}"
        ) from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(
            f"--llaso-seed expects an integer in [0, 2**63), got {value}"
        )
    return value


# -- wiring ------------------------------------------------------------------------------
def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llaso", "llaso-pytest: reproducible LLM and speech evaluation")
    group.addoption(
        "--llaso-out", metavar="PATH", default=None,
        help="write the run record here (default: <llaso dir>/runs/<run id>.json; "
        "<llaso dir>/runs/latest.json always holds the newest)",
    )
    group.addoption(
        "--llaso-dir", metavar="DIR", default=None,
        help="llaso store folder for runs and baselines (default: <rootdir>/.llaso)",
    )
    group.addoption(
        "--llaso-seed", metavar="N", type=_seed_type, default=None,
        help=f"session seed; each test is seeded from it and its node id (default "
        f"{seeding.DEFAULT_SEED})",
    )
    group.addoption(
        "--llaso-deterministic", action="store_true", default=None,
        help="enable deterministic algorithms (torch, cuDNN, cuBLAS) and record that",
    )
    group.addoption(
        "--llaso-baseline", metavar="PATH|NAME", default=None,
        help="compare this run with a baseline run record: a file, or a name saved with "
        "--llaso-save (resolved in <llaso dir>/baselines/)",
    )
    group.addoption(
        "--llaso-save", metavar="NAME", default=None,
        help="also save this run's record as baseline NAME in <llaso dir>/baselines/",
    )
    group.addoption(
        "--llaso-fail-on-regression", action="store_true", default=None,
        help="exit non-zero when a metric regresses significantly against the baseline",
    )
    group.addoption(
        "--llaso-tolerance", metavar="METRIC:AMOUNT", action="append", default=None,
        help="allowed worsening before a change counts as a regression, e.g. wer:+0.5pp, "
        "bleu:-1.0, rougeL:2%% (repeatable, or comma-separated)",
    )
    group.addoption(
        "--llaso-compare-out", metavar="PATH", action="append", default=None,
        help="write the baseline comparison to PATH; format from the suffix "
        "(.md, .json, .html, .txt); repeatable",
    )
    parser.addini("llaso_baseline", "default for --llaso-baseline", type="string", default="")
    parser.addini("llaso_fail_on_regression", "default for --llaso-fail-on-regression",
                  type="bool", default=False)
    parser.addini("llaso_tolerances", "tolerances, one METRIC:AMOUNT per line",
                  type="linelist", default=[])
    parser.addini("llaso_out", "default for --llaso-out", type="string", default="")
    parser.addini("llaso_dir", "default for --llaso-dir", type="string", default="")
    parser.addini("llaso_seed", "default for --llaso-seed", type="string", default="")
    parser.addini("llaso_deterministic", "default for --llaso-deterministic", type="bool",
                  default=False)


def _settings(config: pytest.Config) -> Settings:
    rootpath = config.rootpath
    store = config.getoption("llaso_dir") or config.getini("llaso_dir") or ".llaso"
    store_dir = (Path(config.invocation_params.dir) / store) if config.getoption("llaso_dir") \
        else (rootpath / store)
    seed = config.getoption("llaso_seed")
    if seed is None:
        ini_seed = str(config.getini("llaso_seed")).strip()
        try:
            seed = _seed_type(ini_seed) if ini_seed else seeding.DEFAULT_SEED
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"ini key llaso_seed: {exc}") from None
    deterministic = config.getoption("llaso_deterministic")
    if deterministic is None:
        deterministic = bool(config.getini("llaso_deterministic"))
    out = config.getoption("llaso_out") or config.getini("llaso_out") or None
    runs = store_dir / "runs"
    out_path = Path(config.invocation_params.dir, out) if out else runs / "pending.json"
    return Settings(store_dir=store_dir, out_path=out_path, latest_path=runs / "latest.json",
                    seed=seed, deterministic=deterministic)


def _check_writable(path: Path, option: str) -> None:
    if path.is_dir():
        raise pytest.UsageError(
            f"{option} {path}: is a directory; give a file path such as {path / 'run.json'}"
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".llaso-write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise pytest.UsageError(
            f"{option} {path}: cannot write to {parent} ({exc.strerror or exc}); "
            f"choose a writable location, e.g. {option}=.llaso/runs/run.json"
        ) from None


def _new_run_id(runs: Path, started: str) -> str:
    base = started.replace("-", "").replace(":", "").replace("+0000", "Z").replace("+00:00", "Z")
    run_id, n = base, 1
    while (runs / f"{run_id}.json").exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


_REPORT_SUFFIXES = {".md": "md", ".json": "json", ".html": "html", ".htm": "html", ".txt": "text"}


def _compare_settings(config: pytest.Config, store_dir: Path) -> CompareSettings:
    """Parse the baseline options; a bad baseline is a usage error before any model loads."""
    value = config.getoption("llaso_baseline") or config.getini("llaso_baseline") or None
    save = config.getoption("llaso_save")
    fail = config.getoption("llaso_fail_on_regression")
    if fail is None:
        fail = bool(config.getini("llaso_fail_on_regression"))
    cli_needs_baseline = bool(config.getoption("llaso_fail_on_regression")
                              or config.getoption("llaso_tolerance")
                              or config.getoption("llaso_compare_out"))
    if value is None and save is None and not cli_needs_baseline:
        return CompareSettings(baseline_path=None, baseline=None, save_name=None,
                               fail_on_regression=False, tolerances={}, outputs=())
    from llaso_pytest import compare
    from llaso_pytest.record import RecordError, read_record

    # Command-line entries replace ini entries for the same pattern (a stricter or looser
    # tolerance for one run); within one source a pattern given twice stays an error.
    tolerances: dict[str, compare.Tolerance] = {}
    for source, entries in (("ini key llaso_tolerances", config.getini("llaso_tolerances")),
                            ("--llaso-tolerance", config.getoption("llaso_tolerance") or [])):
        try:
            tolerances.update(compare.parse_tolerances(list(entries)))
        except ValueError as exc:
            raise pytest.UsageError(f"{source}: {exc}") from None
    outputs = tuple(Path(config.invocation_params.dir, o)
                    for o in config.getoption("llaso_compare_out") or ())
    for out in outputs:
        if out.suffix.lower() not in _REPORT_SUFFIXES:
            raise pytest.UsageError(
                f"--llaso-compare-out {out}: unknown report format {out.suffix!r}; "
                f"use one of {', '.join(sorted(_REPORT_SUFFIXES))}"
            )
        _check_writable(out, "--llaso-compare-out")
    if save is not None:
        try:
            store.check_name(save)
        except ValueError as exc:
            raise pytest.UsageError(f"--llaso-save {save!r}: {exc}") from None
    baseline_path = baseline = None
    if value is not None:
        try:
            baseline_path = store.resolve_baseline(value, store_dir=store_dir,
                                                   cwd=Path(config.invocation_params.dir))
        except store.BaselineNotFoundError as exc:
            if exc.name != save:  # a typo in a baseline name stays an error
                raise pytest.UsageError(f"--llaso-baseline: {exc}") from None
            # The first run of `pytest --llaso-save main` with `llaso_baseline = main` in the
            # ini file: there is nothing to compare with yet, and this run creates it.
            config.issue_config_time_warning(LlasoWarning(
                f"--llaso-baseline {exc.name!r}: no such baseline is saved yet, so this run is "
                f"not compared with anything (and no comparison report is written); it will be "
                f"saved as baseline {save!r} if it completes"), stacklevel=2)
            return CompareSettings(baseline_path=None, baseline=None, save_name=save,
                                   fail_on_regression=False, tolerances=tolerances, outputs=())
        except ValueError as exc:
            raise pytest.UsageError(f"--llaso-baseline: {exc}") from None
        try:
            baseline = read_record(baseline_path)
            # Every result as the comparer will read it: a malformed baseline is refused now,
            # not after the whole suite has run.
            compare.check_record(baseline, source=str(baseline_path))
        except RecordError as exc:
            raise pytest.UsageError(
                f"--llaso-baseline: {exc}. Pass another baseline, or save a new one with "
                "`pytest --llaso-save NAME` (or `llaso baseline save NAME RECORD.json`)"
            ) from None
    elif cli_needs_baseline:
        raise pytest.UsageError(
            "--llaso-fail-on-regression, --llaso-tolerance and --llaso-compare-out need a "
            "baseline: add --llaso-baseline PATH|NAME (or the llaso_baseline ini key)"
        )
    return CompareSettings(baseline_path=baseline_path, baseline=baseline, save_name=save,
                           fail_on_regression=fail, tolerances=tolerances, outputs=outputs)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    settings = _settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[PENDING_PROVENANCE_KEY] = {}
    determinism: dict[str, Any] = {"enabled": False}
    if settings.deterministic:
        determinism = seeding.enable_determinism()
    config.stash[DETERMINISM_KEY] = determinism
    if _is_worker(config):
        return
    if config.getoption("collectonly", False):
        return  # no tests run, no record
    started = utc_now()
    runs = settings.store_dir / "runs"
    try:
        store.ensure_store(settings.store_dir)
        runs.mkdir(exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"--llaso-dir {settings.store_dir}: cannot create the llaso store "
            f"({exc.strerror or exc}); pass a writable --llaso-dir"
        ) from None
    run_id = _new_run_id(runs, started)
    out_path = settings.out_path
    if out_path.name == "pending.json" and not config.getoption("llaso_out") \
            and not config.getini("llaso_out"):
        out_path = runs / f"{run_id}.json"
    _check_writable(out_path, "--llaso-out")
    cmp_settings = _compare_settings(config, settings.store_dir)
    config.stash[COMPARE_SETTINGS_KEY] = cmp_settings
    prov = config.hook.pytest_llaso_generate_provenance(config=config)
    prov = dict(prov or {})
    prov["seed"] = settings.seed
    prov["seeding"] = "per test: sha256(session seed, node id); random, numpy, torch"
    prov["deterministic"] = determinism
    if cmp_settings.baseline is not None:
        prov["baseline"] = {"path": str(cmp_settings.baseline_path),
                            "run_id": cmp_settings.baseline.run_id}
    config.hook.pytest_llaso_update_provenance(config=config, provenance=prov)
    config.stash[COLLECTOR_KEY] = RunCollector(
        out_path=out_path, latest_path=settings.latest_path,
        provenance=provenance.redact(prov), run_id=run_id, started_at=started,
    )


@pytest.hookimpl(trylast=True)
def pytest_llaso_generate_provenance(config: pytest.Config) -> dict[str, Any]:
    argv = [os.path.basename(sys.argv[0]) if sys.argv else "pytest",
            *map(str, config.invocation_params.args)]
    return provenance.collect(rootdir=str(config.rootpath), argv=argv)


# -- per test ------------------------------------------------------------------------------
def _cuda_available(config: pytest.Config) -> bool:
    if CUDA_KEY not in config.stash:
        from llaso_pytest.device import cuda_available

        config.stash[CUDA_KEY] = cuda_available()
    return config.stash[CUDA_KEY]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.user_properties.append(
        (KEY_MARKERS, sorted({m.name for m in item.iter_markers()}))
    )
    config = item.config
    seeding.seed_everything(seeding.test_seed(config.stash[SETTINGS_KEY].seed, item.nodeid))
    if item.get_closest_marker("gpu") is not None and not _cuda_available(config):
        pytest.skip("gpu: no CUDA device is visible to this process (CPU-only machine)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    # Reseed after fixture setup, so the test body never depends on which fixtures ran first.
    seeding.seed_everything(seeding.test_seed(item.config.stash[SETTINGS_KEY].seed, item.nodeid))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    pending = item.config.stash[PENDING_PROVENANCE_KEY]
    if pending:
        report.user_properties.append((KEY_PROVENANCE, dict(pending)))
        pending.clear()
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    collector = session.config.stash.get(COLLECTOR_KEY, None)
    if collector is not None:
        session.config.pluginmanager.register(_ReportListener(collector), "llaso-collector")


class _ReportListener:
    """Feeds test reports to the collector (registered on the controller only)."""

    def __init__(self, collector: RunCollector) -> None:
        self.collector = collector

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.add_report(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    interrupted = None
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        interrupted = "KeyboardInterrupt" if session.shouldstop is False else str(session.shouldstop)
    elif session.shouldfail:
        interrupted = str(session.shouldfail)
    elif exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                            pytest.ExitCode.NO_TESTS_COLLECTED):
        try:
            interrupted = pytest.ExitCode(exitstatus).name.lower().replace("_", " ")
        except ValueError:
            interrupted = f"exit status {exitstatus}"
    complete = interrupted is None
    exit_status = int(exitstatus)
    cmp_settings = config.stash[COMPARE_SETTINGS_KEY]
    if cmp_settings.baseline is not None:
        # Whatever happens in the comparison, the run record is finished and saved below.
        try:
            comparison = _compare(collector, cmp_settings, complete=complete,
                                  interrupted_by=interrupted)
        except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
            failed, status = _comparison_failure(exc, cmp_settings)
            config.stash[COMPARE_ERROR_KEY] = failed
            if exit_status in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                               pytest.ExitCode.NO_TESTS_COLLECTED):
                exit_status = session.exitstatus = status
        else:
            config.stash[COMPARISON_KEY] = comparison
            if cmp_settings.fail_on_regression and comparison.has_regression \
                    and exit_status == pytest.ExitCode.OK:
                exit_status = session.exitstatus = pytest.ExitCode.TESTS_FAILED
    usage: dict[str, Any] = {}
    for part in config.hook.pytest_llaso_collect_usage(config=config):
        usage.update(part or {})
    record = collector.finish(complete=complete, exit_status=exit_status,
                              interrupted_by=interrupted, usage=provenance.redact(usage))
    if cmp_settings.save_name is not None:
        if complete:
            saved = store.save_baseline(collector.out_path, cmp_settings.save_name,
                                        store_dir=config.stash[SETTINGS_KEY].store_dir)
            config.stash[SAVED_KEY] = saved
        else:
            # A baseline must cover the whole suite: an interrupted run would turn every test
            # it did not reach into "removed" in later comparisons.
            why = (f"--llaso-save {cmp_settings.save_name}: not saved, because this run is "
                   f"incomplete ({interrupted}). To save it anyway: llaso baseline save "
                   f"{cmp_settings.save_name} {collector.out_path}")
            config.stash[SAVE_REFUSED_KEY] = why
            warnings.warn(LlasoWarning(why), stacklevel=1)
    config.hook.pytest_llaso_record_written(
        config=config, record=record, path=str(collector.out_path)
    )


def _comparison_failure(exc: Exception, cmp_settings: CompareSettings) -> tuple[str, int]:
    """The message and exit status for a comparison that could not be made.

    Unusable input (a record the comparer refuses, no metric in either run, a report file that
    cannot be written) is pytest's USAGE_ERROR (4), like ``llaso compare``'s exit status 2;
    anything else is a bug: INTERNAL_ERROR (3), with the traceback.
    """
    from llaso_pytest.record import RecordError

    what = f"llaso: the comparison with the baseline {cmp_settings.baseline_path} failed"
    if isinstance(exc, (RecordError, ValueError)):
        return f"{what}: {exc}", pytest.ExitCode.USAGE_ERROR
    if isinstance(exc, OSError):
        return f"{what}: cannot write a report: {exc}", pytest.ExitCode.USAGE_ERROR
    import traceback

    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"{what} (an internal error, please report it):\n{trace}", \
        pytest.ExitCode.INTERNAL_ERROR


def _compare(collector: RunCollector, cmp_settings: CompareSettings, *, complete: bool,
             interrupted_by: str | None) -> Any:
    """Compare the finished run with the baseline and write the requested report files."""
    from llaso_pytest import compare, report
    from llaso_pytest.record import atomic_write_text

    head = collector.build(complete=complete, exit_status=None, interrupted_by=interrupted_by)
    # The bootstrap seed is compare.DEFAULT_SEED, not the session seed: `llaso compare` of the
    # same two records then gives the same intervals and verdicts (docs/compare.md).
    comparison = compare.compare_records(
        cmp_settings.baseline, head, tolerances=cmp_settings.tolerances,
        seed=compare.DEFAULT_SEED, base_source=str(cmp_settings.baseline_path),
        head_source="this run",
    )
    for out in cmp_settings.outputs:
        fmt = _REPORT_SUFFIXES[out.suffix.lower()]
        atomic_write_text(out, report.render(comparison, fmt=fmt))
    return comparison


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None or collector.record is None:
        return
    from llaso_pytest.report.summary import render_results

    record = collector.record
    tr = terminalreporter
    lines = render_results(record)
    if lines:
        tr.write_sep("-", "llaso results")
        for line in lines:
            tr.write_line(line)
    for sections in config.hook.pytest_llaso_report_sections(config=config, record=record):
        for title, body in sections or ():
            tr.write_sep("-", title)
            for line in body:
                tr.write_line(line)
    comparison = config.stash.get(COMPARISON_KEY, None)
    if comparison is not None:
        from llaso_pytest.report import terminal

        cmp_settings = config.stash[COMPARE_SETTINGS_KEY]
        tr.write_sep("-", f"llaso comparison with {cmp_settings.baseline_path}")
        for line in terminal.render(comparison):
            tr.write_line(line)
        if comparison.has_regression:
            verdict = "failing the session" if cmp_settings.fail_on_regression else \
                "not gating (add --llaso-fail-on-regression)"
            tr.write_line(f"llaso: significant regression against the baseline: {verdict}",
                          red=True, bold=True)
        for out in cmp_settings.outputs:
            tr.write_line(f"llaso: comparison written to {out}")
    failed = config.stash.get(COMPARE_ERROR_KEY, None)
    if failed is not None:
        tr.write_sep("-", "llaso comparison failed")
        for line in failed.splitlines():
            tr.write_line(line, red=True, bold=True)
    state = "complete" if record.complete else f"INCOMPLETE ({record.interrupted_by})"
    tr.write_line(f"llaso: run record ({state}) written to {collector.out_path}")
    saved = config.stash.get(SAVED_KEY, None)
    if saved is not None:
        tr.write_line(f"llaso: saved as baseline {saved}")
    refused = config.stash.get(SAVE_REFUSED_KEY, None)
    if refused is not None:
        tr.write_line(f"llaso: {refused}", yellow=True, bold=True)


# -- fixtures ------------------------------------------------------------------------------
def _check_result(result: dict[str, Any], *, nodeid: str) -> dict[str, Any]:
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


@pytest.fixture
def record_metric(request: pytest.FixtureRequest) -> Callable[..., dict[str, Any]]:
    """Record a metric result (or a plain value) for this test in the run record.

    ``record_metric(result)`` takes a :class:`~llaso_pytest.metrics.MetricResult`;
    ``record_metric("accuracy", 0.91, items={"q1": 1.0, ...}, higher_is_better=True)``
    records a plain value with optional per-item values (they get a bootstrap interval).
    Returns the JSON form that was recorded.
    """
    item = request.node
    names: set[str] = set()

    def record(
        result_or_name: Any,
        value: float | None = None,
        *,
        items: dict[str, float] | None = None,
        higher_is_better: bool | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        if isinstance(result_or_name, str):
            if value is None and items is None:
                raise TypeError(
                    f"record_metric({result_or_name!r}): give a value, items=, or both"
                )
            if higher_is_better is None:
                raise TypeError(
                    f"record_metric({result_or_name!r}, ...): say higher_is_better=True or "
                    "False; a baseline comparison needs to know which direction is worse"
                )
            from llaso_pytest.metrics import from_values

            seed = request.config.stash[SETTINGS_KEY].seed
            res = from_values(result_or_name, value, items=items,
                              higher_is_better=higher_is_better, seed=seed)
        elif hasattr(result_or_name, "to_record"):
            if value is not None or items is not None:
                raise TypeError("record_metric(result): value= and items= are only for plain values")
            res = result_or_name
        else:
            raise TypeError(
                f"record_metric expects a metric result or a name, got "
                f"{type(result_or_name).__name__}"
            )
        data: dict[str, Any] = res.to_record()
        if name is not None:
            data["name"] = name
        item.config.hook.pytest_llaso_update_result(item=item, result=data)
        data = _check_result(data, nodeid=item.nodeid)
        if data["name"] in names:
            raise ValueError(
                f"record_metric in {item.nodeid}: a result named {data['name']!r} was already "
                "recorded by this test; pass name= to tell them apart (e.g. name='wer/noisy')"
            )
        names.add(data["name"])
        item.user_properties.append((KEY_RESULT, data))
        return data

    return record


@pytest.fixture(scope="session")
def record_provenance(pytestconfig: pytest.Config) -> Callable[[str, Any], None]:
    """Add ``key: value`` to the run record's provenance (model pins, dataset/prompt hashes).

    Session-scoped, so session fixtures that load models can use it too. Values must be
    JSON-able; dicts recorded under the same key are merged.
    """
    pending = pytestconfig.stash[PENDING_PROVENANCE_KEY]

    def record(key: str, value: Any) -> None:
        try:
            text = json.dumps(value, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"record_provenance({key!r}): value is not JSON-able: {exc}") \
                from None
        value = provenance.redact(json.loads(text))
        if isinstance(value, dict) and isinstance(pending.get(key), dict):
            pending[key].update(value)
        else:
            pending[key] = value

    return record


@pytest.fixture(scope="session")
def llaso_seed(pytestconfig: pytest.Config) -> int:
    """The session seed (``--llaso-seed``); use it for bootstrap seeds and data sampling."""
    return pytestconfig.stash[SETTINGS_KEY].seed


@pytest.fixture
def llaso_rng(request: pytest.FixtureRequest) -> Any:
    """A ``numpy.random.Generator`` seeded for this test (session seed + node id)."""
    import numpy as np

    return np.random.default_rng(
        seeding.test_seed(request.config.stash[SETTINGS_KEY].seed, request.node.nodeid)
    )


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
    if "llaso_pytest.metrics.base" not in sys.modules:
        return None  # no metric result exists, nothing to explain
    from llaso_pytest.assertions import assertrepr_compare

    lines: list[str] | None = assertrepr_compare(op, left, right)
    return lines


__all__ = ["LlasoWarning", "RunRecord"]
