"""A Hugging Face ``datasets`` folder written by ``save_to_disk`` (a ``Dataset``, or a
``DatasetDict`` with ``split=``), read with ``datasets.load_from_disk`` (imported only then).

The content hash covers the Arrow data files and ``dataset_info.json``, not ``state.json``,
whose fingerprint may be random for the same data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llaso_pytest.cases.core import (
    CasesError,
    Reader,
    Row,
    Table,
    _register_builtin,
    optional_module,
    sha256_file,
    unreadable,
)


def _is_dataset(folder: Path) -> bool:
    return (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()


def _is_saved(folder: Path) -> bool:
    return _is_dataset(folder) or (folder / "dataset_dict.json").is_file()


def _data_files(folder: Path) -> dict[str, str]:
    """sha256 of the Arrow files ``state.json`` lists, and of ``dataset_info.json``."""
    state_path = folder / "state.json"
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        names = [str(f["filename"]) for f in state["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CasesError(f"{state_path}: not the state.json of a save_to_disk folder "
                         f"({type(exc).__name__}: {exc})") from None
    out: dict[str, str] = {}
    for rel in [*names, "dataset_info.json"]:
        p = folder / rel
        if not p.is_file():
            raise CasesError(f"{folder}: {rel} (listed in state.json) is missing; the folder is "
                             "incomplete: save it again with save_to_disk")
        out[rel] = sha256_file(p)
    return out


def read_hf(path: Path, options: Mapping[str, Any]) -> Table:
    """Rows of a saved ``Dataset`` (or one ``split`` of a ``DatasetDict``)."""
    split = options.get("split")
    folder, label = path, str(path)
    if (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if p.is_dir() and _is_dataset(p))
        if split is None:
            raise CasesError(f"{path}: a DatasetDict with splits {', '.join(splits)}; pass "
                             "split=... to cases.load")
        if split not in splits:
            raise CasesError(f"{path}: no split {split!r}; its splits: {', '.join(splits)}")
        folder, label = path / str(split), f"{path}[{split}]"
    elif split is not None:
        raise CasesError(f"{path}: split={split!r} given, but the folder holds one Dataset, "
                         "not a DatasetDict")
    files = _data_files(folder)
    datasets = optional_module("datasets", path=path, what="a save_to_disk folder")
    try:
        ds = datasets.load_from_disk(os.fspath(folder))
    except Exception as exc:  # noqa: BLE001 - datasets raises several types; named here
        raise unreadable(folder, "datasets.load_from_disk failed", exc) from None
    rows = [Row(fields=obj, where=f"{label} row {i}") for i, obj in enumerate(ds.to_list(), 1)]
    return Table(rows=rows, files=files)


_register_builtin(Reader(name="hf", read=read_hf, detect=_is_saved,
                         description="a Hugging Face datasets folder from save_to_disk",
                         options={"split": "the split of a DatasetDict folder"}))
