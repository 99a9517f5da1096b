"""Judge calibration against human labels: accuracy and Cohen's kappa, and the label round trip.

A team exports the judged items for human rating (CSV or JSONL with an empty ``label``
column), fills the labels in, and imports them back; :func:`agreement` then reports how often
the judge and the humans agree (accuracy), agreement beyond chance (Cohen's kappa), a weighted
kappa for ordinal rubric scores, and the confusion matrix. Import is strict: every problem
names the file and the row.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from llaso_pytest.errors import LlasoError
from llaso_pytest.record import atomic_write_text

__all__ = [
    "calibration_signature",
    "labels_sha256",
    "Agreement",
    "LabelError",
    "agreement",
    "cohen_kappa",
    "csv_rows",
    "export_for_rating",
    "load_human_labels",
    "rating_items",
]

Weights = Literal["linear", "quadratic"] | None


class LabelError(LlasoError, ValueError):
    """A human-label file is malformed; the message names the file and the row."""


def _confusion(a: Sequence[str], b: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    index = {lab: i for i, lab in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for x, y in zip(a, b, strict=True):
        m[index[x]][index[y]] += 1
    return m


def cohen_kappa(a: Sequence[str], b: Sequence[str], *, labels: Sequence[str] | None = None,
                weights: Weights = None) -> float:
    """Cohen's kappa of two raters over the same items (optionally linear/quadratic weighted).

    ``labels`` fixes the category order (needed for weights: ordinal position). NaN when the
    expected disagreement is 0 (both raters used one and the same category), as in scikit-learn.
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: {len(a)} labels from rater A but {len(b)} from rater B")
    if not a:
        raise ValueError("cohen_kappa: no items")
    labs = list(labels) if labels is not None else sorted(set(a) | set(b))
    unknown = sorted((set(a) | set(b)) - set(labs))
    if unknown:
        raise ValueError(f"cohen_kappa: labels {unknown} are not in labels={labs}")
    k = len(labs)
    m = _confusion(a, b, labs)
    n = float(len(a))
    rows = [sum(r) for r in m]
    cols = [sum(m[i][j] for i in range(k)) for j in range(k)]
    if weights is None:
        w = [[0.0 if i == j else 1.0 for j in range(k)] for i in range(k)]
    elif weights == "linear":
        w = [[float(abs(i - j)) for j in range(k)] for i in range(k)]
    elif weights == "quadratic":
        w = [[float((i - j) ** 2) for j in range(k)] for i in range(k)]
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    observed = sum(w[i][j] * m[i][j] for i in range(k) for j in range(k)) / n
    expected = sum(w[i][j] * rows[i] * cols[j] for i in range(k) for j in range(k)) / (n * n)
    if expected == 0:
        return math.nan
    return 1.0 - observed / expected


@dataclass(frozen=True)
class Agreement:
    """Judge-vs-human agreement over the items both labelled."""

    n: int
    accuracy: float
    kappa: float
    weighted_kappa: float | None  # quadratic, for ordinal (rubric) labels
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: human, columns: judge
    unlabelled: tuple[str, ...]  # judged items without a human label
    judge_errors: tuple[str, ...]  # human-labelled items the judge could not judge

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "kappa": None if math.isnan(self.kappa) else self.kappa,
            "weighted_kappa": None
            if self.weighted_kappa is None or math.isnan(self.weighted_kappa)
            else self.weighted_kappa,
            "labels": list(self.labels),
            "confusion_human_by_judge": [list(r) for r in self.confusion],
            "unlabelled": len(self.unlabelled),
            "judge_errors": list(self.judge_errors),
        }


def _judge_labels(judge: Any) -> tuple[dict[str, str], list[str], tuple[str, ...] | None]:
    """(labels of ok items, ids in error, the judge's label set) from a JudgeResult or a mapping.

    The label set is that of the judge's kind: the rubric scale (ordinal), ``pass``/``fail``, or
    the pairwise outcomes; human labels outside it (``Pass``, ``FAIL``) are an error, not a
    category of their own.
    """
    if isinstance(judge, Mapping):
        return {str(k): str(v) for k, v in judge.items()}, [], None
    labels: dict[str, str] = {}
    errors: list[str] = []
    for v in judge.verdicts:
        if not v.ok:
            errors.append(v.id)
        elif judge.kind == "rubric":
            value = float(v.value)
            if not value.is_integer():
                raise ValueError(
                    f"item {v.id!r}: judge score {value} is not an integer (k > 1 with mean); "
                    "calibrate with aggregate='majority' or k=1"
                )
            labels[v.id] = str(int(value))
        else:
            labels[v.id] = str(v.label)
    if judge.kind == "rubric":
        scale = judge.prompt.get("scale")
        return labels, errors, tuple(str(s) for s in range(int(scale[0]), int(scale[1]) + 1))
    if judge.kind == "binary":
        return labels, errors, ("pass", "fail")
    # pairwise: the two systems, a tie, or the two orders disagreeing
    return labels, errors, (*map(str, judge.labels), "tie", "inconsistent")


