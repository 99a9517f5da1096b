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
from typing import Literal

from llaso_pytest.options import OptionError

__all__ = ["ShardBy", "ShardSpec", "parse_shard", "partition", "universe_sha256"]

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


def load_durations(path: str) -> tuple[dict[str, float], str]:
    """Per-test durations of a run record and the record's sha256 (``RecordError`` naming the
    file when it cannot be read)."""
    from pathlib import Path

    from llaso_pytest.record import read_record

    record = read_record(path)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {t.nodeid: t.duration for t in record.tests}, digest
