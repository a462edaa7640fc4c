"""The values that go into and come out of the event store.

msgspec Structs: immutable, cheap to build in bulk (a read of 1,000 events builds 1,000 of
them), and encodable as JSON without glue when the API or the bus needs them. Event payloads
stay ``bytes``: the store never parses them, the domain owns their shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

import msgspec

#: The largest position or version there can be (they are PostgreSQL ``bigint``s): the bound
#: of every position or version a client may send.
MAX_POSITION: Final = 2**63 - 1


class StreamRef(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Which stream an append goes to. ``stream_type`` names the aggregate kind ("report")."""

    stream_id: UUID
    stream_type: str
    workspace_id: UUID | None = None


class NewEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event as the caller appends it; the store adds position, version and times.

    ``data`` is the already-encoded JSON payload. The dot is ``(client_id, dot_counter)``;
    ``hlc`` is the hybrid logical clock timestamp packed in a 64-bit integer.
    """

    event_id: UUID
    type: str
    data: bytes
    actor: UUID | None = None
    client_id: str | None = None
    dot_counter: int | None = None
    hlc: int | None = None
    correlation_id: UUID | None = None


class RecordedEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An event as stored: what every reader (aggregates, projections, the bus) sees."""

    position: int
    stream_id: UUID
    stream_type: str
    workspace_id: UUID | None
    version: int
    event_id: UUID
    type: str
    data: bytes
    actor: UUID | None
    client_id: str | None
    dot_counter: int | None
    hlc: int | None
    command_id: UUID | None
    correlation_id: UUID | None
    recorded_at: datetime


class AppendResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one append.

    ``version`` is the stream's version after the append. ``duplicate`` is True when the
    command_id had been appended before: nothing was written and ``events``/``version`` are
    those of the first append.
    """

    stream_id: UUID
    version: int
    events: list[RecordedEvent]
    duplicate: bool = False


def recorded(
    event: NewEvent,
    stream: StreamRef,
    *,
    position: int,
    version: int,
    recorded_at: datetime,
    command_id: UUID | None = None,
) -> RecordedEvent:
    """``event`` as the store records it at ``position``, ``version`` of ``stream``."""
    return RecordedEvent(
        position=position,
        stream_id=stream.stream_id,
        stream_type=stream.stream_type,
        workspace_id=stream.workspace_id,
        version=version,
        event_id=event.event_id,
        type=event.type,
        data=event.data,
        actor=event.actor,
        client_id=event.client_id,
        dot_counter=event.dot_counter,
        hlc=event.hlc,
        command_id=command_id,
        correlation_id=event.correlation_id,
        recorded_at=recorded_at,
    )


class Share(msgspec.Struct, frozen=True, kw_only=True):
    """Share ``index`` of ``count`` of the log, for work split across processes: the streams
    of ``stream_types`` are dealt out by a hash of their id (each stream to exactly one share,
    the same one on every read), and every event of other stream types is in every share."""

    index: int
    count: int
    stream_types: frozenset[str]

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count} does not exist")
