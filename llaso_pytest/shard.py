"""Deterministic shards of a suite: which share of the collected tests ``--llaso-shard K/N`` runs.

Every shard computes the same partition from the same inputs (the collected node ids, sorted,
so an ordering plugin cannot move a test between shards; and optionally the durations of a
previous run record), so N jobs on N machines together run every test exactly once. A
parametrised test is one node id per case, so cases are shared out one by one.

- ``by="count"``: the sorted node ids in N contiguous blocks whose sizes differ by at most 1
  (tests of one file stay together, so module fixtures load once per shard).
- ``by="duration"``: longest processing time first: the tests in order of decreasing recorded
  duration (ties by node id) each go to the shard with the least total so far (ties to the
  lowest shard). A test the previous record does not have counts as the median recorded
  duration.

Pure computation (no pytest): the plugin calls :func:`partition`, the merger checks what it
recorded (``llaso_pytest.merge``).
"""

from __future__ import annotations

import hashlib
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from llaso_pytest.options import OptionError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.record import ShardInfo

__all__ = ["Durations", "ShardBy", "ShardSpec", "load_durations", "parse_shard", "partition",
           "share", "universe_sha256"]

ShardBy = Literal["count", "duration"]

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> ShardSpec:
    """``K/N`` with 1 <= K <= N, e.g. ``2/3``; :class:`OptionError` otherwise."""
    m = _SPEC.match(text)
    if m is None:
        raise OptionError(f"a shard is K/N (this job's number K of N jobs, e.g. 2/3), "
                          f"got {text!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise OptionError(f"a shard K/N needs 1 <= K <= N, got {text!r}")
    return ShardSpec(index=index, count=count)


def universe_sha256(nodeids: Sequence[str]) -> str:
    """The identity of a collection: sha256 of the sorted node ids, one per line."""
    return hashlib.sha256("\n".join(sorted(nodeids)).encode("utf-8", "surrogateescape")
                          ).hexdigest()


def partition(nodeids: Sequence[str], *, count: int,
              durations: Mapping[str, float] | None = None) -> tuple[ShardBy, list[list[str]]]:
    """Split ``nodeids`` into ``count`` shards; returns how (``count`` or ``duration``) and the
    shards, each sorted by node id. Durations are used when given and at least one of the
    node ids has one; a duplicate node id is a ``ValueError``."""
    ids = sorted(nodeids)
    if len(set(ids)) != len(ids):
        dup = next(a for a, b in zip(ids, ids[1:], strict=False) if a == b)
        raise ValueError(f"node id {dup!r} was collected twice; shards need unique ids")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    known = {i: float(durations[i]) for i in ids if durations and i in durations}
    if not known:
        n = len(ids)
        return "count", [ids[k * n // count:(k + 1) * n // count] for k in range(count)]
    fill = statistics.median(known.values())
    weights = {i: max(known.get(i, fill), 0.0) for i in ids}
    loads = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for i in sorted(ids, key=lambda i: (-weights[i], i)):
        k = min(range(count), key=lambda k: (loads[k], k))
        shards[k].append(i)
        loads[k] += weights[i]
    return "duration", [sorted(s) for s in shards]


@dataclass(frozen=True)
class Durations:
    """Per-test durations of a previous run record, and that record's identity."""

    by_test: Mapping[str, float]
    sha256: str
    source: str


def load_durations(value: str | None, *, from_ini: bool, store_dir: Path,
                   cwd: Path) -> Durations | None:
    """The durations record ``value`` names (a file, or a saved baseline name), ``None`` for
    none. From the ini key a record that does not exist yet is no error (by count until it
    does); from the command line it is. ``RecordError``/``BaselineError`` name the file."""
    from llaso_pytest import store
    from llaso_pytest.record import read_record

    if value is None:
        return None
    if from_ini and not (cwd / value).exists():
        try:
            store.resolve_baseline(value, store_dir=store_dir, cwd=cwd)
        except store.BaselineError:
            return None
    path = store.resolve_baseline(value, store_dir=store_dir, cwd=cwd)
    record = read_record(path)
    return Durations(by_test={t.nodeid: t.duration for t in record.tests},
                     sha256=hashlib.sha256(path.read_bytes()).hexdigest(), source=value)


def share(nodeids: Sequence[str], spec: ShardSpec, durations: Durations | None) -> ShardInfo:
    """Shard ``spec``'s share of ``nodeids`` as the record keeps it (``unsharded_subset`` is
    set by the plugin, which knows the selection)."""
    from llaso_pytest.record import ShardInfo

    by, shares = partition(nodeids, count=spec.count,
                           durations=durations.by_test if durations else None)
    return ShardInfo(index=spec.index, count=spec.count, by=by, universe_size=len(nodeids),
                     universe_sha256=universe_sha256(nodeids), items=tuple(shares[spec.index - 1]),
                     durations_sha256=durations.sha256 if durations else None,
                     durations_source=durations.source if durations else None)
