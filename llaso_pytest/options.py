"""Settings of a session and of ``llaso compare``: one set of validators, parsed once.

Every option value the plugin (``--llaso-*`` flags, ``llaso_*`` ini keys) or the CLI accepts
is checked by one function here, so the two never disagree on what a seed or a resample count
is. A validator raises :class:`OptionError` (a ``ValueError``); :func:`argparse_type` turns it
into ``argparse.ArgumentTypeError`` for option parsing, and :func:`plugin_settings` /
:func:`compare_settings` into ``pytest.UsageError`` naming the option or ini key.

pytest is imported only inside the functions that read a ``pytest.Config``: the CLI imports
this module without it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

# The compare package is import-light (NumPy loads when a comparison runs).
from llaso_pytest.compare import CORRECTIONS, DEFAULT_CORRECTION
from llaso_pytest.errors import LlasoError
from llaso_pytest.itemtext import DEFAULT_MODE, TEXT_MODES, TextMode, parse_mode
from llaso_pytest.multiplicity import Correction

if TYPE_CHECKING:  # pragma: no cover
    import pytest

    from llaso_pytest.compare import Tolerance
    from llaso_pytest.record import RunRecord

__all__ = [
    "CORRECTIONS",
    "DEFAULT_CORRECTION",
    "MIN_N_BOOT",
    "CompareSettings",
    "Correction",
    "OptionError",
    "ReportOutput",
    "Settings",
    "argparse_type",
    "check_writable",
    "compare_settings",
    "parse_confidence",
    "parse_correction",
    "parse_item_text",
    "parse_n_boot",
    "parse_patterns",
    "parse_seed",
    "plugin_settings",
]

MIN_N_BOOT = 100
SEED_LIMIT = 2**63

T = TypeVar("T")


class OptionError(LlasoError, ValueError):
    """An option value that cannot be used; the message says what is expected."""


# -- validators (one per kind of value; plugin and CLI share them) -----------------------
def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise OptionError(f"{what}, got {text!r}") from None


def parse_seed(text: str) -> int:
    """A seed: an integer in [0, 2**63) (decimal, or 0x.. hex); ``0`` is a seed."""
    value = _integer(text, "a seed is a non-negative integer")
    if not 0 <= value < SEED_LIMIT:
        raise OptionError(f"a seed is a non-negative integer in [0, 2**63), got {value}")
    return value


def parse_n_boot(text: str) -> int:
    """A number of bootstrap resamples: an integer of at least 100."""
    value = _integer(text, "the number of resamples is an integer")
    if value < MIN_N_BOOT:
        raise OptionError(f"use at least {MIN_N_BOOT} resamples, got {value}")
    return value


def parse_confidence(text: str) -> float:
    """A confidence level in [0.5, 1), e.g. 0.95."""
    try:
        value = float(text)
    except ValueError:
        raise OptionError(f"a confidence level is a number, got {text!r}") from None
    if not 0.5 <= value < 1.0:  # also refuses nan
        raise OptionError(f"a confidence level is in [0.5, 1), e.g. 0.95, got {text!r}")
    return value


def parse_correction(text: str) -> Correction:
    """A multiple-comparison correction: ``bh`` (Benjamini-Hochberg), ``holm`` or ``none``."""
    value = text.strip().lower()
    for correction in CORRECTIONS:
        if value == correction:
            return correction
    raise OptionError(f"unknown correction {text!r}; use one of {', '.join(CORRECTIONS)}")


def parse_patterns(entries: Iterable[str]) -> tuple[str, ...]:
    """Metric globs from comma- or line-separated entries (``wer*,judge_*``; ``*`` for all)."""
    out: list[str] = []
    for entry in entries:
        for part in entry.replace("\n", ",").split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


def argparse_type(validator: Callable[[str], T]) -> Callable[[str], T]:
    """``validator`` as an argparse ``type=``: :class:`OptionError` becomes
    ``argparse.ArgumentTypeError`` (pytest and argparse print it with the option name)."""

    def convert(text: str) -> T:
        try:
            return validator(text)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = validator.__name__.removeprefix("parse_")
    return convert


# -- settings of a pytest session --------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Parsed and validated ``--llaso-*`` options and ``llaso_*`` ini keys of the core plugin.

    ``out_path`` is ``None`` when no ``--llaso-out`` / ``llaso_out`` was given: the record then
    goes to ``<store>/runs/<run id>.json``, named when the session starts.
    """

    store_dir: Path
    out_path: Path | None
    latest_path: Path
    seed: int
    deterministic: bool
    item_text: TextMode = DEFAULT_MODE  # what the record keeps of each item's texts

    @property
    def runs_dir(self) -> Path:
        return self.store_dir / "runs"


