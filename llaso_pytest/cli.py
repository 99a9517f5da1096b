"""The ``llaso`` command: compare run records offline, manage saved baselines, post PR comments.

    llaso compare BASE HEAD [--format text|md|json|html] [--output FILE]...
                  [--fail-on-regression] [--tolerance wer:+0.5pp] [--n-boot N] [--seed N]
    llaso baseline save NAME RECORD | llaso baseline list
    llaso comment --repo OWNER/NAME --pr N --body-file comment.md     (see llaso_pytest.github)

``BASE`` and ``HEAD`` are run record files or names of baselines saved in the store
(``--store``, default ``.llaso``). Exit status of ``compare``: 0 nothing regressed (or gating
off), 1 a significant regression with ``--fail-on-regression``, 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["EXIT_INPUT", "EXIT_OK", "EXIT_REGRESSION", "build_parser", "main"]

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_INPUT = 2
_SUFFIX_FORMAT = {".txt": "text", ".md": "md", ".markdown": "md", ".json": "json",
                  ".html": "html", ".htm": "html"}


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 100:
        raise argparse.ArgumentTypeError(f"{value}: use at least 100 resamples")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer seed") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: a seed is a non-negative integer")
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.5 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value}: expected a level in [0.5, 1), e.g. 0.95")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llaso", description="llaso-pytest: compare evaluation runs with paired statistics")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cmp_ = sub.add_parser(
        "compare", help="compare a run record (HEAD) with a baseline (BASE)",
        description="Compare HEAD with BASE metric by metric (paired bootstrap where both runs "
        "have per-item statistics). Exit 0: no regression; 1: significant regression with "
        "--fail-on-regression; 2: unusable input.")
    cmp_.add_argument("base", metavar="BASE", help="baseline run record file or saved name")
    cmp_.add_argument("head", metavar="HEAD", help="run record file (or saved name) to judge")
    cmp_.add_argument("--format", choices=("text", "md", "json", "html"), default=None,
                      help="report format (default: from the --output suffix, else text)")
    cmp_.add_argument("--output", "-o", action="append", default=[], metavar="FILE",
                      help="write the report here (atomically); repeat for several formats, "
                      "each chosen by suffix (.md .json .html .txt)")
    cmp_.add_argument("--fail-on-regression", action="store_true",
                      help="exit 1 when any metric regressed significantly")
    cmp_.add_argument("--tolerance", action="append", default=[], metavar="SPEC",
                      help="allowed worsening, e.g. 'wer:+0.5pp', 'bleu:-1.0', 'rouge*:2%%' "
                      "(repeat or comma-separate)")
    cmp_.add_argument("--n-boot", type=_positive, default=None, metavar="N",
                      help="paired bootstrap resamples (default 10000)")
    cmp_.add_argument("--seed", type=_seed, default=None,
                      help="bootstrap seed (default 0, the seed the pytest plugin's comparison "
                      "uses too, so both give the same verdicts)")
    cmp_.add_argument("--confidence", type=_confidence, default=None,
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

    sub.add_parser("comment", add_help=False,
                   help="create or update the sticky PR comment (see --help of it)")
    return parser


def _compare(args: argparse.Namespace) -> int:
    from llaso_pytest import compare as cmp
    from llaso_pytest.provenance import redact_text
    from llaso_pytest.record import RecordError, atomic_write_text
    from llaso_pytest.report import render
    from llaso_pytest.store import BaselineError, resolve_baseline

    try:
        tolerances = cmp.parse_tolerances(args.tolerance)
        outputs: list[tuple[Path, str]] = []
        for out in args.output:
            path = Path(out)
            fmt = _SUFFIX_FORMAT.get(path.suffix.lower()) if len(args.output) > 1 or \
                args.format is None else args.format
            if fmt is None:
                fmt = args.format or "text"
            outputs.append((path, fmt))
        base_path = resolve_baseline(args.base, args.store)
        head_path = resolve_baseline(args.head, args.store)
        comparison = cmp.compare_records(
            cmp.load_record(base_path), cmp.load_record(head_path), tolerances=tolerances,
            n_boot=args.n_boot or cmp.DEFAULT_N_BOOT,
            seed=cmp.DEFAULT_SEED if args.seed is None else args.seed,
            confidence=args.confidence or cmp.DEFAULT_CONFIDENCE,
            base_source=str(base_path), head_source=str(head_path))
    except (RecordError, BaselineError, ValueError) as exc:
        print(f"llaso compare: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    for path, fmt in outputs:
        if fmt == "md":
            from llaso_pytest.report import markdown

            text = redact_text(markdown.render(comparison, details_url=args.details_url))
        else:
            text = render(comparison, fmt)
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            print(f"llaso compare: error: cannot write {path}: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_INPUT
    if not outputs:
        fmt = args.format or "text"
        if fmt == "md":
            from llaso_pytest.report import markdown

            sys.stdout.write(redact_text(markdown.render(comparison, details_url=args.details_url)))
        else:
            sys.stdout.write(render(comparison, fmt))
    elif not args.quiet:
        sys.stdout.write(render(comparison, "text"))
    if comparison.has_regression and args.fail_on_regression:
        names = ", ".join(m.key for m in comparison.regressions)
        print(f"llaso compare: significant regression: {names}", file=sys.stderr)
        return EXIT_REGRESSION
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
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_INPUT  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
