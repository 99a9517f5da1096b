from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported once here: pytester's module snapshots must not reload it)


def load_latest(root: Path) -> dict[str, Any]:
    return json.loads((root / ".llaso" / "runs" / "latest.json").read_text())


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what legitimately changes between runs: times, durations, run id."""
    rec = json.loads(json.dumps(record))
    for key in ("run_id", "started_at", "finished_at"):
        rec.pop(key)
    rec["provenance"].pop("command")
    for test in rec["tests"]:
        test.pop("duration")
    return rec
