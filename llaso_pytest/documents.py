"""Text documents from files, streamed and strict: JSONL (one object per line) or plain text
(one document per line), for the leakage check and the other transparency commands.

A JSONL line must be an object with the text field(s) as strings (several fields are joined
with a newline, e.g. a question and its context) and, when ``id_field`` is given, a unique
string or integer id; a plain-text document's id is its line number. Every problem names
the file and the line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from llaso_pytest.errors import LlasoError

__all__ = ["DocumentError", "iter_documents", "read_documents"]

#: Suffixes read as JSONL; anything else is plain text, one document per line.
JSONL_SUFFIXES = (".jsonl", ".ndjson")


class DocumentError(LlasoError, ValueError):
    """A document file is missing or malformed; the message names the file and the line."""


def iter_documents(path: str | Path, *, fields: Sequence[str] = ("text",),
                   id_field: str | None = "id") -> Iterator[tuple[str, str]]:
    """``(id, text)`` for each document of ``path``, read line by line (never all at once)."""
    from llaso_pytest.llm.predictions import strict_json

    p = Path(path)
    if not p.is_file():
        raise DocumentError(f"{p}: no such file")
    jsonl = p.suffix.lower() in JSONL_SUFFIXES
    seen: dict[str, int] = {}
    with open(p, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DocumentError(f"{p}: line {lineno}: not UTF-8 (byte "
                                    f"0x{raw[exc.start]:02x}); save the file as UTF-8") from None
            if not line.strip():
                continue
            if not jsonl:
                yield str(lineno), line
                continue
            try:
                obj = strict_json(line)
            except ValueError as exc:
                raise DocumentError(f"{p}: line {lineno}: not valid JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise DocumentError(f"{p}: line {lineno}: expected a JSON object, got "
                                    f"{type(obj).__name__}")
            parts = []
            for name in fields:
                value = obj.get(name)
                if not isinstance(value, str):
                    raise DocumentError(
                        f"{p}: line {lineno}: field {name!r} must be a string, got "
                        f"{'nothing' if name not in obj else type(value).__name__} (fields: "
                        f"{', '.join(sorted(obj))}; choose others with --field)")
                parts.append(value)
            if id_field is None:
                doc_id = str(lineno)
            else:
                raw_id = obj.get(id_field)
                if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or raw_id == "":
                    raise DocumentError(f"{p}: line {lineno}: {id_field!r} must be a non-empty "
                                        f"string or an integer, got {raw_id!r}")
                doc_id = str(raw_id)
                if doc_id in seen:
                    raise DocumentError(f"{p}: line {lineno}: duplicate id {doc_id!r} (first on "
                                        f"line {seen[doc_id]})")
                seen[doc_id] = lineno
            yield doc_id, "\n".join(parts)


def read_documents(path: str | Path, *, fields: Sequence[str] = ("text",),
                   id_field: str | None = "id") -> tuple[list[str], list[str]]:
    """All documents of ``path`` as ``(ids, texts)``."""
    ids: list[str] = []
    texts: list[str] = []
    for doc_id, text in iter_documents(path, fields=fields, id_field=id_field):
        ids.append(doc_id)
        texts.append(text)
    if not ids:
        raise DocumentError(f"{path}: no documents (the file is empty)")
    return ids, texts
