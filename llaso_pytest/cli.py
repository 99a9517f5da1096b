"""The ``llaso`` command: compare run records offline, manage saved baselines, post PR comments.

    llaso compare BASE HEAD [--format text|md|json|html] [--output FILE]...
                  [--fail-on-regression] [--fail-on-untested 'wer*'] [--correction bh|holm|none]
                  [--tolerance wer:+0.5pp] [--n-boot N] [--seed N]
    llaso baseline save NAME RECORD | llaso baseline list
    llaso export mlflow RECORD --tracking-uri URI [--experiment NAME] [--baseline BASE]
    llaso export wandb RECORD --dir DIR [--project NAME] [--baseline BASE]
    llaso merge SHARD.json... -o RECORD.json      (the records of `pytest --llaso-shard K/N`)
    llaso comment --repo OWNER/NAME --pr N --body-file comment.md     (see llaso_pytest.github)

``BASE`` and ``HEAD`` are run record files or names of baselines saved in the store
(``--store``, default ``.llaso``). Exit status of ``compare`` (docs/exit-codes.md): 0 the
gate passes (or gating off), 1 a significant regression (or a metric that could not be tested
and is named by ``--fail-on-untested``) with ``--fail-on-regression``, 2 unusable input, 6 a
vacuous comparison with ``--fail-on-regression``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llaso_pytest import options
from llaso_pytest.report import FORMAT_TABLE, FORMATS, suffixes_help

__all__ = ["EXIT_INPUT", "EXIT_OK", "EXIT_REGRESSION", "EXIT_VACUOUS", "build_parser", "main"]

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_INPUT = 2
#: A vacuous comparison under ``--fail-on-regression`` (nothing in common, an empty or subset
#: head run, another suite): ``gate.exit_code`` of the compare package; see docs/exit-codes.md.
EXIT_VACUOUS = 6  # == llaso_pytest.compare.EXIT_CODES["vacuous"] (checked by a test)

#: Subcommands defined in their own modules (see llaso_pytest/commands/__init__.py):
#: name -> module with ``HELP``, ``configure(parser)`` and ``run(args) -> int``.
COMMANDS: dict[str, str] = {
    "leakage": "llaso_pytest.commands.leakage",
    "human": "llaso_pytest.commands.human",
    "card": "llaso_pytest.commands.card",
    "clusters": "llaso_pytest.commands.clusters",
    "report": "llaso_pytest.commands.report",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llaso", description="llaso-pytest: compare evaluation runs with paired statistics")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cmp_ = sub.add_parser(
        "compare", help="compare a run record (HEAD) with a baseline (BASE)",
        description="Compare HEAD with BASE metric by metric (paired bootstrap where both runs "
        "have per-item statistics). Exit 0: the gate passes (or gating is off); 1: a "
        "significant regression (or an untested metric named by --fail-on-untested) with "
        "--fail-on-regression; 2: unusable input; 6: a vacuous comparison with "
        "--fail-on-regression (docs/exit-codes.md).")
    cmp_.add_argument("base", metavar="BASE", help="baseline run record file or saved name")
    cmp_.add_argument("head", metavar="HEAD", help="run record file (or saved name) to judge")
    cmp_.add_argument("--format", choices=FORMATS, default=None,
                      help="report format on stdout: " + "; ".join(
                          f"{f.name}: {f.description}" for f in FORMAT_TABLE)
                      + " (default text)")
    cmp_.add_argument("--output", "-o", action="append", default=[], metavar="FILE",
                      help="write the report here (atomically), in the format its suffix names: "
                      f"{suffixes_help()}; repeat for several formats")
    cmp_.add_argument("--fail-on-regression", action="store_true",
                      help="gate: exit 1 when a metric regressed significantly, 6 when the "
                      "comparison is vacuous")
    cmp_.add_argument("--fail-on-untested", action="append", default=[], metavar="PATTERNS",
                      help="with --fail-on-regression, also exit 1 when one of these metrics "
                      "(globs, comma-separated; '*' for all) could not be tested")
    cmp_.add_argument("--correction", type=options.argparse_type(options.parse_correction),
                      default=options.DEFAULT_CORRECTION, metavar="METHOD",
                      help=f"multiple-comparison correction: {', '.join(options.CORRECTIONS)} "
                      f"(default {options.DEFAULT_CORRECTION}, as the pytest plugin)")
    cmp_.add_argument("--tolerance", action="append", default=[], metavar="SPEC",
                      help="allowed worsening, e.g. 'wer:+0.5pp', 'bleu:-1.0', 'rouge*:2%%' "
                      "(repeat or comma-separate)")
    cmp_.add_argument("--n-boot", type=options.argparse_type(options.parse_n_boot), default=None,
                      metavar="N",
                      help="paired bootstrap resamples (default 10000)")
    cmp_.add_argument("--seed", type=options.argparse_type(options.parse_seed), default=None,
                      help="bootstrap seed (default 0, the seed the pytest plugin's comparison "
                      "uses too, so both give the same verdicts)")
    cmp_.add_argument("--confidence", type=options.argparse_type(options.parse_confidence),
                      default=None,
                      help="confidence level of the difference interval (default 0.95)")
    cmp_.add_argument("--store", default=".llaso", metavar="DIR",
                      help="store folder for saved baselines (default .llaso)")
    cmp_.add_argument("--details-url", default=None, metavar="URL",
                      help="link to the full report, shown in the Markdown comment")
    cmp_.add_argument("--quiet", "-q", action="store_true",
                      help="print nothing on stdout when writing --output files")

    base = sub.add_parser("baseline", help="save or list named baselines in the store")
    bsub = base.add_subparsers(dest="action", metavar="ACTION", required=True)
    save = bsub.add_parser("save", help="save a run record as a named baseline")
    save.add_argument("name", metavar="NAME")
    save.add_argument("record", metavar="RECORD", help="run record file")
    save.add_argument("--store", default=".llaso", metavar="DIR")
    lst = bsub.add_parser("list", help="list saved baselines")
    lst.add_argument("--store", default=".llaso", metavar="DIR")

    _add_export(sub)
    merge = sub.add_parser(
        "merge", help="merge the records of N shards (--llaso-shard K/N) into one run record",
        description="Merge the run records of the N shards of one run (pytest --llaso-shard "
        "K/N) into the record the unsharded run would have written. Refused (exit 2, naming "
        "the files): shards of different commits, seeds, configurations or collections, an "
        "incomplete shard, a shard missing or given twice (docs/sharding.md).")
    merge.add_argument("shards", metavar="SHARD", nargs="+", help="shard run record files")
    merge.add_argument("--output", "-o", required=True, metavar="RECORD",
                       help="write the merged run record here (atomically)")

    sub.add_parser("comment", add_help=False,
                   help="create or update the sticky PR comment (see --help of it)")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        mod.configure(sub.add_parser(name, help=mod.HELP, description=mod.__doc__))
    return parser


def _compare(args: argparse.Namespace) -> int:
    from llaso_pytest import compare as cmp
    from llaso_pytest.record import RecordError, atomic_write_text, read_record
    from llaso_pytest.report import format_for_path, render
    from llaso_pytest.store import BaselineError, resolve_baseline

    def options_for(fmt: str) -> dict[str, object]:
        return {"details_url": args.details_url} if fmt == "md" else {}

    try:
        tolerances = cmp.parse_tolerances(args.tolerance)
        # One output: --format may name its format; several: each by its suffix. A suffix
        # no format claims (out.pdf) is refused, never written as text.
        outputs = [(Path(out), args.format if args.format and len(args.output) == 1
                    else format_for_path(out).name) for out in args.output]
        base_path = resolve_baseline(args.base, args.store)
        head_path = resolve_baseline(args.head, args.store)
        comparison = cmp.compare_records(
            read_record(base_path, arrays=True), read_record(head_path, arrays=True),
            tolerances=tolerances,
            n_boot=args.n_boot or cmp.DEFAULT_N_BOOT,
            seed=cmp.DEFAULT_SEED if args.seed is None else args.seed,
            confidence=args.confidence or cmp.DEFAULT_CONFIDENCE,
            base_source=str(base_path), head_source=str(head_path),
            correction=args.correction)
    except (RecordError, BaselineError, ValueError) as exc:
        print(f"llaso compare: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    for path, fmt in outputs:
        try:
            atomic_write_text(path, render(comparison, fmt, **options_for(fmt)))
        except OSError as exc:
            print(f"llaso compare: error: cannot write {path}: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_INPUT
    if not outputs:
        fmt = args.format or "text"
        sys.stdout.write(render(comparison, fmt, **options_for(fmt)))
    elif not args.quiet:
        sys.stdout.write(render(comparison, "text"))
    if not args.fail_on_regression:
        return EXIT_OK
    gate = comparison.gate(fail_on_untested=options.parse_patterns(args.fail_on_untested))
    if gate.failed:
        if gate.kind == "regressed":
            names = ", ".join(m.key for m in comparison.metrics if m.verdict == "regressed")
            print(f"llaso compare: significant regression: {names}", file=sys.stderr)
        for reason in gate.reasons:
            print(f"llaso compare: {reason}", file=sys.stderr)
        return gate.exit_code
    return EXIT_OK


def _add_export(sub: Any) -> None:
    from llaso_pytest.tracking import EXPORTERS

    exp = sub.add_parser("export", help="log a run record to an experiment tracker "
                         f"({', '.join(EXPORTERS)})")
    esub = exp.add_subparsers(dest="tracker", metavar="TRACKER", required=True)
    for e in EXPORTERS.values():
        p = esub.add_parser(e.name, help=e.target_help.replace("the session", "the record"))
        p.add_argument("record", metavar="RECORD", help="run record file or saved name")
        p.add_argument(e.cli_target, dest="target", required=True, metavar=e.target_metavar,
                       help=e.target_help)
        p.add_argument(f"--{e.group}", dest="group", default=e.default_group, metavar="NAME",
                       help=f"{e.group} (default {e.default_group!r})")
        p.add_argument("--baseline", default=None, metavar="BASE",
                       help="also log the comparison with this baseline (file or saved name)")
        p.add_argument("--again", action="store_true",
                       help="log a record that was already exported there a second time")
        p.add_argument("--store", default=".llaso", metavar="DIR")


def _export(args: argparse.Namespace) -> int:
    from llaso_pytest import compare as cmp
    from llaso_pytest.record import RecordError, read_record
    from llaso_pytest.store import BaselineError, resolve_baseline
    from llaso_pytest.tracking import EXPORTERS, TrackingError, exporter_module

    module = exporter_module(EXPORTERS[args.tracker])
    try:
        path = resolve_baseline(args.record, args.store)
        record = read_record(path)
        comparison = None
        if args.baseline is not None:
            base = resolve_baseline(args.baseline, args.store)
            comparison = cmp.compare_records(read_record(base), record, base_source=str(base),
                                             head_source=str(path))
        line = module.run_export(record, target=module.check_target(args.target),
                                 group=args.group, comparison=comparison, source=str(path),
                                 again=args.again)
    except (RecordError, BaselineError, TrackingError, ValueError) as exc:
        print(f"llaso export {args.tracker}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"llaso export {args.tracker}: logged {path} as {line}")
    return EXIT_OK


def _baseline(args: argparse.Namespace) -> int:
    from llaso_pytest.record import RecordError
    from llaso_pytest.store import BaselineError, list_baselines, save_baseline

    if args.action == "list":
        for name in list_baselines(args.store):
            print(name)
        return EXIT_OK
    try:
        path = save_baseline(args.record, args.name, store_dir=args.store)
    except (RecordError, BaselineError, OSError) as exc:
        print(f"llaso baseline save: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"saved {args.record} as baseline {args.name!r} ({path})")
    return EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    from llaso_pytest.merge import merge_records
    from llaso_pytest.record import RecordError, read_record, write_record
    from llaso_pytest.session import utc_now

    try:
        records = [(path, read_record(path)) for path in args.shards]
        now = utc_now()
        merged = merge_records(records, run_id="merged-" + now.replace("-", "").replace(
            ":", "").replace("+00:00", "Z"), now=now)
        write_record(merged, args.output)
    except RecordError as exc:
        print(f"llaso merge: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:
        print(f"llaso merge: error: cannot write {args.output}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_INPUT
    n = len(merged.tests)
    print(f"merged {len(records)} shards ({n} tests) into {args.output}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``llaso`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "comment":
        from llaso_pytest import github

        return github.main(argv[1:], prog="llaso comment")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "compare":
        return _compare(args)
    if args.command == "baseline":
        return _baseline(args)
    if args.command == "export":
        return _export(args)
    if args.command in COMMANDS:
        return int(importlib.import_module(COMMANDS[args.command]).run(args))
    if args.command == "merge":
        return _merge(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_INPUT  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
