"""pytest plugin entry point: options, ini keys, markers, fixtures and report hooks.

Hook wiring only. The work happens in ``session`` (collecting and writing the run record),
``provenance``, ``seeding``, ``compare`` and ``report``. Nothing heavy is imported here:
NumPy, torch, the metric libraries and the LLM client load inside the functions that use them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from llaso_pytest import hookspecs, options, provenance, report, seeding, shard, store
from llaso_pytest.cases import core as cases_core
from llaso_pytest.errors import LlasoWarning
from llaso_pytest.options import CompareSettings, Settings
from llaso_pytest.record import RunRecord, Selection, ShardInfo, _json_default
from llaso_pytest.session import (
    KEY_CASE,
    KEY_CORPUS,
    KEY_MARKERS,
    KEY_PROVENANCE,
    KEY_RESULT,
    RunCollector,
    SessionOutcome,
    build_selection,
    check_result,
    compact_results,
    finish_session,
    interruption,
    merge_provenance,
    new_run_id,
    outcome_lines,
    utc_now,
)

# Assertion helpers get pytest's assertion rewriting (before any test imports them).
pytest.register_assert_rewrite("llaso_pytest.assertions")

# Area plugins (speech, LLM) with their own fixtures and options; import-light too.
# ``testcontext`` opens the evaluation context (seed, datasets, progress) around each test.
pytest_plugins = ["llaso_pytest.testcontext", "llaso_pytest.speech.pytest_plugin",
                  "llaso_pytest.speech.asr_fixture", "llaso_pytest.llm.pytest_plugin",
                  "llaso_pytest.tracking.pytest_plugin", "llaso_pytest.lineage.pytest_plugin"]

MARKERS: dict[str, str] = {
    "llm": "an evaluation of a language model",
    "speech": "an evaluation of a speech model",
    "asr": "an automatic speech recognition evaluation",
    "noisy": "evaluates under noisy conditions",
    "clean": "evaluates under clean conditions",
    "judge": "calls an LLM judge",
    "live": "generates with a model (the pinned local LLM by default) instead of pinned outputs",
    "gpu": "needs a CUDA device; skipped with a reason when none is visible",
    "slow": "a slow evaluation",
}


SETTINGS_KEY = pytest.StashKey[Settings]()
COMPARE_SETTINGS_KEY = pytest.StashKey[CompareSettings]()
COLLECTOR_KEY = pytest.StashKey[RunCollector]()
PENDING_PROVENANCE_KEY = pytest.StashKey[dict[str, Any]]()
DETERMINISM_KEY = pytest.StashKey[dict[str, Any]]()
CUDA_KEY = pytest.StashKey[bool]()
DESELECTED_KEY = pytest.StashKey[set[str]]()
DESELECTED_CASES_KEY = pytest.StashKey[dict[str, int]]()
OUTCOME_KEY = pytest.StashKey[SessionOutcome]()
CASES_LISTENER_KEY = pytest.StashKey[Any]()
SHARD_DURATIONS_KEY = pytest.StashKey[shard.Durations | None]()
SHARD_KEY = pytest.StashKey[ShardInfo]()
SHARDED_OUT_KEY = pytest.StashKey[set[str]]()


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
        "--llaso-seed", metavar="N", type=options.argparse_type(options.parse_seed),
        default=None,
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
        help="also save this run's record as baseline NAME in <llaso dir>/baselines/ (refused "
        "for an incomplete, empty or subset run)",
    )
    group.addoption(
        "--llaso-fail-on-regression", action="store_true", default=None,
        help="gate on the comparison: exit non-zero when a metric regresses significantly, "
        "or the comparison is vacuous (docs/exit-codes.md)",
    )
    group.addoption(
        "--llaso-fail-on-untested", metavar="PATTERNS", action="append", default=None,
        help="with --llaso-fail-on-regression, also fail when one of these metrics (globs, "
        "comma-separated; '*' for all) could not be tested statistically",
    )
    group.addoption(
        "--llaso-correction", metavar="METHOD",
        type=options.argparse_type(options.parse_correction), default=None,
        help=f"multiple-comparison correction of the verdicts: "
        f"{', '.join(options.CORRECTIONS)} (default {options.DEFAULT_CORRECTION})",
    )
    group.addoption(
        "--llaso-tolerance", metavar="METRIC:AMOUNT", action="append", default=None,
        help="allowed worsening before a change counts as a regression, e.g. wer:+0.5pp, "
        "bleu:-1.0, rougeL:2%% (repeatable, or comma-separated)",
    )
    group.addoption(
        "--llaso-compare-out", metavar="PATH", action="append", default=None,
        help="write the baseline comparison to PATH; format from the suffix "
        f"({report.suffixes_help().replace('%', '%%')}); repeatable",
    )
    group.addoption(
        "--llaso-item-text", metavar="MODE",
        type=options.argparse_type(options.parse_item_text), default=None,
        help="what the run record keeps of each item's texts (reference, hypothesis, judge's "
        "reason) for reports: none, truncate (each cut to 200 characters; the default) or full",
    )
    parser.addini("llaso_item_text", "default for --llaso-item-text", type="string",
                  default="")
    group.addoption(
        "--llaso-shard", metavar="K/N", type=options.argparse_type(shard.parse_shard),
        default=None,
        help="run shard K of N: a deterministic share of the selected tests (merge the N "
        "records with `llaso merge`)",
    )
    group.addoption(
        "--llaso-shard-durations", metavar="RECORD|NAME", default=None,
        help="with --llaso-shard, balance the shards by the test durations of this run "
        "record (a file, or a saved baseline name); by test count without it",
    )
    parser.addini("llaso_shard_durations", "default for --llaso-shard-durations, used when "
                  "that record exists (by count until it does)", type="string", default="")
    parser.addini("llaso_baseline", "default for --llaso-baseline", type="string", default="")
    parser.addini("llaso_fail_on_regression", "default for --llaso-fail-on-regression",
                  type="bool", default=False)
    parser.addini("llaso_fail_on_untested", "default for --llaso-fail-on-untested (metric "
                  "globs, one per line or comma-separated)", type="linelist", default=[])
    parser.addini("llaso_correction", "default for --llaso-correction", type="string",
                  default="")
    parser.addini("llaso_tolerances", "tolerances, one METRIC:AMOUNT per line",
                  type="linelist", default=[])
    parser.addini("llaso_out", "default for --llaso-out", type="string", default="")
    parser.addini("llaso_dir", "default for --llaso-dir", type="string", default="")
    parser.addini("llaso_seed", "default for --llaso-seed", type="string", default="")
    parser.addini("llaso_deterministic", "default for --llaso-deterministic", type="bool",
                  default=False)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    # The first hook after our options exist: refuse a root folder chosen from an option value.
    value_options = [name for opt in parser.getgroup("llaso").options
                     if opt.attrs().get("action") not in ("store_true", "store_false", "count")
                     for name in opt.names() if name.startswith("--")]
    ns = parser.parse_known_args(args)
    problem = options.check_rootdir_leak(
        args=args, positional=[str(a) for a in ns.file_or_dir or ()],
        value_options=value_options, rootpath=early_config.rootpath,
        inipath=early_config.inipath, inifile=ns.inifilename, override_ini=ns.override_ini,
        rootdir_arg=ns.rootdir or None, invocation_dir=Path(early_config.invocation_params.dir))
    if problem is not None:
        raise pytest.UsageError(problem)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    settings = options.plugin_settings(config)
    config.stash[SETTINGS_KEY] = settings
    config.stash[PENDING_PROVENANCE_KEY] = {}
    config.stash[DESELECTED_KEY] = set()
    config.stash[DESELECTED_CASES_KEY] = {}
    determinism: dict[str, Any] = {"enabled": False}
    if settings.deterministic:
        determinism = seeding.enable_determinism()
    config.stash[DETERMINISM_KEY] = determinism
    pending = config.stash[PENDING_PROVENANCE_KEY]
    config.stash[CASES_LISTENER_KEY] = cases_core.listen(
        lambda ds: _add_provenance(pending, "datasets", {ds.name: ds.provenance()}))
    config.stash[SHARD_DURATIONS_KEY] = _shard_durations(config, settings)
    config.stash[SHARDED_OUT_KEY] = set()
    if _is_worker(config):
        return
    if config.getoption("collectonly", False):
        return  # no tests run, no record
    started = utc_now()
    runs = settings.runs_dir
    try:
        store.ensure_store(settings.store_dir)
        runs.mkdir(exist_ok=True)
    except OSError as exc:
        raise pytest.UsageError(
            f"--llaso-dir {settings.store_dir}: cannot create the llaso store "
            f"({exc.strerror or exc}); pass a writable --llaso-dir"
        ) from None
    run_id = new_run_id(runs, started)
    out_path = settings.out_path or runs / f"{run_id}.json"
    options.check_writable(out_path, "--llaso-out")
    cmp_settings = options.compare_settings(config, settings.store_dir)
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


def pytest_unconfigure(config: pytest.Config) -> None:
    token = config.stash.get(CASES_LISTENER_KEY, None)
    if token is not None:
        cases_core.unlisten(token)
        del config.stash[CASES_LISTENER_KEY]


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A case from ``cases.load`` is named by its id, so ``-k qa-001`` selects it."""
    return val.id if isinstance(val, cases_core.Case) else None


