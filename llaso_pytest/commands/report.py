"""``llaso report RECORD -o report.html``: a run's slices (forest plots with intervals),
ASR confusion pairs, judge-versus-human confusion matrices and the difficulty profile of
the datasets (``--data``), as self-contained HTML or a Markdown summary within GitHub's
comment size limit (by the output's suffix: ``.html`` or ``.md``).

Exit status: 0 written; 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys

HELP = "a run's transparency report: slice forest plots, confusions, judge vs human, data"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", metavar="RECORD", help="run record file (or saved name)")
    parser.add_argument("--out", "-o", action="append", required=True, metavar="FILE",
                        help="report file, .html or .md (repeat for both)")
    parser.add_argument("--data", action="append", default=[], metavar="DATASET",
                        help="dataset(s) whose difficulty profile to show")
    parser.add_argument("--min-n", type=int, default=None,
                        help="slices with fewer items are shown as too small (default 5)")
    parser.add_argument("--details-url", default=None, metavar="URL",
                        help="link to the HTML report from the Markdown one")
    parser.add_argument("--store", default=".llaso", metavar="DIR")


def run(args: argparse.Namespace) -> int:
    from llaso_pytest.cards.profile import read_dataset
    from llaso_pytest.errors import LlasoError
    from llaso_pytest.record import atomic_write_text, read_record
    from llaso_pytest.report.transparency import render_html, render_markdown
    from llaso_pytest.run_views import run_views
    from llaso_pytest.store import resolve_baseline

    renderers = {".html": lambda v: render_html(v),
                 ".md": lambda v: render_markdown(v, details_url=args.details_url)}
    try:
        bad = [o for o in args.out if not any(o.endswith(s) for s in renderers)]
        if bad:
            raise LlasoError(f"{bad[0]}: report files end in {', '.join(renderers)}")
        path = resolve_baseline(args.record, args.store)
        views = run_views(read_record(path), source=str(path),
                          datasets=[read_dataset(d) for d in args.data], min_n=args.min_n)
        for out in args.out:
            suffix = next(s for s in renderers if out.endswith(s))
            atomic_write_text(out, renderers[suffix](views))
    except (LlasoError, OSError) as exc:
        print(f"llaso report: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(args.out)}: {len(views.slices)} slice families, "
          f"{len(views.confusions)} confusion lists, {len(views.judge)} judge matrices, "
          f"{len(views.profiles)} dataset profiles")
    return 0
