"""CSV (and TSV): a header row, then one case per row; every value is a string."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import CasesError, Reader, Row, Table, _register_builtin, sha256_file


def read_csv(path: Path, options: Mapping[str, Any]) -> Table:
    """Rows of a CSV file as dicts keyed by the header; the delimiter is ``,`` (``\\t`` for
    ``.tsv``) unless ``delimiter=`` says otherwise. A row with more or fewer cells than the
    header, an empty or repeated header name, or bytes that are not UTF-8 are errors naming
    the line."""
    delimiter = options.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise CasesError(f"{path}: delimiter= must be one character, not {delimiter!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise CasesError(f"{path}:{line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x}); "
                         "save the file as UTF-8") from None
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise CasesError(f"{path}: empty file (a CSV dataset needs a header row)") from None
    except csv.Error as exc:
        raise CasesError(f"{path}:1: malformed CSV header ({exc})") from None
    for i, name in enumerate(header):
        if not name.strip():
            raise CasesError(f"{path}:1: column {i + 1} of the header has no name")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise CasesError(f"{path}:1: the header names column(s) {', '.join(map(repr, dups))} "
                         "more than once")
    rows: list[Row] = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CasesError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
        line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        if len(cells) != len(header):
            raise CasesError(f"{path}:{line}: {len(cells)} cells but the header has "
                             f"{len(header)} columns ({', '.join(header)}); quote cells that "
                             "hold the delimiter")
        rows.append(Row(fields=dict(zip(header, cells, strict=True)), where=f"{path}:{line}"))
    return Table(rows=rows, files={path.name: sha256_file(path)})


_register_builtin(Reader(name="csv", read=read_csv, suffixes=(".csv", ".tsv"),
                         description="a header row, then one case per row (values are text)",
                         options={"delimiter": "one character (default ',' or tab for .tsv)"}))
