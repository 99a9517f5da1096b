"""The ``.llaso/`` store of saved baselines: ``.llaso/baselines/NAME.json``.

``--llaso-save NAME`` (or ``llaso baseline save NAME RECORD``) copies a run record here;
``--llaso-baseline NAME`` and ``llaso compare NAME HEAD`` resolve it again. Writes are atomic;
the store explains itself with a README and keeps itself out of git with a ``.gitignore``.
No pytest import: the CLI and notebooks use it too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llaso_pytest.errors import LlasoError

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.record import RunRecord

__all__ = [
    "DEFAULT_STORE",
    "BaselineError",
    "BaselineNotFoundError",
    "baseline_path",
    "check_name",
    "ensure_store",
    "list_baselines",
    "resolve_baseline",
    "save_baseline",
]

DEFAULT_STORE = ".llaso"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

README = """# .llaso

Written by llaso-pytest; safe to delete, kept out of git by `.gitignore`.

- `runs/` holds one run record (JSON) per pytest session; `runs/latest.json` is the newest.
- `baselines/NAME.json` are run records saved as named baselines, with
  `pytest --llaso-save NAME` or `llaso baseline save NAME RECORD.json`.
  Compare against one with `pytest --llaso-baseline NAME` or `llaso compare NAME HEAD.json`.
- `cache/` holds LLM judge caches.
- `predictions/SET/` holds outputs the live suites generated, as pinned predictions sets
  (`manifest.json` with sha256), to score later without the model.

A run record is plain JSON (`"kind": "llaso-run-record"`, `schema_version` 1); see
docs/architecture.md of llaso-pytest for its fields.
"""

GITIGNORE = "# written by llaso-pytest: keep run records out of git\n*\n"


class BaselineError(LlasoError, ValueError):
    """A baseline name or path that cannot be used; the message says what exists instead."""


class BaselineNotFoundError(BaselineError):
    """A valid baseline name that is not saved (yet): ``name`` says which."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


def ensure_store(store_dir: str | os.PathLike[str]) -> Path:
    """Create the store with its README and .gitignore (existing files are left alone)."""
    from llaso_pytest.record import atomic_write_text

    root = Path(store_dir)
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "README.md").exists():
        atomic_write_text(root / "README.md", README)
    if not (root / ".gitignore").exists():
        atomic_write_text(root / ".gitignore", GITIGNORE)
    return root


def check_name(name: str) -> str:
    """``name`` if it is a valid baseline name, else :class:`BaselineError` (a ValueError)."""
    if not _NAME.fullmatch(name) or name.endswith(".json"):
        raise BaselineError(
            f"bad baseline name {name!r}: use letters, digits, '.', '_' or '-' (at most 100, "
            "starting with a letter or digit, without '.json'), e.g. 'main' or 'v1.2'"
        )
    return name


def baseline_path(name: str, store_dir: str | os.PathLike[str]) -> Path:
    """Where the baseline ``name`` lives (whether or not it exists)."""
    return Path(store_dir) / "baselines" / f"{check_name(name)}.json"


def list_baselines(store_dir: str | os.PathLike[str]) -> list[str]:
    folder = Path(store_dir) / "baselines"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if _NAME.fullmatch(p.stem))


def save_baseline(record: RunRecord | Mapping[str, Any] | str | os.PathLike[str], name: str, *,
                  store_dir: str | os.PathLike[str]) -> Path:
    """Save a run record (object, dict, or a record file, validated first) as ``name``."""
    from llaso_pytest.record import (
        RunRecord,
        atomic_write_text,
        dumps_record,
        parse_record,
        read_record,
    )

    target = baseline_path(name, store_dir)
    if isinstance(record, (str, os.PathLike)):
        rec = read_record(record)
    elif isinstance(record, RunRecord):
        rec = record
    else:
        rec = parse_record(dict(record), source=f"baseline {name!r}")
    ensure_store(store_dir)
    atomic_write_text(target, dumps_record(rec))
    return target


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith(".json") or text.startswith(".")


def resolve_baseline(name_or_path: str | os.PathLike[str],
                     store_dir: str | os.PathLike[str] = DEFAULT_STORE, *,
                     cwd: str | os.PathLike[str] | None = None) -> Path:
    """The record file for ``name_or_path``: an existing file (relative to ``cwd`` when
    given), else a saved baseline name in ``store_dir``. A bare name that happens to be a
    folder in ``cwd`` (a checkout called ``main``) is still looked up in the store.

    Raises :class:`BaselineError` naming what was looked for and what exists;
    :class:`BaselineNotFoundError` when a valid name is not saved.
    """
    text = os.fspath(name_or_path)
    if not text.strip():
        raise BaselineError("empty baseline: give a run record file or a saved baseline name")
    candidate = Path(cwd, text) if cwd is not None else Path(text)
    if candidate.is_file():
        return candidate
    if _looks_like_path(text):
        if candidate.is_dir():
            raise BaselineError(f"{candidate}: is a directory, not a run record file")
        raise BaselineError(f"{candidate}: no such run record file")
    try:
        path = baseline_path(text, store_dir)
    except BaselineError:
        raise BaselineError(f"{text!r}: neither a run record file nor a valid baseline name")\
            from None
    if path.is_file():
        return path
    saved = list_baselines(store_dir)
    available = (f"saved baselines in {Path(store_dir) / 'baselines'}: {', '.join(saved)}"
                 if saved else f"no baselines are saved in {Path(store_dir) / 'baselines'}")
    found = f"{candidate} is a directory, not a run record file," if candidate.is_dir() \
        else f"no file {text!r}"
    raise BaselineNotFoundError(
        f"baseline {text!r} not found: {found} and no {path}; {available}. "
        f"Save one with `pytest --llaso-save {text}` or `llaso baseline save {text} RECORD.json`",
        name=text,
    )
