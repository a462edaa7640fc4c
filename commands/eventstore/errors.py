"""Exceptions of the event store.

Callers are expected to catch ``WrongExpectedVersion`` (reload and retry or report a
conflict); everything else is a programming or infrastructure error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uuid import UUID

#: SQLSTATEs raised by the store's PL/pgSQL functions (class "LP" is not used by PostgreSQL).
SQLSTATE_WRONG_EXPECTED_VERSION = "LP001"
SQLSTATE_DUPLICATE_COMMAND = "LP002"
SQLSTATE_NOT_FIRST_WRITE = "LP003"
SQLSTATE_VERSION_CONFLICT = "LP004"


class EventStoreError(Exception):
    """Base class of the event store's own errors."""


class VersionConflictError(EventStoreError):
    """An event's (stream_id, version) is already taken.

    Raised as is by explicit-version appends (the eventsourcing adapter); the single-stream
    API raises the more precise subclass ``WrongExpectedVersion``.
    """

    def __init__(self, stream_id: UUID | None, message: str | None = None) -> None:
        self.stream_id = stream_id
        super().__init__(message or f"version conflict in stream {stream_id}")


class WrongExpectedVersion(VersionConflictError):
    """The stream was not at the version the caller decided against; nothing was written."""

    def __init__(self, stream_id: UUID, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            stream_id,
            f"stream {stream_id}: expected version {expected}, actual version {actual}",
        )

    def __reduce__(self) -> tuple[type[WrongExpectedVersion], tuple[UUID, int, int]]:
        assert self.stream_id is not None
        return (type(self), (self.stream_id, self.expected, self.actual))


class DuplicateEventIdError(EventStoreError):
    """An event_id is already stored (under another command or version)."""


class NotFirstWriteError(EventStoreError):
    """An append ran inside a transaction that had already written something.

    The append assigns the transaction id inside its reservation, which readers of version 1
    of the store (the xmin rule) rely on while a deployment is upgraded; see
    docs/event-store.md.
    """
