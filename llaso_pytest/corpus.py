"""One test per case: per-case results joined into corpus results (pure, no pytest).

A test that calls ``record_case`` records one item of one metric; its payload (made by
:func:`case_payload` on the process that ran the test) travels to the controller, which
joins the cases of one corpus - one test function with the same other parameters, and one
metric name - with :func:`join_cases` into an ordinary result (contract 2): per-item
statistics keyed by case id, the corpus value from the summed statistics, a bootstrap interval
and one signature. The corpus is recorded under :func:`corpus_nodeid` (the test function's id
without the case parameter), so it is compared, gated and reported like any other result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llaso_pytest.errors import LlasoError

__all__ = ["CorpusError", "case_payload", "corpus_nodeid", "join_cases"]

#: Signature fields that the corpus sets itself (from the cases' agreed values).
_BUILT = ("metric", "n_boot", "seed", "confidence", "ci_method", "resample", "llaso")
#: How many test ids a corpus names in ``extra.corpus`` (the counts are always exact).
MAX_NAMED = 20


class CorpusError(LlasoError, ValueError):
    """Cases of one corpus that cannot be joined (different metrics, duplicate ids); the
    message names the tests and the fields."""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def corpus_nodeid(function_nodeid: str, params: Mapping[str, Any],
                  indices: Mapping[str, int], case_params: Sequence[str]) -> str:
    """The node id a corpus is recorded under: the test function's id, plus the parameters
    that are not the case (``test_qa.py::test_answer[system=model-a]``)."""
    others = [name for name in params if name not in case_params]
    if not others:
        return function_nodeid
    parts = [f"{name}={params[name]}" if _scalar(params[name])
             else f"{name}#{indices.get(name, 0)}" for name in others]
    return f"{function_nodeid}[{','.join(parts)}]"


def case_payload(result: Mapping[str, Any], *, case_id: str, corpus: str) -> dict[str, Any]:
    """What one case sends to the controller: its one-item result, keyed by the case id."""
    n = result.get("n")
    items = result.get("items") or {}
    ids = items.get("ids") or []
    if n != 1 or len(ids) != 1:
        raise CorpusError(
            f"record_case: result {result.get('name')!r} has {n} items; a case records "
            "exactly one item (record a whole corpus with record_metric)")
    items = {**items, "ids": [case_id]}
    return {"corpus": corpus, "result": {**result, "items": items}}


def _join_texts(values: list[Any], what: str) -> dict[str, Any] | None:
    """The ``items.texts`` of the cases (see :mod:`llaso_pytest.itemtext`) as one: columns
    concatenated (``None`` for a case without that column), cut positions shifted to the
    corpus, the view and mode common to all."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    for key in ("view", "mode"):
        kinds = {v.get(key) for v in present}
        if len(kinds) > 1:
            raise CorpusError(f"{what}: the cases' texts differ in {key} "
                              f"({sorted(map(str, kinds))})")
    names = [k for v in present for k in v.get("columns", {})]
    columns: dict[str, list[Any]] = {k: [] for k in dict.fromkeys(names)}
    truncated: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        cols = (v or {}).get("columns", {})
        for k in columns:
            columns[k].extend(cols.get(k) or [None])
        for k, cut in ((v or {}).get("truncated") or {}).items():
            truncated.setdefault(k, []).extend(i + j for j in cut)
    out: dict[str, Any] = {"view": present[0].get("view"), "mode": present[0].get("mode"),
                           "columns": columns}
    limits = [v["limit"] for v in present if v.get("limit") is not None]
    if limits:
        out["limit"] = min(limits)
    if truncated:
        out["truncated"] = truncated
    return out


def _concat(values: list[Any], what: str) -> Any:
    """Join the ``items`` parts of the cases: lists concatenate, objects key by key."""
    first = values[0]
    if isinstance(first, list):
        out: list[Any] = []
        for v in values:
            if not isinstance(v, list):
                raise CorpusError(f"{what} is a list in one case and not in another")
            out.extend(v)
        return out
    if isinstance(first, Mapping):
        keys = list(first)
        for v in values:
            if not isinstance(v, Mapping) or list(v) != keys:
                raise CorpusError(f"{what} has keys {keys} in one case and "
                                  f"{list(v) if isinstance(v, Mapping) else v!r} in another")
        return {k: _concat([v[k] for v in values], f"{what}.{k}") for k in keys}
    if all(v is None for v in values):
        return None
    raise CorpusError(f"{what} is {type(first).__name__} in one case and "
                      f"{next(type(v).__name__ for v in values if v is not first)} in another")


