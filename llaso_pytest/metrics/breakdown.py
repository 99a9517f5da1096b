"""Error breakdown for word-level speech results: confusion pairs and per-class error rates.

Word classes are judged on the *normalised* reference tokens the WER was computed on:
``number`` (contains a digit, or is an English number word), ``capitalized`` (first
character uppercase; meaningful only with a case-preserving normaliser such as ``none``),
and ``terms`` (a user list of words or phrases; a phrase occurrence is correct when all
its words are hits). A class's error rate is the share of its reference words that were
substituted or deleted (insertions belong to no reference word).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from llaso_pytest.context import AUTO_SEED
from llaso_pytest.metrics.base import MetricResult, build_result

__all__ = ["Breakdown", "ClassRate", "error_breakdown"]

_NUMBER_WORDS = frozenset(
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        "hundred", "thousand", "million", "billion", "trillion", "first", "second", "third",
        "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    ]
)


@dataclass(frozen=True)
class ClassRate:
    """Errors (S + D) among the reference words of one class."""

    errors: int
    total: int

    @property
    def rate(self) -> float | None:
        return None if self.total == 0 else self.errors / self.total


@dataclass(frozen=True)
class Breakdown:
    """Ranked confusions ``(ref, hyp, count)`` (``hyp=""``: deletion, ``ref=""``: insertion)
    and per-class error rates, with the per-utterance counts behind them."""

    confusions: tuple[tuple[str, str, int], ...]
    classes: dict[str, ClassRate]
    item_ids: tuple[str, ...] = ()
    groups: tuple[str, ...] | None = None
    per_item: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    signature_fields: dict[str, Any] = field(default_factory=dict)

    def class_result(
        self,
        cls: str,
        *,
        confidence: float = 0.95,
        n_boot: int = 1000,
        seed: int | None = AUTO_SEED,
        signature_extra: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> MetricResult:
        """The error rate of one word class as a result with a bootstrap interval.

        Per-utterance (errors, class words) are the sufficient statistics. The rate and its
        interval are computed over the units that *carry* class words: the WER's groups
        (e.g. speakers) with at least one class word when groups are given, else the
        utterances with at least one. Units without class words add nothing to the ratio
        (0 errors of 0 words); resampling them would only produce resamples with no class
        word at all (0/0), so the bootstrap is conditional on the carrying units. ``n`` is
        their number; with fewer than :data:`llaso_pytest.stats.MIN_UNITS` of them the
        interval is ``None`` and a warning names ``n`` (e.g. every proper noun spoken by one
        speaker: a rate, but no honest interval).
        """
        if cls not in self.per_item:
            raise ValueError(f"unknown word class {cls!r}; choose one of {sorted(self.per_item)}")
        errors, words = self.per_item[cls]
        if sum(words) == 0:
            raise ValueError(
                f"word class {cls!r} has no reference words in these {len(words)} items, so its "
                "error rate is undefined"
            )
        e_all = np.asarray(errors, dtype=np.int64)
        w_all = np.asarray(words, dtype=np.int64)
        keep = w_all > 0
        e, w = e_all[keep], w_all[keep]
        ids = tuple(i for i, k in zip(self.item_ids, keep, strict=True) if k)
        groups = (
            None if self.groups is None
            else tuple(g for g, k in zip(self.groups, keep, strict=True) if k)
        )
        n_units = len(ids) if groups is None else len(set(groups))
        unit_name = "items" if groups is None else "groups"
        res = build_result(
            name=f"errors/{cls}", stats={"errors": e, "class_words": w}, aggregate_kind="ratio",
            higher_is_better=False, item_ids=ids, groups=groups,
            confidence=confidence, n_boot=n_boot, seed=seed,
            signature_fields={**self.signature_fields, "word_class": cls,
                              "units": f"{unit_name}-with-class-words"},
            signature_extra=signature_extra, scores=(e / w).astype(np.float64),
            extra={"errors": int(e.sum()), "class_words": int(w.sum()),
                   "units": f"{unit_name} with class words", "n_units": n_units,
                   "n_items_with_class_words": len(ids), "n_items": len(self.item_ids),
                   **(extra or {})},
        )
        return replace(res, n=n_units)

    def to_record(self) -> dict[str, Any]:
        return {
            "confusions": [list(c) for c in self.confusions],
            "classes": {k: {"errors": v.errors, "total": v.total, "rate": v.rate}
                        for k, v in self.classes.items()},
        }


def _is_number(tok: str) -> bool:
    return any(ch.isdigit() for ch in tok) or tok.lower() in _NUMBER_WORDS


def error_breakdown(
    result_or_references: MetricResult | Sequence[str],
    hypotheses: Sequence[str] | None = None,
    *,
    normalize: str | Callable[[str], str] | None = "none",
    terms: Iterable[str] = (),
    top: int = 20,
) -> Breakdown:
    """Confusions and class error rates from a ``wer`` result, or from references and
    hypotheses (then aligned with ``wer``'s rules and ``normalize``)."""
    if isinstance(result_or_references, MetricResult):
        if hypotheses is not None:
            raise ValueError("pass either a wer result or references and hypotheses, not both")
        res = result_or_references
    else:
        if hypotheses is None:
            raise ValueError("error_breakdown(references, hypotheses): hypotheses missing")
        from llaso_pytest.metrics.speech import wer

        res = wer(result_or_references, hypotheses, normalize=normalize, n_boot=0)
    det = res.details
    if det is None or getattr(det, "unit", None) != "word":
        raise ValueError(
            f"error_breakdown needs a word-level speech result (wer/mer/wil computed in this "
            f"process), got {res.name!r}"
            + (" read from a record (alignments are not stored)" if det is None else "")
        )
    phrases = [tuple(t.split()) for t in terms]
    if any(not p for p in phrases):
        raise ValueError("terms= contains an empty term")
    conf: Counter[tuple[str, str]] = Counter()
    cls = {"number": [0, 0], "capitalized": [0, 0], "terms": [0, 0]}
    per_item: dict[str, tuple[list[int], list[int]]] = {k: ([], []) for k in cls}
    for i in range(len(det.refs)):
        before = {k: tuple(v) for k, v in cls.items()}
        ref, hyp = det.tokens(i)
        hit = [False] * len(ref)
        for tag, i1, i2, j1, j2 in det.opcodes(i):
            if tag == "equal":
                for k in range(i1, i2):
                    hit[k] = True
            elif tag == "replace":
                for a, b in zip(ref[i1:i2], hyp[j1:j2], strict=False):
                    conf[(a, b)] += 1
            elif tag == "delete":
                for a in ref[i1:i2]:
                    conf[(a, "")] += 1
            elif tag == "insert":
                for b in hyp[j1:j2]:
                    conf[("", b)] += 1
        for k, tok in enumerate(ref):
            if _is_number(tok):
                cls["number"][1] += 1
                cls["number"][0] += not hit[k]
            if tok[:1].isupper():
                cls["capitalized"][1] += 1
                cls["capitalized"][0] += not hit[k]
        for ph in phrases:
            L = len(ph)
            for k in range(len(ref) - L + 1):
                if tuple(ref[k : k + L]) == ph:
                    cls["terms"][1] += 1
                    cls["terms"][0] += not all(hit[k : k + L])
        for cname, (e0, t0) in before.items():
            per_item[cname][0].append(cls[cname][0] - e0)
            per_item[cname][1].append(cls[cname][1] - t0)
    ranked = sorted(conf.items(), key=lambda kv: (-kv[1], kv[0]))[: max(0, int(top))]
    return Breakdown(
        confusions=tuple((a, b, c) for (a, b), c in ranked),
        classes={k: ClassRate(e, t) for k, (e, t) in cls.items()},
        item_ids=tuple(res.item_ids),
        groups=None if res.groups is None else tuple(res.groups),
        per_item={k: (tuple(e), tuple(t)) for k, (e, t) in per_item.items()},
        signature_fields={
            k: v for k, v in res.signature.fields.items()
            if k in ("normalizer", "tokenizer", "empty_reference", "rapidfuzz")
        } | {"terms": ",".join(" ".join(p) for p in phrases)},
    )