def agreement(
    judge: Any, human: Mapping[str, str], *, labels: Sequence[str] | None = None
) -> Agreement:
    """Agreement between a judge (a ``JudgeResult`` or ``{id: label}``) and human labels.

    Human ids the judge never saw are an error (a label file for another set); judged items
    without a human label are counted as ``unlabelled``; items the judge failed on are listed.
    """
    jl, judge_err, order = _judge_labels(judge)
    known = set(jl) | set(judge_err)
    stray = sorted(set(human) - known)
    if stray:
        raise LabelError(f"{len(stray)} human-labelled ids were not judged: {stray[:10]} "
                         "(is the label file for this item set?)")
    ids = [i for i in jl if i in human]
    if not ids:
        raise LabelError("no item has both a judge verdict and a human label")
    h = [str(human[i]) for i in ids]
    j = [jl[i] for i in ids]
    labs = (
        list(labels) if labels is not None else (list(order) if order else sorted(set(h) | set(j)))
    )
    ordinal = order is not None and judge.kind == "rubric"
    unknown = sorted((set(h) | set(j)) - set(labs))
    if unknown:
        bad = [f"{i!r}: {human[i]!r}" for i in ids if str(human[i]) in unknown][:10]
        raise LabelError(
            f"labels {unknown} are outside the label set {labs} (labels are case-sensitive); "
            f"human labels: {', '.join(bad) or 'none'}"
        )
    acc = sum(x == y for x, y in zip(h, j, strict=True)) / len(ids)
    kappa = cohen_kappa(h, j, labels=labs)
    wk = cohen_kappa(h, j, labels=labs, weights="quadratic") if ordinal else None
    conf = _confusion(h, j, labs)
    return Agreement(
        n=len(ids), accuracy=acc, kappa=kappa, weighted_kappa=wk, labels=tuple(labs),
        confusion=tuple(tuple(r) for r in conf),
        unlabelled=tuple(i for i in jl if i not in human),
        judge_errors=tuple(i for i in judge_err if i in human),
    )


def export_for_rating(path: str | Path, items: Mapping[str, Mapping[str, str]], *,
                      instructions: str | None = None) -> Path:
    """Write items for human rating: ``id``, the item's fields, an empty ``label`` (CSV or
    JSONL by suffix)."""
    p = Path(path)
    if not items:
        raise ValueError("export_for_rating: no items")
    fields: list[str] = []
    for fvals in items.values():
        for k in fvals:
            if k not in fields and k not in ("id", "label"):
                fields.append(k)
    if p.suffix == ".csv":
        def write(f: Any) -> None:
            w = csv.writer(f)
            w.writerow(["id", *fields, "label"])
            for item_id, fvals in items.items():
                w.writerow([item_id, *[fvals.get(k, "") for k in fields], ""])
    elif p.suffix == ".jsonl":
        def write(f: Any) -> None:
            for item_id, fvals in items.items():
                row = {"id": item_id, **{k: fvals.get(k, "") for k in fields}, "label": None}
                if instructions:
                    row["instructions"] = instructions
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"export_for_rating: {p} must end in .csv or .jsonl")
    buf = io.StringIO(newline="")
    write(buf)
    atomic_write_text(p, buf.getvalue())
    return p


