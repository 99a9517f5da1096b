"""Repository-wide test settings.

With ``LLASO_STRICT_SKIPS=1`` (set by .ci/run) a skipped test fails instead, unless it was
skipped for want of a CUDA device: CI must not pass because a required part is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if (
        os.environ.get("LLASO_STRICT_SKIPS") == "1"
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("gpu") is None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"LLASO_STRICT_SKIPS=1: {item.nodeid} was skipped ({reason}); "
            "a required part is missing - install it (make setup) instead of skipping"
        )
    return report
