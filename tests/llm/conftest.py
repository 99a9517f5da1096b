"""Shared fixtures for the LLM tests: a fake OpenAI-compatible server per test, and endpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llaso_pytest.llm.config import EndpointConfig
from llaso_pytest.llm.fake_server import FakeOpenAIServer


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


@pytest.fixture
def endpoint(server: FakeOpenAIServer) -> Callable[..., EndpointConfig]:
    """``endpoint(**changes)``: a judge endpoint on the fake server with fast test defaults."""

    def make(**changes: Any) -> EndpointConfig:
        base: dict[str, Any] = {
            "role": "judge",
            "base_url": server.base_url,
            "model": "fake-judge",
            "api_key": "sk-test",
            "timeout": 5.0,
            "max_retries": 4,
            "concurrency": 8,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
        }
        base.update(changes)
        return EndpointConfig(**base)

    return make
