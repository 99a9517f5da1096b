"""JSON Lines: one JSON object per line (blank lines allowed), ids from a column."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import CasesError, Reader, Row, Table, _register_builtin, sha256_file


def read_jsonl(path: Path, options: Mapping[str, Any]) -> Table:
    """Every object of a JSONL file, with its line number; a line that is not a JSON object
    (or not UTF-8, or with a key twice) is an error naming the line."""
    from llaso_pytest.llm.predictions import jsonl_objects

    objects = jsonl_objects(path, lambda msg: CasesError(f"{path}: {msg}"))
    rows = [Row(fields=obj, where=f"{path}:{lineno}") for lineno, obj in objects]
    return Table(rows=rows, files={path.name: sha256_file(path)})


_register_builtin(Reader(name="jsonl", read=read_jsonl, suffixes=(".jsonl", ".ndjson"),
                         description="one JSON object per line"))
