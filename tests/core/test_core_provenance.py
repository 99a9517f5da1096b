"""Unit tests of the pure provenance helpers."""

from __future__ import annotations

from importlib import metadata

import pytest

from llaso_pytest import provenance


def test_package_versions_match_importlib_metadata() -> None:
    expected = {}
    for name in provenance.NUMERIC_PACKAGES:
        try:
            expected[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    assert provenance.package_versions() == expected
    assert expected["pytest"] == pytest.__version__


@pytest.mark.parametrize(
    "name, secret",
    [("OPENAI_API_KEY", True), ("HF_TOKEN", True), ("GITHUB_TOKEN", True), ("api_key", True),
     ("db_password", True), ("client_secret", True), ("token", True),
     ("tokenizers", False), ("max_tokens", False), ("model", False), ("base_url", False)],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert provenance.is_secret_name(name) is secret


def test_redact_nested_values_and_key_shaped_strings() -> None:
    env = {"MY_SERVICE_TOKEN": "tok-123456789", "PATH": "/usr/bin"}
    data = {
        "endpoint": {"api_key": "abc", "model": "m", "max_tokens": 5},
        "log": ["using tok-123456789 now", "key sk-proj-ABCDEFGHIJKLMNOP in text"],
        "path": "/usr/bin",
    }
    out = provenance.redact(data, environ=env)
    assert out == {
        "endpoint": {"api_key": "[REDACTED]", "model": "m", "max_tokens": 5},
        "log": ["using [REDACTED] now", "key [REDACTED] in text"],
        "path": "/usr/bin",
    }


def test_redact_argv() -> None:
    argv = ["pytest", "--api-key", "sk-abcdefghijk", "--judge-token=xyz", "-m", "noisy"]
    assert provenance.redact_argv(argv) == [
        "pytest", "--api-key", "[REDACTED]", "--judge-token=[REDACTED]", "-m", "noisy"
    ]
