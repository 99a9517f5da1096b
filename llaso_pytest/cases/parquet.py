"""Apache Parquet, read with pyarrow (imported only when a Parquet file is read)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import (
    Reader,
    Row,
    Table,
    _register_builtin,
    optional_module,
    sha256_file,
    unreadable,
)


def arrow_rows(table: Any, where: str) -> list[Row]:
    """The rows of a ``pyarrow.Table`` as :class:`Row` s named ``"WHERE row N"`` (1-based)."""
    return [Row(fields=obj, where=f"{where} row {i}")
            for i, obj in enumerate(table.to_pylist(), 1)]


def read_parquet(path: Path, options: Mapping[str, Any]) -> Table:
    """Every row of a Parquet file; a file pyarrow cannot read is an error naming it."""
    pq = optional_module("pyarrow.parquet", path=path, what="Parquet")
    try:
        table = pq.read_table(os.fspath(path))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types; named here
        raise unreadable(path, "not a readable Parquet file", exc) from None
    return Table(rows=arrow_rows(table, str(path)), files={path.name: sha256_file(path)})


_register_builtin(Reader(name="parquet", read=read_parquet, suffixes=(".parquet", ".pq"),
                         description="Apache Parquet (pyarrow)"))
