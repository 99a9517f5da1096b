"""Hook specifications of the speech sub-plugin (added with ``pytest_addhooks``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from llaso_pytest.speech.engines import Recognizer

hookspec = pytest.hookspec


@hookspec
def pytest_llaso_speech_recognizers(
    config: pytest.Config,
) -> Mapping[str, Callable[[], Recognizer]] | None:
    """Return ``{name: factory}`` for your own recognisers (a torch model, an HTTP endpoint).

    Implement it in a ``conftest.py`` or plugin; the names can then be used with
    ``--llaso-speech-engines`` and ``llaso_speech_models.get(name)`` like the pinned models.
    Each factory is called at most once per session, when a test first needs the model.
    """
