"""One typed settings object, read from the environment (``LOUPE_*``).

Every setting has a default that works on a fresh machine: with no URLs set, Loupe starts its
own PostgreSQL, NATS and Redis (the embedded engines) and keeps their data under ``data_dir``.
README.md lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

if TYPE_CHECKING:
    from delivery.smtp import SmtpSettings

LogFormat = Literal["console", "json"]
SmtpSecurity = Literal["starttls", "ssl", "none"]

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
    #: Where uploaded data lives (Parquet files): None = ``<data_dir>/blobs``; ``s3://…`` for
    #: S3-compatible storage (docs/csv.md).
    blob_url: str | None = None
    #: The largest CSV upload accepted.
    upload_max_bytes: int = 1024**3
    #: Keys that seal connection secrets at rest (comma-separated, newest first); None =
    #: a key generated once in ``<data_dir>/secret.key`` (docs/postgres.md).
    secret_key: str | None = None
    #: Seconds a query may run at its source before it is cancelled.
    query_timeout: float = 60.0
    #: The mail server subscriptions are sent through; None: subscriptions are kept but not
    #: sent (docs/subscriptions.md).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: SmtpSecurity = "starttls"
    smtp_from: str = "loupe@localhost"
    smtp_from_name: str = "Loupe"
    smtp_timeout: float = 30.0
    smtp_validate_certs: bool = True
    #: Where people reach this Loupe (links in emails); None: no link.
    public_url: str | None = None
    #: Processes that draw charts (charts/render.py; ~100 MB each); None: min(2, cores);
    #: 0: threads in the server's own process.
    render_workers: int | None = None
    #: Seconds one conversion (a chart, a page) may take in a render worker before it is
    #: stopped (charts/render.py).
    render_timeout: float = 60.0

    @property
    def smtp(self) -> SmtpSettings | None:
        """The mail server's settings, if one is configured."""
        if self.smtp_host is None:
            return None
        from delivery.smtp import SmtpSettings  # noqa: PLC0415 - only where mail is sent

        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            username=self.smtp_username,
            password=self.smtp_password,
            security=self.smtp_security,
            from_address=self.smtp_from,
            from_name=self.smtp_from_name,
            timeout=self.smtp_timeout,
            validate_certs=self.smtp_validate_certs,
        )

    @property
    def read_schema(self) -> str:
        """The schema of the read models (rebuildable from the log at any time)."""
        return f"{self.database_schema}_read"

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


def _float(name: str, raw: str, *, low: int, high: int) -> float:
    return float(_integer(name, raw, low=low, high=high))


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise SettingsError(f"{name}={raw!r} must be one of {', '.join(allowed)}")
        return raw

    return parse


def _text(_name: str, raw: str) -> str:
    return raw


#: LOUPE_<KEY> → (field, parser). Each parser gets the variable's name for its error message.
_PARSERS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "HOST": ("host", _text),
    "PORT": ("port", partial(_integer, low=1, high=65535)),
    "DATA_DIR": ("data_dir", lambda _name, raw: Path(raw)),
    "DATABASE_URL": ("database_url", _text),
    "NATS_URL": ("nats_url", _text),
    "REDIS_URL": ("redis_url", _text),
    "DATABASE_SCHEMA": ("database_schema", _identifier),
    "DATABASE_POOL_SIZE": ("database_pool_size", partial(_integer, low=2, high=500)),
    "NATS_STREAM": ("nats_stream", _identifier),
    "NATS_SUBJECT_PREFIX": ("nats_subject_prefix", _identifier),
    "NATS_MAX_AGE": ("nats_max_age", partial(_float, low=60, high=10 * 365 * 86400)),
    "REDIS_PREFIX": ("redis_prefix", _text),
    "DEV_AUTH": ("dev_auth", _flag),
    "LOG_FORMAT": ("log_format", _choice("console", "json")),
    "LOG_LEVEL": ("log_level", lambda _name, raw: raw.upper()),
    "BLOB_URL": ("blob_url", _text),
    "UPLOAD_MAX_BYTES": ("upload_max_bytes", partial(_integer, low=1, high=1 << 50)),
    "SECRET_KEY": ("secret_key", _text),
    "QUERY_TIMEOUT": ("query_timeout", partial(_float, low=1, high=24 * 3600)),
    "SMTP_HOST": ("smtp_host", _text),
    "SMTP_PORT": ("smtp_port", partial(_integer, low=1, high=65535)),
    "SMTP_USERNAME": ("smtp_username", _text),
    "SMTP_PASSWORD": ("smtp_password", _text),
    "SMTP_SECURITY": ("smtp_security", _choice("starttls", "ssl", "none")),
    "SMTP_FROM": ("smtp_from", _text),
    "SMTP_FROM_NAME": ("smtp_from_name", _text),
    "SMTP_TIMEOUT": ("smtp_timeout", partial(_float, low=1, high=600)),
    "SMTP_VALIDATE_CERTS": ("smtp_validate_certs", _flag),
    "PUBLIC_URL": ("public_url", _text),
    "RENDER_WORKERS": ("render_workers", partial(_integer, low=0, high=64)),
    "RENDER_TIMEOUT": ("render_timeout", partial(_float, low=1, high=3600)),
}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: the process environment)."""
    source = os.environ if env is None else env
    values: dict[str, object] = {}
    for key, (field, parse) in _PARSERS.items():
        name = f"LOUPE_{key}"
        raw = source.get(name)
        if raw not in (None, ""):
            values[field] = parse(name, raw)
    if "port" in values:
        values["port_fixed"] = True
    return msgspec.structs.replace(Settings(), **values)


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``LOUPE_*`` variables that make ``load_settings`` give ``settings`` back (for a
    child process that must use the same engines and names)."""
    env: dict[str, str] = {}
    for key, (field, _parse) in _PARSERS.items():
        value = getattr(settings, field)
        if value is None:
            continue
        if isinstance(value, bool):
            env[f"LOUPE_{key}"] = "1" if value else "0"
        elif isinstance(value, float):
            env[f"LOUPE_{key}"] = str(int(value))
        elif isinstance(value, Path):
            env[f"LOUPE_{key}"] = str(value.resolve())
        else:
            env[f"LOUPE_{key}"] = str(value)
    return env
