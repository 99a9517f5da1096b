"""Per-item texts behind a result: reference, hypothesis or prediction, the judge's reason.

A metric keeps the texts it scored (:class:`ItemTexts`, columns parallel to the item ids) so
that reports can show *what* changed for a flipped or worsened item, not only its id. The
run record stores them under ``items.texts`` (contract 2) according to the text mode
(``--llaso-item-text``):

``"truncate"`` (default)
    every text cut to :data:`LIMIT` characters (a cut text ends in ``…`` and its index is
    listed under ``truncated``), so a record grows by at most ``LIMIT`` characters per text;
``"full"``
    the texts as scored;
``"none"``
    no texts (the record holds ids, statistics and scores only).

Records are redacted as a whole when written (:func:`llaso_pytest.record.dumps_record`), so a
secret inside a hypothesis never reaches the file; reports neutralise and escape the texts
where they show them. Records written before texts existed read as ``texts=None``.

How a report shows an item depends on the view: ``"words"`` / ``"chars"`` (speech: an aligned
REF/HYP with S/D/I marks, :func:`align_rows`), ``"pair"`` (prediction against reference) and
``"judge"`` (the judge's reason, with the judged texts when known). Pure: no pytest, no NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from llaso_pytest.errors import LlasoError

__all__ = [
    "COLUMNS",
    "DEFAULT_MODE",
    "LIMIT",
    "TEXT_MODES",
    "VIEWS",
    "ItemTexts",
    "TextMode",
    "View",
    "align_rows",
    "concat_records",
    "describe_item",
    "parse_mode",
    "read_texts",
    "tokens",
]

TextMode = Literal["none", "truncate", "full"]
TEXT_MODES: tuple[TextMode, ...] = get_args(TextMode)
DEFAULT_MODE: TextMode = "truncate"
#: Characters kept per text in ``truncate`` mode.
LIMIT = 200
View = Literal["words", "chars", "pair", "judge"]
VIEWS: tuple[View, ...] = get_args(View)
#: The text columns, in the order reports show them.
COLUMNS = ("ref", "hyp", "reason")
ELLIPSIS = "…"


class ItemTextError(LlasoError, ValueError):
    """Item texts that do not fit the items of their result (length, type, unknown column)."""


def parse_mode(text: str) -> TextMode:
    """``none``, ``truncate`` or ``full``; :class:`ItemTextError` naming the choices."""
    value = str(text).strip().lower()
    for mode in TEXT_MODES:
        if value == mode:
            return mode
    raise ItemTextError(f"unknown item text mode {text!r}; use one of {', '.join(TEXT_MODES)}")


@dataclass(frozen=True)
class ItemTexts:
    """Texts per item, columns (``ref``, ``hyp``, ``reason``) parallel to the item ids.

    ``None`` in a column: no text for that item (e.g. a judged item without a reference).
    ``truncated`` names, per column, the items whose text was cut (as read from a record).
    """

    view: View
    columns: Mapping[str, Sequence[str | None]]
    truncated: Mapping[str, frozenset[int]] = field(default_factory=dict)
    limit: int | None = None  # the cut length when the texts were truncated

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ItemTextError(f"unknown item text view {self.view!r}; use one of "
                                f"{', '.join(VIEWS)}")
        unknown = sorted(set(self.columns) - set(COLUMNS))
        if unknown:
            raise ItemTextError(f"unknown item text columns {unknown}; use {', '.join(COLUMNS)}")
        lengths = {k: len(v) for k, v in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ItemTextError(f"item text columns differ in length: {lengths}")

    def __len__(self) -> int:
        return next((len(v) for v in self.columns.values()), 0)

    def get(self, column: str, i: int) -> str | None:
        col = self.columns.get(column)
        return None if col is None else col[i]

    def was_cut(self, column: str, i: int) -> bool:
        return i in self.truncated.get(column, frozenset())

    def check(self, n: int, *, what: str) -> ItemTexts:
        """Itself, when it holds one entry per item of a result with ``n`` items."""
        if self.columns and len(self) != n:
            raise ItemTextError(f"{what}: {len(self)} item texts for {n} items")
        return self

    def subset(self, keep: Sequence[int]) -> ItemTexts:
        """The texts of the items at positions ``keep`` (in that order)."""
        pos = {old: new for new, old in enumerate(keep)}
        return ItemTexts(
            self.view, {k: [v[i] for i in keep] for k, v in self.columns.items()},
            {k: frozenset(pos[i] for i in cut if i in pos) for k, cut in self.truncated.items()},
            self.limit)

    def to_record(self, mode: TextMode = DEFAULT_MODE, *, limit: int = LIMIT
                  ) -> dict[str, Any] | None:
        """The JSON form for ``items.texts`` (``None`` in mode ``none``)."""
        mode = parse_mode(mode)
        if mode == "none" or not self.columns:
            return None
        columns: dict[str, list[str | None]] = {}
        truncated: dict[str, list[int]] = {}
        for key in COLUMNS:
            col = self.columns.get(key)
            if col is None:
                continue
            if mode == "full":
                columns[key] = list(col)
                cut = sorted(self.truncated.get(key, ()))
            else:
                out: list[str | None] = []
                cut = []
                for i, text in enumerate(col):
                    if text is not None and len(text) > limit:
                        text = text[:limit] + ELLIPSIS
                        cut.append(i)
                    elif i in self.truncated.get(key, ()):
                        cut.append(i)
                    out.append(text)
                columns[key] = out
            if cut:
                truncated[key] = cut
        record: dict[str, Any] = {"view": self.view, "mode": mode, "columns": columns}
        if mode == "truncate":
            record["limit"] = limit if self.limit is None else min(limit, self.limit)
        elif self.limit is not None:
            record["limit"] = self.limit
        if truncated:
            record["truncated"] = truncated
        return record


def read_texts(value: Any, *, n: int, where: str) -> ItemTexts | None:
    """The ``items.texts`` of a recorded result, validated (``None`` when absent); errors name
    ``where`` and the field, as :class:`~llaso_pytest.record.RecordError`."""
    from llaso_pytest.record import RecordError

    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise RecordError(f"{where}: items.texts must be an object, not {type(value).__name__}")
    view = value.get("view")
    if view not in VIEWS:
        raise RecordError(f"{where}: items.texts.view must be one of {', '.join(VIEWS)}, not "
                          f"{view!r}")
    raw = value.get("columns")
    if not isinstance(raw, Mapping):
        raise RecordError(f"{where}: items.texts.columns must be an object of text lists")
    columns: dict[str, list[str | None]] = {}
    for key, col in raw.items():
        if key not in COLUMNS:
            raise RecordError(f"{where}: items.texts.columns.{key} is not a text column "
                              f"({', '.join(COLUMNS)})")
        if not isinstance(col, list) or len(col) != n or \
                not all(x is None or isinstance(x, str) for x in col):
            raise RecordError(f"{where}: items.texts.columns.{key} must be a list of {n} "
                              "strings or nulls (one per item)")
        columns[key] = col
    truncated: dict[str, frozenset[int]] = {}
    for key, idx in (value.get("truncated") or {}).items():
        if key not in columns or not isinstance(idx, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in idx):
            raise RecordError(f"{where}: items.texts.truncated.{key} must list item positions "
                              f"of a column (0..{n - 1})")
        truncated[key] = frozenset(idx)
    limit = value.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise RecordError(f"{where}: items.texts.limit must be a positive integer")
    return ItemTexts(view, columns, truncated, limit)


def concat_records(parts: Sequence[Mapping[str, Any] | None], sizes: Sequence[int]
                   ) -> dict[str, Any] | None:
    """The ``items.texts`` of results joined end to end (e.g. one-item cases into a corpus):
    ``parts[k]`` is part ``k``'s record form (``None``: no texts) and ``sizes[k]`` its number
    of items. Items of a part without texts get ``null``; ``None`` when no part has texts.
    Parts must share the view; the mode and limit are the strictest of the parts."""
    if len(parts) != len(sizes):
        raise ItemTextError(f"{len(parts)} text parts for {len(sizes)} sizes")
    present = [p for p in parts if p is not None]
    if not present:
        return None
    views = sorted({str(p.get("view")) for p in present})
    if len(views) != 1:
        raise ItemTextError(f"cannot join item texts of different views: {views}")
    keys = [c for c in COLUMNS if any(c in (p.get("columns") or {}) for p in present)]
    columns: dict[str, list[str | None]] = {k: [] for k in keys}
    truncated: dict[str, list[int]] = {}
    offset = 0
    for part, size in zip(parts, sizes, strict=True):
        cols = (part or {}).get("columns") or {}
        for k in keys:
            col = cols.get(k)
            if col is not None and len(col) != size:
                raise ItemTextError(f"item texts column {k!r} has {len(col)} entries for "
                                    f"{size} items")
            columns[k].extend(col if col is not None else [None] * size)
        for k, idx in ((part or {}).get("truncated") or {}).items():
            truncated.setdefault(k, []).extend(offset + int(i) for i in idx)
        offset += size
    modes = {str(p.get("mode", DEFAULT_MODE)) for p in present}
    limits = [int(p["limit"]) for p in present if p.get("limit") is not None]
    out: dict[str, Any] = {"view": views[0],
                           "mode": "truncate" if "truncate" in modes else "full",
                           "columns": columns}
    if limits:
        out["limit"] = min(limits)
    if truncated:
        out["truncated"] = truncated
    return out


# ----------------------------------------------------------------------------------------
# alignment (speech views)


def align_rows(ref: Sequence[str], hyp: Sequence[str], *, sep: str = " "
               ) -> tuple[str, str, str]:
    """REF, HYP and S/D/I mark rows of the alignment of two token sequences, as
    ``jiwer.visualize_alignment`` draws it (rapidfuzz's Levenshtein alignment, jiwer's)."""
    from rapidfuzz.distance import Levenshtein

    r_out: list[str] = []
    h_out: list[str] = []
    m_out: list[str] = []
    ops: list[tuple[Any, ...]] = [tuple(op) for op in Levenshtein.opcodes(list(ref), list(hyp))]
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            for a in ref[i1:i2]:
                r_out.append(a)
                h_out.append(a)
                m_out.append(" " * len(a))
        elif tag == "replace":
            for a, b in zip(ref[i1:i2], hyp[j1:j2], strict=False):
                w = max(len(a), len(b))
                r_out.append(a.ljust(w))
                h_out.append(b.ljust(w))
                m_out.append("S".ljust(w))
        elif tag == "delete":
            for a in ref[i1:i2]:
                r_out.append(a)
                h_out.append("*" * len(a))
                m_out.append("D".ljust(len(a)))
        elif tag == "insert":
            for b in hyp[j1:j2]:
                r_out.append("*" * len(b))
                h_out.append(b)
                m_out.append("I".ljust(len(b)))
    return sep.join(r_out), sep.join(h_out), sep.join(m_out).rstrip()


def tokens(text: str, view: View) -> list[str]:
    """The units a speech view aligns: words (whitespace split) or characters."""
    return text.split() if view == "words" else list(text)


def describe_item(texts: ItemTexts, i: int, *, width: int = 100) -> list[str]:
    """Plain lines for one item (assertion messages): the alignment for speech views,
    reference and prediction for pairs, the judge's reason for judged items."""
    ref, hyp, reason = (texts.get(c, i) for c in COLUMNS)
    lines: list[str] = []
    if texts.view in ("words", "chars") and ref is not None and hyp is not None:
        rows = align_rows(tokens(ref, texts.view), tokens(hyp, texts.view),
                          sep=" " if texts.view == "words" else "")
        lines = ["REF: " + rows[0], "HYP: " + rows[1], "     " + rows[2]]
    else:
        if ref is not None:
            lines.append(f"reference:  {ref!r}")
        if hyp is not None:
            lines.append(f"prediction: {hyp!r}")
    if reason is not None:
        lines.append(f"judge: {reason!r}")
    return [ln if len(ln) <= width else ln[: width - 3] + "..." for ln in lines]
