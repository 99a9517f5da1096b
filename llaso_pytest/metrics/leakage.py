"""Training/evaluation overlap: exact n-gram contamination and contained near-duplicates.

Two checks, one streaming pass over the training side:

* **exact n-grams**, as the GPT-3 paper (Appendix C) and lm-evaluation-harness
  decontamination define it: an eval item is contaminated when any of its word ``n``-grams
  (default 13, words casefolded, punctuation dropped) occurs in a training document. Items
  shorter than ``n`` words are checked with their whole word sequence (GPT-3 lowered ``n``
  to the benchmark's shorter examples; this keeps one ``n`` and never skips an item).
* **contained near-duplicates** with MinHash (``datasketch``): the word-``shingle`` sets of
  the training documents of each chunk go into a :class:`datasketch.MinHashLSHEnsemble`,
  which answers *containment* queries ``|E & T| / |E| >= threshold``, so an eval item ``E``
  inside a longer training document ``T`` is found where a Jaccard index would miss it.
  Each candidate is then verified on the exact shingle sets (no false positive of the sketch
  survives), and the evidence holds the exact containment.

The eval side is indexed in memory (it is small); the training side is read once, in
chunks, and only its shingles that occur in some eval item are kept (a shingle no eval item
has cannot raise any containment), so memory is bounded by the eval set and the chunk size,
not by the training corpus. Tokens are numbered from the eval vocabulary, so results do not
depend on Python's per-process string hashing: the same inputs give the same flags.

:func:`rescore_clean` re-scores a metric on the clean items with a paired bootstrap against
the full set (the one engine in :mod:`llaso_pytest.stats`), so a report can say how much of
the score comes from contaminated items.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from llaso_pytest.errors import LlasoError, MetricInputError

__all__ = [
    "CleanComparison",
    "Evidence",
    "LeakageError",
    "LeakageResult",
    "leakage",
    "rescore_clean",
    "words",
]

_WORD = re.compile(r"[^\W_]+")
#: Word positions of a training document shown around a match in the evidence.
EXCERPT_WORDS = 40
#: Training documents kept as evidence per flagged item (the count of all is kept too).
MAX_EVIDENCE = 5

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


class LeakageError(LlasoError, ValueError):
    """Bad input to the leakage check (empty sides, a non-str document, bad options)."""


def words(text: str) -> list[str]:
    """The normalised words of ``text``: casefolded runs of letters and digits (punctuation,
    underscores and whitespace separate words), as the decontamination n-grams use."""
    return _WORD.findall(text.casefold())


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each uint64 (wraps mod 2**64)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M2
        x = (x ^ (x >> np.uint64(27))) * _M3
        out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _gram_hashes(codes: np.ndarray, k: int) -> np.ndarray:
    """Hashes of every window of ``k`` consecutive codes (``len - k + 1`` of them)."""
    m = codes.size - k + 1
    if m <= 0:
        return np.empty(0, np.uint64)
    h = np.zeros(m, np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = _mix(h * _M1 + codes[j:j + m])
    return h


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort, cheaper than ``np.unique``'s hashing on small arrays)."""
    a = np.sort(a)
    if a.size < 2:
        return a
    keep = np.empty(a.size, bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    out: np.ndarray = a[keep]
    return out


def _in_sorted(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """Whether each value occurs in the sorted, distinct ``sorted_unique`` (binary search)."""
    if sorted_unique.size == 0:
        return np.zeros(values.size, bool)
    at = np.searchsorted(sorted_unique, values)
    at[at == sorted_unique.size] = 0
    out: np.ndarray = sorted_unique[at] == values
    return out


def _has_unknown(codes: np.ndarray, k: int) -> np.ndarray:
    """For each window of ``k`` codes, whether it holds a word no eval item has (code 0)."""
    m = codes.size - k + 1
    zero = np.concatenate([[0], np.cumsum(codes == 0)])
    out: np.ndarray = (zero[k:k + m] - zero[:m]) > 0
    return out


@dataclass(frozen=True)
class Evidence:
    """Why an item was flagged: the matching spans of the eval item and the training document.

    ``kind`` is ``"ngram"`` (an exact ``n``-gram, or the whole item when shorter) or
    ``"containment"`` (its shingles contained in the document at ``containment``, verified
    exactly). ``spans`` are the eval item's matching word runs (normalised words);
    ``train_excerpt`` the training document's words around the first match.
    """

    kind: Literal["ngram", "containment"]
    train_id: str
    spans: tuple[str, ...]
    containment: float
    train_excerpt: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "train_id": self.train_id, "spans": list(self.spans),
                "containment": self.containment, "train_excerpt": self.train_excerpt}


@dataclass(frozen=True)
class LeakageResult:
    """The flagged eval items, their evidence, and what was checked against what.

    ``flagged`` keeps the eval order; ``evidence[id]`` is at most :data:`MAX_EVIDENCE`
    training documents (``matches[id]`` counts all of them); ``provenance`` names the
    training corpus by its sha256 and the settings, for the run record.
    """

    ids: tuple[str, ...]
    flagged: tuple[str, ...]
    evidence: Mapping[str, tuple[Evidence, ...]]
    matches: Mapping[str, int]
    provenance: Mapping[str, Any]
    n_train: int
    by_kind: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def clean(self) -> tuple[str, ...]:
        flagged = set(self.flagged)
        return tuple(i for i in self.ids if i not in flagged)

    @property
    def fraction(self) -> float:
        return len(self.flagged) / len(self.ids)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``"kind": "llaso-leakage"``) for a file or the run record."""
        return {
            "kind": "llaso-leakage",
            "n": self.n,
            "n_train": self.n_train,
            "flagged": list(self.flagged),
            "by_kind": {k: list(v) for k, v in self.by_kind.items()},
            "matches": dict(self.matches),
            "evidence": {i: [e.to_dict() for e in ev] for i, ev in self.evidence.items()},
            "provenance": dict(self.provenance),
        }

    def summary(self) -> str:
        kinds = ", ".join(f"{len(v)} by {k}" for k, v in self.by_kind.items() if v)
        return (f"{len(self.flagged)} of {self.n} eval items overlap the training corpus "
                f"({100 * self.fraction:.1f}%{'; ' + kinds if kinds else ''}); "
                f"{self.n_train} training documents, sha256 "
                f"{str(self.provenance.get('train_sha256', ''))[:12]}")


# ----------------------------------------------------------------------------------------
# the eval side


@dataclass
class _EvalIndex:
    ids: tuple[str, ...]
    tokens: list[list[str]]
    vocab: dict[str, int]
    codes: list[np.ndarray]
    # exact n-grams: sorted hashes, and the item of each
    gram_keys: np.ndarray
    gram_items: np.ndarray
    short_lengths: tuple[int, ...]
    # shingles for containment: per item the sorted unique shingle hashes
    shingles: list[np.ndarray]
    universe: np.ndarray
    # the inverted index of the universe: items of universe[u] are
    # post_items[post_start[u]:post_start[u + 1]]
    post_start: np.ndarray
    post_items: np.ndarray

    def postings(self, hv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For universe shingles ``hv``: the index of each into ``hv`` repeated once per item
        that has it, and those items."""
        u = np.searchsorted(self.universe, hv)
        a = self.post_start[u]
        counts = self.post_start[u + 1] - a
        which = np.repeat(np.arange(hv.size), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        return which, self.post_items[np.repeat(a, counts) + np.arange(which.size) - first]


def _check_texts(texts: Any, what: str) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise LeakageError(f"{what} must be a sequence of strings, got {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise LeakageError(f"{what}[{i}] is {type(t).__name__}, expected str")
    return out


def _index_eval(texts: list[str], ids: tuple[str, ...], *, n: int, shingle: int,
                tokenize: Callable[[str], list[str]]) -> _EvalIndex:
    tokens = [tokenize(t) for t in texts]
    empty = [ids[i] for i, t in enumerate(tokens) if not t]
    if empty:
        raise LeakageError(f"eval items without any word: {', '.join(map(repr, empty[:10]))} "
                           "(nothing to check; remove them or fix the text)")
    vocab: dict[str, int] = {}
    codes: list[np.ndarray] = []
    for toks in tokens:
        codes.append(np.fromiter((vocab.setdefault(w, len(vocab) + 1) for w in toks),
                                 np.uint64, len(toks)))
    keys: list[np.ndarray] = []
    items: list[np.ndarray] = []
    short: set[int] = set()
    shingles: list[np.ndarray] = []
    for i, c in enumerate(codes):
        k = min(n, c.size)
        if c.size < n:
            short.add(c.size)
        h = _unique(_gram_hashes(c, k))
        keys.append(h)
        items.append(np.full(h.size, i, np.int64))
        # an item shorter than a shingle has none: the exact pass checks it whole
        shingles.append(_unique(_gram_hashes(c, shingle)))
    gk = np.concatenate(keys)
    gi = np.concatenate(items)
    order = np.argsort(gk, kind="stable")
    sk = np.concatenate(shingles)
    si = np.repeat(np.arange(len(shingles)), [x.size for x in shingles])
    o = np.argsort(sk, kind="stable")
    sk, si = sk[o], si[o]
    universe, starts = np.unique(sk, return_index=True)
    post_start = np.append(starts, sk.size).astype(np.int64)
    return _EvalIndex(ids, tokens, vocab, codes, gk[order], gi[order], tuple(sorted(short)),
                      shingles, universe, post_start, si.astype(np.int64))


# ----------------------------------------------------------------------------------------
# the training side


def _train_stream(train: Iterable[Any], hasher: Any) -> Iterator[tuple[str, str]]:
    """``(id, text)`` pairs from plain strings (ids "0", "1", ...) or pairs; hashed as read."""
    if isinstance(train, (str, bytes)):
        raise LeakageError("train_texts must be an iterable of documents, not one string")
    for i, doc in enumerate(train):
        if isinstance(doc, str):
            doc_id, text = str(i), doc
        elif isinstance(doc, tuple) and len(doc) == 2 and isinstance(doc[1], str):
            doc_id, text = str(doc[0]), doc[1]
        else:
            raise LeakageError(
                f"training document {i} is {type(doc).__name__}; give str or (id, str) pairs")
        hasher.update(doc_id.encode("utf-8", "surrogatepass") + b"\0"
                      + text.encode("utf-8", "surrogatepass") + b"\n")
        yield doc_id, text


def _spans(tokens: list[str], starts: Iterable[int], k: int) -> tuple[str, ...]:
    """Maximal runs of words covered by windows of ``k`` words starting at ``starts``."""
    runs: list[list[int]] = []
    for s in sorted(set(starts)):
        if runs and s <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], s + k)
        else:
            runs.append([s, s + k])
    return tuple(" ".join(tokens[a:b]) for a, b in runs)


