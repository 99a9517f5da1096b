"""``llaso human export|agree``: items out for rating (CSV, JSONL, Label Studio), ratings of
several raters in, agreement (Krippendorff's alpha) and per-rater statistics out.

    llaso human export fixtures/llm/qa --system model-b --scale pass,fail -o tasks.json
    llaso human agree ann.csv bob.csv ls-export.json --scale pass,fail [--json out.json]

Exit status: 0 done, 2 unusable input (the message names the file and row).
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "export items for human rating; agreement of several raters (Krippendorff's alpha)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ex = sub.add_parser("export", help="write a pinned dataset's items and a system's "
                        "predictions for rating (.csv, .jsonl, or .json for Label Studio)")
    ex.add_argument("manifest", metavar="MANIFEST", help="fixtures/llm/<set> or its manifest")
    ex.add_argument("--system", required=True, help="which pinned predictions to rate")
    ex.add_argument("--scale", required=True, metavar="SPEC",
                    help="'pass,fail' (choices, first counts as a pass), 'ordinal:bad,ok,good' "
                    "or '1-5' (a star rating)")
    ex.add_argument("--out", "-o", required=True, metavar="FILE")
    ex.add_argument("--instructions", default="", help="shown to the raters")
    ag = sub.add_parser("agree", help="agreement of the raters in ratings files")
    ag.add_argument("ratings", nargs="+", metavar="RATINGS",
                    help=".csv/.jsonl (id, rater, rating) or a Label Studio JSON export")
    ag.add_argument("--scale", required=True, metavar="SPEC", help="as for export")
    ag.add_argument("--n-boot", type=int, default=1000)
    ag.add_argument("--seed", type=int, default=0)
    ag.add_argument("--json", default=None, metavar="FILE",
                    help="write alpha, per-rater statistics and the ratings' provenance")


def run(args: argparse.Namespace) -> int:
    from llaso_pytest.errors import LlasoError
    from llaso_pytest.human import Scale, export_for_rating, load_ratings
    from llaso_pytest.record import atomic_write_text

    try:
        scale = Scale.parse(args.scale)
        if args.action == "export":
            from llaso_pytest.llm.calibration import rating_items

            name, items = rating_items(args.manifest, args.system)
            path = export_for_rating(args.out, items, scale=scale,
                                     instructions=args.instructions)
            extra = f" (labeling config {path.with_suffix('.config.xml')})" \
                if path.suffix == ".json" else ""
            print(f"wrote {len(items)} items of {name}/{args.system} for rating to {path}{extra}")
            return 0
        ratings = load_ratings(args.ratings, scale=scale)
        agree = ratings.agreement(n_boot=args.n_boot, seed=args.seed)
    except (LlasoError, OSError) as exc:
        print(f"llaso human {args.action}: error: {exc}", file=sys.stderr)
        return 2
    ci = "" if agree.ci is None else f" [{agree.ci[0]:.3f}, {agree.ci[1]:.3f}]"
    print(f"Krippendorff's alpha ({agree.level}) = {agree.alpha:.3f}{ci}: "
          f"{len(ratings.raters)} raters, {agree.n_ratings} ratings of {agree.n_items} items "
          f"({agree.n_pairable} rated twice or more); ratings sha256 {ratings.sha256[:12]}")
    print(f"{'rater':<24} {'rated':>5} {'agree':>6} {'|diff|':>6} {'alpha w/o':>9}")
    for r in agree.raters:
        def f(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"
        print(f"{r.rater[:24]:<24} {r.n_rated:>5} {f(r.agreement_with_others):>6} "
              f"{f(r.mean_abs_diff):>6} {f(r.alpha_without):>9}")
    if args.json:
        atomic_write_text(args.json, json.dumps(
            {"kind": "llaso-human-agreement", **agree.to_dict(),
             "ratings": ratings.provenance()}, indent=1, ensure_ascii=False) + "\n")
    return 0
