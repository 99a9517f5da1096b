"""llaso-pytest: reproducible, comparable evaluation of LLM and speech models as pytest tests.

Importing this package is cheap and does not import pytest: sub-modules with heavy
dependencies (NumPy-based metrics, the LLM client, the speech engines) load on first
attribute access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# No pytest import here: the scientific core (metrics, stats, compare, record) is usable from
# a notebook. The plugin registers assertion rewriting for ``llaso_pytest.assertions``.

_LAZY = {"metrics", "stats", "compare", "record", "assertions", "cases"}

if TYPE_CHECKING:  # pragma: no cover
    from llaso_pytest import assertions, cases, compare, metrics, record, stats

__all__ = ["__version__", "assertions", "cases", "compare", "metrics", "record", "stats"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"llaso_pytest.{name}")
    raise AttributeError(f"module 'llaso_pytest' has no attribute {name!r}")