def _shard_durations(config: pytest.Config, settings: Settings) -> shard.Durations | None:
    value = config.getoption("llaso_shard_durations")
    if value is not None and config.getoption("llaso_shard") is None:
        raise pytest.UsageError("--llaso-shard-durations needs --llaso-shard K/N")
    ini = str(config.getini("llaso_shard_durations")).strip() or None
    if config.getoption("llaso_shard") is None:
        return None
    from llaso_pytest.record import RecordError

    try:
        return shard.load_durations(value or ini, from_ini=value is None,
                                    store_dir=settings.store_dir,
                                    cwd=Path(config.invocation_params.dir))
    except (RecordError, ValueError) as exc:
        option = "--llaso-shard-durations" if value is not None else "ini llaso_shard_durations"
        raise pytest.UsageError(f"{option}: {exc}") from None


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
    if "record_case" in getattr(item, "fixturenames", ()):
        item.user_properties.append((KEY_CORPUS, _corpus_of(item)[0]))
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
    """Feeds test reports to the collector (registered on the controller only).

    Runs first, then leaves on the report only a one-line summary of each result (value,
    interval, n, signature): JUnit XML and other report readers see that, not the per-item
    data the run record holds (50k items were 1 MB of XML per test).
    """

    def __init__(self, collector: RunCollector) -> None:
        self.collector = collector

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.collector.add_report(report)
        compact_results(report)


