"""LLM sub-plugin: ``--llaso-judge-*`` / ``--llaso-llm-*`` options and the LLM fixtures.

Hook wiring only, and import-light: ``openai``, NumPy and the judge load inside the fixtures
that use them. Fixtures (all session-scoped):

- ``llaso_fake_llm_server``: the shipped OpenAI-compatible fake server on 127.0.0.1;
- ``judge_endpoint`` / ``llm_endpoint``: resolved :class:`~llaso_pytest.llm.config.EndpointConfig`
  (the judge falls back to the fake server when ``LLASO_JUDGE_BASE_URL``/``_MODEL`` are unset);
- ``judge``: a :class:`~llaso_pytest.llm.judge.Judge` (temperature 0, seeded with ``llaso_seed``);
- ``llm_client``: an :class:`~llaso_pytest.llm.client.LLMClient` for the model under test
  (skips the test when that endpoint is not configured);
- ``llaso_llm_mode``: ``"predictions"`` or ``"live"``;
- ``llaso_local_llm``: the pinned local LLM served on 127.0.0.1 by a child process for the
  session (:mod:`llaso_pytest.llm.local_server`); ``local_llm_client`` and ``local_judge`` use
  it as the model under test and as the judge.

Cache and usage counters (hits, misses, API calls, retries, tokens, cost) travel from xdist
workers to the controller on ``report.user_properties`` under ``"llaso_llm_usage"``;
:func:`usage_summary` returns the aggregate for the run record and terminal summary (summing
and rendering live in the pytest-free :mod:`llaso_pytest.llm.usage`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.llm.budget import Ledger
    from llaso_pytest.llm.cache import ResponseCache
    from llaso_pytest.llm.client import LLMClient, UsageStats
    from llaso_pytest.llm.config import EndpointConfig, Role
    from llaso_pytest.llm.fake_server import FakeOpenAIServer
    from llaso_pytest.llm.judge import Judge
    from llaso_pytest.llm.local_server import LocalLLMServer

__all__ = ["KEY_USAGE", "LLMSettings", "usage_summary"]

KEY_USAGE = "llaso_llm_usage"
FAKE_JUDGE_MODEL = "fake-judge"
_ENDPOINT_KEYS = ("base_url", "model", "endpoint_id", "timeout", "connect_timeout", "max_retries",
                  "concurrency", "max_retry_after", "price_in", "price_out", "deadline",
                  "max_reply_bytes", "breaker_threshold")
_RESPONSE_FORMATS = ("json_schema", "json_object", "none")
_MODES = ("auto", "predictions", "live")
_LOCAL_DEVICES = ("auto", "cpu", "cuda")
LOCAL_MANIFEST = Path("fixtures") / "models" / "llm" / "smollm2-135m-instruct.json"


@dataclass(frozen=True)
class LLMSettings:
    """Validated LLM options (endpoints keep their keys out of ``repr``)."""

    judge: EndpointConfig
    llm: EndpointConfig
    judge_refresh: bool
    llm_refresh: bool
    judge_k: int
    response_format: str
    mode: str  # "predictions" or "live" (auto resolved)
    cache_path: Path | None
    local_manifest: Path | None = None
    local_device: str = "auto"
    local_threads: int = 0


SETTINGS_KEY = pytest.StashKey[LLMSettings]()
STATS_KEY = pytest.StashKey[dict[str, "UsageStats"]]()
SENT_KEY = pytest.StashKey[dict[str, Any]]()
TOTALS_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()
BUDGET_KEY = pytest.StashKey["Ledger | None"]()
_LEDGER_INPUT = "llaso_budget_ledger"  # workerinput key: the controller's ledger file


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llaso")
    for role, what in (("judge", "the LLM judge"), ("llm", "the model under test")):
        group.addoption(
            f"--llaso-{role}-refresh",
            action="store_true",
            default=False,
            help=f"ignore cached responses of {what} and call the endpoint again "
            "(the cache is rewritten)",
        )
        group.addoption(f"--llaso-{role}-concurrency", metavar="N", type=int, default=None,
                        help=f"calls to {what} in flight at once (default 8)")
        group.addoption(
            f"--llaso-{role}-timeout",
            metavar="SECONDS",
            type=float,
            default=None,
            help=f"per-call timeout for {what} "
            "(default 60; the openai client's 600 s is never used)",
        )
        for key in _ENDPOINT_KEYS:
            parser.addini(
                f"llaso_{role}_{key}",
                f"{what}: {key.replace('_', ' ')} "
                f"(environment LLASO_{role.upper()}_{key.upper()} wins)",
                type="string",
                default="",
            )
    group.addoption("--llaso-judge-k", metavar="K", type=int, default=None,
                    help="judge each item K times and report agreement (default 1)")
    group.addoption("--llaso-judge-response-format", choices=_RESPONSE_FORMATS, default=None,
                    help="how the judge asks for JSON: json_schema (structured outputs, default), "
                    "json_object, or none for endpoints without either")
    group.addoption("--llaso-llm-mode", choices=_MODES, default=None,
                    help="predictions: evaluate pinned outputs; live: call the model under test; "
                    "auto (default): live when LLASO_LLM_BASE_URL and LLASO_LLM_MODEL are set")
    group.addoption(
        "--llaso-llm-cache",
        metavar="PATH",
        default=None,
        help="SQLite file caching LLM responses "
        "(default <llaso dir>/cache/llm.sqlite3; 'none' disables)",
    )
    from llaso_pytest.llm.budget import parse_budget_calls, parse_budget_usd
    from llaso_pytest.options import argparse_type

    group.addoption("--llaso-budget-usd", metavar="USD", type=argparse_type(parse_budget_usd),
                    default=None,
                    help="stop new judge and generation calls once the run has spent USD "
                    "(from token counts and the endpoints' prices); the remaining items are "
                    "budget_exceeded and the run is incomplete")
    group.addoption("--llaso-budget-calls", metavar="N", type=argparse_type(parse_budget_calls),
                    default=None,
                    help="stop new judge and generation calls after N API calls in the run "
                    "(all xdist workers together)")
    parser.addini("llaso_budget_usd", "default for --llaso-budget-usd", type="string",
                  default="")
    parser.addini("llaso_budget_calls", "default for --llaso-budget-calls", type="string",
                  default="")
    parser.addini("llaso_judge_k", "default for --llaso-judge-k", type="string", default="")
    parser.addini("llaso_judge_response_format", "default for --llaso-judge-response-format",
                  type="string", default="")
    parser.addini("llaso_llm_mode", "default for --llaso-llm-mode", type="string", default="")
    group.addoption("--llaso-local-llm-device", choices=_LOCAL_DEVICES, default=None,
                    help="where the pinned local LLM runs: auto (CUDA when visible, default), "
                    "cpu or cuda")
    group.addoption("--llaso-local-llm-threads", metavar="N", type=int, default=None,
                    help="torch threads of the local LLM (default 0: torch's default)")
    parser.addini("llaso_local_llm_manifest", "manifest of the local LLM (default "
                  "fixtures/models/llm/smollm2-135m-instruct.json under the rootdir)",
                  type="string", default="")
    parser.addini("llaso_llm_cache", "default for --llaso-llm-cache", type="string", default="")


def _store_dir(config: pytest.Config) -> Path:
    try:
        from llaso_pytest.plugin import SETTINGS_KEY as CORE_KEY

        return Path(config.stash[CORE_KEY].store_dir)
    except (ImportError, KeyError, AttributeError):
        return config.rootpath / ".llaso"


def _settings(config: pytest.Config) -> LLMSettings:
    from llaso_pytest.llm.config import ConfigError, resolve_endpoint

    endpoints = {}
    for role in ("judge", "llm"):
        ini = {k: config.getini(f"llaso_{role}_{k}") for k in _ENDPOINT_KEYS}
        overrides = {"concurrency": config.getoption(f"llaso_{role}_concurrency"),
                     "timeout": config.getoption(f"llaso_{role}_timeout")}
        try:
            endpoints[role] = resolve_endpoint(role, ini=ini, overrides=overrides)
        except ConfigError as exc:
            raise pytest.UsageError(f"llaso: {exc}") from None
    k_raw = config.getoption("llaso_judge_k")
    if k_raw is None:
        ini_k = str(config.getini("llaso_judge_k")).strip()
        try:
            k_raw = int(ini_k) if ini_k else 1
        except ValueError:
            raise pytest.UsageError(
                f"llaso: ini key llaso_judge_k must be an integer >= 1, got {ini_k!r}"
            ) from None
    if k_raw < 1:
        raise pytest.UsageError(f"llaso: --llaso-judge-k must be >= 1, got {k_raw}")
    fmt = (
        config.getoption("llaso_judge_response_format")
        or str(config.getini("llaso_judge_response_format")).strip()
        or "json_schema"
    )
    if fmt not in _RESPONSE_FORMATS:
        raise pytest.UsageError(
            f"llaso: ini key llaso_judge_response_format must be one of {_RESPONSE_FORMATS}, "
            f"got {fmt!r}"
        )
    mode = (
        config.getoption("llaso_llm_mode") or str(config.getini("llaso_llm_mode")).strip() or "auto"
    )
    if mode not in _MODES:
        raise pytest.UsageError(
            f"llaso: ini key llaso_llm_mode must be one of {_MODES}, got {mode!r}"
        )
    if mode == "auto":
        mode = "live" if endpoints["llm"].configured else "predictions"
    elif mode == "live" and not endpoints["llm"].configured:
        raise pytest.UsageError(
            "llaso: --llaso-llm-mode=live needs the model under test: set LLASO_LLM_BASE_URL "
            "and LLASO_LLM_MODEL (or ini llaso_llm_base_url / llaso_llm_model)"
        )
    cache_opt = (
        config.getoption("llaso_llm_cache") or str(config.getini("llaso_llm_cache")).strip() or None
    )
    if cache_opt is not None and cache_opt.lower() == "none":
        cache_path: Path | None = None
    elif cache_opt is not None:
        cache_path = Path(config.invocation_params.dir, cache_opt)
    else:
        cache_path = _store_dir(config) / "cache" / "llm.sqlite3"
    threads = config.getoption("llaso_local_llm_threads")
    if threads is not None and threads < 0:
        raise pytest.UsageError(f"llaso: --llaso-local-llm-threads must be >= 0, got {threads}")
    manifest = str(config.getini("llaso_local_llm_manifest")).strip()
    return LLMSettings(judge=endpoints["judge"], llm=endpoints["llm"],
                       judge_refresh=bool(config.getoption("llaso_judge_refresh")),
                       llm_refresh=bool(config.getoption("llaso_llm_refresh")),
                       judge_k=k_raw, response_format=fmt, mode=mode, cache_path=cache_path,
                       local_manifest=config.rootpath / (manifest or LOCAL_MANIFEST),
                       local_device=config.getoption("llaso_local_llm_device") or "auto",
                       local_threads=threads or 0)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    settings = config.stash[SETTINGS_KEY] = _settings(config)
    config.stash[STATS_KEY] = {}
    config.stash[SENT_KEY] = {}
    config.stash[TOTALS_KEY] = {}
    config.stash[BUDGET_KEY] = _ledger(config, settings)


def _budget_limit(config: pytest.Config, name: str) -> Any:
    from llaso_pytest.llm import budget
    from llaso_pytest.options import OptionError

    value = config.getoption(f"llaso_budget_{name}")
    text = str(config.getini(f"llaso_budget_{name}")).strip()
    if value is not None or not text:
        return value
    parse = budget.parse_budget_usd if name == "usd" else budget.parse_budget_calls
    try:
        return parse(text)
    except OptionError as exc:
        raise pytest.UsageError(f"llaso: ini key llaso_budget_{name}: {exc}") from None


def _ledger(config: pytest.Config, settings: LLMSettings) -> Ledger | None:
    """The run's budget ledger: created by the controller, opened by each xdist worker."""
    from llaso_pytest.llm.budget import BudgetError, BudgetLimits, Ledger

    limits = BudgetLimits(usd=_budget_limit(config, "usd"),
                          calls=_budget_limit(config, "calls"))
    if not limits.active:
        return None
    if limits.usd is not None:
        for ep in (settings.judge, settings.llm):
            if ep.configured and not ep.is_local and (ep.price_in is None
                                                      or ep.price_out is None):
                role = ep.role.upper()
                raise pytest.UsageError(
                    f"llaso: --llaso-budget-usd: the {ep.role} endpoint ({ep.public_url}) has "
                    f"no prices, so its spending is unknown; set LLASO_{role}_PRICE_IN and "
                    f"LLASO_{role}_PRICE_OUT (USD per million tokens; or the ini keys "
                    f"llaso_{ep.role}_price_in/_price_out), or limit calls with "
                    "--llaso-budget-calls")
    path = (getattr(config, "workerinput", None) or {}).get(_LEDGER_INPUT)
    try:
        if path is not None:
            return Ledger(path, limits=limits, process=_worker_id(config))
        return Ledger.create(limits=limits)
    except BudgetError as exc:
        raise pytest.UsageError(f"llaso: {exc}") from None


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker reserves against the controller's ledger (a global budget)."""
    ledger = node.config.stash.get(BUDGET_KEY, None)
    if ledger is not None:
        node.workerinput[_LEDGER_INPUT] = str(ledger.path)