def join_cases(name: str, cases: Sequence[tuple[str, Mapping[str, Any]]], *,
               corpus: str, fallback_seed: int, partial: Mapping[str, Any]) -> dict[str, Any]:
    """The corpus result of ``cases`` (``(test nodeid, one-item result)``, in order).

    The cases must agree on everything that defines the number (aggregate, direction,
    statistic columns, signature fields except the seed); the interval is a bootstrap over the
    cases with their ``n_boot`` and confidence, seeded by their common seed (or
    ``fallback_seed`` when their seeds differ). ``partial`` describes cases that were
    deselected or recorded nothing; it is kept in ``extra.corpus``.
    """
    import numpy as np

    from llaso_pytest.metrics.base import build_result

    first_node, first = cases[0]
    fields = dict(first["signature"]["fields"])
    seeds = set()
    for nodeid, r in cases:
        for key in ("aggregate", "higher_is_better", "confidence"):
            if r[key] != first[key]:
                raise CorpusError(f"corpus {corpus} metric {name!r}: {key} is {first[key]!r} in "
                                  f"{first_node} but {r[key]!r} in {nodeid}")
        other = dict(r["signature"]["fields"])
        seeds.add(repr(other.get("seed")))
        differ = sorted(k for k in set(fields) | set(other)
                        if k != "seed" and fields.get(k) != other.get(k))
        if differ:
            shown = "; ".join(f"{k}: {fields.get(k)!r} vs {other.get(k)!r}" for k in differ[:5])
            raise CorpusError(f"corpus {corpus} metric {name!r}: the signatures of {first_node} "
                              f"and {nodeid} differ ({shown}); the cases of one corpus must be "
                              "scored the same way (or record them under different names)")
    where = f"corpus {corpus} metric {name!r}: items"
    texts = _join_texts([r["items"].get("texts") for _, r in cases], f"{where}.texts")
    items = _concat([{k: v for k, v in r["items"].items() if k != "texts"} for _, r in cases],
                    where)
    if texts is not None:
        items["texts"] = texts
    ids = items["ids"]
    if len(set(ids)) != len(ids):
        seen: dict[str, str] = {}
        for (nodeid, _), cid in zip(cases, ids, strict=True):
            if cid in seen:
                raise CorpusError(f"corpus {corpus} metric {name!r}: case id {cid!r} recorded by "
                                  f"{seen[cid]} and by {nodeid}; give each case its own id "
                                  "(record_case(..., id=...))")
            seen[cid] = nodeid
    stats = {k: np.asarray(v) for k, v in items["stats"].items()}
    groups = items.get("groups")
    scores = items.get("scores")
    seed = fields.get("seed")
    if len(seeds) > 1 or not isinstance(seed, int):
        seed = fallback_seed
    keys = list(fields)
    after = keys[keys.index("llaso") + 1:] if "llaso" in keys else []
    extras = {k: fields[k] for k in after}
    sig_fields = {k: v for k, v in fields.items() if k not in _BUILT and k not in extras}
    per_case = [r.get("extra") or {} for _, r in cases]
    extra: dict[str, Any] = dict(per_case[0]) if all(e == per_case[0] for e in per_case) else \
        {"per_case": {cid: e for cid, e in zip(ids, per_case, strict=True) if e}}
    extra["corpus"] = {"cases": len(ids), **partial}
    n_boot = fields.get("n_boot", 1000)
    res = build_result(
        name=name, stats=stats, aggregate_kind=str(first["aggregate"]),
        higher_is_better=bool(first["higher_is_better"]), item_ids=tuple(ids),
        groups=None if groups is None else tuple(groups), confidence=float(first["confidence"]),
        n_boot=int(n_boot) if isinstance(n_boot, int) else 1000, seed=int(seed),
        signature_fields=sig_fields, signature_extra=extras,
        scores=None if scores is None else np.asarray(
            [np.nan if s is None else s for s in scores], dtype=np.float64),
        extra=extra)
    out = res.to_record()
    for key, value in items.items():  # parts of items beyond contract 2 (e.g. texts) are kept
        if key not in out["items"]:
            out["items"][key] = value
    return out