def csv_rows(path: Path, required: Sequence[str], error: Callable[[str], Exception]
             ) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a CSV file whose header must hold the ``required`` columns
    (else ``error("<file>: header ... has no 'x' column")``)."""
    out: list[tuple[int, dict[str, Any]]] = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        for col in required:
            if col not in header:
                raise error(f"{path}: header {header} has no {col!r} column")
        for row in reader:
            out.append((reader.line_num, row))
    return out


def load_human_labels(path: str | Path, *, allowed: Sequence[str] | None = None) -> dict[str, str]:
    """Read ``{id: label}`` from a rated CSV/JSONL; rows with problems are errors naming the row."""
    p = Path(path)
    if not p.is_file():
        raise LabelError(f"{p}: label file not found")
    rows: list[tuple[int, Mapping[str, Any]]] = []
    if p.suffix == ".csv":
        rows.extend(csv_rows(p, ("id", "label"), LabelError))
        where = "row"
    elif p.suffix == ".jsonl":
        from llaso_pytest.llm.predictions import jsonl_objects

        rows.extend(jsonl_objects(p, lambda msg: LabelError(f"{p}: {msg}")))
        where = "line"
    else:
        raise LabelError(f"{p}: label files must end in .csv or .jsonl")
    allowed_set = None if allowed is None else {str(a) for a in allowed}
    out: dict[str, str] = {}
    first: dict[str, int] = {}
    for lineno, row in rows:
        item_id = row.get("id")
        if not isinstance(item_id, str) or not item_id.strip():
            raise LabelError(f"{p}: {where} {lineno}: empty or missing 'id'")
        item_id = item_id.strip()
        raw = row.get("label")
        if isinstance(raw, bool):
            raise LabelError(
                f"{p}: {where} {lineno} (id {item_id!r}): label must be text or a number, "
                f"got {raw!r}"
            )
        label = (
            ""
            if raw is None
            else (
                str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)
            ).strip()
        )
        if not label:
            raise LabelError(
                f"{p}: {where} {lineno} (id {item_id!r}): empty label; rate the item or delete "
                f"the {where}"
            )
        if allowed_set is not None and label not in allowed_set:
            raise LabelError(
                f"{p}: {where} {lineno} (id {item_id!r}): label {label!r} is not one of "
                f"{sorted(allowed_set)}"
            )
        if item_id in first:
            raise LabelError(
                f"{p}: {where} {lineno}: duplicate id {item_id!r} "
                f"(first at {where} {first[item_id]})"
            )
        first[item_id] = lineno
        out[item_id] = label
    if not out:
        raise LabelError(f"{p}: no labelled rows")
    return out


def labels_sha256(labels: Mapping[str, str]) -> str:
    """sha256 of the labels as canonical JSON (sorted ids): relabelling any item changes it,
    reordering the file or its line endings does not."""
    import hashlib
    import json

    blob = json.dumps(dict(sorted(labels.items())), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def calibration_signature(judge: Any, human: Mapping[str, str], *, predictions_sha256: str,
                          data_sha256: str) -> dict[str, Any]:
    """Signature fields for a judge-vs-human metric: the judge's own fields (model served,
    prompt, decoding) and the hashes of the human labels, the rated predictions and the data.

    Without them, relabelling the items or judging other predictions would compare as
    "unchanged"; with them the comparer reports the metric ``incomparable``, naming the field.
    """
    fields = {f"judge_{k}" if not k.startswith("judge") else k: v
              for k, v in judge.signature_fields().items()}
    return {**fields, "labels_sha256": labels_sha256(human)[:12], "labels_n": len(human),
            "predictions_sha256": predictions_sha256[:12], "data_sha256": data_sha256[:12]}


def rating_items(manifest: str | Path, system: str) -> tuple[str, dict[str, dict[str, str]]]:
    """``(dataset name, {id: fields})``: a pinned dataset's rows with one system's
    prediction, the fields a rater sees (lists joined with ``" | "``)."""
    from llaso_pytest.llm.predictions import load_dataset, load_manifest, load_predictions

    m = load_manifest(manifest)
    ds = load_dataset(m)
    preds = load_predictions(m, system, ids=ds.ids)
    items = {}
    for row in ds.rows:
        fields = {k: (" | ".join(v) if isinstance(v, list) else str(v))
                  for k, v in row.items() if k != "id"}
        fields["prediction"] = preds.by_id[str(row["id"])]
        items[str(row["id"])] = fields
    return ds.name, items


def main(argv: Sequence[str] | None = None) -> int:
    """``export`` pinned predictions for human rating, or ``check`` a rated file."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m llaso_pytest.llm.calibration",
                                 description="Export items for human rating; validate rated files.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser(
        "export", help="write a dataset's items and a system's predictions for rating"
    )
    ex.add_argument("manifest", help="fixtures/llm/<set> or its manifest.json")
    ex.add_argument("--system", required=True, help="which pinned predictions to rate")
    ex.add_argument("--out", required=True, help="output file, .csv or .jsonl")
    ex.add_argument(
        "--instructions", default=None, help="rating instructions (JSONL rows carry them)"
    )
    ck = sub.add_parser("check", help="validate a rated file and print its label counts")
    ck.add_argument("labels", help="rated .csv or .jsonl")
    ck.add_argument(
        "--allowed",
        default=None,
        help="comma-separated allowed labels, e.g. pass,fail or 1,2,3,4,5",
    )
    args = ap.parse_args(argv)
    try:
        if args.cmd == "export":
            name, items = rating_items(args.manifest, args.system)
            path = export_for_rating(args.out, items, instructions=args.instructions)
            print(f"wrote {len(items)} items of {name}/{args.system} for rating to {path}")
        else:
            allowed = (
                None
                if args.allowed is None
                else [a.strip() for a in args.allowed.split(",") if a.strip()]
            )
            labels = load_human_labels(args.labels, allowed=allowed)
            counts: dict[str, int] = {}
            for lab in labels.values():
                counts[lab] = counts.get(lab, 0) + 1
            print(f"{args.labels}: {len(labels)} labelled items; " +
                  ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    except (LabelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
