"""Lineage in a pytest session: torch precision as the tests used it.

torch's precision switches (TF32, ``float32_matmul_precision``, cuDNN benchmark/deterministic)
are global and can be flipped by any model fixture, so the process that runs a test reads them
after the test body, if torch is imported (it is never imported for this), and records them
in the run record's ``torch`` provenance when they differ from what it last sent. Two tests
that ran under different settings leave both values and a warning (the collector's merge).
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

import pytest

__all__: list[str] = []

_SENT = pytest.StashKey[dict[str, Any]]()


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
