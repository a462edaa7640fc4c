"""The workspace command path. For now: create (the caller becomes the owner)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from commands.authorization import WORKSPACE_STREAM_TYPE, Actor, Authorizer
from commands.clock import ServerClock
from commands.envelope import new_event
from commands.eventstore import EventStore, RecordedEvent, StreamRef, WrongExpectedVersion
from commands.workspace import CreateWorkspace
from domain.errors import AlreadyExists
from domain.metadata import EventMetadata
from domain.versions import Dot
from domain.workspace.events import encode as encode_workspace_event

STREAM_TYPE = WORKSPACE_STREAM_TYPE


@dataclass(frozen=True)
class WorkspaceCreatedOutcome:
    workspace_id: UUID
    name: str
    version: int
    events: list[RecordedEvent]
    duplicate: bool = False

    @property
    def position(self) -> int:
        return self.events[-1].position if self.events else 0


class WorkspaceHandler:
    def __init__(
        self,
        store: EventStore,
        authorizer: Authorizer,
        clock: ServerClock,
        *,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.authorizer = authorizer
        self.clock = clock
        self._on_outcome = on_outcome

    async def create(self, request: CreateWorkspace, actor: Actor) -> WorkspaceCreatedOutcome:
        workspace_id = request.id or uuid.uuid4()
        command_id = request.command_id or uuid.uuid4()
        entry = await self.authorizer.workspaces.load_to_create(
            workspace_id, code="workspace_exists"
        )
        async with entry.lock:
            workspace = entry.aggregate
            if workspace.exists:
                earlier = await self.store.find_command(command_id)
                if earlier is not None:
                    return WorkspaceCreatedOutcome(
                        workspace_id,
                        workspace.name or "",
                        earlier.version,
                        earlier.events,
                        duplicate=True,
                    )
                raise AlreadyExists(f"workspace {workspace_id} exists", code="workspace_exists")
            payload = workspace.create(request.name, actor.id)
            meta = EventMetadata(
                event_id=uuid.uuid4(),
                replica=request.client_id,
                dot=Dot(request.client_id, 1),
                hlc=self.clock.next(),
                actor=actor.id,
                command_id=command_id,
                correlation_id=command_id,
            )
            tag = payload.__struct_config__.tag
            try:
                result = await self.store.append(
                    StreamRef(
                        stream_id=workspace_id, stream_type=STREAM_TYPE, workspace_id=workspace_id
                    ),
                    0,
                    [new_event(str(tag), encode_workspace_event(payload), meta)],
                    command_id=command_id,
                )
            except WrongExpectedVersion:
                raise AlreadyExists(
                    f"workspace {workspace_id} exists", code="workspace_exists"
                ) from None
            if not result.duplicate:
                workspace.apply(payload)
                entry.version = result.version
            if self._on_outcome is not None:
                outcome = "duplicate" if result.duplicate else "appended"
                self._on_outcome(outcome, 0 if result.duplicate else len(result.events))
            return WorkspaceCreatedOutcome(
                workspace_id,
                payload.name,
                result.version,
                result.events,
                duplicate=result.duplicate,
            )
