"""The difficulty profile of an eval set: per column, the distribution a reader needs (pure:
no plotting, no files written).

A dataset is read into a :class:`DatasetView` by the reader for its manifest (LLM JSONL
manifests, speech manifests; :data:`READERS`, the first that claims the path). Columns are
profiled by kind: text -> length in words and characters, numbers -> quantiles and a
histogram, few distinct values (speaker, accent, voice, domain, any tag) -> counts.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from llaso_pytest.cards.sections import CardError

__all__ = ["READERS", "ColumnProfile", "DatasetView", "profile", "read_dataset"]

#: A column with at most this many distinct values (and repeats) is categorical.
MAX_CATEGORIES = 20
HIST_BINS = 10


@dataclass(frozen=True)
class DatasetView:
    """What a data card needs of a dataset: identity, hash, and rows of attributes."""

    name: str
    sha256: str
    source: str
    rows: tuple[Mapping[str, Any], ...]
    kind: str
    language: str | None = None
    license: str | None = None
    task: str | None = None
    text_columns: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    ids: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.rows)

    def texts(self, fields: Sequence[str] | None = None) -> dict[str, str]:
        """``{id: text}``: the named text fields of each item (default: every text column),
        joined by a newline; a list of texts (several references) is joined by " | "."""
        cols = list(fields) if fields else list(self.text_columns)
        unknown = [c for c in cols if not any(c in r for r in self.rows)]
        if unknown:
            raise CardError(f"{self.source}: no field {', '.join(map(repr, unknown))} (fields: "
                            f"{', '.join(sorted({k for r in self.rows for k in r}))})")
        out: dict[str, str] = {}
        for i, r in zip(self.ids, self.rows, strict=True):
            parts = [" | ".join(map(str, v)) if isinstance(v, list) else str(v)
                     for c in cols if (v := r.get(c)) is not None]
            out[i] = "\n".join(parts)
        return out


def _llm_reader(path: Path) -> DatasetView | None:
    manifest = path / "manifest.json" if path.is_dir() else path
    if manifest.name != "manifest.json" or not manifest.is_file():
        return None
    from llaso_pytest.llm.predictions import PredictionsError, load_dataset, load_manifest

    try:
        m = load_manifest(manifest)
        ds = load_dataset(m)
    except PredictionsError as exc:
        raise CardError(str(exc)) from None
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    rows = tuple({k: v for k, v in r.items() if k != "id"} for r in ds.rows)
    return DatasetView(name=ds.name, sha256=ds.sha256, source=manifest.as_posix(), rows=rows,
                       kind="text", language=ds.language, license=raw.get("licence"),
                       task=ds.task, text_columns=tuple(
                           f for f, t in m.fields.items() if t in ("str", "list[str]")),
                       meta={"systems": list(m.systems)}, ids=tuple(ds.ids))


def _speech_reader(path: Path) -> DatasetView | None:
    if path.is_dir() or path.suffix != ".json" or path.name == "manifest.json":
        return None
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(head, dict) or "utterances" not in head:
        return None
    from llaso_pytest.speech.datasets import load_dataset
    from llaso_pytest.speech.errors import SpeechError

    try:
        ds = load_dataset(path)
    except SpeechError as exc:
        raise CardError(str(exc)) from None
    rows = []
    for u in ds.utterances:
        row: dict[str, Any] = {"text": u.text, "duration_s": u.duration, "speaker": u.speaker,
                               "sample_rate": str(u.sample_rate)}
        if u.voice is not None:
            row["voice"] = u.voice
        row.update({k: str(v) for k, v in u.tags.items()})
        rows.append(row)
    return DatasetView(name=ds.name, sha256=ds.manifest_sha256, source=path.as_posix(),
                       rows=tuple(rows), kind="speech", license=ds.license or None,
                       task="automatic-speech-recognition", text_columns=("text",),
                       meta={"dataset_kind": ds.kind, "debian_package": ds.debian_package},
                       ids=tuple(u.id for u in ds.utterances))


#: Dataset readers: each returns a view, or ``None`` when the path is not its format.
READERS: list[tuple[str, Callable[[Path], DatasetView | None]]] = [
    ("llm-manifest", _llm_reader),
    ("speech-manifest", _speech_reader),
]


def read_dataset(path: str | Path) -> DatasetView:
    p = Path(path)
    if not p.exists():
        raise CardError(f"{p}: no such dataset (give a fixtures/llm/<set> folder, its "
                        "manifest.json, or a speech dataset manifest)")
    for _name, reader in READERS:
        view = reader(p)
        if view is not None:
            return view
    raise CardError(f"{p}: not a dataset this version reads ({', '.join(n for n, _ in READERS)})")


@dataclass(frozen=True)
class ColumnProfile:
    """The distribution of one column (or a derived one such as ``question (words)``)."""

    name: str
    kind: Literal["numeric", "categorical"]
    n: int
    missing: int
    counts: tuple[tuple[str, int], ...] = ()  # categorical, most frequent first
    quantiles: Mapping[str, float] = field(default_factory=dict)  # numeric
    histogram: tuple[tuple[float, ...], tuple[int, ...]] | None = None  # edges, counts

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "n": self.n, "missing": self.missing,
                "counts": [list(c) for c in self.counts], "quantiles": dict(self.quantiles),
                "histogram": None if self.histogram is None else
                {"edges": list(self.histogram[0]), "counts": list(self.histogram[1])}}


def _numeric(name: str, values: Sequence[float], missing: int) -> ColumnProfile:
    a = np.asarray(values, np.float64)
    q = {"min": float(a.min()), "p25": float(np.quantile(a, 0.25)),
         "median": float(np.median(a)), "p75": float(np.quantile(a, 0.75)),
         "max": float(a.max()), "mean": float(a.mean())}
    bins = min(HIST_BINS, max(1, len(set(a.tolist()))))
    counts, edges = np.histogram(a, bins=bins)
    return ColumnProfile(name, "numeric", a.size, missing, quantiles=q,
                         histogram=(tuple(map(float, edges)), tuple(map(int, counts))))


def _categorical(name: str, values: Sequence[str], missing: int) -> ColumnProfile:
    c = Counter(values)
    return ColumnProfile(name, "categorical", len(values), missing,
                         counts=tuple(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))))


def profile(view: DatasetView) -> list[ColumnProfile]:
    """The profile of every column, in first-seen order; text columns become their lengths
    (and a list column of texts its number of entries)."""
    from llaso_pytest.metrics.leakage import words

    columns: list[str] = []
    for r in view.rows:
        columns += [k for k in r if k not in columns]
    out: list[ColumnProfile] = []
    for col in columns:
        vals = [r.get(col) for r in view.rows]
        present = [v for v in vals if v is not None]
        missing = len(vals) - len(present)
        if not present:
            continue
        if all(isinstance(v, list) for v in present):
            out.append(_numeric(f"{col} (entries)", [len(v) for v in present], missing))
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            out.append(_numeric(col, [float(v) for v in present], missing))
            continue
        strs = [str(v) for v in present]
        distinct = len(set(strs))
        if col not in view.text_columns and distinct <= MAX_CATEGORIES and (
                distinct < len(strs) or len(strs) <= 2):
            out.append(_categorical(col, strs, missing))
            continue
        out.append(_numeric(f"{col} (words)", [len(words(s)) for s in strs], missing))
        out.append(_numeric(f"{col} (characters)", [len(s) for s in strs], missing))
    return out


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` items."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M" if n < 10_000_000 else "n>1T" if n > 10 ** 12 else "10M<n<100M"


def fmt(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else f"{x:.2f}"
