"""The texts of flipped and most worsened items, as plain data for the reports.

Works on any pair of recorded results with per-item ids: a pass/fail metric shows the items
that flipped (now wrong first), any other metric the items that got most worse. Each
:class:`~llaso_pytest.compare.types.ItemView` carries the reference, both runs' hypotheses or
predictions and judge's reasons, and for speech results the aligned REF/HYP rows with
S/D/I marks of both runs (computed here, so renderers only format). Never imports pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llaso_pytest.compare.types import Flips, ItemChange, ItemRole, ItemView
from llaso_pytest.itemtext import ItemTexts, align_rows, tokens

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.results import ResultRecord

__all__ = ["MAX_ITEM_TEXTS", "item_views"]

#: How many items of each kind (now wrong, now right, worse) a diff carries with their texts.
MAX_ITEM_TEXTS = 5


def _position(ids: Sequence[str], item: str) -> int | None:
    try:
        return ids.index(item)
    except ValueError:
        return None


def _score(result: ResultRecord, i: int | None) -> float | None:
    if i is None or result.scores is None:
        return None
    return float(result.scores[i])


def _alignment(texts: ItemTexts | None, ref: str | None, i: int | None
               ) -> tuple[str, str, str] | None:
    if texts is None or i is None or texts.view not in ("words", "chars") or ref is None:
        return None
    hyp = texts.get("hyp", i)
    if hyp is None:
        return None
    return align_rows(tokens(ref, texts.view), tokens(hyp, texts.view),
                      sep=" " if texts.view == "words" else "")


def _view(a: ResultRecord, b: ResultRecord, item: str, role: ItemRole) -> ItemView:
    ia, ib = _position(a.item_ids, item), _position(b.item_ids, item)
    ta = a.texts if ia is not None else None
    tb = b.texts if ib is not None else None
    head_ref = None if tb is None or ib is None else tb.get("ref", ib)
    base_ref = None if ta is None or ia is None else ta.get("ref", ia)
    ref = head_ref if head_ref is not None else base_ref
    cut = any(t is not None and i is not None and t.was_cut(c, i)
              for t, i in ((ta, ia), (tb, ib)) for c in ("ref", "hyp", "reason"))
    view = (tb or ta).view if (tb or ta) is not None else "pair"  # type: ignore[union-attr]
    return ItemView(
        item=item, role=role, view=view, base_score=_score(a, ia), head_score=_score(b, ib),
        ref=ref,
        base_hyp=None if ta is None or ia is None else ta.get("hyp", ia),
        head_hyp=None if tb is None or ib is None else tb.get("hyp", ib),
        base_reason=None if ta is None or ia is None else ta.get("reason", ia),
        head_reason=None if tb is None or ib is None else tb.get("reason", ib),
        base_alignment=_alignment(ta, base_ref if base_ref is not None else ref, ia),
        head_alignment=_alignment(tb, ref, ib),
        truncated=cut)


def item_views(a: ResultRecord, b: ResultRecord, *, flips: Flips | None,
               worst: Sequence[ItemChange]) -> tuple[ItemView, ...]:
    """The flipped items (pass/fail metrics) or the most worsened ones, with their texts;
    ``()`` when neither run recorded texts."""
    if a.texts is None and b.texts is None:
        return ()
    chosen: list[tuple[str, ItemRole]] = []
    if flips is not None:
        chosen += [(i, "now wrong") for i in flips.broken[:MAX_ITEM_TEXTS]]
        chosen += [(i, "now right") for i in flips.fixed[:MAX_ITEM_TEXTS]]
    else:
        chosen += [(c.item, "worse") for c in worst[:MAX_ITEM_TEXTS]]
    return tuple(_view(a, b, item, role) for item, role in chosen)
