"""Data and environment lineage: DVC-tracked data, Git LFS pointers, torch precision.

``data_provenance(path)`` records a data file or folder (sha256, and its DVC entry when DVC
tracks it); ``sha256_data(path)`` is the one hash of data files and refuses Git LFS pointers.
Import-light: PyYAML loads only when a DVC file is read.
"""

from llaso_pytest.lineage.data import MISMATCH_POLICIES, data_provenance, dvc_lineage
from llaso_pytest.lineage.dvc import DvcError, DvcMismatchError
from llaso_pytest.lineage.lfs import LfsPointerError, read_pointer, sha256_data

__all__ = ["MISMATCH_POLICIES", "DvcError", "DvcMismatchError", "LfsPointerError",
           "data_provenance", "dvc_lineage", "read_pointer", "sha256_data"]