def _excerpt(tokens: list[str], at: int, k: int) -> str:
    pad = max(0, (EXCERPT_WORDS - k) // 2)
    a = max(0, at - pad)
    b = min(len(tokens), at + k + pad)
    return ("... " if a else "") + " ".join(tokens[a:b]) + (" ..." if b < len(tokens) else "")


class _Collector:
    def __init__(self, n_items: int) -> None:
        self.evidence: dict[int, list[Evidence]] = {}
        self.matches: dict[int, int] = {}
        self.kinds: dict[int, set[str]] = {}
        self.seen: set[tuple[int, str]] = set()
        self.n_items = n_items

    def add(self, item: int, ev: Evidence) -> None:
        if (item, ev.train_id) in self.seen:
            return
        self.seen.add((item, ev.train_id))
        self.matches[item] = self.matches.get(item, 0) + 1
        self.kinds.setdefault(item, set()).add(ev.kind)
        lst = self.evidence.setdefault(item, [])
        if len(lst) < MAX_EVIDENCE:
            lst.append(ev)


def _exact_batch(index: _EvalIndex, n: int, batch: _Batch, out: _Collector) -> None:
    """Exact n-gram (and whole-short-item) matches of a batch of training documents."""
    codes = batch.codes
    for k in (n, *index.short_lengths):
        if codes.size < k:
            continue
        pos = np.flatnonzero(~_has_unknown(codes, k))  # windows inside one document
        if pos.size == 0:
            continue
        hv = _gram_hashes(codes, k)[pos]
        at = np.searchsorted(index.gram_keys, hv)
        at[at == index.gram_keys.size] = 0
        hit = index.gram_keys[at] == hv
        for p, a in zip(pos[hit].tolist(), at[hit].tolist(), strict=True):
            d = batch.doc_of(p)
            tcodes = batch.doc_codes(d)
            key = index.gram_keys[a]
            j = a
            while j < index.gram_keys.size and index.gram_keys[j] == key:
                item = int(index.gram_items[j])
                j += 1
                ecodes = index.codes[item]
                if not ((k == n and ecodes.size >= n) or (k < n and ecodes.size == k)):
                    continue
                if (item, batch.ids[d]) in out.seen:
                    continue
                starts = _all_shared_starts(ecodes, tcodes, k)
                if not starts:  # a hash collision: the words differ
                    continue
                out.add(item, Evidence("ngram", batch.ids[d],
                                       _spans(index.tokens[item], starts, k), 1.0,
                                       _excerpt(batch.tokens[d], p - int(batch.starts[d]), k)))


def _all_shared_starts(ecodes: np.ndarray, tcodes: np.ndarray, k: int) -> list[int]:
    """Start positions in the eval item of every ``k``-gram it shares with the document."""
    eh = _gram_hashes(ecodes, k)
    th = _unique(_gram_hashes(tcodes, k))
    return [s for s in np.flatnonzero(_in_sorted(eh, th)).tolist()
            if _occurs(ecodes[s:s + k], tcodes)]


def _occurs(window: np.ndarray, codes: np.ndarray) -> bool:
    k = window.size
    m = codes.size - k + 1
    if m <= 0:
        return False
    cand = np.flatnonzero(codes[:m] == window[0])
    return any(np.array_equal(codes[c:c + k], window) for c in cand.tolist())


#: Training documents hashed together (one numpy pass over their concatenated words).
BATCH_DOCS = 2048


@dataclass
class _Batch:
    """Training documents' word codes concatenated, a 0 (no eval word) after each, so that
    no window spanning two documents can match."""

    ids: list[str]
    tokens: list[list[str]]
    codes: np.ndarray
    starts: np.ndarray

    @classmethod
    def build(cls, ids: list[str], tokens: list[list[str]], get: Callable[..., int]
              ) -> _Batch:
        lengths = np.fromiter(map(len, tokens), np.int64, len(tokens))
        starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
        flat = [w for toks in tokens for w in (*toks, "")]
        codes = np.fromiter(map(get, flat, itertools.repeat(0)), np.uint64, len(flat))
        return cls(ids, tokens, codes, starts)

    def doc_of(self, pos: int) -> int:
        return int(np.searchsorted(self.starts, pos, side="right")) - 1

    def doc_codes(self, d: int) -> np.ndarray:
        a = int(self.starts[d])
        return self.codes[a:a + len(self.tokens[d])]

    def shingle_pairs(self, k: int, universe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct ``(document, shingle)`` pairs of the batch whose ``k``-word shingle
        some eval item has, sorted by document then shingle."""
        if self.codes.size < k:
            return np.empty(0, np.int64), np.empty(0, np.uint64)
        h = _gram_hashes(self.codes, k)
        pos = np.flatnonzero(~_has_unknown(self.codes, k))
        hv = h[pos]
        keep = _in_sorted(hv, universe)
        pos, hv = pos[keep], hv[keep]
        doc = np.searchsorted(self.starts, pos, side="right") - 1
        order = np.lexsort((hv, doc))
        doc, hv = doc[order], hv[order]
        first = np.ones(doc.size, bool)
        first[1:] = (doc[1:] != doc[:-1]) | (hv[1:] != hv[:-1])
        return doc[first], hv[first]


def _containment_exact(index: _EvalIndex, batch: _Batch, *, shingle: int, need: np.ndarray,
                       out: _Collector) -> None:
    """Containment through the inverted eval index: every (document, item) pair is counted
    exactly, in one vectorised pass over the batch."""
    doc, hv = batch.shingle_pairs(shingle, index.universe)
    if doc.size == 0:
        return
    which, items = index.postings(hv)
    n_items = np.int64(len(index.ids))
    key, counts = np.unique(doc[which] * n_items + items, return_counts=True)
    hit = counts >= need[key % n_items]
    for k, c in zip(key[hit].tolist(), counts[hit].tolist(), strict=True):
        d, item = divmod(int(k), int(n_items))
        _add_containment(index, out, item, batch.ids[d], batch.tokens[d], batch.doc_codes(d),
                         hv[doc == d], shingle, c / index.shingles[item].size)


def _add_containment(index: _EvalIndex, out: _Collector, item: int, doc_id: str,
                     toks: list[str], tcodes: np.ndarray, tset: np.ndarray, shingle: int,
                     cont: float) -> None:
    if (item, doc_id) in out.seen:
        return
    eset = index.shingles[item]
    starts = np.flatnonzero(_in_sorted(_gram_hashes(index.codes[item], shingle), tset)).tolist()
    first = int(np.flatnonzero(_in_sorted(_gram_hashes(tcodes, shingle), eset))[0])
    out.add(item, Evidence("containment", doc_id, _spans(index.tokens[item], starts, shingle),
                           round(cont, 6), _excerpt(toks, first, shingle)))


@dataclass
class _Chunk:
    ids: list[str]
    tokens: list[list[str]]
    codes: list[np.ndarray]
    sets: list[np.ndarray]


def _minhash_factory(num_perm: int, seed: int) -> Callable[[np.ndarray], Any]:
    from datasketch import MinHash

    proto = MinHash(num_perm=num_perm, seed=seed, scheme="affine32")
    perms = proto.permutations

    def make(values: np.ndarray) -> Any:
        m = MinHash(num_perm=num_perm, seed=seed, hashfunc=int, permutations=perms,
                    scheme="affine32")
        # datasketch hashes with a 32-bit hash function; the low 32 bits of ours are one
        m.update_batch((values & np.uint64(0xFFFFFFFF)).tolist())
        return m

    return make


def _containment_chunk(index: _EvalIndex, chunk: _Chunk, *, threshold: float, shingle: int,
                       num_perm: int, num_part: int, make: Callable[[np.ndarray], Any],
                       eval_minhashes: list[Any], out: _Collector) -> None:
    """Index the chunk's shingle sets in an LSH Ensemble, query every eval item, verify."""
    from datasketch import MinHashLSHEnsemble

    if not chunk.ids:
        return
    entries = [(j, make(s), int(s.size)) for j, s in enumerate(chunk.sets)]
    ensemble = MinHashLSHEnsemble(threshold=threshold, num_perm=num_perm, num_part=num_part)
    ensemble.index(entries)
    for item, (mh, eset) in enumerate(zip(eval_minhashes, index.shingles, strict=True)):
        if eset.size == 0:
            continue  # an item shorter than a shingle is checked whole by the exact n-gram pass
        for j in ensemble.query(mh, int(eset.size)):
            tset = chunk.sets[j]
            cont = float(_in_sorted(eset, tset).sum()) / eset.size
            if cont + 1e-12 < threshold:
                continue  # a false positive of the sketch
            _add_containment(index, out, item, chunk.ids[j], chunk.tokens[j], chunk.codes[j],
                             tset, shingle, cont)


NearMethod = Literal["index", "minhash"]


def leakage(
    eval_texts: Sequence[str],
    train_texts: Iterable[str] | Iterable[tuple[Any, str]],
    *,
    ids: Sequence[Any] | None = None,
    n: int = 13,
    shingle: int = 3,
    threshold: float = 0.5,
    near: NearMethod | None = "index",
    num_perm: int = 128,
    num_part: int = 16,
    chunk_docs: int = 20_000,
    seed: int = 1,
    tokenize: Callable[[str], list[str]] | None = None,
) -> LeakageResult:
    """Find eval items that overlap the training corpus (see the module docstring).

    ``train_texts`` is read once (any iterable: a generator over a file streams it), as
    strings or ``(id, text)`` pairs. ``n``: exact n-gram length (13, as lm-evaluation-harness).
    ``shingle``/``threshold``: word-shingle length and containment threshold of the
    near-duplicate check; ``near`` picks how candidates are found: ``"index"`` (default)
    counts every (document, item) overlap exactly through an inverted index of the eval
    shingles, ``"minhash"`` queries a ``datasketch`` MinHash LSH Ensemble (containment) built
    per ``chunk_docs`` training documents (``num_perm``, ``num_part``, ``seed``), for eval sets
    too large to index; ``None`` runs the exact n-gram check only. Both verify every candidate
    on the exact shingle sets. ``tokenize`` replaces :func:`words` (e.g. for text without
    spaces between words).
    """
    from llaso_pytest.metrics.base import check_ids

    for name, value, low in (("n", n, 1), ("shingle", shingle, 1), ("num_perm", num_perm, 16),
                             ("num_part", num_part, 1), ("chunk_docs", chunk_docs, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise LeakageError(f"leakage: {name} must be an int >= {low}, got {value!r}")
    if isinstance(threshold, bool) or not (
            isinstance(threshold, float | int) and 0.0 < float(threshold) <= 1.0):
        raise LeakageError(f"leakage: threshold must be in (0, 1], got {threshold!r}")
    if near not in ("index", "minhash", None):
        raise LeakageError(f"leakage: near must be 'index', 'minhash' or None, got {near!r}")
    texts = _check_texts(eval_texts, "eval_texts")
    if not texts:
        raise LeakageError("leakage: no eval items")
    try:
        id_t = check_ids(ids, len(texts)) or tuple(str(i) for i in range(len(texts)))
    except MetricInputError as exc:
        raise LeakageError(f"leakage: {exc}") from None
    tok = tokenize or words
    index = _index_eval(texts, id_t, n=n, shingle=shingle, tokenize=tok)
    hasher = hashlib.sha256()
    out = _Collector(len(texts))
    sizes = np.array([s.size for s in index.shingles], np.int64)
    # the fewest shared shingles that reach the threshold, per item (0: no shingles, never)
    need = np.where(sizes > 0, np.ceil(float(threshold) * sizes - 1e-9), float(1 << 62)
                    ).astype(np.int64)
    make = _minhash_factory(num_perm, seed) if near == "minhash" else None
    eval_mh = [make(s) if s.size else None for s in index.shingles] if make else []
    min_need = int(need.min())
    chunk = _Chunk([], [], [], [])
    n_train = 0

    def flush() -> None:
        if make is not None:
            _containment_chunk(index, chunk, threshold=float(threshold), shingle=shingle,
                               num_perm=num_perm, num_part=num_part, make=make,
                               eval_minhashes=eval_mh, out=out)
        chunk.ids.clear()
        chunk.tokens.clear()
        chunk.codes.clear()
        chunk.sets.clear()

    get = index.vocab.get

    def run_batch(ids_b: list[str], toks_b: list[list[str]]) -> None:
        batch = _Batch.build(ids_b, toks_b, get)
        _exact_batch(index, n, batch, out)
        if near == "index":
            _containment_exact(index, batch, shingle=shingle, need=need, out=out)
        if make is None:
            return
        doc, hv = batch.shingle_pairs(shingle, index.universe)
        if doc.size == 0:
            return
        bounds = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1], True]).tolist()
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            if hi - lo < min_need:
                continue  # too few shared shingles to contain any eval item
            d = int(doc[lo])
            chunk.ids.append(batch.ids[d])
            chunk.tokens.append(batch.tokens[d])
            chunk.codes.append(batch.doc_codes(d).copy())
            chunk.sets.append(hv[lo:hi])
            if len(chunk.ids) >= chunk_docs:
                flush()

    ids_b: list[str] = []
    toks_b: list[list[str]] = []
    for doc_id, text in _train_stream(train_texts, hasher):
        n_train += 1
        ids_b.append(doc_id)
        toks_b.append(tok(text))
        if len(ids_b) >= BATCH_DOCS:
            run_batch(ids_b, toks_b)
            ids_b, toks_b = [], []
    if ids_b:
        run_batch(ids_b, toks_b)
    flush()
    if n_train == 0:
        raise LeakageError("leakage: the training side is empty (no documents were read)")
    flagged_idx = sorted(out.matches)
    by_kind = {k: tuple(id_t[i] for i in flagged_idx if k in out.kinds[i])
               for k in ("ngram", "containment")}
    provenance = {
        "train_sha256": hasher.hexdigest(),
        "train_docs": n_train,
        "eval_sha256": _eval_hash(texts, id_t),
        "n": n,
        "shingle": shingle,
        "threshold": float(threshold),
        "near": near,
        "num_perm": num_perm,
        "num_part": num_part,
        "seed": seed,
        "tokenize": "words" if tokenize is None else getattr(tokenize, "__name__", "custom"),
        "datasketch": _version("datasketch") if near == "minhash" else None,
    }
    return LeakageResult(
        ids=id_t,
        flagged=tuple(id_t[i] for i in flagged_idx),
        evidence={id_t[i]: tuple(out.evidence[i]) for i in flagged_idx},
        matches={id_t[i]: out.matches[i] for i in flagged_idx},
        provenance=provenance,
        n_train=n_train,
        by_kind=by_kind,
    )


def _eval_hash(texts: list[str], ids: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        h.update(i.encode("utf-8", "surrogatepass") + b"\0"
                 + t.encode("utf-8", "surrogatepass") + b"\n")
    return h.hexdigest()


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover - datasketch is imported before this
        return None


# ----------------------------------------------------------------------------------------
# re-scoring on the clean subset


@dataclass(frozen=True)
class CleanComparison:
    """A metric on all items against the same metric on the clean (unflagged) items.

    ``delta = clean - full`` with its paired bootstrap interval and p-value (items resampled
    jointly, so both scores see the same resample); ``clean`` is the metric result on the
    clean items with its own interval, its signature naming the subset and training corpus.
    """

    metric: str
    full: float
    clean_value: float
    delta: float
    ci: tuple[float, float] | None
    p_value: float | None
    n: int
    n_flagged: int
    higher_is_better: bool
    clean: Any  # MetricResult
    test: Any  # stats.PairedTest

    @property
    def from_contaminated(self) -> float:
        """How much of the full score the contaminated items add (``full - clean``)."""
        return -self.delta

    def summary(self, *, scale: float = 100.0, unit: str = "pt") -> str:
        ci = "" if self.ci is None else (
            f", 95% CI [{-self.ci[1] * scale:.1f}, {-self.ci[0] * scale:.1f}]")
        p = "" if self.p_value is None else f", p={self.p_value:.3g}"
        return (f"{self.from_contaminated * scale:+.1f} {unit} of {self.metric} comes from "
                f"{self.n_flagged} contaminated of {self.n} items (full {self.full * scale:.1f}"
                f", clean {self.clean_value * scale:.1f}{ci}{p})")


def rescore_clean(result: Any, check: LeakageResult, *, n_boot: int = 10_000,
                  seed: int | None = 0, confidence: float = 0.95) -> CleanComparison:
    """``result`` (a :class:`~llaso_pytest.metrics.base.MetricResult` over the eval items)
    re-scored without the items ``check`` flagged, compared with the full set.

    The comparison is paired: the clean score is the aggregate of the summed statistics of
    the clean items, so zeroing the flagged rows of a copy of the statistics gives it, and
    :func:`llaso_pytest.stats.paired_bootstrap` resamples items jointly for both.
    """
    from llaso_pytest import stats as _stats
    from llaso_pytest.metrics.base import RESAMPLING_FIELDS, build_result

    ids = list(result.item_ids)
    unknown = sorted(set(check.flagged) - set(ids))
    if unknown:
        raise LeakageError(
            f"rescore_clean: {len(unknown)} flagged ids are not items of {result.name!r} "
            f"(e.g. {', '.join(map(repr, unknown[:5]))}); run the check on the same eval ids")
    flagged = set(check.flagged)
    keep = np.array([i not in flagged for i in ids])
    if not keep.any():
        raise LeakageError(f"rescore_clean: every item of {result.name!r} is flagged: "
                           "no clean subset to score")
    full = result.stat_matrix()
    clean_rows = np.where(keep[:, None], full, 0.0)
    test = _stats.paired_bootstrap(full, clean_rows, aggregate=result.aggregate,
                                   higher_is_better=result.higher_is_better, n_boot=n_boot,
                                   confidence=confidence, seed=seed,
                                   label=f"{result.name} clean vs full")
    fields = {k: v for k, v in result.signature.fields.items()
              if k not in RESAMPLING_FIELDS and k not in ("metric", "llaso")}
    fields["subset"] = "leakage-clean"
    fields["train_sha256"] = str(check.provenance.get("train_sha256", ""))[:16]
    cols = {k: np.asarray(v)[keep] for k, v in result.stats.items()}
    kept = tuple(i for i, k in zip(ids, keep.tolist(), strict=True) if k)
    groups = None if result.groups is None else tuple(
        g for g, k in zip(result.groups, keep.tolist(), strict=True) if k)
    clean = build_result(
        name=result.name, stats=cols, aggregate_kind=result.aggregate,
        higher_is_better=result.higher_is_better, item_ids=kept, groups=groups,
        confidence=confidence, n_boot=min(n_boot, 1000), seed=seed, signature_fields=fields,
        scores=None if result.scores is None else np.asarray(result.scores)[keep])
    return CleanComparison(
        metric=result.name, full=test.value_a, clean_value=test.value_b, delta=test.delta,
        ci=test.ci, p_value=test.p_value, n=len(ids), n_flagged=int((~keep).sum()),
        higher_is_better=result.higher_is_better, clean=clean, test=test)