def pytest_unconfigure(config: pytest.Config) -> None:
    ledger = config.stash.get(BUDGET_KEY, None)
    if ledger is None:
        return
    if _is_worker(config):
        ledger.close()
    else:
        ledger.remove()


def pytest_llaso_incomplete(config: pytest.Config) -> str | None:
    """A spent budget: calls that were not made leave items unevaluated."""
    ledger = config.stash.get(BUDGET_KEY, None)
    if ledger is None:
        return None
    snap = ledger.snapshot()
    if not snap["exceeded"]:
        return None
    return (f"the LLM budget was reached ({ledger.limits.describe()}): {snap['calls_refused']} "
            "call(s) not made, their items are budget_exceeded")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _worker_id(config: pytest.Config) -> str:
    wi = getattr(config, "workerinput", None)
    return str(wi.get("workerid", "worker")) if isinstance(wi, dict) else "main"


def _stats(config: pytest.Config, role: str) -> UsageStats:
    from llaso_pytest.llm.client import UsageStats

    reg = config.stash[STATS_KEY]
    if role not in reg:
        reg[role] = UsageStats()
    return reg[role]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, Any]:
    report = yield
    _redact_report(report)
    reg = item.config.stash.get(STATS_KEY, None)
    if reg:
        snap = {role: s.snapshot() for role, s in reg.items()}
        sent = item.config.stash[SENT_KEY]
        if snap != sent.get("last"):
            sent["last"] = snap
            # cumulative per process: the controller keeps the latest per worker and sums workers
            report.user_properties.append(
                (KEY_USAGE, {"worker": _worker_id(item.config), "usage": snap})
            )
    return report


