"""DVC-tracked data: which ``.dvc`` / ``dvc.lock`` entry covers a path, and does it still match.

Read directly from the YAML files DVC writes (``dvc.lock`` schema 2.0, ``*.dvc`` files), not
through DVC's Python API: importing ``dvc`` costs about a second and pulls in dozens of
packages, while the files are a small, documented format; PyYAML (the ``dvc`` extra) reads
them. The workspace copy is checked by recomputing DVC's own hash: md5 of a file's bytes
(``hash: md5``, DVC 3), DVC 2's ``md5-dos2unix`` for entries without a ``hash`` field, and for
a directory the md5 of its sorted ``[{"md5", "relpath"}]`` listing plus ``.dir``; the tests
check both against real ``dvc add`` / ``dvc repro`` output. ``.dvcignore`` patterns are not
applied: a mismatch in a folder that has them says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from llaso_pytest.errors import LlasoError

__all__ = ["DvcError", "DvcMismatchError", "DvcOut", "MismatchPolicy", "Verification",
           "dvc_md5", "find_out", "find_repo", "mismatch_message", "verify"]

MismatchPolicy = Literal["error", "warn"]
_CHUNK = 1 << 20
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"


class DvcError(LlasoError, ValueError):
    """A ``dvc.lock`` or ``.dvc`` file that cannot be read; the message names it."""


class DvcMismatchError(DvcError):
    """The workspace copy of DVC-tracked data differs from what DVC recorded."""


@dataclass(frozen=True)
class DvcOut:
    """One output DVC tracks: where it is recorded, its hash, and the stage that made it."""

    repo: Path
    path: str  # relative to the repository root, POSIX
    md5: str  # "<hex>" for a file, "<hex>.dir" for a directory
    hash_name: str  # "md5" (DVC 3) or "md5-dos2unix" (an entry DVC 2 wrote)
    size: int | None
    nfiles: int | None
    source: str  # "dvc.lock", "sub/dvc.lock" or "data.csv.dvc", relative to the root
    stage: str | None = None
    cmd: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    deps: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def to_provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "path": self.path, "md5": self.md5,
                               "hash": self.hash_name, "size": self.size}
        if self.nfiles is not None:
            out["nfiles"] = self.nfiles
        if self.stage is not None:
            out.update(stage=self.stage, cmd=self.cmd, params=dict(self.params),
                       deps=[dict(d) for d in self.deps])
        return out


@dataclass(frozen=True)
class Verification:
    """The workspace hash next to the recorded one; ``changed`` lists differing files."""

    out: DvcOut
    workspace_md5: str
    changed: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return self.workspace_md5 == self.out.md5


def find_repo(path: str | os.PathLike[str]) -> Path | None:
    """The DVC repository root (the folder holding ``.dvc/``) above ``path``, or ``None``."""
    here = Path(path).resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return None


def _yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise DvcError(f"{path}: reading DVC files needs PyYAML: pip install "
                       "'llaso-pytest[dvc]'") from None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DvcError(f"{path}: not a readable DVC file ({exc})") from None


def _entry(d: Any, where: str) -> tuple[str, str, str, int | None, int | None]:
    if not isinstance(d, Mapping) or not isinstance(d.get("path"), str):
        raise DvcError(f"{where}: an entry without a 'path' ({d!r:.80})")
    md5 = d.get("md5")
    if not isinstance(md5, str):
        raise DvcError(f"{where}: {d['path']!r} has no md5 (hash {d.get('hash')!r} is not "
                       "one llaso can check)")
    hash_name = "md5" if d.get("hash") == "md5" else "md5-dos2unix"  # no field: DVC 2's
    return d["path"], md5, hash_name, d.get("size"), d.get("nfiles")


def _rel(repo: Path, folder: Path, path: str) -> str:
    return PurePosixPath(os.path.relpath(folder / path, repo)).as_posix()


def _outs_of_dvcfile(repo: Path, dvcfile: Path) -> Iterator[DvcOut]:
    data = _yaml(dvcfile)
    source = _rel(repo, dvcfile.parent, dvcfile.name)
    for d in (data or {}).get("outs") or ():
        path, md5, hash_name, size, nfiles = _entry(d, source)
        yield DvcOut(repo=repo, path=_rel(repo, dvcfile.parent, path), md5=md5,
                     hash_name=hash_name, size=size, nfiles=nfiles, source=source)


def _outs_of_lock(repo: Path, lock: Path) -> Iterator[DvcOut]:
    data = _yaml(lock)
    source = _rel(repo, lock.parent, lock.name)
    if not isinstance(data, Mapping) or str(data.get("schema")) != "2.0":
        raise DvcError(f"{source}: expected a dvc.lock with schema '2.0' (DVC >= 2), got "
                       f"{data.get('schema') if isinstance(data, Mapping) else data!r:.40}")
    for stage, spec in (data.get("stages") or {}).items():
        deps = []
        for d in spec.get("deps") or ():
            dpath, dmd5, _, dsize, _ = _entry(d, f"{source}: stage {stage}")
            deps.append({"path": _rel(repo, lock.parent, dpath), "md5": dmd5, "size": dsize})
        for d in spec.get("outs") or ():
            path, md5, hash_name, size, nfiles = _entry(d, f"{source}: stage {stage}")
            yield DvcOut(repo=repo, path=_rel(repo, lock.parent, path), md5=md5,
                         hash_name=hash_name, size=size, nfiles=nfiles, source=source,
                         stage=str(stage),
                         cmd=_cmd(spec.get("cmd")), params=dict(spec.get("params") or {}),
                         deps=tuple(deps))


def _cmd(cmd: Any) -> str | None:
    if isinstance(cmd, list):
        return " && ".join(map(str, cmd))
    return None if cmd is None else str(cmd)


def find_out(path: str | os.PathLike[str]) -> DvcOut | None:
    """The DVC output that is ``path`` or contains it (a file in a tracked folder), or
    ``None`` when ``path`` is not in a DVC repository or no entry tracks it."""
    target = Path(path).resolve()
    repo = find_repo(target)
    if repo is None:
        return None
    rel = PurePosixPath(target.relative_to(repo).as_posix())
    candidates = [rel, *[p for p in rel.parents if str(p) != "."]]
    for cand in candidates:  # the narrowest entry wins: data.csv.dvc beside data.csv
        dvcfile = repo / f"{cand}.dvc"
        if dvcfile.is_file():
            for out in _outs_of_dvcfile(repo, dvcfile):
                if out.path == str(cand):
                    return out
    folders = [repo / p for p in rel.parents] if str(rel) != "." else [repo]
    for folder in folders:  # dvc.lock beside a dvc.yaml, from the nearest folder up
        lock = folder / "dvc.lock"
        if lock.is_file():
            for out in _outs_of_lock(repo, lock):
                if any(out.path == str(c) for c in candidates):
                    return out
    return None


def _file_md5(path: Path, hash_name: str) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            if hash_name == "md5-dos2unix" and _is_text(chunk[:512]):
                chunk = chunk.replace(b"\r\n", b"\n")  # DVC 2: per 1 MiB chunk, as it did
            h.update(chunk)
    return h.hexdigest()


def _is_text(block: bytes) -> bool:
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def _listing(folder: Path, hash_name: str) -> list[dict[str, str]]:
    entries = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in (".dvc", ".git")]
        for name in files:
            p = Path(root, name)
            entries.append({"md5": _file_md5(p, hash_name),
                            "relpath": p.relative_to(folder).as_posix()})
    return sorted(entries, key=lambda e: e["relpath"])


def _dir_md5(entries: list[dict[str, str]]) -> str:
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8"),
                       usedforsecurity=False).hexdigest() + ".dir"


def dvc_md5(path: str | os.PathLike[str], *, hash_name: str = "md5") -> str:
    """DVC's hash of a file or folder, as ``dvc add`` would record it."""
    p = Path(path)
    return _dir_md5(_listing(p, hash_name)) if p.is_dir() else _file_md5(p, hash_name)


