"""ROUGE-N, ROUGE-L and ROUGE-Lsum with a tokenizer that works beyond ASCII.

Per-item precision/recall/F equal ``rouge_score.rouge_scorer.RougeScorer`` (same
tokenisation on ASCII text, same formulas); the corpus value is the mean of the per-item
measure (F by default), with a bootstrap CI over items.

``rouge_score``'s tokenizer lowercases and replaces every character outside ``[a-z0-9]``
by a space, so Japanese (or Greek, Cyrillic, accented) text loses all its tokens and two
identical Japanese strings score 0. Tokenizers here (the name goes into the signature):

``"unicode"`` (default)
    lowercase; every run of characters that are not Unicode letters or digits becomes a
    space; split. Identical to rouge_score's tokenizer on ASCII text.
``"rouge_score"``
    rouge_score's own tokenizer (ASCII only), for bit-compatibility with it.
``"whitespace"``
    lowercase, split on whitespace.
``"char"``
    every non-whitespace character (lowercased) is a token; use for Japanese/Chinese.
a callable ``str -> list[str]``
    recorded as ``callable:<module.qualname>``.

``use_stemmer=True`` applies rouge_score's Porter stemmer to tokens longer than 3
characters, as rouge_score does.

Speed: n-gram overlaps for all pairs in one vectorised pass, LCS lengths with
``rapidfuzz``'s bit-parallel LCS over interned tokens (one C++ call for all pairs).
ROUGE-Lsum (union LCS over newline-separated sentences) is computed per item in Python,
as rouge_score does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

from llaso_pytest.context import AUTO_SEED
from llaso_pytest.itemtext import ItemTexts
from llaso_pytest.metrics.base import (
    CJK,
    MetricResult,
    build_result,
    check_multi_items,
    gc_paused,
    warn,
)

__all__ = ["rouge", "rouge_all", "rouge_scores", "rouge_scores_multi"]

_NON_ALNUM_ASCII = re.compile(r"[^a-z0-9]+")
_NON_ALNUM_UNI = re.compile(r"[\W_]+")
_VARIANT = re.compile(r"rouge([1-9])$")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    try:
        from rouge_score.tokenize import porter

        return porter.PorterStemmer()
    except (ImportError, AttributeError):
        try:
            from nltk.stem import porter

            return porter.PorterStemmer()
        except ImportError as exc:  # pragma: no cover
            raise ImportError("use_stemmer=True needs rouge-score (and nltk)") from exc


def _make_tokenizer(
    tokenizer: str | Callable[[str], list[str]], use_stemmer: bool
) -> tuple[str, Callable[[str], list[str]]]:
    if callable(tokenizer) and not isinstance(tokenizer, str):
        mod = getattr(tokenizer, "__module__", None) or "?"
        qual = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__qualname__
        name = f"callable:{mod}.{qual}"
        user = tokenizer

        def base(text: str) -> list[str]:
            out = user(text)
            if not isinstance(out, list) or not all(isinstance(t, str) for t in out):
                raise TypeError(f"tokenizer {name} must return a list of str")
            return out

    elif tokenizer == "rouge_score":
        name = "rouge_score"

        def base(text: str) -> list[str]:
            return _NON_ALNUM_ASCII.sub(" ", text.lower()).split()

    elif tokenizer == "unicode":
        name = "unicode"

        def base(text: str) -> list[str]:
            return _NON_ALNUM_UNI.sub(" ", text.lower()).split()

    elif tokenizer == "whitespace":
        name = "whitespace"

        def base(text: str) -> list[str]:
            return text.lower().split()

    elif tokenizer == "char":
        name = "char"

        def base(text: str) -> list[str]:
            return [c for c in text.lower() if not c.isspace()]

    else:
        raise ValueError(
            f"unknown tokenizer {tokenizer!r}; choose unicode, rouge_score, whitespace, char, "
            "or pass a callable"
        )
    if not use_stemmer:
        return name, base
    stem = _stemmer().stem

    def stemmed(text: str) -> list[str]:
        return [stem(t) if len(t) > 3 else t for t in base(text)]

    return name + "+stem", stemmed


def _fmeasure(p: np.ndarray, r: np.ndarray) -> np.ndarray:
    s = p + r
    with np.errstate(divide="ignore", invalid="ignore"):
        f = 2 * p * r / s
    return np.where(s > 0, f, 0.0)


_ASCII_TABLE = bytes(
    c if (48 <= c <= 57 or 97 <= c <= 122 or c == 0) else 32 for c in range(256)
)


def _fast_ascii_ids(
    texts: list[str], vocab: dict[bytes, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """rouge_score's tokenizer for a whole corpus at once (bytes ops), or None if not ASCII.

    lowercase -> every byte outside [a-z0-9] becomes a space -> split; lines are kept apart
    by a NUL token (NUL is not in any input: checked).
    """
    big = " \x00 ".join(texts)
    if not big.isascii() or "\x00" in "".join(texts):
        return None
    flat = big.lower().encode("ascii").translate(_ASCII_TABLE).split()
    flat.append(b"\x00")
    for w in dict.fromkeys(flat):
        if w not in vocab:
            vocab[w] = len(vocab)
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    sep = vocab[b"\x00"]
    where = np.flatnonzero(ids == sep)
    lens = np.diff(np.concatenate([[-1], where])) - 1
    return ids[ids != sep], lens


def _slow_ids(
    texts: list[str], tok: Callable[[str], list[str]], vocab: dict[Any, int]
) -> tuple[np.ndarray, np.ndarray]:
    lists = [tok(x) for x in texts]
    lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    for w in dict.fromkeys(chain.from_iterable(lists)):
        if w not in vocab:
            vocab[w] = len(vocab)
    ids = np.fromiter(map(vocab.__getitem__, chain.from_iterable(lists)), dtype=np.int64,
                      count=int(lens.sum()))
    return ids, lens


_MAX_STRING_ID = 0x10FFFF - 0x900  # the largest id _ids_to_strings can map to a code point


def _ids_to_lists(ids: np.ndarray, lens: np.ndarray) -> list[list[int]]:
    """Token ids per text as lists (for corpora with more distinct tokens than code points)."""
    flat = ids.tolist()
    ends = np.cumsum(lens).tolist()
    return [flat[s:e] for s, e in zip([0] + ends[:-1], ends, strict=True)]


def _ids_to_strings(ids: np.ndarray, lens: np.ndarray) -> list[str]:
    """One character per token id (exact LCS through rapidfuzz's string path)."""
    cps = ids + 0x100
    cps = np.where(cps >= 0xD800, cps + 0x800, cps).astype("<u4")  # skip surrogates
    big = cps.tobytes().decode("utf-32-le")
    ends = np.cumsum(lens).tolist()
    starts = [0] + ends[:-1]
    return [big[s:e] for s, e in zip(starts, ends, strict=True)]


def _lcs_table(ref: Sequence[str], can: Sequence[str]) -> list[list[int]]:
    rows, cols = len(ref), len(can)
    t = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        ri = ref[i - 1]
        ti, tp = t[i], t[i - 1]
        for j in range(1, cols + 1):
            if ri == can[j - 1]:
                ti[j] = tp[j - 1] + 1
            else:
                ti[j] = max(tp[j], ti[j - 1])
    return t


def _lcs_ind(ref: Sequence[str], can: Sequence[str]) -> list[int]:
    """rouge_score's lcs_ind: one LCS (by its backtracking rule) as ref indices."""
    t = _lcs_table(ref, can)
    i, j = len(ref), len(can)
    out: list[int] = []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.append(i - 1)
            i -= 1
            j -= 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    out.reverse()
    return out


def _lsum_item(
    ref: str, hyp: str, tok: Callable[[str], list[str]]
) -> tuple[float, float, float]:
    ref_sent = [tok(s) for s in ref.split("\n") if len(s)]
    can_sent = [tok(s) for s in hyp.split("\n") if len(s)]
    if not ref_sent or not can_sent:
        return 0.0, 0.0, 0.0
    m = sum(map(len, ref_sent))
    n = sum(map(len, can_sent))
    if not n or not m:
        return 0.0, 0.0, 0.0
    cnt_r: Counter[str] = Counter()
    cnt_c: Counter[str] = Counter()
    for s in ref_sent:
        cnt_r.update(s)
    for s in can_sent:
        cnt_c.update(s)
    hits = 0
    for r in ref_sent:
        union = sorted(set().union(*[_lcs_ind(r, c) for c in can_sent]))
        for t in (r[i] for i in union):
            if cnt_c[t] > 0 and cnt_r[t] > 0:
                hits += 1
                cnt_c[t] -= 1
                cnt_r[t] -= 1
    recall = hits / m
    precision = hits / n
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f


def _tokens(
    references: list[str], hypotheses: list[str], tok: Callable[[str], list[str]],
    fast_ascii: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    vocab: dict[Any, int] = {}
    if fast_ascii:
        fr = _fast_ascii_ids(references, vocab)
        fh = _fast_ascii_ids(hypotheses, vocab) if fr is not None else None
        if fr is not None and fh is not None:
            return fr[0], fr[1], fh[0], fh[1], len(vocab)
        vocab.clear()
    rid, rl = _slow_ids(references, tok, vocab)
    hid, hl = _slow_ids(hypotheses, tok, vocab)
    return rid, rl, hid, hl, len(vocab)


def rouge_scores_multi(
    references: list[str],
    hypotheses: list[str],
    variants: Sequence[str],
    tok: Callable[[str], list[str]],
    *,
    fast_ascii: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per-item (precision, recall, fmeasure) per variant; tokenises once for all variants.

    ``fast_ascii``: ``tok`` is rouge_score's rule (or the unicode rule, which equals it on
    ASCII text), so an all-ASCII corpus can be tokenised in one pass of bytes operations.
    """
    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for v in variants:
        if v == "rougeLsum":
            rows = [_lsum_item(r, h, tok) for r, h in zip(references, hypotheses, strict=True)]
            arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
            out[v] = (arr[:, 0], arr[:, 1], arr[:, 2])
    rest = [v for v in variants if v != "rougeLsum"]
    if not rest:
        return out
    rid, rl, hid, hl, vsize = _tokens(references, hypotheses, tok, fast_ascii)
    ns = sorted({int(m.group(1)) for v in rest if (m := _VARIANT.match(v))})
    if ns:
        from llaso_pytest.metrics.text import ngram_match_counts

        matches, hyp_tot, ref_tot = ngram_match_counts(
            hid, hl, rid, rl, max(ns), vsize, orders=ns
        )
        for n in ns:
            overlap = matches[:, n - 1].astype(np.float64)
            p = overlap / np.maximum(hyp_tot[:, n - 1], 1)
            r = overlap / np.maximum(ref_tot[:, n - 1], 1)
            out[f"rouge{n}"] = (p, r, _fmeasure(p, r))
    if "rougeL" in rest:
        from rapidfuzz.distance import LCSseq
        from rapidfuzz.process import cpdist

        if max(int(rid.max(initial=0)), int(hid.max(initial=0))) <= _MAX_STRING_ID:
            rs, hs = _ids_to_strings(rid, rl), _ids_to_strings(hid, hl)
        else:  # over 1.1 million distinct tokens: no code point per id, lists of ids instead
            rs, hs = _ids_to_lists(rid, rl), _ids_to_lists(hid, hl)  # type: ignore[assignment]
        lcs = np.asarray(cpdist(rs, hs, scorer=LCSseq.similarity, dtype=np.int64, workers=1),
                         dtype=np.float64)
        empty = (rl == 0) | (hl == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(empty, 0.0, lcs / np.where(hl == 0, 1, hl))
            r = np.where(empty, 0.0, lcs / np.where(rl == 0, 1, rl))
        out["rougeL"] = (p, r, np.where(empty, 0.0, _fmeasure(p, r)))
    return out


def rouge_scores(
    references: list[str],
    hypotheses: list[str],
    variant: str,
    tok: Callable[[str], list[str]],
    *,
    fast_ascii: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-item (precision, recall, fmeasure) arrays, as rouge_score computes them."""
    return rouge_scores_multi(references, hypotheses, [variant], tok, fast_ascii=fast_ascii)[
        variant
    ]


def _scores_multi_refs(
    refs: list[list[str]], hyps: list[str], variants: Sequence[str],
    tok: Callable[[str], list[str]], *, fast_ascii: bool,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``RougeScorer.score_multi``: per item and variant, the scores against the reference
    with the highest F-measure (the first of equals, as its ``np.argmax``)."""
    best: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for k in range(max(map(len, refs))):
        idx = np.asarray([i for i, r in enumerate(refs) if len(r) > k], dtype=np.int64)
        scored = rouge_scores_multi([refs[i][k] for i in idx.tolist()],
                                    [hyps[i] for i in idx.tolist()], variants, tok,
                                    fast_ascii=fast_ascii)
        for v, (p, r, f) in scored.items():
            if k == 0:  # every item has a first reference
                best[v] = (p.copy(), r.copy(), f.copy())
                continue
            bp, br, bf = best[v]
            take = f > bf[idx]
            rows = idx[take]
            bp[rows], br[rows], bf[rows] = p[take], r[take], f[take]
    return best


def _check_variant(variant: Any) -> str:
    if not isinstance(variant, str) or not (
        variant in ("rougeL", "rougeLsum") or _VARIANT.match(variant)
    ):
        raise ValueError(
            f"variant must be rouge1..rouge9, rougeL or rougeLsum, got {variant!r}"
        )
    return variant


def rouge_all(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    variants: Sequence[str] = ("rouge1", "rouge2", "rougeL", "rougeLsum"),
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    tokenizer: str | Callable[[str], list[str]] = "unicode",
    use_stemmer: bool = False,
    measure: str = "fmeasure",
) -> dict[str, MetricResult]:
    """Several ROUGE variants at once (tokenised once), like ``RougeScorer([...])``.

    A reference may be a list of references: each item then scores as rouge-score's
    ``score_multi`` (per variant, the reference with the highest F-measure), and the signature
    names ``nrefs``.
    """
    if isinstance(variants, str):
        raise TypeError("variants= must be a sequence of variant names, not one string")
    vs = [_check_variant(v) for v in variants]
    if measure not in ("fmeasure", "precision", "recall"):
        raise ValueError(f"measure must be fmeasure, precision or recall, got {measure!r}")
    multi, hyps, id_t, grp = check_multi_items(references, hypotheses, ids=ids, groups=groups)
    counts = {len(r) for r in multi}
    n_refs: int | str = counts.pop() if len(counts) == 1 else "var"
    refs = [r[0] for r in multi]
    tok_name, tok = _make_tokenizer(tokenizer, use_stemmer)
    if tok_name.startswith("unicode") and CJK.search(
            "".join(chain.from_iterable(multi)) + "".join(hyps)):
        warn(
            f"rouge: the {tok_name!r} tokenizer splits on non-letters and whitespace, so "
            "Chinese/Japanese text without spaces becomes one token per sentence; pass "
            "tokenizer='char' (or a word segmenter as a callable)"
        )
    fast = tok_name in ("rouge_score", "unicode")  # no stemmer, no callable
    with gc_paused():
        if n_refs == 1:
            scored = rouge_scores_multi(refs, hyps, vs, tok, fast_ascii=fast)
        else:
            scored = _scores_multi_refs(multi, hyps, vs, tok, fast_ascii=fast)
    n = len(refs)
    sig: dict[str, Any] = {"tokenizer": tok_name, "measure": measure}
    if n_refs != 1:
        sig["nrefs"] = n_refs
    try:
        from importlib.metadata import version

        sig["rouge_score_compat"] = version("rouge-score")
    except ImportError:  # pragma: no cover - rouge-score not installed: nothing to name
        sig["rouge_score_compat"] = "none"
    results: dict[str, MetricResult] = {}
    texts = ItemTexts("pair", {"ref": [" | ".join(r) for r in multi], "hyp": hyps})
    for v in vs:
        p, r, f = scored[v]
        chosen = {"fmeasure": f, "precision": p, "recall": r}[measure]
        results[v] = build_result(
            name=v, stats={measure: chosen, "count": np.ones(n, dtype=np.int64)},
            aggregate_kind="mean", higher_is_better=True, item_ids=id_t, groups=grp,
            confidence=confidence, n_boot=n_boot, seed=seed, signature_fields=sig,
            signature_extra=signature_extra, scores=chosen,
            extra={"precision": float(p.mean()), "recall": float(r.mean()),
                   "fmeasure": float(f.mean())}, texts=texts,
        )
    return results


def rouge(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    variant: str = "rougeL",
    tokenizer: str | Callable[[str], list[str]] = "unicode",
    use_stemmer: bool = False,
    measure: str = "fmeasure",
) -> MetricResult:
    """Mean per-item ROUGE (``variant`` rouge1..rouge9, rougeL, rougeLsum) with a CI.

    ``measure`` picks fmeasure (default), precision or recall as the value; the means of
    all three are in ``result.extra``.
    """
    return rouge_all(
        references, hypotheses, variants=[_check_variant(variant)], ids=ids, groups=groups,
        confidence=confidence, n_boot=n_boot, seed=seed, signature_extra=signature_extra,
        tokenizer=tokenizer, use_stemmer=use_stemmer, measure=measure,
    )[variant]