# -- which tests were selected ---------------------------------------------------------
@pytest.hookimpl(trylast=True)  # after -k/-m deselection: a shard is a share of what remains
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    spec: shard.ShardSpec | None = config.getoption("llaso_shard")
    if spec is None:
        return
    try:
        info = shard.share([item.nodeid for item in items], spec,
                           config.stash[SHARD_DURATIONS_KEY])
    except ValueError as exc:
        raise pytest.UsageError(f"--llaso-shard {spec}: {exc}") from None
    mine = set(info.items)
    others = [item for item in items if item.nodeid not in mine]
    config.stash[SHARD_KEY] = info
    config.stash[SHARDED_OUT_KEY] = {item.nodeid for item in others}
    if others:
        config.hook.pytest_deselected(items=others)
        items[:] = [item for item in items if item.nodeid in mine]


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        config = items[0].config
        config.stash[DESELECTED_KEY].update(item.nodeid for item in items)
        counts = config.stash[DESELECTED_CASES_KEY]
        for item in items:  # cases left out of their corpus: it is then partial
            if "record_case" in getattr(item, "fixturenames", ()):
                key = _corpus_of(item)[0]
                counts[key] = counts.get(key, 0) + 1


def _selection(config: pytest.Config, *, selected: int, deselected: set[str]) -> Selection:
    last_failed = bool(config.getoption("lf", False))
    if last_failed and config.cache is not None:
        last_failed = bool(config.cache.get("cache/lastfailed", {}))  # --lf narrowed the run
    given = config.args_source == pytest.Config.ArgsSource.ARGS
    return build_selection(
        collected=selected + len(deselected), deselected=deselected,
        args=list(config.args) if given else [], testpaths=config.getini("testpaths"),
        rootdir=config.rootpath, invocation_dir=Path(config.invocation_params.dir),
        keyword=config.getoption("keyword", None), markexpr=config.getoption("markexpr", None),
        last_failed=last_failed)


def _shard_info(config: pytest.Config, selected: int) -> ShardInfo | None:
    """This shard's share, with the selection's subset flag as the unsharded run has it."""
    info = config.stash.get(SHARD_KEY, None)
    if info is None:
        return None
    out = config.stash[SHARDED_OUT_KEY]
    whole = _selection(config, selected=selected + len(out),
                       deselected=config.stash[DESELECTED_KEY] - out)
    return dataclasses.replace(info, unsharded_subset=whole.subset)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    deselected = config.stash[DESELECTED_KEY]
    left_out: dict[str, int] = config.stash[DESELECTED_CASES_KEY]
    info = _shard_info(config, len(session.items))
    if _is_worker(config):  # xdist: the controller reads this when the worker finishes
        config.workeroutput["llaso_selection"] = {  # type: ignore[attr-defined]
            "selected": len(session.items), "deselected": sorted(deselected),
            "deselected_cases": dict(left_out),
            "shard": info.to_dict() if info is not None else None}
        return
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is not None:
        collector.deselected_cases = dict(left_out)
        collector.selection = _selection(config, selected=len(session.items),
                                         deselected=deselected)
        collector.shard = info


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    collector = node.config.stash.get(COLLECTOR_KEY, None)
    if collector is not None and collector.selection is None:
        collector.selection = _selection(node.config, selected=len(ids), deselected=set())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    config = node.config
    collector = config.stash.get(COLLECTOR_KEY, None)
    seen = getattr(node, "workeroutput", {}).get("llaso_selection")
    if collector is None or not seen:
        return
    config.stash[DESELECTED_KEY].update(seen["deselected"])
    collector.deselected_cases = dict(seen.get("deselected_cases") or {})  # same on every worker
    collector.selection = _selection(config, selected=int(seen["selected"]),
                                     deselected=config.stash[DESELECTED_KEY])
    if seen.get("shard") is not None:
        collector.shard = ShardInfo.from_dict(seen["shard"])


