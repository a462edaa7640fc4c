"""Between the domain's (payload, metadata) and the store's rows."""

from __future__ import annotations

from commands.eventstore import NewEvent, RecordedEvent
from domain.clock import Hlc, from_int, to_int
from domain.metadata import EventMetadata
from domain.versions import Dot

#: The replica name for events that carry no client (e.g. written by a migration tool).
SERVER_REPLICA = "server"


def metadata_of(event: RecordedEvent) -> EventMetadata:
    replica = event.client_id or SERVER_REPLICA
    counter = event.dot_counter if event.dot_counter is not None else event.version
    return EventMetadata(
        event_id=event.event_id,
        replica=replica,
        dot=Dot(replica, counter),
        hlc=from_int(event.hlc) if event.hlc is not None else Hlc(0, 0),
        actor=event.actor,
        command_id=event.command_id,
        correlation_id=event.correlation_id,
        recorded_at=event.recorded_at,
    )


def new_event(event_type: str, data: bytes, meta: EventMetadata) -> NewEvent:
    return NewEvent(
        event_id=meta.event_id,
        type=event_type,
        data=data,
        actor=meta.actor,
        client_id=meta.replica,
        dot_counter=meta.dot.counter,
        hlc=to_int(meta.hlc),
        correlation_id=meta.correlation_id,
    )