def _cached_listing(out: DvcOut) -> list[dict[str, str]] | None:
    digest = out.md5
    for cache in (out.repo / ".dvc" / "cache" / "files" / "md5", out.repo / ".dvc" / "cache"):
        p = cache / digest[:2] / digest[2:]
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, list) else None
    return None


def verify(out: DvcOut) -> Verification:
    """Recompute the workspace hash of ``out``; for a folder whose listing is in the DVC
    cache, also name the files that were added, removed or changed."""
    target = out.repo / out.path
    if not target.exists():
        return Verification(out, workspace_md5="missing", changed=(out.path,))
    if not out.is_dir:
        return Verification(out, workspace_md5=_file_md5(target, out.hash_name))
    entries = _listing(target, out.hash_name)
    md5 = _dir_md5(entries)
    changed: tuple[str, ...] = ()
    cached = _cached_listing(out) if md5 != out.md5 else None
    if cached is not None:
        now = {e["relpath"]: e["md5"] for e in entries}
        then = {str(e.get("relpath")): str(e.get("md5")) for e in cached}
        changed = tuple(f"{out.path}/{p}" for p in sorted(set(now) | set(then))
                        if now.get(p) != then.get(p))
    return Verification(out, workspace_md5=md5, changed=changed)


def mismatch_message(v: Verification) -> str:
    out = v.out
    made = f" (stage {out.stage!r}: {out.cmd})" if out.stage else ""
    which = f"; differing files: {', '.join(v.changed[:5])}" + (
        f" and {len(v.changed) - 5} more" if len(v.changed) > 5 else "") if v.changed else ""
    ignore = (" (this repository has a .dvcignore, whose patterns llaso does not apply: "
              "check with `dvc status`)" if out.is_dir and (out.repo / ".dvcignore").is_file()
              and (out.repo / ".dvcignore").read_text(encoding="utf-8").strip() else "")
    fix = ("run `dvc repro` to rebuild it" if out.stage else
           f"run `dvc checkout {out.path}` to restore it")
    return (f"{out.repo / out.path}: the workspace copy differs from {out.source}{made}: md5 "
            f"{v.workspace_md5}, {out.source} records {out.md5}{which}{ignore}. The data "
            f"evaluated is not the version DVC tracks: {fix}, or `dvc commit` to record the "
            "change (or --llaso-dvc-mismatch=warn to evaluate it anyway, recorded as a "
            "mismatch)")
