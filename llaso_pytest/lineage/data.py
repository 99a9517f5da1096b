"""The lineage of a data file or folder: llaso's sha256 next to what DVC recorded for it.

:func:`data_provenance` is what a run record's ``datasets`` entry holds for a path: its
sha256 (a folder: over its sorted ``(relative path, sha256)`` listing), size, file count,
and, when a ``.dvc`` file or ``dvc.lock`` tracks it, that entry (md5, size, stage, command,
params, deps) with the workspace check. A Git LFS pointer is refused, never hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from llaso_pytest.errors import warn
from llaso_pytest.lineage.dvc import (
    DvcError,
    DvcMismatchError,
    MismatchPolicy,
    find_out,
    mismatch_message,
    verify,
)
from llaso_pytest.lineage.lfs import sha256_data

__all__ = ["MISMATCH_POLICIES", "data_provenance", "dvc_lineage"]

MISMATCH_POLICIES: tuple[MismatchPolicy, ...] = ("error", "warn")


def dvc_lineage(path: str | os.PathLike[str], *, on_mismatch: MismatchPolicy = "error"
                ) -> dict[str, Any] | None:
    """The DVC entry that tracks ``path``, checked against the workspace; ``None`` when DVC
    does not track it. A mismatch raises :class:`DvcMismatchError` (``"error"``) or warns
    and is recorded as ``"matches": false`` (``"warn"``)."""
    if on_mismatch not in MISMATCH_POLICIES:
        raise DvcError(f"on_mismatch must be one of {MISMATCH_POLICIES}, got {on_mismatch!r}")
    out = find_out(path)
    if out is None:
        return None
    check = verify(out)
    info = out.to_provenance()
    info["matches"] = check.matches
    if not check.matches:
        info["workspace_md5"] = check.workspace_md5
        if check.changed:
            info["changed"] = list(check.changed)
        message = mismatch_message(check)
        if on_mismatch == "error":
            raise DvcMismatchError(message)
        warn(message)
    return info


def _folder_sha256(folder: Path) -> tuple[str, int, int]:
    listing = []
    size = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in (".git", ".dvc"))
        for name in files:
            p = Path(root, name)
            listing.append((p.relative_to(folder).as_posix(), sha256_data(p)))
            size += p.stat().st_size
    listing.sort()
    digest = hashlib.sha256(json.dumps(listing, separators=(",", ":")).encode()).hexdigest()
    return digest, size, len(listing)


def data_provenance(path: str | os.PathLike[str], *, on_mismatch: MismatchPolicy = "error"
                    ) -> dict[str, Any]:
    """``{"path", "sha256", "size", ["nfiles"], ["dvc"]}`` for a data file or folder."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"dataset {p} does not exist")
    info: dict[str, Any] = {"path": str(p)}
    if p.is_dir():
        info["sha256"], info["size"], info["nfiles"] = _folder_sha256(p)
    else:
        info["sha256"], info["size"] = sha256_data(p), p.stat().st_size
    dvc = dvc_lineage(p, on_mismatch=on_mismatch)
    if dvc is not None:
        info["dvc"] = dvc
    return info