# -- end of session ----------------------------------------------------------------------
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    pending = config.stash[PENDING_PROVENANCE_KEY]
    if pending:  # recorded after the last test report (or with no test run): not lost
        merge_provenance(collector.provenance, dict(pending), source="the session")
        pending.clear()
    usage: dict[str, Any] = {}
    for part in config.hook.pytest_llaso_collect_usage(config=config):
        usage.update(part or {})
    interrupted_by = interruption(exitstatus=int(exitstatus), shouldstop=session.shouldstop,
                                  shouldfail=session.shouldfail)
    if interrupted_by is None:  # ran to its end, yet not everything was evaluated
        interrupted_by = "; ".join(
            r for r in config.hook.pytest_llaso_incomplete(config=config) if r) or None
    outcome = finish_session(
        collector, config.stash[COMPARE_SETTINGS_KEY], exitstatus=int(exitstatus),
        interrupted_by=interrupted_by,
        usage=provenance.redact(usage), store_dir=config.stash[SETTINGS_KEY].store_dir)
    config.stash[OUTCOME_KEY] = outcome
    if outcome.exit_status != exitstatus:
        session.exitstatus = outcome.exit_status
    if outcome.record_error is None:
        config.hook.pytest_llaso_record_written(
            config=config, record=outcome.record, path=str(outcome.record_path),
            comparison=outcome.comparison)


_STYLES: dict[str, dict[str, bool]] = {"plain": {}, "error": {"red": True, "bold": True},
                                       "warning": {"yellow": True, "bold": True}}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcome = config.stash.get(OUTCOME_KEY, None)
    if outcome is None:
        return
    from llaso_pytest.report.summary import render_results

    tr = terminalreporter
    lines = render_results(outcome.record)
    if lines:
        tr.write_sep("-", "llaso results")
        for line in lines:
            tr.write_line(line)
    for sections in config.hook.pytest_llaso_report_sections(config=config,
                                                             record=outcome.record):
        for title, body in sections or ():
            tr.write_sep("-", title)
            for line in body:
                tr.write_line(line)
    for style, text in outcome_lines(outcome):
        if style == "section":
            tr.write_sep("-", text)
        else:
            tr.write_line(text, **_STYLES[style])


# -- fixtures ------------------------------------------------------------------------------
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
    settings = request.config.stash[SETTINGS_KEY]
    from llaso_pytest.metrics.base import MetricResult

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
                raise TypeError(
                    "record_metric(result): value= and items= are only for plain values")
            res = result_or_name
        else:
            raise TypeError(
                f"record_metric expects a metric result or a name, got "
                f"{type(result_or_name).__name__}"
            )
        if isinstance(res, MetricResult):
            data: dict[str, Any] = res.to_record(item_text=settings.item_text)
        else:
            data = res.to_record()
        if name is not None:
            data["name"] = name
        item.config.hook.pytest_llaso_update_result(item=item, result=data)
        data = check_result(data, nodeid=item.nodeid)
        if data["name"] in names:
            raise ValueError(
                f"record_metric in {item.nodeid}: a result named {data['name']!r} was already "
                "recorded by this test; pass name= to tell them apart (e.g. name='wer/noisy')"
            )
        names.add(data["name"])
        item.user_properties.append((KEY_RESULT, data))
        return data

    return record


#: The interval of one case is undefined by design: its corpus carries the interval.
_ONE_ITEM = r".*: only 1 items \(n=1\); a bootstrap interval needs"


