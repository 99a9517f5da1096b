"""Shared hypothesis settings and strategies for the metric cross-checks (hypothesis-generated corpora)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Per-test settings (a global profile would leak into other areas' tests).
CHECK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# A small vocabulary so that random sentences share words (matches, substitutions, shifts).
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "I", "It's", "3.5", "12,000",
         "x-y", "Hello", "world", "42", "don't"]
PUNCT_WORDS = WORDS + ["!", ",", ".", "?", "(ok)", "&amp;", "a.b", "1-2", "e.g.", "--"]


def sentences(words: list[str] = WORDS, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words), min_size=min_size, max_size=max_size).map(" ".join)


def parallel(
    sent: st.SearchStrategy[str], min_size: int = 1, max_size: int = 25
) -> st.SearchStrategy[tuple[list[str], list[str]]]:
    """Parallel (references, hypotheses); hypotheses are often edits of the reference."""

    def edit(pair: tuple[str, str, int]) -> str:
        ref, other, how = pair
        if how == 0:
            return ref
        if how == 1:
            return other
        toks = ref.split()
        if how == 2 and toks:
            return " ".join(toks[:-1])
        if how == 3:
            return " ".join(toks[len(toks) // 2 :] + other.split()[:2])
        return other + " " + ref

    item = st.tuples(sent, sent, st.integers(0, 4)).map(lambda t: (t[0], edit(t)))
    return st.lists(item, min_size=min_size, max_size=max_size).map(
        lambda pairs: ([p[0] for p in pairs], [p[1] for p in pairs])
    )
