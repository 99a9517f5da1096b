"""``llaso merge``: N shard records (``--llaso-shard K/N``) into the record of the whole run.

The merged record holds what one unsharded run would have written: every test record as its
shard wrote it (results, intervals and signatures are computed per test, seeded by the session
seed and the node id, so they do not depend on which job ran the test), the selection and the
provenance of the whole run, the summed usage. Only timing fields differ: the run id, the start
and end times and the test durations; and the command line, without ``--llaso-shard`` and
``--llaso-out`` (docs/sharding.md).

Shards are refused (:class:`MergeError`, naming the files) when they cannot be one run: from
different commits, seeds, configurations, packages or collections; partitioned differently; an
incomplete shard; a shard missing or given twice; a test missing from its shard or run twice.

Pure data (no pytest; NumPy only to join the shards' corpora of ``record_case`` cases).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llaso_pytest.record import RecordError, RunRecord, Selection, ShardInfo

__all__ = ["MACHINE_KEYS", "MergeError", "merge_records", "normalize_command"]


class MergeError(RecordError):
    """Shard records that cannot be merged into one run; the message names the files."""


#: Provenance keys that describe the machine a shard ran on, not the evaluation: when shards
#: ran on different machines, the merged record lists each shard's value (in shard order).
MACHINE_KEYS = ("cwd", "cpu", "gpu", "platform")

#: Provenance keys that must agree for shards to be one run (``git`` and ``command`` are
#: checked apart: the branch name and the shard options may differ).
_SAME_KEYS = ("seed", "seeding", "deterministic", "packages", "python", "environment", "torch",
              "baseline")

#: Options whose values differ between the shards of one run, or name where it was written.
_SHARD_OPTIONS = ("--llaso-shard", "--llaso-out")


def normalize_command(command: Sequence[str]) -> list[str]:
    """The command line without ``--llaso-shard``/``--llaso-out`` (``--opt V`` or ``--opt=V``)."""
    out: list[str] = []
    skip = False
    for token in command:
        if skip:
            skip = False
            continue
        if token in _SHARD_OPTIONS:
            skip = True
            continue
        if any(token.startswith(opt + "=") for opt in _SHARD_OPTIONS):
            continue
        out.append(token)
    return out


def _names(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _shards(records: Sequence[tuple[str, RunRecord]]) -> list[tuple[str, RunRecord, ShardInfo]]:
    """The shard records in shard order: all of one N, each index once, each complete."""
    if not records:
        raise MergeError("llaso merge: give the shard records to merge")
    out = []
    for source, rec in records:
        if rec.shard is None:
            raise MergeError(f"{source}: not a shard record (it was not run with --llaso-shard "
                             "K/N); merge the records of `pytest --llaso-shard K/N` runs")
        out.append((source, rec, rec.shard))
    counts = sorted({info.count for _, _, info in out})
    if len(counts) > 1:
        raise MergeError("shards of different splits: " + "; ".join(
            f"{src} is {info.index}/{info.count}" for src, _, info in out))
    n = counts[0]
    by_index: dict[int, list[str]] = {}
    for src, _, info in out:
        by_index.setdefault(info.index, []).append(src)
    twice = {k: v for k, v in by_index.items() if len(v) > 1}
    if twice:
        raise MergeError("duplicated work: " + "; ".join(
            f"shard {k}/{n} is given {len(v)} times ({', '.join(v)})"
            for k, v in sorted(twice.items())))
    missing = [k for k in range(1, n + 1) if k not in by_index]
    if missing:
        raise MergeError(f"missing work: shard(s) {', '.join(f'{k}/{n}' for k in missing)} "
                         f"not given (got {', '.join(f'{k}/{n}' for k in sorted(by_index))}); "
                         "every one of the N shards is needed")
    for src, rec, info in out:
        if not rec.complete:
            raise MergeError(f"{src}: shard {info.index}/{n} is incomplete "
                             f"({rec.interrupted_by}); rerun that shard")
    return sorted(out, key=lambda s: s[2].index)


def _check_partition(shards: Sequence[tuple[str, RunRecord, ShardInfo]]) -> None:
    first_src, _, first = shards[0]
    for src, _, info in shards[1:]:
        if (info.universe_sha256, info.universe_size) != (first.universe_sha256,
                                                          first.universe_size):
            raise MergeError(
                f"different collections: {first_src} shared out {first.universe_size} tests, "
                f"{src} {info.universe_size} other ones (sha256 {first.universe_sha256[:12]} vs "
                f"{info.universe_sha256[:12]}); run every shard with the same tests, -k and -m")
        if (info.by, info.durations_sha256) != (first.by, first.durations_sha256):
            raise MergeError(
                f"partitioned differently: {first_src} by {first.by} "
                f"({first.durations_source or 'no durations'}), {src} by {info.by} "
                f"({info.durations_source or 'no durations'}); give every shard the same "
                "--llaso-shard-durations record")
    seen: dict[str, str] = {}
    for src, rec, info in shards:
        for nodeid in info.items:
            if nodeid in seen:
                raise MergeError(f"duplicated work: {nodeid} is in the share of {seen[nodeid]} "
                                 f"and of {src}")
            seen[nodeid] = src
        ran = {t.nodeid for t in rec.tests}
        lost = [i for i in info.items if i not in ran]
        if lost:
            raise MergeError(f"missing work: {src} (shard {info.index}/{info.count}) has no "
                             f"record of {len(lost)} test(s) of its share: {_names(lost)}")
        extra = sorted(ran - set(info.items) - _corpus_ids(rec))
        if extra:
            raise MergeError(f"{src} (shard {info.index}/{info.count}) ran {len(extra)} test(s) "
                             f"outside its share: {_names(extra)}")
    from llaso_pytest.shard import universe_sha256

    if len(seen) != first.universe_size or universe_sha256(list(seen)) != first.universe_sha256:
        raise MergeError(f"missing work: the shards' shares hold {len(seen)} tests, their "
                         f"collection {first.universe_size}; a shard record was edited or "
                         "written by another version")


def _differs(what: str, shards: Sequence[tuple[str, Any]], fix: str) -> None:
    values = [v for _, v in shards]
    if any(v != values[0] for v in values[1:]):
        other = next(i for i, v in enumerate(values) if v != values[0])
        raise MergeError(f"shards from different {what}: {shards[0][0]} has "
                         f"{_short(values[0])}, {shards[other][0]} {_short(values[other])}; "
                         f"{fix}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _provenance(shards: Sequence[tuple[str, RunRecord, ShardInfo]]) -> dict[str, Any]:
    provs = [(src, dict(rec.provenance)) for src, rec, _ in shards]
    git = [(src, {k: (p.get("git") or {}).get(k) for k in ("commit", "dirty")})
           for src, p in provs]
    _differs("commits", git, "check out the same commit for every shard")
    for key in _SAME_KEYS:
        _differs(f"configurations ({key})", [(src, p.get(key)) for src, p in provs],
                 "run every shard with the same options, packages and environment")
    _differs("configurations (command line)",
             [(src, normalize_command(p.get("command") or [])) for src, p in provs],
             "run every shard with the same command apart from --llaso-shard and --llaso-out")
    merged: dict[str, Any] = {}
    for src, p in provs:
        for key, value in p.items():
            if key in MACHINE_KEYS:
                continue
            if key == "command":
                value = normalize_command(value or [])
            if key not in merged:
                merged[key] = value
            elif isinstance(merged[key], dict) and isinstance(value, dict):
                merged[key] = _union(merged[key], value, key=key, source=src)
            elif merged[key] != value:
                raise MergeError(f"shards from different configurations: provenance {key!r} is "
                                 f"{_short(merged[key])} in {provs[0][0]} and {_short(value)} in "
                                 f"{src}")
    for key in MACHINE_KEYS:
        values = [p[key] for _, p in provs if key in p]
        if values:
            distinct = [v for i, v in enumerate(values) if v not in values[:i]]
            merged[key] = distinct[0] if len(distinct) == 1 else {"per_shard": values}
    order = list(provs[0][1])
    return {k: merged[k] for k in order if k in merged} | {
        k: v for k, v in merged.items() if k not in order}


def _union(old: Mapping[str, Any], new: Mapping[str, Any], *, key: str,
           source: str) -> dict[str, Any]:
    """Recorded provenance (datasets, prompts, models...): each shard records what its tests
    used; one entry recorded with two values means the shards did not evaluate the same thing."""
    out = dict(old)
    for sub, value in new.items():
        if sub in out and out[sub] != value:
            raise MergeError(f"shards from different configurations: provenance {key}.{sub} is "
                             f"{_short(out[sub])} in one shard and {_short(value)} in {source}")
        out[sub] = value
    return out


def _sum_usage(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Usage sections added up: numbers summed, objects merged key by key, ``None`` (unknown)
    only where every shard has it unknown."""

    def add(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a, dict) and isinstance(b, dict):
            return {k: add(a.get(k), b.get(k)) for k in dict.fromkeys([*a, *b])}
        if isinstance(a, bool) or isinstance(b, bool):
            return a or b
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a + b
        return a if a == b else [a, b]

    total: dict[str, Any] = {}
    for part in parts:
        total = add(total, dict(part))
    return total


