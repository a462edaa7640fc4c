"""asyncpg's and the network's exceptions as Loupe's data errors, with details people can act
on and never the password."""

from __future__ import annotations

import socket
import ssl

import asyncpg
import pyarrow as pa

from connectors.errors import (
    DataError,
    InvalidConfig,
    InvalidQuery,
    QueryTimeout,
    SourceBusy,
    SourceChanged,
    SourceUnavailable,
)
from connectors.postgres.config import PostgresConfig

_MIN_SCRUBBED = 3  # shorter passwords would blank out ordinary words

#: What connecting can raise (TLS errors are OSErrors).
CONNECT_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
#: What running a statement and reading its answer can raise.
QUERY_ERRORS = (*CONNECT_ERRORS, pa.ArrowException)


def connect_failure(config: PostgresConfig, exc: BaseException) -> DataError:  # noqa: C901, PLR0912 - one arm per failure
    """Why connecting to the source failed."""
    where = f"PostgreSQL at {config.host}:{config.port}"
    detail: str
    error: type[DataError] = SourceUnavailable
    match exc:
        case asyncpg.InvalidPasswordError():
            detail = f"{where} refused the password of user {config.user!r}"
        case asyncpg.InvalidAuthorizationSpecificationError():
            detail = (
                f"{where} does not let user {config.user!r} connect to database "
                f"{config.database!r} (no such role, or pg_hba.conf refuses it): {_message(exc)}"
            )
        case asyncpg.InvalidCatalogNameError():
            detail = f"database {config.database!r} does not exist on {where}"
        case asyncpg.TooManyConnectionsError():
            detail = f"{where} has no connection slot left: {_message(exc)}"
            error = SourceBusy
        case asyncpg.CannotConnectNowError():
            detail = f"{where} is starting up or shutting down"
        case asyncpg.InvalidParameterValueError():
            detail = f"{where} rejected a session setting: {_message(exc)}"
            error = InvalidConfig
        case asyncpg.PostgresError():
            detail = f"{where} refused the connection: {_message(exc)}"
        case TimeoutError():
            detail = f"no answer from {where} within {config.connect_timeout:g} s"
        case ConnectionRefusedError():
            detail = f"{where} refused the connection (is the server running and listening?)"
        case socket.gaierror():
            detail = f"host {config.host!r} cannot be resolved"
        case ssl.SSLError() | ssl.CertificateError():
            detail = f"TLS with {where} failed (sslmode={config.sslmode}): {exc}"
        case ConnectionError() if "SSL" in str(exc):
            detail = f"{where} does not offer TLS, which sslmode={config.sslmode} requires"
        case OSError():
            detail = f"cannot connect to {where}: {exc.strerror or exc}"
        case _:
            detail = f"cannot connect to {where}: {type(exc).__name__}: {exc}"
    return error(scrub(detail, config))


def query_failure(  # noqa: PLR0911 - one arm per failure
    config: PostgresConfig, exc: BaseException, timeout: float
) -> DataError:
    """Why running a statement failed."""
    match exc:
        case TimeoutError() | asyncpg.QueryCanceledError():
            return QueryTimeout(
                f"the query ran longer than {timeout:g} s and was cancelled at the source"
                if isinstance(exc, TimeoutError)
                else f"PostgreSQL cancelled the query: {_message(exc)}"
            )
        case asyncpg.InsufficientPrivilegeError():
            return InvalidConfig(
                scrub(f"user {config.user!r} may not read this: {_message(exc)}", config)
            )
        case asyncpg.UndefinedTableError() | asyncpg.UndefinedColumnError():
            return SourceChanged(
                scrub(
                    f"the source no longer has what this dataset reads: {_message(exc)}; "
                    "refresh the dataset (POST /datasets/{id}/refresh) or connect it again",
                    config,
                )
            )
        case asyncpg.PostgresConnectionError() | asyncpg.ConnectionDoesNotExistError():
            return SourceUnavailable(scrub(f"the connection was lost: {_message(exc)}", config))
        case asyncpg.PostgresError() | asyncpg.DataError():
            return InvalidQuery(scrub(f"PostgreSQL rejected the query: {_message(exc)}", config))
        case OSError() | asyncpg.InterfaceError():
            return SourceUnavailable(scrub(f"the connection failed: {exc}", config))
        case pa.ArrowException():
            return InvalidQuery(f"a value of the answer does not fit its column's type: {exc}")
        case _:
            raise exc


def scrub(detail: str, config: PostgresConfig) -> str:
    """``detail`` without the password, whatever produced it."""
    password = config.password
    if password and len(password) >= _MIN_SCRUBBED:
        detail = detail.replace(password, "***")
    return detail


def _message(exc: BaseException) -> str:
    if isinstance(exc, asyncpg.PostgresError):
        message = str(getattr(exc, "message", "") or exc)
        detail = getattr(exc, "detail", None)
        return f"{message} ({detail})" if detail else message
    return str(exc)
