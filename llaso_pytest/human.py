"""Human evaluation beside automatic scores: export items for rating, import several raters'
ratings, agreement (Krippendorff's alpha), ratings as metric results, judge versus humans.

Formats are one table (:data:`EXPORTERS`): CSV and JSONL (one row per item, an empty
``rating`` and ``rater`` to fill in) and Label Studio's import JSON (a list of tasks
``{"data": {...}}``; :func:`labeling_config` writes the matching labeling config). Import
reads CSV/JSONL rows ``id, rater, rating`` (a file without a ``rater`` column is one rater,
named by the file) and Label Studio's JSON export (each annotation's ``completed_by`` is the
rater); an empty rating is *missing*, never an error and never a zero. Every problem names
the file and the row.

The ratings' sha256 (canonical JSON of every rating, independent of file order) goes into
the signatures of the metrics built from them and into provenance.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

import numpy as np

from llaso_pytest.errors import LlasoError
from llaso_pytest.record import atomic_write_text

__all__ = [
    "EXPORTERS",
    "JudgeHumanAgreement",
    "RatingError",
    "Ratings",
    "Scale",
    "export_for_rating",
    "judge_vs_human",
    "labeling_config",
    "load_ratings",
]

#: The item field that carries our id inside a Label Studio task's ``data``.
LS_ID = "llaso_id"
#: The name of the rating control in the Label Studio config (``from_name`` of results).
LS_CONTROL = "rating"


class RatingError(LlasoError, ValueError):
    """A ratings file or rating scale is malformed; the message names the file and the row."""


@dataclass(frozen=True)
class Scale:
    """What a rater gives: one of ``labels`` (``kind="choices"``; ``ordered`` for an ordinal
    scale) or a star rating ``1..max_rating`` (``kind="rating"``)."""

    kind: Literal["choices", "rating"]
    labels: tuple[str, ...] = ()
    max_rating: int = 5
    ordered: bool = False
    positive: str | None = None  # choices: the label a rate counts (e.g. "pass")

    def __post_init__(self) -> None:
        if self.kind == "choices":
            if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
                raise RatingError(f"a choices scale needs two or more distinct labels, got "
                                  f"{list(self.labels)}")
            if self.positive is not None and self.positive not in self.labels:
                raise RatingError(f"positive={self.positive!r} is not one of {list(self.labels)}")
        elif self.kind == "rating":
            if isinstance(self.max_rating, bool) or not isinstance(self.max_rating, int) \
                    or self.max_rating < 2:
                raise RatingError(f"max_rating must be an int >= 2, got {self.max_rating!r}")
        else:
            raise RatingError(f"scale kind must be 'choices' or 'rating', got {self.kind!r}")

    @classmethod
    def parse(cls, spec: str) -> Scale:
        """``"pass,fail"`` (choices, first is positive), ``"1-5"`` (a rating), or
        ``"ordinal:bad,ok,good"`` (ordered choices)."""
        spec = spec.strip()
        if "-" in spec and spec.replace("-", "").isdigit():
            lo, hi = spec.split("-", 1)
            if lo != "1":
                raise RatingError(f"scale {spec!r}: ratings start at 1 (e.g. 1-5)")
            return cls("rating", max_rating=int(hi))
        ordered = spec.startswith("ordinal:")
        labels = tuple(x.strip() for x in spec.removeprefix("ordinal:").split(",") if x.strip())
        return cls("choices", labels=labels, ordered=ordered,
                   positive=None if ordered or not labels else labels[0])

    @property
    def level(self) -> str:
        """Krippendorff's level of measurement for this scale."""
        if self.kind == "rating":
            return "interval"
        return "ordinal" if self.ordered else "nominal"

    @property
    def domain(self) -> tuple[Any, ...]:
        return self.labels if self.kind == "choices" else tuple(range(1, self.max_rating + 1))

    def value(self, rating: Any) -> float:
        """The number a rating counts as in a metric: the rating itself, the label's rank
        (ordered), or 1/0 for the positive label."""
        if self.kind == "rating":
            return float(rating)
        if self.ordered:
            return float(self.labels.index(rating) + 1)
        if self.positive is None:
            raise RatingError("an unordered choices scale needs positive= to be scored")
        return 1.0 if rating == self.positive else 0.0

    def check(self, raw: Any, where: str) -> Any:
        """A rating as stored (label str or int), or ``None`` for missing; else an error."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if self.kind == "choices":
            label = str(raw).strip()
            if label not in self.labels:
                raise RatingError(f"{where}: rating {label!r} is not one of {list(self.labels)} "
                                  "(labels are case-sensitive)")
            return label
        if isinstance(raw, bool):
            raise RatingError(f"{where}: rating {raw!r} is not a number")
        try:
            num = float(raw)
        except (TypeError, ValueError):
            raise RatingError(f"{where}: rating {raw!r} is not a number 1-{self.max_rating}"
                              ) from None
        if not num.is_integer() or not 1 <= num <= self.max_rating:
            raise RatingError(f"{where}: rating {raw!r} is outside 1-{self.max_rating}")
        return int(num)


# ----------------------------------------------------------------------------------------
# export


def _fields_of(items: Mapping[str, Mapping[str, str]]) -> list[str]:
    if not items:
        raise RatingError("export_for_rating: no items")
    fields: list[str] = []
    for vals in items.values():
        for k in vals:
            if k in ("id", "rater", "rating", LS_ID):
                raise RatingError(f"export_for_rating: item field {k!r} is reserved; rename it")
            if k not in fields:
                fields.append(k)
    return fields


def _export_csv(items: Mapping[str, Mapping[str, str]], scale: Scale, instructions: str) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    fields = _fields_of(items)
    w.writerow(["id", *fields, "rater", "rating"])
    for item_id, vals in items.items():
        w.writerow([item_id, *[vals.get(k, "") for k in fields], "", ""])
    return buf.getvalue()


def _export_jsonl(items: Mapping[str, Mapping[str, str]], scale: Scale, instructions: str
                  ) -> str:
    fields = _fields_of(items)
    rows = []
    for item_id, vals in items.items():
        row: dict[str, Any] = {"id": item_id, **{k: vals.get(k, "") for k in fields},
                               "rater": None, "rating": None,
                               "scale": list(map(str, scale.domain))}
        if instructions:
            row["instructions"] = instructions
        rows.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(rows) + "\n"


def _export_labelstudio(items: Mapping[str, Mapping[str, str]], scale: Scale,
                        instructions: str) -> str:
    fields = _fields_of(items)
    tasks = [{"data": {LS_ID: item_id, **{k: vals.get(k, "") for k in fields}}}
             for item_id, vals in items.items()]
    return json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"


#: Export formats by suffix: (writer, description).
EXPORTERS: dict[str, tuple[Callable[[Mapping[str, Mapping[str, str]], Scale, str], str], str]] = {
    ".csv": (_export_csv, "one row per item, fill in rater and rating"),
    ".jsonl": (_export_jsonl, "one object per item, fill in rater and rating"),
    ".json": (_export_labelstudio, "Label Studio import JSON (tasks); pair with "
              "labeling_config()"),
}


def labeling_config(fields: Sequence[str], scale: Scale, *, instructions: str = "",
                    target: str | None = None) -> str:
    """The Label Studio labeling config (XML) for tasks written by the ``.json`` exporter:
    a ``Text`` per field and a required ``Choices`` or ``Rating`` control named ``rating``
    on ``target`` (default: the last field, e.g. the prediction)."""
    if not fields:
        raise RatingError("labeling_config: no fields to show")
    to = target or fields[-1]
    if to not in fields:
        raise RatingError(f"labeling_config: target {to!r} is not one of the fields {fields}")
    lines = ["<View>"]
    if instructions:
        lines.append(f"  <Header value={quoteattr(instructions)}/>")
    for f in fields:
        lines.append(f"  <Header value={quoteattr(f)} size=\"5\"/>")
        lines.append(f"  <Text name={quoteattr(f)} value={quoteattr('$' + f)}/>")
    if scale.kind == "choices":
        lines.append(f"  <Choices name=\"{LS_CONTROL}\" toName={quoteattr(to)} "
                     "choice=\"single\" required=\"true\">")
        lines += [f"    <Choice value={quoteattr(lab)}/>" for lab in scale.labels]
        lines.append("  </Choices>")
    else:
        lines.append(f"  <Rating name=\"{LS_CONTROL}\" toName={quoteattr(to)} "
                     f"maxRating=\"{scale.max_rating}\" required=\"true\"/>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def export_for_rating(path: str | Path, items: Mapping[str, Mapping[str, str]], *,
                      scale: Scale, instructions: str = "") -> Path:
    """Write ``items`` (id -> the fields a rater needs) for rating, in the format of the
    suffix (:data:`EXPORTERS`); a Label Studio export also writes ``<name>.config.xml``."""
    p = Path(path)
    entry = EXPORTERS.get(p.suffix.lower())
    if entry is None:
        raise RatingError(f"{p}: export formats are {', '.join(EXPORTERS)} "
                          f"({'; '.join(f'{k}: {v[1]}' for k, v in EXPORTERS.items())})")
    atomic_write_text(p, entry[0](items, scale, instructions))
    if p.suffix.lower() == ".json":
        atomic_write_text(p.with_suffix(".config.xml"),
                          labeling_config(_fields_of(items), scale, instructions=instructions))
    return p


# ----------------------------------------------------------------------------------------
# import


@dataclass(frozen=True)
class Ratings:
    """Ratings of items by raters: ``matrix[r][i]`` is rater ``r``'s rating of item ``i``
    (a label or an int, ``None`` missing)."""

    items: tuple[str, ...]
    raters: tuple[str, ...]
    matrix: tuple[tuple[Any, ...], ...]
    scale: Scale
    sources: tuple[Mapping[str, Any], ...] = ()
    n_cancelled: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_ratings(self) -> int:
        return sum(v is not None for row in self.matrix for v in row)

    @property
    def sha256(self) -> str:
        """sha256 of every (item, rater, rating) as canonical JSON: a changed rating changes
        it; file order and formatting do not."""
        triples = sorted((i, r, str(v)) for r, row in zip(self.raters, self.matrix, strict=True)
                         for i, v in zip(self.items, row, strict=True) if v is not None)
        blob = json.dumps(triples, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def array(self) -> np.ndarray:
        """Raters x items, NaN/None for missing (labels stay labels)."""
        return np.array([[np.nan if v is None else v for v in row] for row in self.matrix],
                        dtype=object)

    def agreement(self, *, n_boot: int = 1000, seed: int | None = 0) -> Any:
        """Krippendorff's alpha at the scale's level, with per-rater statistics."""
        from llaso_pytest.metrics.agreement import rater_agreement

        return rater_agreement(self.array(), raters=self.raters, level=self.scale.level,  # type: ignore[arg-type]
                               value_domain=self.scale.domain, n_boot=n_boot, seed=seed)

    def consensus(self) -> dict[str, Any]:
        """Per item with a rating: the majority label (ties: the first in scale order) for
        choices, the mean rating for a star scale."""
        out: dict[str, Any] = {}
        for i, item in enumerate(self.items):
            vals = [row[i] for row in self.matrix if row[i] is not None]
            if not vals:
                continue
            if self.scale.kind == "rating":
                out[item] = float(np.mean(vals))
            else:
                counts = {lab: vals.count(lab) for lab in self.scale.labels}
                out[item] = max(self.scale.labels, key=lambda lab: (counts[lab],
                                                                    -self.scale.labels.index(lab)))
        return out

    def provenance(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "items": len(self.items), "raters": list(self.raters),
                "ratings": self.n_ratings, "cancelled": self.n_cancelled,
                "scale": self.scale.kind, "domain": list(map(str, self.scale.domain)),
                "sources": [dict(s) for s in self.sources]}

    def as_metric(self, name: str = "human", *, confidence: float = 0.95, n_boot: int = 1000,
                  seed: int | None = 0) -> Any:
        """The ratings as a :class:`~llaso_pytest.metrics.base.MetricResult`: the mean of
        every rating's value (:meth:`Scale.value`), one row per (item, rater) rating; when
        raters repeat items the interval resamples *items* (clustered), so repeated ratings
        of one item are not counted as independent evidence."""
        from llaso_pytest.metrics.base import from_values

        ids, groups, values = [], [], []
        for r, row in zip(self.raters, self.matrix, strict=True):
            for item, v in zip(self.items, row, strict=True):
                if v is not None:
                    ids.append(f"{item}|{r}")
                    groups.append(item)
                    values.append(self.scale.value(v))
        if not values:
            raise RatingError("no ratings to score")
        repeated = len(set(groups)) < len(groups)
        return from_values(
            name, items=values, ids=ids, groups=groups if repeated else None,
            higher_is_better=True, confidence=confidence, n_boot=n_boot, seed=seed,
            signature_extra={"ratings_sha256": self.sha256[:12], "raters": len(self.raters),
                             "scale": ",".join(map(str, self.scale.domain)),
                             "scored": "value" if self.scale.kind == "rating" or
                             self.scale.ordered else f"rate:{self.scale.positive}"},
            extra={"ratings": self.provenance()})


def _rows(p: Path) -> list[tuple[str, Mapping[str, Any]]]:
    if p.suffix.lower() == ".csv":
        from llaso_pytest.llm.calibration import csv_rows

        return [(f"row {n}", row) for n, row in csv_rows(p, ("id", "rating"), RatingError)]
    from llaso_pytest.llm.predictions import jsonl_objects

    return [(f"line {n}", obj) for n, obj in
            jsonl_objects(p, lambda msg: RatingError(f"{p}: {msg}"))]


def _labelstudio_ratings(p: Path, scale: Scale) -> tuple[list[tuple[str, str, Any]], int]:
    from llaso_pytest.llm.predictions import strict_json

    try:
        tasks = strict_json(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RatingError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(tasks, list):
        raise RatingError(f"{p}: a Label Studio export is a JSON list of tasks, got "
                          f"{type(tasks).__name__}")
    out: list[tuple[str, str, Any]] = []
    cancelled = 0
    for t, task in enumerate(tasks):
        where = f"{p}: task {t}"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get(LS_ID), str):
            raise RatingError(f"{where}: no data.{LS_ID} (export tasks with "
                              "llaso human export, which carries the item id)")
        item = data[LS_ID]
        for a, ann in enumerate(task.get("annotations") or []):
            aw = f"{where} ({item!r}) annotation {a}"
            who = ann.get("completed_by")
            if isinstance(who, dict):
                who = who.get("email") or who.get("id")
            if who is None or who == "":
                raise RatingError(f"{aw}: no completed_by (the rater)")
            if ann.get("was_cancelled"):
                cancelled += 1
                continue
            values = [r.get("value", {}) for r in ann.get("result") or []
                      if isinstance(r, dict) and r.get("from_name") == LS_CONTROL]
            if len(values) > 1:
                raise RatingError(f"{aw}: {len(values)} results for {LS_CONTROL!r}; expected one")
            raw: Any = None
            if values:
                v = values[0]
                raw = (v.get("choices") or [None])[0] if scale.kind == "choices" \
                    else v.get("rating")
            out.append((item, str(who), scale.check(raw, aw)))
    return out, cancelled


def load_ratings(paths: Iterable[str | Path], *, scale: Scale,
                 items: Sequence[str] | None = None) -> Ratings:
    """Read ratings from CSV/JSONL files (``id``, ``rating``, optional ``rater``) and Label
    Studio JSON exports. ``items`` (the rated item set, e.g. from the export) keeps items
    nobody rated and refuses ids outside it; a rater rating an item twice is an error."""
    triples: list[tuple[str, str, Any, str]] = []
    sources: list[dict[str, Any]] = []
    cancelled = 0
    for path in paths:
        p = Path(path)
        if not p.is_file():
            raise RatingError(f"{p}: ratings file not found")
        from llaso_pytest.llm.predictions import sha256_file

        sources.append({"path": p.as_posix(), "sha256": sha256_file(p)})
        if p.suffix.lower() == ".json":
            got, c = _labelstudio_ratings(p, scale)
            cancelled += c
            triples += [(i, r, v, f"{p}") for i, r, v in got]
            continue
        if p.suffix.lower() not in (".csv", ".jsonl"):
            raise RatingError(f"{p}: ratings files end in .csv, .jsonl or .json (Label Studio)")
        for where, row in _rows(p):
            w = f"{p}: {where}"
            item = row.get("id")
            if not isinstance(item, str) or not item.strip():
                raise RatingError(f"{w}: empty or missing 'id'")
            rater = row.get("rater")
            rater = p.stem if rater is None or str(rater).strip() == "" else str(rater).strip()
            triples.append((item.strip(), rater, scale.check(row.get("rating"), w), w))
    if not triples:
        raise RatingError("no ratings were read (no rows in the files)")
    known = list(items) if items is not None else list(dict.fromkeys(t[0] for t in triples))
    index = {x: i for i, x in enumerate(known)}
    stray = sorted({t[0] for t in triples} - set(index))
    if stray:
        raise RatingError(f"{len(stray)} rated ids are not in the item set: {stray[:10]}")
    raters = list(dict.fromkeys(t[1] for t in triples))
    grid: list[list[Any]] = [[None] * len(known) for _ in raters]
    seen: dict[tuple[str, str], str] = {}
    for item, rater, value, where in triples:
        key = (item, rater)
        if key in seen and value is not None:
            raise RatingError(f"{where}: rater {rater!r} rated {item!r} twice (first at "
                              f"{seen[key]}); keep one")
        if value is not None:
            seen[key] = where
            grid[raters.index(rater)][index[item]] = value
    return Ratings(items=tuple(known), raters=tuple(raters),
                   matrix=tuple(tuple(r) for r in grid), scale=scale,
                   sources=tuple(sources), n_cancelled=cancelled)


# ----------------------------------------------------------------------------------------
# judge versus humans


@dataclass(frozen=True)
class JudgeHumanAgreement:
    """How a judge agrees with several human raters.

    ``alpha_humans``: Krippendorff's alpha among the humans; ``alpha_with_judge``: with the
    judge as one more rater (a judge that agrees like a human leaves it about unchanged);
    ``consensus``: the judge against the humans' per-item consensus (accuracy, Cohen's kappa,
    the confusion matrix, rows human); ``per_rater``: the judge's agreement with each rater.
    """

    alpha_humans: float
    alpha_with_judge: float
    consensus: Any  # llm.calibration.Agreement
    per_rater: Mapping[str, float]
    n: int

    @property
    def judge_as_reliable_as_a_human(self) -> bool:
        """Whether adding the judge does not lower alpha (the humans' own agreement is the bar)."""
        return not math.isnan(self.alpha_with_judge) and (
            self.alpha_with_judge >= self.alpha_humans - 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {"alpha_humans": self.alpha_humans, "alpha_with_judge": self.alpha_with_judge,
                "consensus": self.consensus.to_dict(), "per_rater": dict(self.per_rater),
                "n": self.n}


def judge_vs_human(judge: Mapping[str, Any], ratings: Ratings) -> JudgeHumanAgreement:
    """Agreement of a judge's labels (``{id: label}``, labels of the ratings' scale; a
    ``JudgeResult`` via ``{v.id: v.label for v in result.verdicts if v.ok}``) with the raters."""
    from llaso_pytest.llm.calibration import agreement
    from llaso_pytest.metrics.agreement import krippendorff_alpha

    scale = ratings.scale
    stray = sorted(set(judge) - set(ratings.items))
    if stray:
        raise RatingError(f"{len(stray)} judged ids are not rated items: {stray[:10]}")
    judged = [scale.check(judge.get(i), f"judge label of {i!r}") for i in ratings.items]
    level: Any = scale.level
    arr = ratings.array()
    alpha_h = krippendorff_alpha(arr, level=level, value_domain=scale.domain)
    with_judge = np.vstack([arr, np.array([[np.nan if v is None else v for v in judged]],
                                          dtype=object)])
    alpha_j = krippendorff_alpha(with_judge, level=level, value_domain=scale.domain)
    cons = ratings.consensus()
    if scale.kind == "rating":
        cons = {k: str(int(round(v))) for k, v in cons.items()}
    jl = {i: str(v) for i, v in zip(ratings.items, judged, strict=True) if v is not None}
    labels = [str(x) for x in scale.domain]
    cons_agree = agreement(jl, {k: str(v) for k, v in cons.items() if k in jl}, labels=labels)
    per: dict[str, float] = {}
    for r, row in zip(ratings.raters, ratings.matrix, strict=True):
        both = [(str(v), jl[i]) for i, v in zip(ratings.items, row, strict=True)
                if v is not None and i in jl]
        if both:
            per[r] = sum(a == b for a, b in both) / len(both)
    return JudgeHumanAgreement(alpha_humans=alpha_h, alpha_with_judge=alpha_j,
                               consensus=cons_agree, per_rater=per, n=len(jl))
