"""BLEU, chrF and TER through sacrebleu's definitions, with per-sentence statistics.

Corpus scores equal ``sacrebleu.corpus_bleu`` / ``corpus_chrf`` / ``corpus_ter`` (same
tokenizers, same formulas, same floating-point operations). BLEU has a fast path:

* the ``13a`` tokenizer runs its four regular expressions once over a chunk of joined
  lines (a separator that no rule touches keeps lines apart) instead of once per line;
  other tokenizers (``intl``, ``char``, ``ja-mecab`` when ``sacrebleu[ja]`` is installed,
  ...) use sacrebleu's tokenizer object line by line;
* tokens are interned to integers and clipped n-gram matches are counted for all
  sentences at once with NumPy (one sort per n-gram order), instead of a ``Counter`` per
  sentence;
* the bootstrap resamples the ``(n, 2 + 2*order)`` statistics matrix in memory-bounded
  batches (sacrebleu materialises ``n_boot x n x k`` floats).

chrF and TER use sacrebleu's own per-sentence statistics (exact by construction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

from llaso_pytest.aggregates import aggregate, columns, register_aggregate
from llaso_pytest.context import AUTO_SEED
from llaso_pytest.itemtext import ItemTexts
from llaso_pytest.metrics.base import (
    MetricResult,
    build_result,
    check_multi_items,
    gc_paused,
    unsegmented_cjk,
    warn,
)

__all__ = ["bleu", "chrf", "ngram_match_counts", "ter"]

_SEP = "\x00"  # not whitespace for str.split(), untouched by every 13a rule
_CHUNK = 20_000


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError as exc:  # pragma: no cover - environment
        raise ImportError(
            "BLEU/chrF/TER need sacrebleu (pip install 'llaso-pytest[metrics]')"
        ) from exc
    return sacrebleu


def _version() -> str:
    return str(_sacrebleu().__version__)


# ----------------------------------------------------------------------------------------
# tokenisation + interning


class _Interner:
    """Maps tokens to dense ints, shared by references and hypotheses.

    For 13a it also holds, per input token, the tokens that sacrebleu's rules 2-4 split it
    into (computed once per distinct token, see ``_tok13a_chunk``).
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._exp: list[list[int]] = []  # input token id -> output token ids (13a rules 2-4)

    def encode(self, tokens: list[str]) -> np.ndarray:
        v = self.vocab
        for w in dict.fromkeys(tokens):
            if w not in v:
                v[w] = len(v)
        return np.fromiter(map(v.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def expand13a(self, enc: np.ndarray) -> np.ndarray:
        """Apply 13a rules 2-4 to every token: each distinct token once, then a gather."""
        _, rest = _rules13a()
        words = list(self.vocab)
        while len(self._exp) < len(self.vocab):  # new ids (the vocabulary may grow here)
            vid = len(self._exp)
            if vid >= len(words):
                words = list(self.vocab)
            w = words[vid]
            parts = [w]
            if "." in w or "," in w or "-" in w:
                line = f" {w} "
                for rx, repl in rest:
                    line = rx.sub(repl, line)
                parts = line.split()
            for p in parts:
                if p not in self.vocab:
                    self.vocab[p] = len(self.vocab)
            self._exp.append([self.vocab[p] for p in parts])
        lens = np.fromiter(map(len, self._exp), dtype=np.int64, count=len(self._exp))
        starts = np.cumsum(lens) - lens
        flat = np.fromiter(chain.from_iterable(self._exp), dtype=np.int64, count=int(lens.sum()))
        out_len = lens[enc]
        total = int(out_len.sum())
        offs = np.arange(total) - np.repeat(np.cumsum(out_len) - out_len, out_len)
        out: np.ndarray = flat[np.repeat(starts[enc], out_len) + offs]
        return out


@lru_cache(maxsize=1)
def _rules13a() -> tuple[Any, list[tuple[Any, str]]]:
    """sacrebleu's TokenizerRegexp rules: rule 1 (pad a class of punctuation with spaces)
    as a splitting regex without the space character (padding whitespace with whitespace
    changes no token), rules 2-4 unchanged."""
    import re

    rule1 = re.compile(r"([\{-\~\[-\`!-\&\(-\+\:-\@\/])")
    rest = [
        (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
        (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
        (re.compile(r"([0-9])(-)"), r"\1 \2 "),
    ]
    return rule1, rest


def _tok13a_chunk(lines: list[str]) -> list[str]:
    """sacrebleu's Tokenizer13a over many lines at once; flat tokens with _SEP between lines.

    Rule 1 runs as one ``re.split`` + ``" ".join`` over the chunk (no per-match Python).
    Rules 2-4 are applied per distinct whitespace token afterwards (``_Interner.expand13a``):
    whitespace is never consumed as the first character of a rule-2 match and rules 3/4
    cannot start on it, so padding a token with spaces reproduces its line context exactly.
    """
    text = _SEP.join(f" {line} " for line in lines)
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in text:
        text = (
            text.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
            .replace("&gt;", ">")
        )
    rule1, _ = _rules13a()
    return " ".join(rule1.split(text)).split()


def _encode_chunk(
    chunk: list[str], tokenize: str, lowercase: bool, interner: _Interner, metric_obj: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (flat) and per-line token counts, tokenised exactly as sacrebleu's BLEU."""
    chunk = [x.lower() if lowercase else x for x in chunk]
    chunk = [x.rstrip() for x in chunk]
    if tokenize == "13a" and not any(_SEP in x for x in chunk):
        flat = _tok13a_chunk(chunk)
        flat.append(_SEP)
        enc = interner.expand13a(interner.encode(flat))
        sep_id = interner.vocab[_SEP]
        where = np.flatnonzero(enc == sep_id)
        return enc[enc != sep_id], np.diff(np.concatenate([[-1], where])) - 1
    tok = metric_obj.tokenizer
    toks = [tok(x).split() for x in chunk]
    lens = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    return interner.encode(list(chain.from_iterable(toks))), lens


def bleu_statistics(
    references: list[str],
    hypotheses: list[str],
    *,
    tokenize: str,
    lowercase: bool,
    max_order: int,
    metric_obj: Any,
) -> np.ndarray:
    """Per-sentence ``[sys_len, ref_len, correct_1..N, total_1..N]`` as sacrebleu's BLEU,
    computed in chunks (bounded memory)."""
    out = np.zeros((len(hypotheses), 2 + 2 * max_order), dtype=np.int64)
    interner = _Interner()
    for start in range(0, len(hypotheses), _CHUNK):
        stop = min(start + _CHUNK, len(hypotheses))
        h_ids, h_len = _encode_chunk(hypotheses[start:stop], tokenize, lowercase, interner,
                                     metric_obj)
        r_ids, r_len = _encode_chunk(references[start:stop], tokenize, lowercase, interner,
                                     metric_obj)
        correct, total, _ = ngram_match_counts(
            h_ids, h_len, r_ids, r_len, max_order, len(interner.vocab)
        )
        out[start:stop, 0] = h_len
        out[start:stop, 1] = r_len
        out[start:stop, 2 : 2 + max_order] = correct
        out[start:stop, 2 + max_order :] = total
    return out


def _matches_for_keys(
    key: np.ndarray, is_hyp: np.ndarray, sid: np.ndarray, n_sent: int, sent_div: int
) -> np.ndarray:
    """sum over distinct keys of min(#hyp, #ref), per sentence (keys already include it).

    ``sent_div > 0``: the sentence is ``key // sent_div`` (packed keys), so a plain sort
    suffices; otherwise an argsort carries ``sid`` along.
    """
    if key.size == 0:
        return np.zeros(n_sent, dtype=np.int64)
    tagged = key * 2 + (~is_hyp)  # hyp copies sort just before ref copies of a key
    if sent_div > 0:
        t = np.sort(tagged)
        s_sorted = None
    else:
        order = np.argsort(tagged)
        t = tagged[order]
        s_sorted = sid[order]
    change = np.empty(t.size, dtype=bool)
    change[0] = True
    np.not_equal(t[1:], t[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, t.size))
    ut = t[starts]
    # a hyp run (even tag) followed by a ref run (odd tag) of the same key: both present
    pair = (ut[:-1] + 1 == ut[1:]) & (ut[:-1] % 2 == 0)
    i = np.flatnonzero(pair)
    m = np.minimum(counts[i], counts[i + 1])
    if s_sorted is None:
        sent = (ut[i] // 2) // sent_div
    else:
        sent = s_sorted[starts[i]]
    return np.bincount(sent, weights=m, minlength=n_sent).astype(np.int64)


def ngram_match_counts(
    hyp_ids: np.ndarray,
    hyp_lens: np.ndarray,
    ref_ids: np.ndarray,
    ref_lens: np.ndarray,
    max_order: int,
    vocab_size: int,
    *,
    orders: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clipped n-gram matches per sentence and order, for all sentences at once.

    Returns ``(matches, hyp_totals, ref_totals)``, each ``(n_sentences, max_order)``:
    ``matches[s, n-1] = sum over n-grams g of min(count_hyp(g), count_ref(g))`` in sentence
    s (only for ``orders`` when given; other columns stay 0). An n-gram's key is
    ``(sentence, w1..wn)`` packed into an int64 when it fits, else built by dense
    relabelling of ``(key of the (n-1)-gram, wn)``; keys never collide and never leak
    across sentences.
    """
    n_sent = hyp_lens.shape[0]
    th, tr = hyp_ids.shape[0], ref_ids.shape[0]
    want = set(range(1, max_order + 1) if orders is None else orders)
    ids = np.concatenate([hyp_ids, ref_ids]).astype(np.int64)
    lens = np.concatenate([hyp_lens, ref_lens]).astype(np.int64)
    sid = np.repeat(np.concatenate([np.arange(n_sent), np.arange(n_sent)]), lens)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    remaining = np.repeat(lens + starts, lens) - np.arange(th + tr)  # tokens left incl. this
    is_hyp = np.zeros(th + tr, dtype=bool)
    is_hyp[:th] = True
    matches = np.zeros((n_sent, max_order), dtype=np.int64)
    v = max(int(vocab_size), 1)
    gram = sid * v + ids  # order-1 key (sentence, token)
    bound = max(n_sent, 1) * v  # exclusive upper bound of gram
    sent_div = v  # gram // sent_div is the sentence while keys are packed (0: relabelled)
    for n in range(1, max_order + 1):
        if n > 1:
            if not (want & set(range(n, max_order + 1))):
                break
            valid = remaining >= n
            nxt = np.zeros_like(ids)
            nxt[: -(n - 1)] = ids[n - 1 :]
            if float(bound) * v < 2.0**61 and sent_div > 0:
                gram = np.where(valid, gram * v + nxt, -1)
                bound = bound * v
                sent_div = sent_div * v
            else:  # relabel densely so the packed key stays small
                prev = gram[valid]
                if float(bound) * v >= 2.0**62:  # prev * v would wrap: number prev densely first
                    _, prev = np.unique(prev, return_inverse=True)
                    prev = prev.reshape(-1).astype(np.int64)
                kv = prev * v + nxt[valid]
                _, inv = np.unique(kv, return_inverse=True)
                gram = np.full(th + tr, -1, dtype=np.int64)
                gram[valid] = inv.reshape(-1)
                bound = int(inv.max()) + 1 if inv.size else 1
                sent_div = 0
        else:
            valid = np.ones(th + tr, dtype=bool)
        if n in want:
            matches[:, n - 1] = _matches_for_keys(
                gram[valid], is_hyp[valid], sid[valid], n_sent, sent_div
            )
    orders_arr = np.arange(1, max_order + 1)[None, :]
    hyp_tot = np.maximum(hyp_lens[:, None] - orders_arr + 1, 0)
    ref_tot = np.maximum(ref_lens[:, None] - orders_arr + 1, 0)
    return matches, hyp_tot, ref_tot


# ----------------------------------------------------------------------------------------
# corpus formulas (registered aggregates): sacrebleu's, on summed sentence statistics


def _my_log(x: float) -> float:
    return -9999999999.0 if x == 0.0 else math.log(x)


def _bleu_row(row: Sequence[float], order: int, smooth: str, value: float, eff: bool) -> float:
    """sacrebleu.BLEU.compute_bleu, operation for operation (scalar, for the exact value)."""
    sys_len, ref_len = float(row[0]), float(row[1])
    correct = [float(x) for x in row[2 : 2 + order]]
    total = [float(x) for x in row[2 + order : 2 + 2 * order]]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * order
    smooth_mteval = 1.0
    eff_order = order
    for n in range(1, order + 1):
        if smooth == "add-k" and n > 1:
            correct[n - 1] += value
            total[n - 1] += value
        if total[n - 1] == 0:
            break
        if eff:
            eff_order = n
        if correct[n - 1] == 0:
            if smooth == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    return bp * math.exp(sum(_my_log(p) for p in precisions[:eff_order]) / eff_order)


def _bleu_vec(s: np.ndarray, order: int, smooth: str, value: float, eff: bool) -> np.ndarray:
    """Vectorised sacrebleu BLEU over rows (bootstrap path; same formula)."""
    b = s.shape[0]
    sys_len, ref_len = s[:, 0], s[:, 1]
    correct = s[:, 2 : 2 + order].copy()
    total = s[:, 2 + order : 2 + 2 * order].copy()
    correct_orig_any = (correct != 0).any(axis=1)
    if smooth == "add-k":
        correct[:, 1:] += value
        total[:, 1:] += value
    prec = np.zeros((b, order))
    alive = np.ones(b, dtype=bool)  # not yet hit a zero total ('break')
    eff_order = np.full(b, float(order))
    if eff:
        eff_order[:] = 0.0
    mteval = np.ones(b)
    for n in range(order):
        alive &= total[:, n] != 0
        if eff:
            eff_order = np.where(alive, n + 1.0, eff_order)
        zero = alive & (correct[:, n] == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if smooth == "exp":
                mteval = np.where(zero, mteval * 2, mteval)
                p_zero = 100.0 / (mteval * total[:, n])
            elif smooth == "floor":
                p_zero = 100.0 * value / total[:, n]
            else:
                p_zero = np.zeros(b)
            p_nz = 100.0 * correct[:, n] / total[:, n]
        prec[:, n] = np.where(alive, np.where(zero, p_zero, p_nz), 0.0)
    with np.errstate(divide="ignore"):
        logs = np.where(prec == 0.0, -9999999999.0, np.log(np.where(prec == 0.0, 1.0, prec)))
    mask = np.arange(order)[None, :] < eff_order[:, None]
    acc = np.zeros(b)
    for n in range(order):  # left-to-right like Python's sum()
        acc = acc + np.where(mask[:, n], logs[:, n], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(
            sys_len < ref_len,
            np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)), 0.0),
            1.0,
        )
        score = bp * np.exp(acc / np.where(eff_order > 0, eff_order, 1))
    return np.where(correct_orig_any, score, 0.0)


def _agg_bleu(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    order = int(p.get("order", "4"))
    smooth = p.get("smooth", "exp")
    value = float(p.get("value", "0"))
    eff = p.get("effective", "0") in ("1", "true", "True", "yes")
    s = columns(s, 2 + 2 * order, "bleu")
    if s.shape[0] <= 64:
        return np.array([_bleu_row(r, order, smooth, value, eff) for r in s.tolist()])
    return _bleu_vec(s, order, smooth, value, eff)


def _chrf_row(row: Sequence[float], n_orders: int, beta: float, eps_smoothing: bool) -> float:
    """sacrebleu.CHRF._compute_f_score, operation for operation."""
    eps = 1e-16
    score = 0.0
    effective_order = 0
    factor = beta**2
    avg_prec, avg_rec = 0.0, 0.0
    for i in range(n_orders):
        n_hyp, n_ref, n_match = row[3 * i : 3 * i + 3]
        prec = n_match / n_hyp if n_hyp > 0 else eps
        rec = n_match / n_ref if n_ref > 0 else eps
        denom = factor * prec + rec
        score += ((1 + factor) * prec * rec / denom) if denom > 0 else eps
        if n_hyp > 0 and n_ref > 0:
            avg_prec += prec
            avg_rec += rec
            effective_order += 1
    if eps_smoothing:
        return 100 * score / n_orders
    if effective_order == 0:
        avg_prec = avg_rec = 0.0
    else:
        avg_prec /= effective_order
        avg_rec /= effective_order
    if avg_prec + avg_rec:
        score = (1 + factor) * avg_prec * avg_rec
        score /= (factor * avg_prec) + avg_rec
        return 100 * score
    return 0.0


def _agg_chrf(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    n_orders = int(p.get("orders", "6"))
    beta = float(p.get("beta", "2"))
    eps_smoothing = p.get("eps", "0") in ("1", "true", "True", "yes")
    s = columns(s, 3 * n_orders, "chrf")
    if s.shape[0] <= 64:
        return np.array([_chrf_row(r, n_orders, beta, eps_smoothing) for r in s.tolist()])
    eps = 1e-16
    factor = beta**2
    b = s.shape[0]
    score = np.zeros(b)
    eff = np.zeros(b)
    avg_prec = np.zeros(b)
    avg_rec = np.zeros(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(n_orders):
            n_hyp, n_ref, n_match = s[:, 3 * i], s[:, 3 * i + 1], s[:, 3 * i + 2]
            prec = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1), eps)
            rec = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1), eps)
            denom = factor * prec + rec
            score = score + np.where(
                denom > 0, (1 + factor) * prec * rec / np.where(denom > 0, denom, 1), eps
            )
            both = (n_hyp > 0) & (n_ref > 0)
            avg_prec = avg_prec + np.where(both, prec, 0.0)
            avg_rec = avg_rec + np.where(both, rec, 0.0)
            eff = eff + both
        if eps_smoothing:
            return 100 * score / n_orders
        safe = np.where(eff == 0, 1, eff)
        avg_prec = np.where(eff == 0, 0.0, avg_prec / safe)
        avg_rec = np.where(eff == 0, 0.0, avg_rec / safe)
        tot = avg_prec + avg_rec
        f = (1 + factor) * avg_prec * avg_rec
        f = f / np.where(tot != 0, (factor * avg_prec) + avg_rec, 1)
        return np.where(tot != 0, 100 * f, 0.0)


def _agg_ter(s: np.ndarray, p: Mapping[str, str]) -> np.ndarray:
    # sacrebleu.TER._compute_score_from_stats: edits / ref_length, with its edge cases.
    s = columns(s, 2, "ter")
    edits, ref_len = s[:, 0], s[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(
            ref_len > 0, edits / np.where(ref_len > 0, ref_len, 1), np.where(edits > 0, 1.0, 0.0)
        )
    return 100 * score


register_aggregate("bleu", _agg_bleu)
register_aggregate("chrf", _agg_chrf)
register_aggregate("ter", _agg_ter)


# ----------------------------------------------------------------------------------------
# common validation


@dataclass(frozen=True)
class _Items:
    """Validated items: one list of references per item (one or more), hypotheses, ids."""

    refs: list[list[str]]
    hyps: list[str]
    ids: tuple[str, ...]
    groups: tuple[str, ...] | None

    @property
    def n_refs(self) -> int | str:
        """References per item: a number, or ``"var"`` when it varies (sacrebleu's words)."""
        counts = {len(r) for r in self.refs}
        return counts.pop() if len(counts) == 1 else "var"

    @property
    def single(self) -> list[str] | None:
        """The references as one stream when every item has exactly one."""
        return [r[0] for r in self.refs] if self.n_refs == 1 else None

    def streams(self) -> list[list[str | None]]:
        """sacrebleu's reference streams: stream k holds each item's k-th reference, ``None``
        where an item has fewer (sacrebleu's variable number of references)."""
        width = max(map(len, self.refs))
        return [[r[k] if k < len(r) else None for r in self.refs] for k in range(width)]

    def signature(self) -> dict[str, Any]:
        """``nrefs`` for several references per item (absent for one: older signatures)."""
        return {} if self.n_refs == 1 else {"nrefs": self.n_refs}

    def texts(self) -> ItemTexts:
        return ItemTexts("pair", {"ref": [" | ".join(r) for r in self.refs], "hyp": self.hyps})


def _check_text_items(references: Any, hypotheses: Any, ids: Any, groups: Any) -> _Items:
    refs, hyps, id_t, grp = check_multi_items(references, hypotheses, ids=ids, groups=groups)
    return _Items(refs, hyps, id_t, grp)


_SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}


def bleu(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    max_ngram_order: int = 4,
    effective_order: bool = False,
) -> MetricResult:
    """Corpus BLEU (0-100) equal to ``sacrebleu.corpus_bleu(hyps, [refs], ...)``, with a CI.

    A reference may be a list of references: the score then equals sacrebleu with one
    reference stream per position (``None`` where an item has fewer), clipping n-grams by
    their most frequent reference and taking the closest reference length, and the signature
    names ``nrefs``. Per-item statistics: ``sys_len, ref_len, correct_1..N, total_1..N``
    (sacrebleu's order). Per-item scores are sacrebleu's sentence BLEU from the same
    statistics (``effective_order`` as given). Japanese or Chinese without spaces under a
    word tokenizer (``13a``, ``intl``) warns, naming ``tokenize='ja-mecab'`` (or ``'zh'``,
    ``'char'``).
    """
    sb = _sacrebleu()
    items = _check_text_items(references, hypotheses, ids, groups)
    hyps, id_t, grp = items.hyps, items.ids, items.groups
    if smooth_method not in _SMOOTH_DEFAULTS:
        raise ValueError(
            f"smooth_method must be one of {', '.join(_SMOOTH_DEFAULTS)}, got {smooth_method!r}"
        )
    if not isinstance(max_ngram_order, int) or not 1 <= max_ngram_order <= 9:
        raise ValueError(f"max_ngram_order must be an int in 1..9, got {max_ngram_order!r}")
    try:
        metric = sb.metrics.BLEU(
            tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method,
            smooth_value=smooth_value, max_ngram_order=max_ngram_order,
            effective_order=effective_order,
        )
    except Exception as exc:  # sacrebleu raises on unknown tokenizers / missing extras
        raise ValueError(f"sacrebleu rejected tokenize={tokenize!r}: {exc}") from exc
    value_sm = _SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value
    if tokenize in ("13a", "intl", "none") and unsegmented_cjk(
            chain(hyps, chain.from_iterable(items.refs))):
        warn(f"bleu: the {tokenize!r} tokenizer splits on spaces and punctuation, so Japanese "
             "or Chinese text without spaces becomes one token per phrase and BLEU is near 0; "
             "pass tokenize='ja-mecab' for Japanese (tokenize='zh' for Chinese, or 'char')")
    single = items.single
    with gc_paused():
        if single is not None:
            mat_i = bleu_statistics(
                single, hyps, tokenize=tokenize, lowercase=lowercase,
                max_order=max_ngram_order, metric_obj=metric,
            )
        else:  # several references: sacrebleu's own statistics (max clipping, closest length)
            mat_i = _sacre_stats(metric, hyps, items.streams()).astype(np.int64)
    h_len, r_len = mat_i[:, 0], mat_i[:, 1]
    stats: dict[str, np.ndarray] = {"sys_len": h_len, "ref_len": r_len}
    for k in range(max_ngram_order):
        stats[f"correct_{k + 1}"] = mat_i[:, 2 + k]
    for k in range(max_ngram_order):
        stats[f"total_{k + 1}"] = mat_i[:, 2 + max_ngram_order + k]
    kind = (
        f"bleu(order={max_ngram_order},smooth={smooth_method},"
        f"value={0 if value_sm is None else value_sm},effective={int(bool(effective_order))})"
    )
    mat = np.column_stack(list(stats.values())).astype(np.float64)
    scores = _bleu_vec(
        mat, max_ngram_order, smooth_method, float(value_sm or 0), bool(effective_order)
    )
    sig = {
        "tokenizer": tokenize,
        "case": "lc" if lowercase else "mixed",
        "smooth": smooth_method if value_sm is None else f"{smooth_method}:{value_sm}",
        "order": max_ngram_order,
        "eff": bool(effective_order),
        **items.signature(),
        "sacrebleu": _version(),
    }
    return build_result(
        name="bleu", stats=stats, aggregate_kind=kind, higher_is_better=True, item_ids=id_t,
        groups=grp, confidence=confidence, n_boot=n_boot, seed=seed, signature_fields=sig,
        signature_extra=signature_extra, scores=scores,
        extra={"sys_len": int(h_len.sum()), "ref_len": int(r_len.sum())},
        texts=items.texts(),
    )


def _sacre_value(kind: str, mat: np.ndarray) -> float:
    """The corpus value from statistics summed as sacrebleu sums them (left to right): with
    several references TER's reference lengths are averages, and NumPy's pairwise sum of
    fractions can differ in the last digit."""
    total = np.asarray([[sum(col) for col in zip(*mat.tolist(), strict=True)]],
                       dtype=np.float64)
    return float(aggregate(kind, total)[0])


def _sacre_stats(metric: Any, hyps: list[str], streams: Sequence[Sequence[str | None]]
                 ) -> np.ndarray:
    stats = metric._extract_corpus_statistics(hyps, streams)
    return np.asarray(stats, dtype=np.float64)


def chrf(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
    whitespace: bool = False,
    eps_smoothing: bool = False,
) -> MetricResult:
    """Corpus chrF (``word_order=2``: chrF++) equal to ``sacrebleu.corpus_chrf``, with a CI.

    Several references per item (a list): sacrebleu's multi-reference chrF (each item's
    statistics from its best reference), with ``nrefs`` in the signature.
    """
    sb = _sacrebleu()
    items = _check_text_items(references, hypotheses, ids, groups)
    hyps, id_t, grp = items.hyps, items.ids, items.groups
    metric = sb.metrics.CHRF(
        char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase,
        whitespace=whitespace, eps_smoothing=eps_smoothing,
    )
    mat = _sacre_stats(metric, hyps, items.streams())
    orders = char_order + word_order
    names = []
    for i in range(orders):
        lab = f"c{i + 1}" if i < char_order else f"w{i - char_order + 1}"
        names += [f"{lab}_hyp", f"{lab}_ref", f"{lab}_match"]
    stats = {nm: mat[:, j].astype(np.int64) for j, nm in enumerate(names)}
    kind = f"chrf(orders={orders},beta={beta},eps={int(bool(eps_smoothing))})"
    scores = aggregate(kind, mat) if mat.shape[0] > 64 else np.array(
        [float(aggregate(kind, row[None, :])[0]) for row in mat]
    )
    sig = {
        "char_order": char_order, "word_order": word_order, "beta": beta,
        "case": "lc" if lowercase else "mixed", "whitespace": bool(whitespace),
        "eps": bool(eps_smoothing), **items.signature(), "sacrebleu": _version(),
    }
    return build_result(
        name="chrf" if word_order == 0 else "chrf++", stats=stats, aggregate_kind=kind,
        higher_is_better=True, item_ids=id_t, groups=grp, confidence=confidence,
        n_boot=n_boot, seed=seed, signature_fields=sig, signature_extra=signature_extra,
        scores=scores, texts=items.texts(),
    )


def ter(
    references: Sequence[str | Sequence[str]],
    hypotheses: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: int | None = AUTO_SEED,
    signature_extra: Mapping[str, Any] | None = None,
    normalized: bool = False,
    no_punct: bool = False,
    asian_support: bool = False,
    case_sensitive: bool = False,
) -> MetricResult:
    """Corpus TER (0-100, lower is better) equal to ``sacrebleu.corpus_ter``, with a CI.

    Several references per item (a list): sacrebleu's multi-reference TER (fewest edits over
    the references, divided by the average reference length), ``nrefs`` in the signature.
    """
    sb = _sacrebleu()
    items = _check_text_items(references, hypotheses, ids, groups)
    hyps, id_t, grp = items.hyps, items.ids, items.groups
    metric = sb.metrics.TER(
        normalized=normalized, no_punct=no_punct, asian_support=asian_support,
        case_sensitive=case_sensitive,
    )
    mat = _sacre_stats(metric, hyps, items.streams())
    stats = {"edits": mat[:, 0], "ref_len": mat[:, 1]}
    sig = {
        "case": "mixed" if case_sensitive else "lc", "normalized": bool(normalized),
        "no_punct": bool(no_punct), "asian": bool(asian_support), **items.signature(),
        "sacrebleu": _version(),
    }
    return build_result(
        name="ter", stats=stats, aggregate_kind="ter", higher_is_better=False, item_ids=id_t,
        groups=grp, confidence=confidence, n_boot=n_boot, seed=seed, signature_fields=sig,
        signature_extra=signature_extra, scores=aggregate("ter", mat),
        texts=items.texts(), value=_sacre_value("ter", mat) if items.single is None else None,
    )
