"""The wire form of a recorded event: one shape for the HTTP API, NATS and the WebSocket.

The event's own payload is stored as JSON bytes; it travels as `msgspec.Raw` so that a
message is never decoded and re-encoded on its way from the store to a browser.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from commands.eventstore import RecordedEvent

_COUNTER_BITS = 16
_COUNTER_MASK = (1 << _COUNTER_BITS) - 1


class EventMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One committed event, as `GET /reports/{id}/events` and the live channel send it."""

    id: UUID
    type: str
    position: int
    version: int
    stream_id: UUID
    stream_type: str
    workspace_id: UUID | None
    recorded_at: datetime
    actor: UUID | None
    client_id: str | None
    #: ``[replica, counter]``: unique per event, so re-sending is harmless.
    dot: tuple[str, int] | None
    #: Hybrid logical clock ``[milliseconds, counter]`` that orders last-writer-wins merges.
    hlc: tuple[int, int] | None
    command_id: UUID | None
    correlation_id: UUID | None
    data: msgspec.Raw


def hlc_pair(packed: int | None) -> tuple[int, int] | None:
    """Unpack the stored 64-bit HLC (``ms << 16 | counter``) into its JSON pair."""
    if packed is None:
        return None
    return (packed >> _COUNTER_BITS, packed & _COUNTER_MASK)


def to_message(event: RecordedEvent) -> EventMessage:
    dot = (
        (event.client_id, event.dot_counter)
        if event.client_id is not None and event.dot_counter is not None
        else None
    )
    return EventMessage(
        id=event.event_id,
        type=event.type,
        position=event.position,
        version=event.version,
        stream_id=event.stream_id,
        stream_type=event.stream_type,
        workspace_id=event.workspace_id,
        recorded_at=event.recorded_at,
        actor=event.actor,
        client_id=event.client_id,
        dot=dot,
        hlc=hlc_pair(event.hlc),
        command_id=event.command_id,
        correlation_id=event.correlation_id,
        data=msgspec.Raw(event.data),
    )


_encoder = msgspec.json.Encoder()


def encode_message(message: EventMessage) -> bytes:
    return _encoder.encode(message)


def decode_message(payload: bytes) -> EventMessage:
    return msgspec.json.decode(payload, type=EventMessage)