def _redact_report(report: pytest.TestReport) -> None:
    """Secrets out of what pytest prints and writes for a test (terminal, JUnit XML, records):
    assertion text that shows a key, captured output that echoes one."""
    from llaso_pytest.provenance import redact_text

    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact_text(text)
        if clean != text:
            report.longrepr = clean
    if report.sections:
        report.sections = [(name, redact_text(content)) for name, content in report.sections]


class _UsageCollector:
    """Registered on the controller only: keeps the latest cumulative usage of each worker."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for pair in report.user_properties:
            if isinstance(pair, (tuple, list)) and len(pair) == 2 and pair[0] == KEY_USAGE:
                data: Any = pair[1]
                self.config.stash[TOTALS_KEY][str(data["worker"])] = data["usage"]


def pytest_llaso_collect_usage(config: pytest.Config) -> dict[str, Any] | None:
    """LLM usage (calls, retries, cache hits, tokens, cost) for the run record's ``usage``."""
    summary = usage_summary(config)
    out: dict[str, Any] = {"llm": summary} if summary else {}
    ledger = config.stash.get(BUDGET_KEY, None)
    if ledger is not None:
        out["budget"] = ledger.snapshot()
    return out or None


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_worker(session.config):
        session.config.pluginmanager.register(_UsageCollector(session.config), "llaso-llm-usage")


