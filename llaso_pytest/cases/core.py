"""Eval cases: :class:`Case`, :class:`Cases`, the table of readers, and :func:`load`.

A reader turns one dataset format into a :class:`Table`: raw rows, each with where it came
from (``file:line``), and the sha256 of every file it read. :func:`load` then does what every
format shares: take each row's id (the ``id_field`` column, or the reader's own stable id),
refuse missing and duplicate ids naming the file and line, check the audio the rows refer to
(:mod:`llaso_pytest.cases.audio`), hash the whole content, and tell the pytest plugin (when
one listens) so the content hash lands in the run record's provenance.

No pytest and no NumPy here: ``cases.load`` is usable from a notebook, and each reader imports
its library (pyarrow, datasets) only when its format is read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from llaso_pytest.context import note_dataset
from llaso_pytest.errors import LlasoError
from llaso_pytest.speech.manifest import sha256_file

__all__ = [
    "Case",
    "Cases",
    "CasesError",
    "Reader",
    "Row",
    "Table",
    "listen",
    "load",
    "reader_for",
    "readers",
    "register_reader",
    "sha256_file",
    "unlisten",
]

class CasesError(LlasoError, ValueError):
    """A dataset that cannot be read as cases; the message names the file, the line and the
    fix."""


def optional_module(name: str, *, path: Path, what: str) -> Any:
    """Import the library a format needs (installed by ``make setup`` with the ``data``
    extra); a :class:`CasesError` naming the file and the install command when it is not."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - installed by make setup ([data] extra)
        raise CasesError(f"{path}: reading {what} needs {name.partition('.')[0]}: pip install "
                         f"'llaso-pytest[data]' ({exc})") from None


def unreadable(path: Path | str, what: str, exc: Exception) -> CasesError:
    """The error for a file a format's library could not read (its exception named)."""
    return CasesError(f"{path}: {what} ({type(exc).__name__}: {exc})")


