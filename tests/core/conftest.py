from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy  # noqa: F401  (imported once here: pytester's module snapshots must not reload it)
import pytest
from core_testutil import load_latest


@pytest.fixture
def latest(pytester: pytest.Pytester) -> Callable[[], dict[str, Any]]:
    return lambda: load_latest(pytester.path)