@dataclass(frozen=True)
class ReportOutput:
    """A comparison report file and its format (a name in ``report.FORMATS``)."""

    path: Path
    fmt: str


@dataclass(frozen=True)
class CompareSettings:
    """What to compare this run with, and what to do with the result (controller only)."""

    baseline_path: Path | None = None
    baseline: RunRecord | None = None
    save_name: str | None = None
    fail_on_regression: bool = False
    tolerances: Mapping[str, Tolerance] | None = None
    outputs: tuple[ReportOutput, ...] = ()
    correction: Correction = DEFAULT_CORRECTION
    fail_on_untested: tuple[str, ...] = ()


def _usage(message: str) -> Exception:
    import pytest

    return pytest.UsageError(message)


def _from_cli_or_ini(config: pytest.Config, dest: str, ini: str,
                     validator: Callable[[str], T], default: T) -> T:
    """The option's value (already validated by its ``type=``), else the ini key's, else the
    default; a bad ini value is a usage error naming the key."""
    value = config.getoption(dest)
    if value is not None:
        return cast(T, value)
    text = str(config.getini(ini)).strip()
    if not text:
        return default
    try:
        return validator(text)
    except OptionError as exc:
        raise _usage(f"ini key {ini}: {exc}") from None


def plugin_settings(config: pytest.Config) -> Settings:
    """The core plugin's settings; ``pytest.UsageError`` for a bad value."""
    from llaso_pytest import seeding

    invocation = Path(config.invocation_params.dir)
    cli_store = config.getoption("llaso_dir")
    store_dir = invocation / cli_store if cli_store else \
        config.rootpath / (config.getini("llaso_dir") or ".llaso")
    seed = _from_cli_or_ini(config, "llaso_seed", "llaso_seed", parse_seed, seeding.DEFAULT_SEED)
    deterministic = config.getoption("llaso_deterministic")
    if deterministic is None:
        deterministic = bool(config.getini("llaso_deterministic"))
    out = config.getoption("llaso_out") or config.getini("llaso_out") or None
    item_text = _from_cli_or_ini(config, "llaso_item_text", "llaso_item_text", parse_item_text,
                                 DEFAULT_MODE)
    return Settings(store_dir=store_dir, out_path=invocation / out if out else None,
                    latest_path=store_dir / "runs" / "latest.json", seed=seed,
                    deterministic=bool(deterministic), item_text=item_text)


def parse_item_text(text: str) -> TextMode:
    """What a record keeps of each item's texts: ``none``, ``truncate`` or ``full``."""
    try:
        return parse_mode(text)
    except ValueError:
        raise OptionError(f"unknown item text mode {text!r}; use one of "
                          f"{', '.join(TEXT_MODES)}") from None


def check_writable(path: Path, option: str) -> None:
    """``pytest.UsageError`` unless a file can be written at ``path`` (probed, not assumed)."""
    if path.is_dir():
        raise _usage(
            f"{option} {path}: is a directory; give a file path such as {path / 'run.json'}")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = parent / f".llaso-write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise _usage(
            f"{option} {path}: cannot write to {parent} ({exc.strerror or exc}); "
            f"choose a writable location, e.g. {option}=.llaso/runs/run.json"
        ) from None