def canonical_sha256(data: Any) -> str:
    """sha256 of the canonical JSON of ``data`` (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ----------------------------------------------------------------------------------------
# what readers produce


@dataclass(frozen=True)
class Row:
    """One raw row of a dataset: its fields, where it is (``"data.csv:7"``), and the id the
    format gives it when it has one of its own (a Kaldi utterance id)."""

    fields: dict[str, Any]
    where: str
    own_id: str | None = None


@dataclass(frozen=True)
class Table:
    """What a reader read: rows in file order, and ``files``: each file read, by its path
    relative to the dataset (or its name), with its sha256.

    ``audio_field`` names the field holding an audio path, for the formats that refer to audio
    (Kaldi, NeMo); ``id_from`` describes where ids come from when no ``id_field`` is given.
    """

    rows: list[Row]
    files: dict[str, str]
    audio_field: str | None = None
    id_from: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reader:
    """One dataset format: ``read(path, options)`` -> :class:`Table`.

    ``suffixes`` pick the format of a file from its name; ``detect(folder)`` recognises a folder
    (a Kaldi data directory, a ``save_to_disk`` folder). ``options`` are the keyword options
    the reader accepts beyond those of :func:`load`, each documented in ``help``.
    """

    name: str
    read: Callable[[Path, Mapping[str, Any]], Table]
    description: str
    suffixes: tuple[str, ...] = ()
    detect: Callable[[Path], bool] | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    #: the default id column, or None when the format has ids of its own (Kaldi, NeMo)
    default_id_field: str | None = "id"


_READERS: dict[str, Reader] = {}
_BUILTIN = ("jsonl", "csv", "parquet", "hf", "kaldi", "nemo")
_BUILTIN_MODULES = {"jsonl": "jsonl", "csv": "csvfile", "parquet": "parquet", "hf": "hfdisk",
                    "kaldi": "kaldi", "nemo": "nemo"}


def register_reader(reader: Reader, *, replace: bool = False) -> None:
    """Add a dataset format (``cases.load(path, format=reader.name)`` then reads it)."""
    if not isinstance(reader, Reader):
        raise CasesError(f"register_reader expects a cases.Reader, got {type(reader).__name__}")
    _load_builtins()
    if reader.name in _READERS and not replace and _READERS[reader.name] is not reader:
        raise CasesError(f"a dataset reader named {reader.name!r} is already registered (by "
                         f"{_READERS[reader.name].read.__module__}); pass replace=True to "
                         f"replace it. Known formats: {', '.join(_READERS)}")
    _READERS[reader.name] = reader


def _register_builtin(reader: Reader) -> None:
    _READERS.setdefault(reader.name, reader)


def _load_builtins() -> None:
    if all(name in _READERS for name in _BUILTIN):
        return
    import importlib

    for name in _BUILTIN:
        if name not in _READERS:
            importlib.import_module(f"llaso_pytest.cases.{_BUILTIN_MODULES[name]}")


def readers() -> dict[str, Reader]:
    """Every registered format by name, built-ins first."""
    _load_builtins()
    return dict(_READERS)


def _formats_help() -> str:
    return "; ".join(
        f"{r.name} ({', '.join(r.suffixes) if r.suffixes else 'a folder'}: {r.description})"
        for r in readers().values())


def reader_for(path: Path, format: str | None = None) -> Reader:
    """The reader of ``path``: the one named by ``format``, else by suffix or folder layout."""
    table = readers()
    if format is not None:
        if format not in table:
            raise CasesError(f"{path}: unknown dataset format {format!r}; known formats: "
                             f"{', '.join(table)}")
        return table[format]
    if path.is_dir():
        found = [r for r in table.values() if r.detect is not None and r.detect(path)]
        if len(found) == 1:
            return found[0]
        what = ("matches several formats (" + ", ".join(r.name for r in found) + ")"
                if found else "is a folder of no known layout")
        raise CasesError(f"{path} {what}; pass format=... Known formats: {_formats_help()}")
    name = path.name.lower()
    matches = [(len(s), r) for r in table.values() for s in r.suffixes if name.endswith(s)]
    if matches:  # the longest suffix wins: "x.nemo.jsonl" is NeMo, not plain JSONL
        return max(matches, key=lambda m: m[0])[1]
    raise CasesError(f"{path}: cannot tell the dataset format from the file name; pass "
                     f"format=... Known formats: {_formats_help()}")


# ----------------------------------------------------------------------------------------
# cases


@dataclass(frozen=True, eq=False)
class Case(Mapping[str, Any]):
    """One eval case: ``case.id``, its fields as a mapping (``case["answers"]``), where it came
    from (``case.where``, ``"data.jsonl:3"``) and the dataset (``case.dataset``, a name).

    Speech formats (Kaldi, NeMo) give the fields ``audio`` (absolute path), ``text``,
    ``speaker``, ``offset`` and ``duration`` (seconds; ``duration`` is ``None`` when the format
    does not say), ``recording`` and ``audio_sha256`` (see docs/cases.md).
    """

    id: str
    fields: Mapping[str, Any]
    where: str
    dataset: str
    index: int = 0
    dataset_sha256: str = ""

    @property
    def llaso_dataset(self) -> tuple[str, str] | None:
        """``(dataset, sha256)``: a test that gets this case as a parameter signs its metrics
        with it (``llaso_pytest.context``)."""
        return (self.dataset, self.dataset_sha256) if self.dataset_sha256 else None

    def __getitem__(self, key: str) -> Any:
        try:
            return self.fields[key]
        except KeyError:
            known = ", ".join(map(repr, list(self.fields)[:12]))
            raise KeyError(f"case {self.id!r} ({self.where}) has no field {key!r}; its fields: "
                           f"{known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __repr__(self) -> str:
        return f"Case({self.id!r}, {self.where})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Case):
            return NotImplemented
        return (self.id, self.dataset, dict(self.fields)) == \
            (other.id, other.dataset, dict(other.fields))

    __hash__ = object.__hash__


@dataclass(frozen=True, eq=False)
class Cases(Sequence[Case]):
    """The cases of one dataset, in file order, with what identifies the content.

    ``sha256`` covers every file read (for a single file, it is that file's sha256, so
    ``sha256sum`` shows the same) and the audio the cases refer to; ``provenance()`` is what the
    run record keeps. Pass it to ``pytest.mark.parametrize``: each case's test id is its id.
    """

    name: str
    format: str
    path: Path
    sha256: str
    cases: tuple[Case, ...]
    files: Mapping[str, str]
    id_field: str | None
    audio: Mapping[str, Any] | None = None
    _by_id: dict[str, Case] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id.update((c.id, c) for c in self.cases)

    @overload
    def __getitem__(self, index: int) -> Case: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Case, ...]: ...

    def __getitem__(self, index: int | slice) -> Case | tuple[Case, ...]:
        return self.cases[index]

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def __repr__(self) -> str:
        return (f"Cases({self.name!r}, {self.format}, n={len(self.cases)}, "
                f"sha256={self.sha256[:12]})")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.cases)

    @property
    def llaso_dataset(self) -> tuple[str, str]:
        """``(name, sha256)``, as for each case (``llaso_pytest.context``)."""
        return (self.name, self.sha256)

    def by_id(self, case_id: str) -> Case:
        """The case with this id; ``KeyError`` naming the dataset when there is none."""
        try:
            return self._by_id[case_id]
        except KeyError:
            raise KeyError(f"dataset {self.name!r} ({self.path}) has no case {case_id!r}") \
                from None

    def column(self, name: str) -> list[Any]:
        """One field of every case, in order (a missing field is named with its case)."""
        return [c[name] for c in self.cases]

    def provenance(self) -> dict[str, Any]:
        """The JSON-able entry of ``provenance.datasets`` in the run record."""
        out: dict[str, Any] = {"format": self.format, "path": _shown_path(self.path),
                               "sha256": self.sha256, "n": len(self.cases),
                               "id_field": self.id_field, "files": dict(self.files)}
        if self.audio is not None:
            out["audio"] = dict(self.audio)
        return out


def _shown_path(path: Path) -> str:
    """The dataset's path for the record: relative to the working folder when it lies below
    it (a run from the repository root records the same path on every machine)."""
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return str(path)
    return path.as_posix()


# ----------------------------------------------------------------------------------------
# the plugin's listener (a context variable: set per session, reset after it)

_LISTENER: ContextVar[Callable[[Cases], None] | None] = ContextVar("llaso_cases_listener",
                                                                   default=None)


def listen(fn: Callable[[Cases], None]) -> Token[Callable[[Cases], None] | None]:
    """Call ``fn(cases)`` after every :func:`load` in this context (the plugin records the
    provenance); returns the token for :func:`unlisten`."""
    return _LISTENER.set(fn)


def unlisten(token: Token[Callable[[Cases], None] | None]) -> None:
    _LISTENER.reset(token)


# ----------------------------------------------------------------------------------------
# load


def _default_name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _case_id(row: Row, id_field: str | None, where_id: str) -> str:
    if id_field is None:
        if row.own_id is None:  # pragma: no cover - a reader without ids of its own
            raise CasesError(f"{row.where}: no id ({where_id})")
        return row.own_id
    if id_field not in row.fields:
        known = ", ".join(map(repr, list(row.fields)[:12])) or "none"
        raise CasesError(f"{row.where}: no {id_field!r} field (the case id; its fields: "
                         f"{known}). Give every case an id, or pass id_field= naming the "
                         "column that holds one")
    value = row.fields[id_field]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CasesError(f"{row.where}: id field {id_field!r} is {type(value).__name__} "
                         f"{value!r:.60}; an id must be a string or an integer")
    text = str(value)
    if not text.strip():
        raise CasesError(f"{row.where}: id field {id_field!r} is empty; every case needs an id")
    return text


def load(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    id_field: str | None = None,
    name: str | None = None,
    check_audio: bool = True,
    **options: Any,
) -> Cases:
    """Read a dataset as eval cases.

    ``format`` is one of :func:`readers` (default: from the suffix, or the folder layout);
    ``id_field`` the column holding each case's id (default ``"id"``; Kaldi and NeMo have ids
    of their own, which ``id_field`` overrides for NeMo); ``name`` the dataset's name in the
    run record (default: ``folder/file``). Audio the cases refer to is checked: it must exist,
    is hashed, and must match the pins of ``python -m llaso_pytest.speech.manifest pin DIR``
    where the folder has them (``check_audio=False`` skips that, and the record says so).
    Further keyword options go to the reader (e.g. ``split=`` for a ``DatasetDict`` folder).
    """
    p = Path(path)
    if not p.exists():
        raise CasesError(f"{p}: no such dataset file or folder")
    reader = reader_for(p, format)
    unknown = sorted(set(options) - set(reader.options))
    if unknown:
        accepted = ", ".join(f"{k} ({v})" for k, v in reader.options.items()) or "none"
        raise CasesError(f"cases.load({str(p)!r}): the {reader.name} reader takes no option "
                         f"{', '.join(unknown)}; its options: {accepted}")
    options = dict(options)
    if id_field is not None:
        options["id_field"] = id_field
    table = reader.read(p, options)
    effective = id_field if id_field is not None else reader.default_id_field
    if not table.rows:
        raise CasesError(f"{p}: the dataset holds no cases")
    dataset = name if name is not None else _default_name(p)
    seen: dict[str, str] = {}
    built: list[Case] = []
    for i, row in enumerate(table.rows):
        cid = _case_id(row, effective, table.id_from or "")
        if cid in seen:
            raise CasesError(f"{row.where}: duplicate case id {cid!r} (first at {seen[cid]}); "
                             "each case needs its own id")
        seen[cid] = row.where
        built.append(Case(id=cid, fields=row.fields, where=row.where, dataset=dataset, index=i))
    audio_summary: dict[str, Any] | None = None
    if table.audio_field is not None:
        from llaso_pytest.cases.audio import check_case_audio

        built, audio_summary = check_case_audio(built, field=table.audio_field,
                                                check=check_audio)
    files = dict(table.files)
    if len(files) == 1 and audio_summary is None:
        digest = next(iter(files.values()))
    else:
        digest = canonical_sha256({"files": files, "audio": (audio_summary or {}).get("sha256")})
    built = [dataclasses.replace(c, dataset_sha256=digest) for c in built]
    cases = Cases(name=dataset, format=reader.name, path=p, sha256=digest, cases=tuple(built),
                  files=files, id_field=effective, audio=audio_summary)
    # Loaded inside a test: its metrics are signed with the dataset (loaded at collection,
    # the plugin notes it from the case parameters instead).
    note_dataset(dataset, digest)
    listener = _LISTENER.get()
    if listener is not None:
        listener(cases)
    return cases
