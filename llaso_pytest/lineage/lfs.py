"""Git LFS pointer files: recognised by the documented pointer format, never hashed as data.

A repository that tracks data with Git LFS holds, until ``git lfs pull`` fetches the objects,
small text *pointer files* in their place (https://github.com/git-lfs/git-lfs/blob/main/docs/
spec.md)::

    version https://git-lfs.github.com/spec/v1
    oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393
    size 12345

Hashing such a file would pin the pointer, not the data, and a metric computed on it would
be nonsense. :func:`sha256_data`, the one hash of data files, refuses a pointer with
"run git lfs pull" and names the file, the object id and the size it stands for.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from llaso_pytest.errors import LlasoError

__all__ = ["MAX_POINTER_SIZE", "LfsPointer", "LfsPointerError", "pointer_message", "read_pointer",
           "sha256_data"]

#: git-lfs reads at most this many bytes when deciding whether a blob is a pointer.
MAX_POINTER_SIZE = 1024
_VERSIONS = (b"version https://git-lfs.github.com/spec/v1",
             b"version https://hawser.github.com/spec/v1")  # the pre-release spelling
_OID = re.compile(r"^oid sha256:([0-9a-f]{64})$")
_SIZE = re.compile(r"^size ([0-9]+)$")
_CHUNK = 1 << 20


class LfsPointerError(LlasoError, ValueError):
    """A Git LFS pointer file stands where the data should be."""


@dataclass(frozen=True)
class LfsPointer:
    """A parsed pointer: the sha256 and size of the object it stands for."""

    oid: str | None
    size: int | None

    @property
    def well_formed(self) -> bool:
        return self.oid is not None and self.size is not None


def read_pointer(path: str | os.PathLike[str]) -> LfsPointer | None:
    """The pointer in ``path``, or ``None`` for any other file (read: the first 1 KiB).

    A file whose first line is the spec's ``version`` line is a pointer even when the rest is
    malformed (``oid``/``size`` then ``None``): it is certainly not the data.
    """
    with open(path, "rb") as fh:
        head = fh.read(MAX_POINTER_SIZE + 1)
    if len(head) > MAX_POINTER_SIZE or not head.startswith(_VERSIONS):
        return None
    first, _, rest = head.partition(b"\n")
    if first.rstrip(b"\r") not in _VERSIONS:
        return None
    oid: str | None = None
    size: int | None = None
    for raw in rest.decode("utf-8", errors="replace").splitlines():
        line = raw.rstrip("\r")
        if m := _OID.match(line):
            oid = m.group(1)
        elif m := _SIZE.match(line):
            size = int(m.group(1))
    return LfsPointer(oid=oid, size=size)


def pointer_message(path: str | os.PathLike[str], pointer: LfsPointer,
                    expected_sha256: str | None = None) -> str:
    what = (f"object sha256:{pointer.oid}, {pointer.size} bytes" if pointer.well_formed
            else "a malformed pointer")
    pinned = ""
    if expected_sha256 is not None and pointer.oid == expected_sha256:
        pinned = " (its object is the pinned file: the data exists in LFS)"
    return (f"{os.fspath(path)} is a Git LFS pointer file ({what}){pinned}, not the data: run "
            "`git lfs pull` (or `git lfs pull --include <path>`) in the repository to fetch "
            "it; llaso never hashes a pointer as data")


def sha256_data(path: str | os.PathLike[str], *, expected: str | None = None,
                error: type[LfsPointerError] = LfsPointerError) -> str:
    """Hex sha256 of a data file's bytes; a Git LFS pointer is refused with ``error``.

    ``expected`` (the pinned hash, when the caller has one) lets the message say whether the
    pointer stands for exactly the pinned file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        first = fh.read(_CHUNK)
        if len(first) <= MAX_POINTER_SIZE and first.startswith(_VERSIONS):
            pointer = read_pointer(path)
            if pointer is not None:
                raise error(pointer_message(path, pointer, expected))
        h.update(first)
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
