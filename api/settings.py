"""One typed settings object, read from the environment (``LOUPE_*``).

Every setting has a default that works on a fresh machine: with no URLs set, Loupe starts its
own PostgreSQL, NATS and Redis (the embedded engines) and keeps their data under ``data_dir``.
README.md lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

LogFormat = Literal["console", "json"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A LOUPE_* variable has a value that cannot be used."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8000
    #: True when the port was given explicitly; `loupe serve` then fails instead of moving on
    #: to the next free port.
    port_fixed: bool = False
    data_dir: Path = Path("var")
    #: External engines; ``None`` means "start the embedded one".
    database_url: str | None = None
    nats_url: str | None = None
    redis_url: str | None = None
    #: PostgreSQL schema that holds the event store (and, later, the read models).
    database_schema: str = "loupe"
    database_pool_size: int = 10
    #: JetStream stream and the first token of every subject Loupe publishes.
    nats_stream: str = "LOUPE"
    nats_subject_prefix: str = "loupe"
    #: How long JetStream keeps events (seconds). PostgreSQL is the truth; NATS is transport.
    nats_max_age: float = 7 * 24 * 3600.0
    redis_prefix: str = "loupe:"
    #: Development-only identity: trust the ``X-Loupe-Dev-User`` header. Never in production.
    dev_auth: bool = False
    log_format: LogFormat = "console"
    log_level: str = "INFO"

    @property
    def embedded_engines(self) -> tuple[str, ...]:
        """The engines `loupe serve` must start itself, in start order."""
        wanted = (
            ("postgres", self.database_url),
            ("nats", self.nats_url),
            ("redis", self.redis_url),
        )
        return tuple(name for name, url in wanted if url is None)


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def _integer(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is outside {low}..{high}")
    return value


def _identifier(name: str, raw: str) -> str:
    if not raw or not raw.replace("_", "").isalnum() or not raw.isascii() or raw[0].isdigit():
        raise SettingsError(f"{name}={raw!r} must be letters, digits and underscores")
    return raw


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: the process environment)."""
    source = os.environ if env is None else env

    def get(key: str) -> str | None:
        value = source.get(f"LOUPE_{key}")
        return value if value not in (None, "") else None

    values: dict[str, object] = {}
    if (host := get("HOST")) is not None:
        values["host"] = host
    if (port := get("PORT")) is not None:
        values["port"] = _integer("LOUPE_PORT", port, low=1, high=65535)
        values["port_fixed"] = True
    if (data_dir := get("DATA_DIR")) is not None:
        values["data_dir"] = Path(data_dir)
    for key in ("DATABASE_URL", "NATS_URL", "REDIS_URL"):
        if (url := get(key)) is not None:
            values[key.lower()] = url
    if (schema := get("DATABASE_SCHEMA")) is not None:
        values["database_schema"] = _identifier("LOUPE_DATABASE_SCHEMA", schema)
    if (pool := get("DATABASE_POOL_SIZE")) is not None:
        values["database_pool_size"] = _integer("LOUPE_DATABASE_POOL_SIZE", pool, low=2, high=500)
    if (stream := get("NATS_STREAM")) is not None:
        values["nats_stream"] = _identifier("LOUPE_NATS_STREAM", stream)
    if (prefix := get("NATS_SUBJECT_PREFIX")) is not None:
        values["nats_subject_prefix"] = _identifier("LOUPE_NATS_SUBJECT_PREFIX", prefix)
    if (max_age := get("NATS_MAX_AGE")) is not None:
        values["nats_max_age"] = float(
            _integer("LOUPE_NATS_MAX_AGE", max_age, low=60, high=10 * 365 * 86400)
        )
    if (redis_prefix := get("REDIS_PREFIX")) is not None:
        values["redis_prefix"] = redis_prefix
    if (dev_auth := get("DEV_AUTH")) is not None:
        values["dev_auth"] = _flag("LOUPE_DEV_AUTH", dev_auth)
    if (log_format := get("LOG_FORMAT")) is not None:
        if log_format not in ("console", "json"):
            raise SettingsError(f"LOUPE_LOG_FORMAT={log_format!r} must be 'console' or 'json'")
        values["log_format"] = log_format
    if (log_level := get("LOG_LEVEL")) is not None:
        values["log_level"] = log_level.upper()
    return msgspec.structs.replace(Settings(), **values)
