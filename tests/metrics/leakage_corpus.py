"""A generated corpus for the leakage check: Zipf-distributed words, eval items, training
documents with planted exact and edited copies of eval items (shared by the tests and
benchmarks/bench_leakage.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plan:
    """Which training document gets which planted eval item, and how."""

    exact: dict[int, int]  # training doc index -> eval item index (verbatim, case/punct changed)
    edited: dict[int, int]  # training doc index -> eval item index (about 10% of words edited)
    ids: tuple[str, ...]

    @property
    def exact_ids(self) -> list[str]:
        return [self.ids[i] for i in self.exact.values()]

    @property
    def edited_ids(self) -> list[str]:
        return [self.ids[i] for i in self.edited.values()]

    @property
    def planted_ids(self) -> set[str]:
        return set(self.exact_ids) | set(self.edited_ids)


class Corpus:
    """Eval items and a training stream drawn from one Zipf(1) vocabulary (like real text,
    a few words are very common, so common word triples are shared by unrelated texts)."""

    def __init__(self, *, seed: int, n_eval: int, vocab: int = 30_000, doc_words: int = 100,
                 eval_words: tuple[int, int] = (20, 60), edit_rate: float = 0.1) -> None:
        self.rng = np.random.default_rng(seed)
        self.words = np.array([f"w{i}" for i in range(vocab)], dtype=object)
        p = 1.0 / np.arange(1, vocab + 1)
        self.p = p / p.sum()
        self.doc_words = doc_words
        self.edit_rate = edit_rate
        self.cdf = np.cumsum(self.p)
        lengths = self.rng.integers(eval_words[0], eval_words[1] + 1, size=n_eval)
        self.eval_tokens = [list(self.words[self.draw(k)]) for k in lengths]
        self.eval_texts = [" ".join(t) for t in self.eval_tokens]
        self.eval_ids = [f"q{i}" for i in range(n_eval)]

    def draw(self, size: int | tuple[int, int]) -> np.ndarray:
        """Word indices drawn from the Zipf distribution (inverse CDF of uniforms)."""
        u = self.rng.random(size)
        return np.minimum(np.searchsorted(self.cdf, u), len(self.words) - 1)

    def plant(self, *, n_train: int, n_exact: int, n_edited: int) -> Plan:
        items = self.rng.choice(len(self.eval_texts), size=n_exact + n_edited, replace=False)
        docs = self.rng.choice(n_train, size=n_exact + n_edited, replace=False)
        pairs = list(zip(docs.tolist(), items.tolist(), strict=True))
        return Plan(dict(pairs[:n_exact]), dict(pairs[n_exact:]), tuple(self.eval_ids))

    def edited(self, tokens: list[str]) -> list[str]:
        """About ``edit_rate`` of the words substituted, deleted or inserted (at least one)."""
        out: list[str] = []
        for w in tokens:
            r = self.rng.random()
            if r < self.edit_rate / 3:
                out.append(str(self.rng.choice(self.words[1000:])))  # substituted
            elif r < 2 * self.edit_rate / 3:
                continue  # deleted
            elif r < self.edit_rate:
                out += [w, str(self.rng.choice(self.words[1000:]))]  # inserted after
            else:
                out.append(w)
        if out == tokens:
            out[len(out) // 2] = "edited"
        return out

    def training(self, n_train: int, plan: Plan | None = None, *, block: int = 10_000
                 ) -> Iterator[tuple[str, str]]:
        """``(id, text)`` training documents, generated block by block (streamed)."""
        plan = plan or Plan({}, {}, ())
        for start in range(0, n_train, block):
            m = min(block, n_train - start)
            codes = self.draw((m, self.doc_words))
            for j in range(m):
                d = start + j
                toks = list(self.words[codes[j]])
                if d in plan.exact:
                    e = list(self.eval_tokens[plan.exact[d]])
                    e[0] = e[0].upper()
                    e[-1] += "."
                    toks[30:30] = e
                elif d in plan.edited:
                    toks[30:30] = self.edited(self.eval_tokens[plan.edited[d]])
                yield f"doc{d}", " ".join(toks)
