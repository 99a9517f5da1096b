"""Exact match, SQuAD token F1 and regex match (per-item scores, mean with a CI).

SQuAD normalisation (``normalize="squad"``, the default for exact match and F1) is the
official SQuAD v1.1 evaluation script's: lowercase, drop ASCII punctuation, drop the
articles a/an/the, collapse whitespace. A reference may be one string or a sequence of
acceptable answers (the item scores its best match, as SQuAD does).

Exact match and token F1 follow the official SQuAD **v2.0** script (``get_raw_scores``):

* gold answers that normalise to the empty string are left out of an item's answers; only
  when every gold answer is empty does the item keep one empty answer (an unanswerable
  question, where only an empty prediction is right). So ``exact_match([["the", "Paris"]],
  ["a"])`` is 0, as in the script, not 1 (``"the"`` and ``"a"`` both normalise to ``""``);
* F1 is 1.0 when prediction and answer both have no tokens, 0.0 when only one has none
  (the v1.1 script returns 0.0 for both empty). Otherwise the two scripts agree.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from llaso_pytest.context import AUTO_SEED
from llaso_pytest.errors import MetricInputError
from llaso_pytest.itemtext import ItemTexts
from llaso_pytest.metrics.base import MetricResult, _label, check_multi_items, mean_result

__all__ = ["exact_match", "regex_match", "squad_normalize", "token_f1"]

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """SQuAD v1.1 ``normalize_answer``."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _norm_fn(normalize: str | Callable[[str], str] | None) -> tuple[str, Callable[[str], str]]:
    if normalize is None or normalize == "none":
        return "none", lambda s: s
    if normalize == "squad":
        return "squad", squad_normalize
    if normalize == "strip":
        return "strip", str.strip
    if callable(normalize):
        mod = getattr(normalize, "__module__", None) or "?"
        qual = getattr(normalize, "__qualname__", None) or type(normalize).__qualname__
        return f"callable:{mod}.{qual}", normalize
    raise ValueError(f"normalize must be 'squad', 'strip', 'none' or a callable, got {normalize!r}")


def _golds(alts: Sequence[str], fn: Callable[[str], str]) -> list[str]:
    """An item's normalised gold answers as SQuAD v2.0 takes them: the empty ones left out,
    unless all are empty (then the one answer is ``""``)."""
    golds = [g for g in map(fn, alts) if g]
    return golds or [""]


def _f1(pred: str, gold: str) -> float:
    p, g = pred.split(), gold.split()
    if not p or not g:
        return float(p == g)
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(p)
    recall = same / len(g)
    return (2 * precision * recall) / (precision + recall)


def _mean_result(
    name: str, scores: np.ndarray, id_t: tuple[str, ...], grp: tuple[str, ...] | None,
    confidence: float, n_boot: int, seed: int | None, sig: dict[str, Any],
    signature_extra: Mapping[str, Any] | None, refs: list[list[str]], hyps: list[str],
) -> MetricResult:
    # the answers as given (alternatives joined), the prediction as given
    texts = ItemTexts("pair", {"ref": [" | ".join(a) for a in refs], "hyp": hyps})
    return mean_result(name, scores, item_ids=id_t, groups=grp, higher_is_better=True,
                       confidence=confidence, n_boot=n_boot, seed=seed, signature_fields=sig,
                       signature_extra=signature_extra, stat="score", texts=texts)


def exact_match(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | None = "squad",
) -> MetricResult:
    """Fraction of items whose normalised hypothesis equals a normalised gold answer (empty
    answers as the SQuAD v2.0 script takes them: see the module docstring)."""
    refs, hyps, id_t, grp = check_multi_items(references, hypotheses, ids=ids, groups=groups)
    nname, fn = _norm_fn(normalize)
    scores = np.array(
        [float(fn(h) in _golds(alts, fn)) for alts, h in zip(refs, hyps, strict=True)],
        dtype=np.float64,
    )
    return _mean_result("exact_match", scores, id_t, grp, confidence, n_boot, seed,
                        {"normalizer": nname, "answers": "squad2"}, signature_extra, refs, hyps)


def token_f1(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalize: str | Callable[[str], str] | None = "squad",
) -> MetricResult:
    """Mean SQuAD token F1 (bag-of-tokens overlap, best over the item's gold answers; empty
    answers as the SQuAD v2.0 script takes them)."""
    refs, hyps, id_t, grp = check_multi_items(references, hypotheses, ids=ids, groups=groups)
    nname, fn = _norm_fn(normalize)
    scores = np.array(
        [max(_f1(fn(h), g) for g in _golds(alts, fn))
         for alts, h in zip(refs, hyps, strict=True)],
        dtype=np.float64,
    )
    return _mean_result("token_f1", scores, id_t, grp, confidence, n_boot, seed,
                        {"normalizer": nname, "answers": "squad2"}, signature_extra, refs, hyps)


_MODES = ("search", "match", "fullmatch")


def regex_match(
    references: Sequence[str],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    mode: str = "search",
    flags: int = 0,
) -> MetricResult:
    """Fraction of hypotheses matching their item's regular expression (the reference).

    ``mode``: ``search`` (anywhere), ``match`` (at the start) or ``fullmatch``. A pattern
    that does not compile is an error naming the item.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    refs, hyps, id_t, grp = check_multi_items(references, hypotheses, ids=ids, groups=groups)
    scores = np.zeros(len(hyps), dtype=np.float64)
    cache: dict[str, re.Pattern[str]] = {}
    for i, (alts, h) in enumerate(zip(refs, hyps, strict=True)):
        ok = False
        for pat in alts:
            rx = cache.get(pat)
            if rx is None:
                try:
                    rx = re.compile(pat, flags)
                except re.error as exc:
                    raise MetricInputError(
                        f"regex for {_label(id_t, i)} does not compile: {pat!r}: {exc}"
                    ) from None
                cache[pat] = rx
            if getattr(rx, mode)(h) is not None:
                ok = True
                break
        scores[i] = float(ok)
    return _mean_result("regex_match", scores, id_t, grp, confidence, n_boot, seed,
                        {"mode": mode, "flags": int(flags)}, signature_extra, refs, hyps)
