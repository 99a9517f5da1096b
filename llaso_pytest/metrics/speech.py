"""Speech metrics: WER, CER, MER, WIL with hit/substitution/deletion/insertion counts.

Counts are those of ``jiwer.process_words`` / ``jiwer.process_characters`` (jiwer 4 takes
the alignment from ``rapidfuzz.distance.Levenshtein.opcodes``; among equally short
alignments the split into substitutions vs. deletions+insertions is rapidfuzz's choice,
so we ask rapidfuzz for the same alignment wherever the split is ambiguous).

Speed comes from batching, not from a different algorithm:

* words become code points: the compiled helper ``_wordcodes.pair_codes`` splits each text
  like ``str.split()`` and gives every distinct word of a (reference, hypothesis) pair its
  own code point, so rapidfuzz aligns two short strings instead of two lists of word
  objects (same equalities, hence the same distances and alignments). Where the helper
  was not compiled (:func:`word_codes_compiled` is ``False``) the token lists are used;
* edit distances of all pairs in one ``rapidfuzz.process.cpdist`` call (C++, no per-pair
  Python), identical pairs answered from a cache;
* the substitution count (the one number the distance does not determine) is computed
  only for the pairs where the distance leaves it open (``d > |len(h) - len(r)|``), and
  CER computes it only on demand (``cer(...).details.counts()``).

Tokenisation: WER splits the normalised text on whitespace (``str.split()``); CER uses the
characters of the normalised text with leading and trailing whitespace stripped (inner
spaces count, as in ``jiwer.cer``). jiwer's default transform splits only on spaces (after
turning runs of 2+ whitespace characters into one space), so a lone tab, newline or
no-break space is a word boundary here and part of a word there; on space-separated text the
counts are identical.

Empty references (after normalisation) - ``empty_reference=``:

``"insertions"`` (default)
    the item stays; its hypothesis words are insertions in the numerator and it adds no
    reference words to the denominator (corpus WER = total errors / total reference words,
    the sclite convention). Its per-item score is ``inf`` (``0.0`` if the hypothesis is
    empty too; ``null`` in the JSON record). If *no* item has a reference word the rate is
    undefined and a :class:`MetricInputError` names the count (jiwer 4 instead returns the
    number of insertions as the "WER").
``"error"``
    raise :class:`MetricInputError` naming the ids of the empty references.
``"drop"``
    leave those items out, with a :class:`LlasoWarning` naming their ids.

Empty hypotheses need no policy: every reference word is a deletion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal

import numpy as np

from llaso_pytest.aggregates import columns, register_aggregate
from llaso_pytest.context import AUTO_SEED
from llaso_pytest.errors import MetricInputError
from llaso_pytest.itemtext import ItemTexts
from llaso_pytest.metrics.base import (
    MetricResult,
    build_result,
    check_items,
    gc_paused,
    unsegmented_cjk,
    warn,
)
from llaso_pytest.metrics.normalize import Normalizer, get_normalizer

__all__ = [
    "AlignmentCounts",
    "SpeechDetails",
    "align_counts",
    "cer",
    "mer",
    "wer",
    "wil",
    "word_codes_compiled",
]

EmptyPolicy = Literal["insertions", "error", "drop"]
_POLICIES = ("insertions", "error", "drop")


@lru_cache(maxsize=1)
def _rapidfuzz() -> Any:
    try:
        import rapidfuzz  # noqa: F401
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import cpdist
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "speech metrics need rapidfuzz (installed with jiwer: pip install "
            "'llaso-pytest[metrics]')"
        ) from exc
    return Levenshtein, cpdist


@lru_cache(maxsize=1)
def _pair_codes() -> Callable[[list[str], list[str]], tuple[list[str], list[str]]] | None:
    try:
        from llaso_pytest.metrics._wordcodes import pair_codes
    except ImportError:  # built without a C compiler: the token-list path
        return None
    return pair_codes  # type: ignore[no-any-return]


def word_codes_compiled() -> bool:
    """Whether WER/MER/WIL use the compiled word coder (else Python token lists)."""
    return _pair_codes() is not None


def _word_sequences(refs: list[str], hyps: list[str]) -> tuple[list[Any], list[Any]]:
    """Per item, the words of each side as one sequence rapidfuzz can align.

    Code strings from the compiled helper where available (each character one word,
    numbered per pair); otherwise ``str.split()`` token lists.
    """
    pair_codes = _pair_codes()
    if pair_codes is not None:
        try:
            return pair_codes(refs, hyps)
        except OverflowError:  # > 1.1 million distinct words in one pair
            pass
    rt: list[Any] = [x.split() for x in refs]
    # an identical hypothesis shares the reference's token list (no second split)
    ht: list[Any] = [t if h == r else h.split() for r, h, t in zip(refs, hyps, rt, strict=True)]
    return rt, ht


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except ImportError:  # pragma: no cover
        return "none"


@dataclass(frozen=True)
class AlignmentCounts:
    """Per-item hit/substitution/deletion/insertion counts (int64 arrays)."""

    hits: np.ndarray
    substitutions: np.ndarray
    deletions: np.ndarray
    insertions: np.ndarray

    def totals(self) -> dict[str, int]:
        return {
            "hits": int(self.hits.sum()),
            "substitutions": int(self.substitutions.sum()),
            "deletions": int(self.deletions.sum()),
            "insertions": int(self.insertions.sum()),
        }


Seq = Sequence[Any]


def _distances(refs: Sequence[Seq], hyps: Sequence[Seq]) -> np.ndarray:
    lev, cpdist = _rapidfuzz()
    if not refs:
        return np.zeros(0, dtype=np.int64)
    # workers=-1: the distances run on all cores in rapidfuzz's C++ (no GIL)
    return np.asarray(cpdist(refs, hyps, scorer=lev.distance, dtype=np.int64, workers=-1))


def align_counts(
    refs: Sequence[Seq],
    hyps: Sequence[Seq],
    *,
    distances: np.ndarray | None = None,
) -> AlignmentCounts:
    """H/S/D/I per pair of token sequences, equal to jiwer's (rapidfuzz's alignment)."""
    lev, _ = _rapidfuzz()
    n = len(refs)
    rl = np.fromiter(map(len, refs), dtype=np.int64, count=n)
    hl = np.fromiter(map(len, hyps), dtype=np.int64, count=n)
    d = _distances(refs, hyps) if distances is None else np.asarray(distances, np.int64)
    diff = hl - rl
    # S + D + I = d and I - D = diff give S <= d - |diff| with the same parity, so the
    # distance fixes S when d - |diff| is 0 or 1; only longer gaps need the alignment.
    gap = d - np.abs(diff)
    subs = np.where(gap == 1, 1, 0).astype(np.int64)
    ambiguous = np.flatnonzero(gap > 1)
    editops = lev.editops
    tag = itemgetter(0)
    with gc_paused():
        subs[ambiguous] = np.fromiter(
            (
                list(map(tag, editops(refs[i], hyps[i]).as_list())).count("replace")
                for i in ambiguous.tolist()
            ),
            dtype=np.int64,
            count=ambiguous.size,
        )
    rest = d - subs  # deletions + insertions
    dels = (rest - diff) // 2
    ins = (rest + diff) // 2
    hits = rl - subs - dels
    return AlignmentCounts(hits, subs, dels, ins)


@dataclass
class SpeechDetails:
    """Normalised texts and counts behind a speech result (not serialised).

    ``refs``/``hyps`` are the normalised texts (stripped for CER); word tokens are split
    again on demand, so a result does not keep millions of token objects alive.
    """

    unit: str  # "word" or "char"
    refs: list[str]
    hyps: list[str]
    raw_refs: list[str]
    raw_hyps: list[str]
    distances: np.ndarray
    _counts: AlignmentCounts | None = field(default=None, repr=False)

    def _seq(self, text: str) -> Any:
        return text.split() if self.unit == "word" else text

    def tokens(self, i: int) -> tuple[list[str], list[str]]:
        """The normalised reference and hypothesis tokens of item ``i``."""
        return list(self._seq(self.refs[i])), list(self._seq(self.hyps[i]))

    def counts(self) -> AlignmentCounts:
        """Per-item H/S/D/I (computed on first use for CER)."""
        if self._counts is None:
            with gc_paused():
                self._counts = align_counts(
                    [self._seq(t) for t in self.refs], [self._seq(t) for t in self.hyps],
                    distances=self.distances,
                )
        return self._counts

    def opcodes(self, i: int) -> list[tuple[str, int, int, int, int]]:
        """rapidfuzz/jiwer opcodes (tag, i1, i2, j1, j2) of item ``i``."""
        lev, _ = _rapidfuzz()
        r, h = self._seq(self.refs[i]), self._seq(self.hyps[i])
        return [tuple(op) for op in lev.opcodes(r, h).as_list()]

    def render_item(self, i: int, *, width: int = 100) -> str:
        """A three-line alignment (REF / HYP / ops) like ``jiwer.visualize_alignment``."""
        from llaso_pytest.itemtext import align_rows

        ref, hyp = self.tokens(i)
        rows = align_rows(ref, hyp, sep=" " if self.unit == "word" else "")
        lines = ["REF: " + rows[0], "HYP: " + rows[1], "     " + rows[2]]
        return "\n".join(
            line if len(line) <= width else line[: width - 3] + "..." for line in lines
        )


def _prepare(
    references: Any,
    hypotheses: Any,
    ids: Sequence[Any] | None,
    groups: Sequence[Any] | None,
    norm: Normalizer,
    unit: str,
    empty_reference: str,
    metric: str,
) -> tuple[
    list[Any], list[Any], list[str], list[str], tuple[str, ...], tuple[str, ...] | None,
    list[str], list[str],
]:
    if empty_reference not in _POLICIES:
        raise ValueError(
            f"empty_reference must be one of {', '.join(_POLICIES)}, got {empty_reference!r}"
        )
    refs, hyps, id_t, grp = check_items(references, hypotheses, ids=ids, groups=groups)
    if norm.name == "none":
        nr, nh = refs, hyps
    else:
        nr = [norm(x) for x in refs]
        nh = [norm(x) for x in hyps]
    rt: list[Any]
    ht: list[Any]
    if unit == "word" and unsegmented_cjk(nr):
        warn(f"{metric}: the references are Japanese or Chinese without spaces between words, "
             "so whitespace splitting makes each phrase one 'word' and every small error a "
             "whole-phrase error; use metrics.cer (e.g. normalize='japanese'), or segment the "
             "words first with a normalize= callable")
    if unit == "word":
        rt, ht = _word_sequences(list(nr), list(nh))
    else:
        rt = [x.strip() for x in nr]
        ht = [x.strip() for x in nh]
    empty = [] if all(rt) else [i for i, r in enumerate(rt) if len(r) == 0]  # all(): C speed
    if empty:
        named = ", ".join(repr(id_t[i]) for i in empty[:10])
        more = f" and {len(empty) - 10} more" if len(empty) > 10 else ""
        if empty_reference == "error":
            raise MetricInputError(
                f"{metric}: {len(empty)} of {len(rt)} references are empty after "
                f"normalisation ({norm.name}): ids {named}{more}"
            )
        if empty_reference == "drop":
            keep = [i for i in range(len(rt)) if len(rt[i]) != 0]
            if not keep:
                raise MetricInputError(
                    f"{metric}: all {len(rt)} references are empty after normalisation "
                    f"({norm.name}); nothing left to score"
                )
            warn(
                f"{metric}: dropped {len(empty)} of {len(rt)} items whose reference is empty "
                f"after normalisation (empty_reference='drop'): ids {named}{more}"
            )
            rt = [rt[i] for i in keep]
            ht = [ht[i] for i in keep]
            nr = [nr[i] for i in keep]
            nh = [nh[i] for i in keep]
            refs = [refs[i] for i in keep]
            hyps = [hyps[i] for i in keep]
            id_t = tuple(id_t[i] for i in keep)
            grp = None if grp is None else tuple(grp[i] for i in keep)
        elif len(empty) == len(rt):
            raise MetricInputError(
                f"{metric}: all {len(rt)} references are empty after normalisation "
                f"({norm.name}), so the error rate is undefined (0 reference "
                f"{'words' if unit == 'word' else 'characters'})"
            )
    if unit == "char":
        nr, nh = rt, ht  # the stripped texts are the sequences
    return rt, ht, refs, hyps, id_t, grp, nr, nh


def _per_item(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        s = num / den
    s = np.where(den == 0, np.where(num == 0, 0.0, np.inf), s)
    return s.astype(np.float64)


def _speech(
    metric: str,
    references: Any,
    hypotheses: Any,
    *,
    unit: str,
    ids: Sequence[Any] | None,
    groups: Sequence[Any] | None,
    confidence: float,
    n_boot: int,
    seed: int | None,
    signature_extra: Mapping[str, Any] | None,
    normalize: str | Callable[[str], str] | Normalizer | None,
    empty_reference: str,
    counts: bool,
) -> MetricResult:
    norm = get_normalizer(normalize)
    need_counts = counts or metric in ("mer", "wil")
    with gc_paused():  # token lists are built and freed inside the pause (no GC passes)
        rt, ht, raw_r, raw_h, id_t, grp, nr, nh = _prepare(
            references, hypotheses, ids, groups, norm, unit, empty_reference, metric
        )
        d = _distances(rt, ht)
        n = len(rt)
        rl = np.fromiter(map(len, rt), dtype=np.int64, count=n)
        hl = np.fromiter(map(len, ht), dtype=np.int64, count=n)
        c = align_counts(rt, ht, distances=d) if need_counts else None
        del rt, ht
    details = SpeechDetails(unit, nr, nh, raw_r, raw_h, d, c)
    # the normalised texts, as scored: a report's alignment then shows these counts
    texts = ItemTexts("words" if unit == "word" else "chars", {"ref": nr, "hyp": nh})
    extra: dict[str, Any] = {
        "unit": unit,
        "ref_units": int(rl.sum()),
        "hyp_units": int(hl.sum()),
        "errors": int(d.sum()),
    }
    if c is not None:
        extra.update(c.totals())
    sig = {
        "normalizer": norm.name,
        "tokenizer": "whitespace" if unit == "word" else "chars",
        "empty_reference": empty_reference,
        "rapidfuzz": _version("rapidfuzz"),
    }
    common: dict[str, Any] = {
        "item_ids": id_t, "groups": grp, "confidence": confidence, "n_boot": n_boot,
        "seed": seed, "signature_fields": sig, "signature_extra": signature_extra,
        "extra": extra, "details": details, "higher_is_better": False, "texts": texts,
    }
    if metric in ("wer", "cer"):
        stats = {"errors": d, "ref_words" if unit == "word" else "ref_chars": rl}
        return build_result(
            name=metric, stats=stats, aggregate_kind="ratio", scores=_per_item(d, rl), **common
        )
    if c is None:  # pragma: no cover - need_counts is True for mer/wil
        raise RuntimeError(f"{metric}: alignment counts missing")
    if metric == "mer":
        tot = c.hits + c.substitutions + c.deletions + c.insertions
        return build_result(
            name="mer", stats={"errors": d, "hsdi": tot}, aggregate_kind="ratio",
            scores=_per_item(d, tot), **common,
        )
    # wil
    with np.errstate(divide="ignore", invalid="ignore"):
        wip = np.where(hl >= 1, (c.hits / rl) * (c.hits / np.where(hl >= 1, hl, 1)), 0.0)
    item = np.where(rl == 0, np.where(hl == 0, 0.0, 1.0), 1.0 - wip)
    return build_result(
        name="wil", stats={"hits": c.hits, "ref_words": rl, "hyp_words": hl},
        aggregate_kind="wil", scores=item.astype(np.float64), **common,
    )


def _agg_wil(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    # columns: hits, ref_words, hyp_words; jiwer: wip = (H/R)*(H/P), 0 when P == 0.
    s = columns(s, 3, "wil")
    h, r, hy = s[:, 0], s[:, 1], s[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        wip = (h / r) * (h / hy)
    wip = np.where(hy >= 1, wip, 0.0)
    return np.where(r == 0, np.nan, 1.0 - wip)


register_aggregate("wil", _agg_wil)


def wer(
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | Normalizer | None = "none",
    empty_reference: EmptyPolicy = "insertions",
) -> MetricResult:
    """Corpus word error rate = total (S + D + I) / total reference words, with a CI.

    Totals and per-utterance H/S/D/I (``result.details.counts()``) equal
    ``jiwer.process_words`` on the normalised text. ``groups=`` (e.g. speakers) switches
    the interval to a cluster bootstrap.
    """
    return _speech(
        "wer", references, hypotheses, unit="word", ids=ids, groups=groups,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_extra=signature_extra,
        normalize=normalize, empty_reference=empty_reference, counts=True,
    )


def cer(
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | Normalizer | None = "none",
    empty_reference: EmptyPolicy = "insertions",
    counts: bool = False,
) -> MetricResult:
    """Corpus character error rate (equal to ``jiwer.cer``), with a CI.

    H/S/D/I are computed on demand (``result.details.counts()``) or eagerly with
    ``counts=True`` (then their totals are in ``result.extra``).
    """
    return _speech(
        "cer", references, hypotheses, unit="char", ids=ids, groups=groups,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_extra=signature_extra,
        normalize=normalize, empty_reference=empty_reference, counts=counts,
    )


def mer(
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | Normalizer | None = "none",
    empty_reference: EmptyPolicy = "insertions",
) -> MetricResult:
    """Match error rate = (S + D + I) / (H + S + D + I), as ``jiwer.mer``."""
    return _speech(
        "mer", references, hypotheses, unit="word", ids=ids, groups=groups,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_extra=signature_extra,
        normalize=normalize, empty_reference=empty_reference, counts=True,
    )


def wil(
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | Normalizer | None = "none",
    empty_reference: EmptyPolicy = "insertions",
) -> MetricResult:
    """Word information lost = 1 - (H/N_ref)(H/N_hyp) on corpus totals, as ``jiwer.wil``."""
    return _speech(
        "wil", references, hypotheses, unit="word", ids=ids, groups=groups,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_extra=signature_extra,
        normalize=normalize, empty_reference=empty_reference, counts=True,
    )
