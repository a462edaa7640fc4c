"""The configuration of a PostgreSQL source, its validation, and how it becomes connection
arguments."""

from __future__ import annotations

import hashlib
import re
import zoneinfo
from typing import Annotated, Any, Final, Literal

import msgspec

from connectors.errors import InvalidConfig
from connectors.plugin import Secret

SslMode = Literal["disable", "prefer", "require", "verify-full"]

#: A host name, an IP address (v4, or v6 without brackets), or the absolute path of the
#: directory holding a Unix socket. No comma-separated host lists: one source is one server.
_HOST = re.compile(r"^(?:[A-Za-z0-9._:\-]+|/[^,\x00]*)$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_MAX_NAME = 63  # NAMEDATALEN - 1: PostgreSQL truncates longer names


class PostgresConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to reach one PostgreSQL database (the ``config`` of a ``postgres`` dataset)."""

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 5432
    database: Annotated[str, msgspec.Meta(min_length=1)]
    user: Annotated[str, msgspec.Meta(min_length=1)]
    password: Secret | None = None
    sslmode: SslMode = "prefer"
    #: Schemas searched for unqualified names, in order (the server's default when empty).
    search_path: tuple[str, ...] = ()
    #: Seconds after which the server itself cancels any statement of Loupe's sessions (a
    #: DBA's cap; Loupe's own per-query timeout applies anyway).
    statement_timeout: Annotated[float, msgspec.Meta(gt=0)] | None = None
    #: The session time zone: ``timestamptz`` values are shown, and truncated to months or
    #: days, in this zone (IANA name).
    timezone: str = "UTC"
    #: Seconds to wait for a connection (TCP + TLS + authentication).
    connect_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0

    def __post_init__(self) -> None:
        validate(self)


def validate(config: PostgresConfig) -> None:
    """`InvalidConfig` naming the first field that cannot work (also for configs built in
    code, which msgspec's constraints do not check)."""
    _check_server(config)
    for field in ("database", "user"):
        _check_name(field, getattr(config, field))
    if config.password is not None and "\x00" in config.password:
        raise InvalidConfig("the password contains a NUL character")
    for schema in config.search_path:
        _check_name("search_path", schema)
    _check_session(config)


def _check_server(config: PostgresConfig) -> None:
    if not config.host or not _HOST.match(config.host):
        raise InvalidConfig(
            f"host {config.host!r} is not a host name, an IP address or a socket directory "
            "(host lists are not supported)"
        )
    if not 1 <= config.port <= 65535:  # noqa: PLR2004 - the TCP port range
        raise InvalidConfig(f"port {config.port} is outside 1-65535")
    if not 0 < config.connect_timeout <= 300:  # noqa: PLR2004
        raise InvalidConfig("connect_timeout must be between 0 and 300 seconds")


def _check_session(config: PostgresConfig) -> None:
    if config.statement_timeout is not None and not config.statement_timeout > 0:
        raise InvalidConfig("statement_timeout must be a positive number of seconds")
    if not _TIMEZONE.match(config.timezone):
        raise InvalidConfig(f"timezone {config.timezone!r} is not a time zone name")
    if config.timezone != "UTC":
        try:
            zoneinfo.ZoneInfo(config.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise InvalidConfig(
                f"timezone {config.timezone!r} is not a known IANA time zone"
            ) from None


def _check_name(field: str, value: str) -> None:
    if not value.strip():
        raise InvalidConfig(f"{field} must not be empty")
    if "\x00" in value:
        raise InvalidConfig(f"{field} contains a NUL character")
    if len(value.encode("utf-8")) > _MAX_NAME:
        raise InvalidConfig(f"{field} {value!r} is longer than PostgreSQL's 63-byte names")


def pool_key(config: PostgresConfig) -> str:
    """One pool per distinct config: a digest of all of it, the secret included (a changed
    password is a new pool; the digest does not reveal the password)."""
    return hashlib.sha256(msgspec.json.encode(config)).hexdigest()


def quote_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (double quotes doubled)."""
    if "\x00" in name:
        raise InvalidConfig("an identifier contains a NUL character")
    return '"' + name.replace('"', '""') + '"'


#: Session settings of every Loupe connection: ISO dates (what the CSV parser reads), strings
#: that never treat a backslash as an escape (what the literal inliner relies on), floats
#: written exactly, and read-only transactions — Loupe never writes to a source.
_SESSION: Final[dict[str, str]] = {
    "application_name": "loupe",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "standard_conforming_strings": "on",
    "extra_float_digits": "3",
    "default_transaction_read_only": "on",
}


def connect_arguments(config: PostgresConfig) -> dict[str, Any]:
    """Keyword arguments for `asyncpg.connect` / `asyncpg.create_pool`.

    The password is always passed (``""`` when there is none) so that asyncpg never falls back
    to the Loupe server's own ``PGPASSWORD`` or ``~/.pgpass``; ``ssl`` likewise, so that
    ``PGSSLMODE`` cannot weaken it.
    """
    settings = dict(_SESSION, TimeZone=config.timezone)
    if config.search_path:
        settings["search_path"] = ", ".join(quote_ident(s) for s in config.search_path)
    if config.statement_timeout is not None:
        settings["statement_timeout"] = str(max(1, round(config.statement_timeout * 1000)))
    return {
        "host": config.host,
        "port": config.port,
        "user": config.user,
        "password": config.password or "",
        "database": config.database,
        "ssl": config.sslmode,
        "timeout": config.connect_timeout,
        "server_settings": settings,
    }


def describe(config: PostgresConfig) -> str:
    """The source for people and logs: ``user@host:port/database`` (never the password)."""
    return f"{config.user}@{config.host}:{config.port}/{config.database}"
