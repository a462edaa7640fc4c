"""The event store: every report edit is an event appended here; the commit is the truth.

PostgreSQL via asyncpg. Public API: ``EventStore`` / ``connect_store`` (append, read, wait,
subscribe), the value types, the errors, and ``migrate`` (reused by other components for
their own schemas). The eventsourcing adapter lives in ``commands.eventstore.recorder``.
Design and proofs: docs/event-store.md.
"""

from commands.eventstore.errors import (
    DuplicateEventIdError,
    EventStoreError,
    NotFirstWriteError,
    VersionConflictError,
    WrongExpectedVersion,
)
from commands.eventstore.migrations import migrate
from commands.eventstore.model import (
    MAX_POSITION,
    AppendResult,
    NewEvent,
    RecordedEvent,
    Share,
    StreamRef,
    recorded,
)
from commands.eventstore.store import EventStore, channel_name, connect_store

__all__ = [
    "MAX_POSITION",
    "AppendResult",
    "DuplicateEventIdError",
    "EventStore",
    "EventStoreError",
    "NewEvent",
    "NotFirstWriteError",
    "RecordedEvent",
    "Share",
    "StreamRef",
    "VersionConflictError",
    "WrongExpectedVersion",
    "channel_name",
    "connect_store",
    "migrate",
    "recorded",
]