def _corpus_of(item: pytest.Item) -> tuple[str, str | None]:
    """The corpus a case test belongs to and its default case id (a ``cases.load`` case's id,
    else the test's parameter id); see docs/cases.md."""
    from llaso_pytest.corpus import corpus_nodeid

    parent = item.parent.nodeid if item.parent is not None else ""
    function = f"{parent}::{getattr(item, 'originalname', item.name)}"
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return function, None
    params: dict[str, Any] = dict(callspec.params)
    case_params = [n for n, v in params.items() if isinstance(v, cases_core.Case)] or \
        (["case"] if "case" in params else list(params))
    value = params.get(case_params[0]) if len(case_params) == 1 else None
    default = value.id if isinstance(value, cases_core.Case) else str(callspec.id)
    return corpus_nodeid(function, params, dict(callspec.indices), case_params), default


@pytest.fixture
def record_case(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Record this test's one case: ``record_case(result)`` with a one-item metric result, or
    ``record_case("helpful", 1.0, higher_is_better=True)`` for a plain value. At session end
    the cases of one test function (and its other parameters) and metric are joined into a
    corpus result with its interval, recorded under the function's id (docs/cases.md).
    Returns the metric result.
    """
    import warnings

    from llaso_pytest.corpus import case_payload

    item = request.node
    corpus, default_id = _corpus_of(item)
    warnings.filterwarnings("ignore", message=_ONE_ITEM, category=LlasoWarning)
    names: set[str] = set()

    def record(result_or_name: Any, value: float | None = None, *, id: str | None = None,
               higher_is_better: bool | None = None, name: str | None = None) -> Any:
        case_id = id if id is not None else default_id
        if isinstance(result_or_name, str):
            if value is None:
                raise TypeError(f"record_case({result_or_name!r}): give the case's value")
            if higher_is_better is None:
                raise TypeError(f"record_case({result_or_name!r}, ...): say "
                                "higher_is_better=True or False; a baseline comparison needs "
                                "to know which direction is worse")
            if case_id is None:
                raise TypeError(f"record_case({result_or_name!r}, ...) in {item.nodeid}: pass "
                                "id=, the case's id (the test has no parameters to name it)")
            from llaso_pytest.metrics import from_values

            res = from_values(result_or_name, items={str(case_id): value},
                              higher_is_better=higher_is_better,
                              seed=request.config.stash[SETTINGS_KEY].seed)
        elif hasattr(result_or_name, "to_record"):
            if value is not None or higher_is_better is not None:
                raise TypeError("record_case(result): value= and higher_is_better= are only "
                                "for plain values")
            res = result_or_name
        else:
            raise TypeError(f"record_case expects a metric result or a name, got "
                            f"{type(result_or_name).__name__}")
        from llaso_pytest.metrics.base import MetricResult

        item_text = request.config.stash[SETTINGS_KEY].item_text
        data: dict[str, Any] = res.to_record(item_text=item_text) \
            if isinstance(res, MetricResult) else res.to_record()
        if name is not None:
            data["name"] = name
        own = [str(x) for x in (data.get("items") or {}).get("ids") or []]
        if id is None and default_id is not None and own and own[0] not in ("0", default_id):
            raise ValueError(
                f"record_case in {item.nodeid}: the result's item id {own[0]!r} is not the "
                f"case id {default_id!r}; pass ids=[case.id] to the metric, or id= here")
        if case_id is None:
            case_id = own[0] if own else None
        item.config.hook.pytest_llaso_update_result(item=item, result=data)
        data = check_result(data, nodeid=item.nodeid)
        payload = case_payload(data, case_id=str(case_id), corpus=corpus)
        if data["name"] in names:
            raise ValueError(
                f"record_case in {item.nodeid}: a result named {data['name']!r} was already "
                "recorded for this case; pass name= to tell them apart")
        names.add(data["name"])
        item.user_properties.append((KEY_CASE, payload))
        return res

    return record


@pytest.fixture(scope="session")
def record_provenance(pytestconfig: pytest.Config) -> Callable[[str, Any], None]:
    """Add ``key: value`` to the run record's provenance (model pins, dataset/prompt hashes).

    Session-scoped, so session fixtures that load models can use it too. Values must be
    JSON-able; dicts recorded under the same key are merged.
    """
    pending = pytestconfig.stash[PENDING_PROVENANCE_KEY]

    def record(key: str, value: Any) -> None:
        _add_provenance(pending, key, value)

    return record


def _add_provenance(pending: dict[str, Any], key: str, value: Any) -> None:
    """Queue ``key: value`` for the next test report (dicts under one key merge)."""
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


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any
                              ) -> list[str] | None:
    if "llaso_pytest.metrics.base" not in sys.modules:
        return None  # no metric result exists, nothing to explain
    from llaso_pytest.assertions import assertrepr_compare

    lines: list[str] | None = assertrepr_compare(op, left, right)
    return lines


__all__ = ["LlasoWarning", "RunRecord"]