def report_outputs(paths: Sequence[str], *, cwd: Path, option: str) -> tuple[ReportOutput, ...]:
    """Report files with their format from the suffix; an unknown suffix is refused."""
    from llaso_pytest.report import format_for_path

    outputs = []
    for text in paths:
        path = cwd / text
        try:
            fmt = format_for_path(path)
        except ValueError as exc:
            raise _usage(f"{option} {path}: {exc}") from None
        check_writable(path, option)
        outputs.append(ReportOutput(path=path, fmt=fmt.name))
    return tuple(outputs)


def compare_settings(config: pytest.Config, store_dir: Path) -> CompareSettings:
    """Parse the baseline options; a bad baseline is a usage error before any model loads."""
    from llaso_pytest import store
    from llaso_pytest.errors import LlasoWarning

    value = config.getoption("llaso_baseline") or config.getini("llaso_baseline") or None
    save = config.getoption("llaso_save")
    fail = config.getoption("llaso_fail_on_regression")
    if fail is None:
        fail = bool(config.getini("llaso_fail_on_regression"))
    cli_needs_baseline = bool(config.getoption("llaso_fail_on_regression")
                              or config.getoption("llaso_tolerance")
                              or config.getoption("llaso_compare_out")
                              or config.getoption("llaso_fail_on_untested"))
    # validated on every run: a typo in the ini file is an error before any model loads
    correction = _from_cli_or_ini(config, "llaso_correction", "llaso_correction",
                                  parse_correction, DEFAULT_CORRECTION)
    untested_cli = config.getoption("llaso_fail_on_untested")
    fail_on_untested = parse_patterns(untested_cli) if untested_cli is not None else \
        parse_patterns(config.getini("llaso_fail_on_untested"))
    if value is None and save is None and not cli_needs_baseline:
        return CompareSettings(correction=correction, fail_on_untested=fail_on_untested)
    from llaso_pytest import compare
    from llaso_pytest.record import RecordError, read_record

    # Command-line entries replace ini entries for the same pattern (a stricter or looser
    # tolerance for one run); within one source a pattern given twice stays an error.
    tolerances: dict[str, Tolerance] = {}
    for source, entries in (("ini key llaso_tolerances", config.getini("llaso_tolerances")),
                            ("--llaso-tolerance", config.getoption("llaso_tolerance") or [])):
        try:
            tolerances.update(compare.parse_tolerances(list(entries)))
        except ValueError as exc:
            raise _usage(f"{source}: {exc}") from None
    outputs = report_outputs(config.getoption("llaso_compare_out") or (),
                             cwd=Path(config.invocation_params.dir),
                             option="--llaso-compare-out")
    if save is not None:
        try:
            store.check_name(save)
        except ValueError as exc:
            raise _usage(f"--llaso-save {save!r}: {exc}") from None

    def settings(**fields: object) -> CompareSettings:
        return CompareSettings(tolerances=tolerances, correction=correction,
                               fail_on_untested=fail_on_untested, save_name=save,
                               **fields)  # type: ignore[arg-type]

    if value is None:
        if cli_needs_baseline:
            raise _usage(
                "--llaso-fail-on-regression, --llaso-fail-on-untested, --llaso-tolerance and "
                "--llaso-compare-out need a baseline: add --llaso-baseline PATH|NAME (or the "
                "llaso_baseline ini key)")
        return settings()
    try:
        baseline_path = store.resolve_baseline(value, store_dir=store_dir,
                                               cwd=Path(config.invocation_params.dir))
    except store.BaselineNotFoundError as exc:
        if exc.name != save:  # a typo in a baseline name stays an error
            raise _usage(f"--llaso-baseline: {exc}") from None
        # The first run of `pytest --llaso-save main` with `llaso_baseline = main` in the
        # ini file: there is nothing to compare with yet, and this run creates it.
        config.issue_config_time_warning(LlasoWarning(
            f"--llaso-baseline {exc.name!r}: no such baseline is saved yet, so this run is "
            f"not compared with anything (and no comparison report is written); it will be "
            f"saved as baseline {save!r} if it completes"), stacklevel=2)
        return settings()
    except ValueError as exc:
        raise _usage(f"--llaso-baseline: {exc}") from None
    try:
        baseline = read_record(baseline_path)
        # Every result as the comparer will read it: a malformed baseline is refused now,
        # not after the whole suite has run.
        compare.check_record(baseline, source=str(baseline_path))
    except RecordError as exc:
        raise _usage(
            f"--llaso-baseline: {exc}. Pass another baseline, or save a new one with "
            "`pytest --llaso-save NAME` (or `llaso baseline save NAME RECORD.json`)"
        ) from None
    return settings(baseline_path=baseline_path, baseline=baseline,
                    fail_on_regression=bool(fail), outputs=outputs)