def _exit_status(statuses: Iterable[int | None]) -> int:
    codes = [int(s) for s in statuses if s is not None]
    real = [c for c in codes if c != 5]  # 5: that shard collected no test
    if not real:
        return 5 if codes else 0
    failing = [c for c in real if c != 0]
    return 0 if not failing else (1 if 1 in failing else max(failing))


def merge_records(records: Sequence[tuple[str, RunRecord]], *, run_id: str,
                  now: str) -> RunRecord:
    """The record of the whole run from ``(source, record)`` of each of its N shards."""
    shards = _shards(records)
    _check_partition(shards)
    provenance = _provenance(shards)
    corpora = [t for _, rec, _ in shards for t in rec.tests if t.nodeid in _corpus_ids(rec)]
    tests = sorted((t for _, rec, _ in shards for t in rec.tests
                    if t.nodeid not in _corpus_ids(rec)), key=lambda t: t.nodeid)
    summary: dict[str, int] = {}
    for t in tests:
        summary[t.outcome] = summary.get(t.outcome, 0) + 1
    tests += _merged_corpora(corpora)
    selection = _selection(shards, ran=any(t.outcome not in ("skipped", "interrupted")
                                           for t in tests))
    first = shards[0][1]
    return RunRecord(
        run_id=run_id,
        started_at=min(rec.started_at for _, rec, _ in shards),
        finished_at=max((rec.finished_at for _, rec, _ in shards if rec.finished_at),
                        default=now),
        complete=True,
        provenance=provenance,
        tests=tuple(tests),
        exit_status=_exit_status(rec.exit_status for _, rec, _ in shards),
        interrupted_by=None,
        summary=dict(sorted(summary.items())),
        usage=_sum_usage([rec.usage for _, rec, _ in shards]),
        selection=selection,
        schema_version=first.schema_version,
    )


