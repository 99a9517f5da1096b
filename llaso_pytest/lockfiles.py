"""The environment locks a project uses: which lock files sit at its root, and their sha256.

A lock pins every distribution of an environment, so its hash says more about "the same
environment" than the dozen package versions provenance lists: two runs with equal lock hashes
installed the same thing. The kinds live in one table, :data:`LOCK_KINDS` (name -> globs), so a
new format is one entry. Pure and cheap: a directory listing and one hash per file found.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llaso_pytest.lineage.lfs import LfsPointerError, sha256_data

__all__ = ["LOCK_KINDS", "LockFile", "find_locks", "locks_provenance"]

#: kind -> file-name globs, matched at the project root (and ``requirements/`` for pip).
LOCK_KINDS: Mapping[str, tuple[str, ...]] = {
    "uv": ("uv.lock",),
    "pylock": ("pylock.toml", "pylock.*.toml"),  # PEP 751
    "pip-requirements": ("requirements*.txt", "requirements/*.txt", "constraints*.txt"),
    "poetry": ("poetry.lock",),
    "pdm": ("pdm.lock",),
    "pipenv": ("Pipfile.lock",),
    "conda": ("environment.yml", "environment.yaml", "conda-lock.yml", "conda-lock.yaml"),
}


@dataclass(frozen=True)
class LockFile:
    """A lock file found at the project root: ``path`` relative to it, with POSIX slashes."""

    path: str
    kind: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sha256": self.sha256, "size": self.size}


def _candidates(root: Path) -> list[str]:
    names: list[str] = []
    for folder in ("", "requirements"):
        try:
            entries = os.listdir(root / folder) if folder else os.listdir(root)
        except OSError:
            continue
        names.extend(f"{folder}/{e}" if folder else e for e in entries)
    return sorted(names)


def find_locks(root: str | os.PathLike[str]) -> list[LockFile]:
    """The lock files at ``root`` (a project root), in path order; none is an empty list."""
    base = Path(root)
    out: list[LockFile] = []
    for rel in _candidates(base):
        kind = next((k for k, globs in LOCK_KINDS.items()
                     if any(fnmatch.fnmatchcase(rel, g) for g in globs)), None)
        path = base / rel
        if kind is None or not path.is_file():
            continue
        try:
            out.append(LockFile(path=rel, kind=kind, sha256=sha256_data(path),
                                size=path.stat().st_size))
        except OSError as exc:  # unreadable: say so in the record, never drop it silently
            out.append(LockFile(path=rel, kind=kind, sha256=f"unreadable: {exc.strerror}",
                                size=-1))
        except LfsPointerError as exc:  # a lock not fetched from LFS: not the lock's hash
            out.append(LockFile(path=rel, kind=kind, sha256=f"unusable: {exc}", size=-1))
    return out


def locks_provenance(root: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """``{relative path: {kind, sha256, size}}`` for the run record's ``locks`` section."""
    return {lock.path: lock.to_dict() for lock in find_locks(root)}
