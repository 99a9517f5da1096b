"""Lineage in a pytest session: DVC-tracked data, and torch precision as the tests used it.

``--llaso-dvc-mismatch error|warn`` (ini ``llaso_dvc_mismatch``, default ``error``) says what
a DVC-tracked dataset whose workspace copy differs from ``dvc.lock`` / its ``.dvc`` file
does: fail the test that loads it, naming the file, or warn and record the mismatch. The
``record_dataset(path)`` fixture records any data file or folder (sha256, DVC entry); the
speech dataset fixture records the DVC entry of its manifest and audio folder the same way.

torch's precision switches (TF32, ``float32_matmul_precision``, cuDNN benchmark/deterministic)
are global and can be flipped by any model fixture, so the process that runs a test reads them
after the test body, if torch is imported (it is never imported for this), and records them
in the run record's ``torch`` provenance when they differ from what it last sent. Two tests
that ran under different settings leave both values and a warning (the collector's merge).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest.lineage.dvc import MismatchPolicy

__all__ = ["dvc_policy", "record_dataset"]

_SENT = pytest.StashKey[dict[str, Any]]()
_POLICY = pytest.StashKey["MismatchPolicy"]()
_POLICIES = ("error", "warn")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("llaso").addoption(
        "--llaso-dvc-mismatch", metavar="error|warn", choices=_POLICIES, default=None,
        help="a DVC-tracked dataset whose workspace copy differs from dvc.lock / its .dvc "
        "file: fail the test loading it (error, the default) or warn and record it")
    parser.addini("llaso_dvc_mismatch", "default for --llaso-dvc-mismatch", type="string",
                  default="")


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("llaso_dvc_mismatch") or str(
        config.getini("llaso_dvc_mismatch")).strip() or "error"
    if value not in _POLICIES:
        raise pytest.UsageError(f"ini key llaso_dvc_mismatch: use error or warn, got {value!r}")
    config.stash[_POLICY] = cast("MismatchPolicy", value)


def dvc_policy(config: pytest.Config) -> MismatchPolicy:
    """The session's ``--llaso-dvc-mismatch`` policy."""
    return config.stash.get(_POLICY, "error")


@pytest.fixture(scope="session")
def record_dataset(pytestconfig: pytest.Config, record_provenance: Callable[[str, Any], None]
                   ) -> Callable[..., dict[str, Any]]:
    """``record_dataset(path, name=None)``: record a data file or folder in provenance
    ``datasets[name]`` (default: its file name) with its sha256 and, when DVC tracks it, the
    ``.dvc`` / ``dvc.lock`` entry checked against the workspace. A Git LFS pointer, or a
    DVC mismatch under ``--llaso-dvc-mismatch=error``, fails the test with the fix."""
    from llaso_pytest.errors import LlasoError
    from llaso_pytest.lineage.data import data_provenance

    def record(path: str | Path, name: str | None = None) -> dict[str, Any]:
        try:
            info = data_provenance(path, on_mismatch=dvc_policy(pytestconfig))
        except (LlasoError, FileNotFoundError) as exc:
            pytest.fail(str(exc), pytrace=False)
        record_provenance("datasets", {name or Path(path).name: info})
        return info

    return record


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        if "torch" in sys.modules:
            _record_torch(item)


def _record_torch(item: pytest.Item) -> None:
    from llaso_pytest import provenance
    from llaso_pytest.plugin import PENDING_PROVENANCE_KEY

    info = provenance.torch_info()
    if info is None or item.config.stash.get(_SENT, None) == info:
        return
    item.config.stash[_SENT] = info
    item.config.stash[PENDING_PROVENANCE_KEY]["torch"] = info
