"""Errors of the data side. Each has a stable ``code`` (clients branch on it), a ``detail`` for
people, and the HTTP status the API maps it to (api/problems.py) — the connectors know nothing
of HTTP beyond that number. Where the fault is in a file or an expression, ``line``/``column``
(1-based) say where, and the detail says it too."""

from __future__ import annotations

from typing import ClassVar


class DataError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "data_error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        line: int | None = None,
        column: int | str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code: str = code or self.default_code
        self.line = line
        self.column = column


class InvalidConfig(DataError):
    """A connector's configuration is incomplete or malformed."""

    status = 422
    default_code = "invalid_config"


class InvalidData(DataError):
    """An uploaded file cannot be imported (ragged row, undecodable bytes, empty, binary)."""

    status = 422
    default_code = "invalid_data"


class TooLarge(DataError):
    """An upload over the size limit."""

    status = 413
    default_code = "too_large"


class InvalidQuery(DataError):
    """A query spec or measure expression that cannot be compiled: an unknown field, a value
    of the wrong type, an injection attempt, a syntax error (with its position)."""

    status = 400
    default_code = "invalid_query"


class SourceUnavailable(DataError):
    """The external source cannot be reached or refused the credentials."""

    status = 502
    default_code = "source_unavailable"


class SourceChanged(DataError):
    """The source no longer has what the dataset reads (a table or column dropped or renamed
    there): the dataset must be refreshed or connected again; nothing Loupe can retry."""

    status = 409
    default_code = "source_changed"


class QueryTimeout(DataError):
    status = 504
    default_code = "query_timeout"


class SourceBusy(DataError):
    """Every slot of the connector's concurrency limit stayed taken for the whole wait."""

    status = 503
    default_code = "source_busy"
