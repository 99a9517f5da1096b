"""Data and environment lineage: DVC-tracked data, Git LFS pointers, torch precision.

``data_provenance(path)`` records a data file or folder (sha256, and its DVC entry when DVC
tracks it); ``sha256_data(path)`` is the one hash of data files and refuses Git LFS pointers.
Import-light: names load on first use, PyYAML only when a DVC file is read.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MISMATCH_POLICIES", "DvcError", "DvcMismatchError", "LfsPointerError",
           "data_provenance", "dvc_lineage", "read_pointer", "sha256_data"]

_WHERE = {"MISMATCH_POLICIES": "data", "data_provenance": "data", "dvc_lineage": "data",
          "DvcError": "dvc", "DvcMismatchError": "dvc", "LfsPointerError": "lfs",
          "read_pointer": "lfs", "sha256_data": "lfs"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'llaso_pytest.lineage' has no attribute {name!r}")
    return getattr(importlib.import_module(f"llaso_pytest.lineage.{_WHERE[name]}"), name)