def _corpus_ids(rec: RunRecord) -> set[str]:
    """Node ids of the corpora joined from cases (``record_case``) in a shard's record."""
    from llaso_pytest.corpus import is_corpus

    return {t.nodeid for t in rec.tests if t.results and all(map(is_corpus, t.results))}


def _merged_corpora(corpora: Sequence[Any]) -> list[Any]:
    """The shards' partial corpora of each test function joined into one (as one run would)."""
    from llaso_pytest.corpus import merge_corpus_results

    by_id: dict[str, list[Any]] = {}
    for t in corpora:
        by_id.setdefault(t.nodeid, []).append(t)
    out = []
    for nodeid, parts in sorted(by_id.items()):
        names = list(dict.fromkeys(r["name"] for t in parts for r in t.results))
        results = tuple(merge_corpus_results(nodeid, [r for t in parts for r in t.results
                                                      if r["name"] == name]) for name in names)
        worst = next((o for o in ("error", "failed", "interrupted")
                      if any(t.outcome == o for t in parts)), "passed")
        out.append(dataclasses.replace(
            parts[0], outcome=worst, duration=round(sum(t.duration for t in parts), 6),
            markers=tuple(sorted({m for t in parts for m in t.markers})), results=results,
            longrepr="\n".join(t.longrepr for t in parts if t.longrepr) or None))
    return out


def _selection(shards: Sequence[tuple[str, RunRecord, ShardInfo]], *,
               ran: bool) -> Selection | None:
    """The selection of the unsharded run: each shard's, less the other shards' tests."""
    shared_out = {i for _, _, info in shards for i in info.items}
    sels = [(src, rec.selection, info) for src, rec, info in shards]
    if any(sel is None for _, sel, _ in sels):
        return None
    whole = [(src, dataclasses.replace(
        sel, deselected=tuple(d for d in sel.deselected if d not in shared_out),
        subset=info.unsharded_subset, empty=False)) for src, sel, info in sels if sel is not None]
    _differs("selections", whole, "run every shard with the same tests, -k and -m")
    return dataclasses.replace(whole[0][1], empty=not ran)