# -- option values that pytest took for test paths ---------------------------------------
def separate_values(args: Sequence[str], value_options: Iterable[str]) -> list[tuple[str, str]]:
    """``(option, value)`` for every option of ``value_options`` given as ``--opt value`` (two
    tokens) in ``args``; ``--opt=value`` is one token and never listed."""
    wanted = set(value_options)
    out = []
    for i, token in enumerate(args[:-1]):
        if token == "--":
            break
        if token in wanted and not args[i + 1].startswith("-"):
            out.append((token, args[i + 1]))
    return out


def check_rootdir_leak(*, args: Sequence[str], positional: Sequence[str],
                       value_options: Iterable[str], rootpath: Path, inipath: Path | None,
                       inifile: str | None, override_ini: Sequence[str] | None,
                       rootdir_arg: str | None, invocation_dir: Path) -> str | None:
    """Why the root folder pytest chose is wrong, or ``None``.

    pytest picks its root folder and ini file (``_pytest.config.findpaths.determine_setup``)
    from the command line *before it loads any plugin*, so the value of ``--llaso-baseline
    /abs/path.json`` (two tokens) counts as a test path there: with an existing path outside
    the project, the project's ini file is dropped and every node id changes. Nothing a plugin
    declares can change that order, so the choice is recomputed without those values and a
    difference is reported (``--opt=value`` is never affected).
    """
    leaked = [(opt, value) for opt, value in separate_values(args, value_options)
              if os.path.exists(Path(invocation_dir, value.split("::")[0]))]
    if not leaked:
        return None
    expected = _determine_setup(positional=positional, inifile=inifile,
                                override_ini=override_ini, rootdir_arg=rootdir_arg,
                                invocation_dir=invocation_dir)
    if expected is not None and expected == (rootpath, inipath):
        return None
    fixed = " ".join(f"{opt}={value}" for opt, value in leaked)
    given = " ".join(f"{opt} {value}" for opt, value in leaked)
    right = f" instead of {expected[0]}" if expected is not None else ""
    ini = f" and its ini file {expected[1]} was ignored" if expected and expected[1] and \
        expected[1] != inipath else ""
    return (f"{given}: pytest took the option value for a test path when it chose its root "
            f"folder (it does so before plugins are loaded), so the root folder became "
            f"{rootpath}{right}{ini}, which changes every test id. Write the value with '=': "
            f"{fixed}")


def _determine_setup(*, positional: Sequence[str], inifile: str | None,
                     override_ini: Sequence[str] | None, rootdir_arg: str | None,
                     invocation_dir: Path) -> tuple[Path, Path | None] | None:
    """pytest's own choice of (rootdir, inifile) for these positional args; ``None`` when this
    pytest's function cannot be called (then any leaked existing path is reported)."""
    import inspect

    try:
        from _pytest.config.findpaths import determine_setup
    except ImportError:  # pragma: no cover - a pytest that moved it
        return None
    kwargs: dict[str, Any] = {"inifile": inifile, "override_ini": override_ini,
                                 "args": list(positional), "rootdir_cmd_arg": rootdir_arg,
                                 "invocation_dir": invocation_dir}
    params = inspect.signature(determine_setup).parameters
    try:
        result = determine_setup(**{k: v for k, v in kwargs.items() if k in params})
    except Exception:  # noqa: BLE001 - pytest reports its own errors later
        return None
    return Path(result[0]), (Path(result[1]) if result[1] is not None else None)