def usage_summary(config: pytest.Config) -> dict[str, Any] | None:
    """Aggregated LLM usage of the run per role (``judge``, ``llm``), or ``None`` when no LLM
    was called.

    See :func:`llaso_pytest.llm.usage.aggregate`. On the controller this process's own live
    counters replace its last sent snapshot: after Ctrl-C the interrupted test never sent its
    report, yet every call it made is counted.
    """
    from llaso_pytest.llm.usage import aggregate

    sent: dict[str, dict[str, Any]] = config.stash.get(TOTALS_KEY, {})
    totals = dict(sent)
    live = config.stash.get(STATS_KEY, {})
    if live and not _is_worker(config):
        totals[_worker_id(config)] = {role: s.snapshot() for role, s in live.items()}
    return aggregate(totals.values())


def pytest_llaso_report_sections(
    config: pytest.Config, record: Any
) -> list[tuple[str, list[str]]] | None:
    from llaso_pytest.llm.usage import judge_error_lines, render_budget, render_usage

    sections = []
    summary = usage_summary(config)
    data = record if isinstance(record, dict) else record.to_dict()
    ledger = config.stash.get(BUDGET_KEY, None)
    if summary or ledger is not None:
        lines = render_usage(summary or {})
        if ledger is not None:
            lines.append(render_budget(ledger.snapshot()))
        judge = (data.get("provenance") or {}).get("llm_judge")
        if isinstance(judge, dict):
            lines.append(
                f"judge endpoint: {judge.get('model')} at {judge.get('base_url')} "
                f"({judge.get('source')})"
            )
        sections.append(("llaso llm usage", lines))
    errors = judge_error_lines(data)
    if errors:
        sections.append(("llaso judge errors", errors))
    return sections or None


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llaso_llm_settings(pytestconfig: pytest.Config) -> LLMSettings:
    """The validated LLM settings of this run."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def llaso_llm_mode(llaso_llm_settings: LLMSettings) -> str:
    """``"predictions"`` (pinned outputs, the default) or ``"live"`` (call the model under test)."""
    return llaso_llm_settings.mode


@pytest.fixture(scope="session")
def llaso_fake_llm_server() -> Iterator[FakeOpenAIServer]:
    """The shipped OpenAI-compatible fake server (deterministic heuristic judge), per process."""
    from llaso_pytest.llm.fake_server import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llaso_llm_cache(
    llaso_llm_settings: LLMSettings,
) -> Iterator[Callable[[bool], ResponseCache | None]]:
    """A factory ``cache(refresh)`` returning the shared response cache (or None when disabled)."""
    from llaso_pytest.llm.cache import ResponseCache

    opened: list[ResponseCache] = []

    def get(refresh: bool) -> ResponseCache | None:
        if llaso_llm_settings.cache_path is None:
            return None
        c = ResponseCache(llaso_llm_settings.cache_path, refresh=refresh)
        opened.append(c)
        return c

    yield get
    for c in opened:
        c.close()


@pytest.fixture(scope="session")
def judge_endpoint(request: pytest.FixtureRequest, llaso_llm_settings: LLMSettings,
                   record_provenance: Callable[[str, Any], None]) -> EndpointConfig:
    """The judge endpoint; the shipped fake server when none is configured (recorded as such)."""
    ep = llaso_llm_settings.judge
    source = "configured"
    if not ep.configured:
        from llaso_pytest import __version__ as llaso_version

        server: FakeOpenAIServer = request.getfixturevalue("llaso_fake_llm_server")
        # its responses are a function of the request and of this package's version, so its
        # cache entries stay valid across runs on new ports (and apart from any other server)
        ep = ep.with_(base_url=server.base_url, model=FAKE_JUDGE_MODEL, api_key=None,
                      endpoint_id=f"llaso-fake-server-{llaso_version}")
        source = (
            "fake server (LLASO_JUDGE_BASE_URL/LLASO_JUDGE_MODEL unset): heuristic verdicts, "
            "not a model"
        )
    public = ep.public()
    public["source"] = source
    record_provenance("llm_judge", public)
    return ep


@pytest.fixture(scope="session")
def judge(
    pytestconfig: pytest.Config,
    judge_endpoint: EndpointConfig,
    llaso_llm_settings: LLMSettings,
    llaso_llm_cache: Callable[[bool], ResponseCache | None],
    llaso_seed: int,
) -> Iterator[Judge]:
    """A :class:`~llaso_pytest.llm.judge.Judge` at temperature 0, seeded with the session seed."""
    from llaso_pytest.llm.client import LLMClient
    from llaso_pytest.llm.judge import Judge

    client = LLMClient(judge_endpoint, cache=llaso_llm_cache(llaso_llm_settings.judge_refresh),
                       stats=_stats(pytestconfig, "judge"), budget=pytestconfig.stash[BUDGET_KEY])
    try:
        yield Judge(client, seed=llaso_seed, response_format=llaso_llm_settings.response_format,  # type: ignore[arg-type]
                    default_k=llaso_llm_settings.judge_k)
    finally:
        client.close()


@pytest.fixture(scope="session")
def llm_endpoint(llaso_llm_settings: LLMSettings) -> EndpointConfig:
    """The model-under-test endpoint (may be unconfigured; see ``llm_client``)."""
    return llaso_llm_settings.llm


@pytest.fixture(scope="session")
def llm_client(
    pytestconfig: pytest.Config,
    llm_endpoint: EndpointConfig,
    llaso_llm_settings: LLMSettings,
    llaso_llm_cache: Callable[[bool], ResponseCache | None],
    record_provenance: Callable[[str, Any], None],
) -> Iterator[LLMClient]:
    """An :class:`~llaso_pytest.llm.client.LLMClient` for the model under test; skips when
    unconfigured."""
    if not llm_endpoint.configured:
        pytest.skip("model under test not configured: set LLASO_LLM_BASE_URL and LLASO_LLM_MODEL")
    from llaso_pytest.llm.client import LLMClient

    record_provenance("llm_model_under_test", llm_endpoint.public())
    client = LLMClient(llm_endpoint, cache=llaso_llm_cache(llaso_llm_settings.llm_refresh),
                       stats=_stats(pytestconfig, "llm"), budget=pytestconfig.stash[BUDGET_KEY])
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def llaso_local_llm(
    llaso_llm_settings: LLMSettings, record_provenance: Callable[[str, Any], None],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalLLMServer]:
    """The pinned local LLM, verified and served on 127.0.0.1 by a child process for the
    session (stopped at its end). A start-up failure names the missing package or file."""
    from llaso_pytest.llm.local_server import LocalLLMServer

    if llaso_llm_settings.local_manifest is None:  # pragma: no cover - always set by _settings
        raise pytest.UsageError("llaso: no local LLM manifest configured")
    log = tmp_path_factory.mktemp("llaso-local-llm") / "server.log"
    server = LocalLLMServer(llaso_llm_settings.local_manifest,
                            device=llaso_llm_settings.local_device,
                            threads=llaso_llm_settings.local_threads, log_path=log).start()
    try:
        record_provenance("local_llm", {"pin": server.info["pin"],
                                        "placement": server.info["describe"],
                                        "served_as": server.info["fingerprint"],
                                        "start_seconds": round(server.start_seconds or 0.0, 3)})
        yield server
    finally:
        server.stop()


def _local_client(config: pytest.Config, server: LocalLLMServer, settings: LLMSettings,
                  cache: Callable[[bool], ResponseCache | None], role: Role) -> LLMClient:
    from llaso_pytest.llm.client import LLMClient
    from llaso_pytest.llm.local_server import endpoint_for

    refresh = settings.llm_refresh if role == "llm" else settings.judge_refresh
    return LLMClient(endpoint_for(server, role), cache=cache(refresh), stats=_stats(config, role))


@pytest.fixture(scope="session")
def local_llm_client(
    pytestconfig: pytest.Config, llaso_local_llm: LocalLLMServer,
    llaso_llm_settings: LLMSettings, llaso_llm_cache: Callable[[bool], ResponseCache | None],
) -> Iterator[LLMClient]:
    """An :class:`~llaso_pytest.llm.client.LLMClient` for the local LLM as the model under
    test (the same client, cache, retries and usage counters as a hosted model)."""
    with _local_client(pytestconfig, llaso_local_llm, llaso_llm_settings, llaso_llm_cache,
                       "llm") as client:
        yield client


@pytest.fixture(scope="session")
def local_judge(
    pytestconfig: pytest.Config, llaso_local_llm: LocalLLMServer,
    llaso_llm_settings: LLMSettings, llaso_llm_cache: Callable[[bool], ResponseCache | None],
    llaso_seed: int,
) -> Iterator[Judge]:
    """A :class:`~llaso_pytest.llm.judge.Judge` served by the local LLM (greedy, seeded;
    structured outputs by the server's constrained decoding, as with a hosted judge)."""
    from llaso_pytest.llm.judge import Judge

    with _local_client(pytestconfig, llaso_local_llm, llaso_llm_settings, llaso_llm_cache,
                       "judge") as client:
        yield Judge(client, seed=llaso_seed, max_tokens=96, default_k=llaso_llm_settings.judge_k)


@pytest.fixture(scope="session")
def llaso_predictions_dir(pytestconfig: pytest.Config) -> Path:
    """Where live suites export generated predictions as pinned sets
    (``<llaso dir>/predictions/<set>/``, see ``predictions.export_predictions``)."""
    return _store_dir(pytestconfig) / "predictions"
