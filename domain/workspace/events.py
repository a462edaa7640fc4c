"""Everything that can happen to a workspace, as stored events (tagged like report events)."""

from typing import Any, Final, Literal
from uuid import UUID

import msgspec

Role = Literal["owner", "editor", "viewer"]


class _WorkspaceEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class WorkspaceCreated(_WorkspaceEvent, frozen=True, kw_only=True, tag="WorkspaceCreated"):
    """A new workspace; ``owner`` becomes its first member, with the owner role."""

    workspace_id: UUID
    name: str
    owner: UUID


class WorkspaceRenamed(_WorkspaceEvent, frozen=True, kw_only=True, tag="WorkspaceRenamed"):
    name: str


class MemberRoleSet(_WorkspaceEvent, frozen=True, kw_only=True, tag="MemberRoleSet"):
    """Adds a member, or changes a member's role."""

    user_id: UUID
    role: str


class MemberRemoved(_WorkspaceEvent, frozen=True, kw_only=True, tag="MemberRemoved"):
    user_id: UUID


WorkspaceEvent = WorkspaceCreated | WorkspaceRenamed | MemberRoleSet | MemberRemoved

EVENT_TYPES: Final[dict[str, type[WorkspaceEvent]]] = {
    cls.__name__: cls for cls in (WorkspaceCreated, WorkspaceRenamed, MemberRoleSet, MemberRemoved)
}

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[WorkspaceEvent] = msgspec.json.Decoder(WorkspaceEvent)


def encode(event: WorkspaceEvent) -> bytes:
    """JSON bytes, with the event's tag under ``"type"``."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> WorkspaceEvent:
    """The event encoded by ``encode`` (dispatched on ``"type"``)."""
    return _decoder.decode(data)


def to_data(event: WorkspaceEvent) -> dict[str, Any]:
    """The payload as JSON-ready builtins without ``"type"``."""
    data: dict[str, Any] = msgspec.to_builtins(event)
    del data["type"]
    return data


def from_data(event_type: str, data: dict[str, Any]) -> WorkspaceEvent:
    """The inverse of ``to_data``."""
    event: WorkspaceEvent = msgspec.convert(data, EVENT_TYPES[event_type])
    return event
