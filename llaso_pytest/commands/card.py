"""``llaso card model RECORD`` / ``llaso card data DATASET``: write or check model and data
cards (Hugging Face format).

    llaso card model run.json --model model-a -o MODEL_CARD.md
    llaso card data fixtures/llm/qa -o fixtures/llm/qa/DATACARD.md
    llaso card data fixtures/llm/qa -o fixtures/llm/qa/DATACARD.md --check [--record run.json]

Written sections of an existing card are kept when it is regenerated. Exit status of
``--check``: 0 the card is complete and current; 1 it is missing, has an unfilled required
section or is stale (each problem named on stderr); 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys

HELP = "write or check a model card (from a run record) or a data card (from a dataset)"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="card", metavar="KIND", required=True)
    m = sub.add_parser("model", help="a model card from a run record")
    m.add_argument("record", metavar="RECORD", help="run record file")
    m.add_argument("--model", default=None, help="the model (signature field system/model) "
                   "when the record has several")
    d = sub.add_parser("data", help="a dataset card with the difficulty profile")
    d.add_argument("dataset", metavar="DATASET", help="fixtures/llm/<set> (or its "
                   "manifest.json), or a speech dataset manifest")
    d.add_argument("--record", default=None, metavar="RECORD", help="with --check: compare "
                   "against the dataset hash in this run record instead of the manifest's")
    d.add_argument("--no-plots", action="store_true", help="tables only, no PNG/SVG")
    for p in (m, d):
        p.add_argument("--out", "-o", default=None, metavar="FILE",
                       help="the card (default: stdout; required with --check)")
        p.add_argument("--check", action="store_true",
                       help="check the card at --out instead of writing it")


def run(args: argparse.Namespace) -> int:
    from llaso_pytest.cards.sections import CardError, check_card
    from llaso_pytest.errors import LlasoError
    from llaso_pytest.record import atomic_write_text

    prog = f"llaso card {args.card}"
    try:
        if args.check:
            if not args.out:
                print(f"{prog}: error: --check needs --out FILE (the card)", file=sys.stderr)
                return 2
            problems = check_card(args.out, kind=args.card, required=_required(args.card),
                                  expected=_expected(args))
            for problem in problems:
                print(f"{prog}: {problem}", file=sys.stderr)
            if not problems:
                print(f"{args.out}: complete and current")
            return 1 if problems else 0
        if args.card == "model":
            from llaso_pytest.cards.model import model_card

            text = model_card(args.record, model=args.model, out=args.out)
        else:
            from llaso_pytest.cards.data import data_card

            text = data_card(args.dataset, out=args.out, plots=not args.no_plots)
    except (CardError, LlasoError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _required(kind: str) -> tuple[str, ...]:
    if kind == "model":
        from llaso_pytest.cards.model import MODEL_REQUIRED

        return MODEL_REQUIRED
    from llaso_pytest.cards.data import DATA_REQUIRED

    return DATA_REQUIRED


def _expected(args: argparse.Namespace) -> dict[tuple[str, ...], object]:
    if args.card == "model":
        from llaso_pytest.cards.model import model_card_expected

        return model_card_expected(args.record, model=args.model)
    from llaso_pytest.cards.data import data_card_expected
    from llaso_pytest.cards.profile import read_dataset

    if args.record is None:
        return data_card_expected(args.dataset)
    from llaso_pytest.record import read_record

    record = read_record(args.record)
    return data_card_expected(record_datasets=record.provenance.get("datasets") or {},
                              name=read_dataset(args.dataset).name)
