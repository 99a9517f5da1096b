"""Endpoint configuration for the judge and the model under test.

Values come from explicit arguments, then environment variables, then ini keys, then defaults.
The API key is held but never shown: it is excluded from ``repr``, from :meth:`public` (the form
that goes into records and reports) and from every error message.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["ROLES", "ConfigError", "EndpointConfig", "redact_url", "resolve_endpoint"]

Role = Literal["judge", "llm"]
ROLES: tuple[Role, ...] = ("judge", "llm")

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_MAX_RETRIES = 4
DEFAULT_CONCURRENCY = 8
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_MAX_S = 30.0
DEFAULT_MAX_RETRY_AFTER_S = 120.0
DEFAULT_DEADLINE_S = 300.0
DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024
DEFAULT_BREAKER_THRESHOLD = 3


def redact_url(url: str | None) -> str | None:
    """The URL without any ``user:password@`` part (credentials never enter records)."""
    if not url:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the setting and the fix."""


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to call one OpenAI-compatible endpoint.

    ``timeout`` is the per-call read timeout in seconds, as httpx applies it: the longest wait for
    the next bytes, not a deadline for the whole reply (a server that keeps trickling bytes can
    take longer); the openai client's 600 s default is never used. ``endpoint_id`` names what a
    local server serves, for the response cache (:attr:`cache_identity`). ``max_retries`` counts our retries (the client's own are disabled);
    ``price_in``/``price_out`` are USD per million tokens, ``None`` when unknown (cost is then
    reported as unknown, not 0). ``deadline`` bounds a whole reply (headers and body, seconds);
    ``max_reply_bytes`` caps its size; ``breaker_threshold`` consecutive connect failures with no
    reply in between stop a batch (0 disables the circuit breaker).
    """

    role: Role
    base_url: str | None
    model: str | None
    api_key: str | None = field(default=None, repr=False, compare=False)
    timeout: float = DEFAULT_TIMEOUT_S
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S
    max_retries: int = DEFAULT_MAX_RETRIES
    concurrency: int = DEFAULT_CONCURRENCY
    backoff_base: float = DEFAULT_BACKOFF_BASE_S
    backoff_max: float = DEFAULT_BACKOFF_MAX_S
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_S
    price_in: float | None = None
    price_out: float | None = None
    endpoint_id: str | None = None
    deadline: float = DEFAULT_DEADLINE_S
    max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES
    breaker_threshold: int = DEFAULT_BREAKER_THRESHOLD

    def __post_init__(self) -> None:
        prefix = f"llaso_{self.role}"
        for name in ("timeout", "connect_timeout", "deadline"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(f"{prefix}_{name} must be a positive number of seconds, got {v!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"{prefix}_max_retries must be an integer >= 0, got {self.max_retries!r}")
        if not isinstance(self.max_reply_bytes, int) or self.max_reply_bytes < 1024:
            raise ConfigError(f"{prefix}_max_reply_bytes must be an integer >= 1024, got "
                              f"{self.max_reply_bytes!r}")
        if not isinstance(self.breaker_threshold, int) or self.breaker_threshold < 0:
            raise ConfigError(f"{prefix}_breaker_threshold must be an integer >= 0 (0: off), got "
                              f"{self.breaker_threshold!r}")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 1024:
            raise ConfigError(f"{prefix}_concurrency must be an integer in 1..1024, got {self.concurrency!r}")
        for name in ("backoff_base", "backoff_max", "max_retry_after"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"{prefix}_{name} must be >= 0 seconds, got {v!r}")
        for name in ("price_in", "price_out"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"{prefix}_{name} must be >= 0 USD per 1M tokens, got {v!r}")

    @property
    def configured(self) -> bool:
        """True when both a base URL and a model are set."""
        return bool(self.base_url) and bool(self.model)

    def require(self) -> EndpointConfig:
        """Return self, or raise :class:`ConfigError` saying which variables to set."""
        env = f"LLASO_{self.role.upper()}"
        missing = [n for n, v in (("BASE_URL", self.base_url), ("MODEL", self.model)) if not v]
        if missing:
            names = ", ".join(f"{env}_{m}" for m in missing)
            raise ConfigError(
                f"the {self.role} endpoint is not configured: set {names} "
                f"(or the ini keys llaso_{self.role}_base_url / llaso_{self.role}_model)"
            )
        return self

    @property
    def is_local(self) -> bool:
        """True for a loopback endpoint (127.0.0.1, localhost, ::1)."""
        if not self.base_url:
            return False
        from urllib.parse import urlsplit

        return urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1")

    @property
    def cache_identity(self) -> str:
        """What the response cache knows the server by.

        ``endpoint_id`` when set (``LLASO_<ROLE>_ENDPOINT_ID``: a name for what a local server
        serves, so that its cache survives restarts on new ports); otherwise the full base URL
        without credentials, port included: two local servers on different ports may serve
        different weights under one model name, and must not share cached responses.
        """
        if self.endpoint_id:
            return f"id:{self.endpoint_id}"
        return str(redact_url(self.base_url))

    @property
    def public_url(self) -> str | None:
        """The base URL without credentials; for loopback endpoints without the port.

        Local servers (the fake server, vLLM, llama.cpp) restart on new ports; the port would
        make signatures and records differ between identical runs. (The response cache keys
        on :attr:`cache_identity`, which keeps the port.)
        """
        url = redact_url(self.base_url)
        if url and self.is_local:
            from urllib.parse import urlsplit, urlunsplit

            parts = urlsplit(url)
            return urlunsplit((parts.scheme, f"{parts.hostname}:*", parts.path, parts.query, parts.fragment))
        return url

    def with_(self, **changes: Any) -> EndpointConfig:
        return replace(self, **changes)

    def public(self) -> dict[str, Any]:
        """JSON-able description for records and reports: never contains the API key."""
        return {
            "role": self.role,
            "base_url": self.public_url,
            "model": self.model,
            "api_key_set": self.api_key is not None,
            "timeout_s": self.timeout,
            "connect_timeout_s": self.connect_timeout,
            "max_retries": self.max_retries,
            "concurrency": self.concurrency,
            "deadline_s": self.deadline,
            "max_reply_bytes": self.max_reply_bytes,
            "price_in_per_mtok": self.price_in,
            "price_out_per_mtok": self.price_out,
            "endpoint_id": self.endpoint_id,
        }


_FLOAT_KEYS = ("timeout", "connect_timeout", "backoff_base", "backoff_max", "max_retry_after",
               "price_in", "price_out", "deadline")
_INT_KEYS = ("max_retries", "concurrency", "max_reply_bytes", "breaker_threshold")
_STR_KEYS = ("base_url", "model", "endpoint_id")


def _convert(role: str, key: str, raw: object, source: str) -> Any:
    if raw is None or raw == "":
        return None
    try:
        if key in _INT_KEYS:
            return int(str(raw))
        if key in _FLOAT_KEYS:
            return float(str(raw))
    except ValueError:
        kind = "an integer" if key in _INT_KEYS else "a number"
        raise ConfigError(f"{source} must be {kind}, got {raw!r}") from None
    return str(raw)


def resolve_endpoint(
    role: Role,
    *,
    ini: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> EndpointConfig:
    """Build the endpoint for ``role`` ("judge" or "llm").

    Precedence: ``overrides`` (command-line options) > environment ``LLASO_<ROLE>_<KEY>`` > ini
    ``llaso_<role>_<key>`` > defaults. The key falls back to ``OPENAI_API_KEY``. ``ini`` maps
    unprefixed keys (``"base_url"``) to values; empty strings count as unset.
    """
    if role not in ROLES:
        raise ConfigError(f"unknown endpoint role {role!r}; expected one of {ROLES}")
    env = os.environ if env is None else env
    ini = ini or {}
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for key in _STR_KEYS + _FLOAT_KEYS + _INT_KEYS:
        env_name = f"LLASO_{role.upper()}_{key.upper()}"
        for raw, source in (
            (overrides.get(key), f"--llaso-{role}-{key.replace('_', '-')}"),
            (env.get(env_name), f"environment variable {env_name}"),
            (ini.get(key), f"ini key llaso_{role}_{key}"),
        ):
            value = _convert(role, key, raw, source)
            if value is not None:
                values[key] = value
                break
    api_key = env.get(f"LLASO_{role.upper()}_API_KEY") or env.get("OPENAI_API_KEY") or None
    if values.get("base_url"):
        values["base_url"] = str(values["base_url"]).rstrip("/")
    return EndpointConfig(role=role, api_key=api_key, base_url=values.pop("base_url", None),
                          model=values.pop("model", None), **values)
