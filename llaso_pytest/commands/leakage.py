"""``llaso leakage EVAL TRAIN``: which eval items overlap a training corpus.

Exit status: 0 the check ran (and, with ``--fail-on-leak``, nothing was flagged); 1 items were
flagged and ``--fail-on-leak`` was given; 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "find eval items whose text overlaps a training corpus (13-grams, containment)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("eval", metavar="EVAL", help="eval items: JSONL (objects) or text "
                        "(one item per line)")
    parser.add_argument("train", metavar="TRAIN", help="training corpus, same formats; read "
                        "once, streamed")
    parser.add_argument("--field", action="append", default=None, metavar="NAME",
                        help="JSONL text field(s) of the eval items, joined by a newline "
                        "(repeat; default text)")
    parser.add_argument("--train-field", action="append", default=None, metavar="NAME",
                        help="JSONL text field(s) of the training documents (default text)")
    parser.add_argument("--id-field", default="id", metavar="NAME",
                        help="JSONL id field of both files (default id)")
    parser.add_argument("--n", type=int, default=13, help="exact n-gram length (default 13)")
    parser.add_argument("--shingle", type=int, default=3,
                        help="word-shingle length of the containment check (default 3)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="containment threshold (default 0.5)")
    parser.add_argument("--near", choices=("index", "minhash", "none"), default="index",
                        help="containment candidates: exact inverted index (default), "
                        "datasketch MinHash LSH Ensemble, or none (n-grams only)")
    parser.add_argument("--json", metavar="FILE", default=None,
                        help="write the result with its evidence as JSON (atomically)")
    parser.add_argument("--fail-on-leak", action="store_true",
                        help="exit 1 when any item is flagged")


def run(args: argparse.Namespace) -> int:
    from llaso_pytest.documents import DocumentError, iter_documents, read_documents
    from llaso_pytest.metrics.leakage import LeakageError, leakage
    from llaso_pytest.record import atomic_write_text

    try:
        ids, texts = read_documents(args.eval, fields=args.field or ["text"],
                                    id_field=args.id_field)
        train = iter_documents(args.train, fields=args.train_field or ["text"],
                               id_field=args.id_field)
        result = leakage(texts, train, ids=ids, n=args.n, shingle=args.shingle,
                         threshold=args.threshold,
                         near=None if args.near == "none" else args.near)
    except (DocumentError, LeakageError) as exc:
        print(f"llaso leakage: error: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    for item in result.flagged:
        ev = result.evidence[item][0]
        more = result.matches[item] - 1
        print(f"  {item}: {ev.kind} in training document {ev.train_id!r}"
              f"{f' (and {more} more)' if more else ''}: {ev.spans[0][:80]!r}")
    if args.json:
        try:
            atomic_write_text(args.json, json.dumps(result.to_dict(), indent=1,
                                                    ensure_ascii=False) + "\n")
        except OSError as exc:
            print(f"llaso leakage: error: cannot write {args.json}: {exc}", file=sys.stderr)
            return 2
    return 1 if args.fail_on_leak and result.flagged else 0
