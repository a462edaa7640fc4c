"""Who may do what: roles come from the Workspace aggregate (owner, editor, viewer).

Workspaces are read through the aggregate cache and caught up at most every
`REFRESH_SECONDS` per workspace, so a check costs no query on the hot path; a role change made
through another process takes effect here within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from commands.eventstore import EventStore, RecordedEvent
from commands.repository import Repository
from domain.errors import NotAllowed, NotFound
from domain.metadata import EventMetadata
from domain.workspace.aggregate import Workspace
from domain.workspace.events import decode as decode_workspace_event

REFRESH_SECONDS = 1.0
#: The stream type of workspaces (commands/workspaces.py appends them).
WORKSPACE_STREAM_TYPE = "workspace"


@dataclass(frozen=True)
class Actor:
    """The authenticated caller."""

    id: UUID
    name: str


def apply_workspace_event(workspace: Workspace, event: RecordedEvent, _: EventMetadata) -> None:
    # Workspace events apply in stream order; they need no merge metadata.
    workspace.apply(decode_workspace_event(event.data))


class Authorizer:
    def __init__(self, store: EventStore, *, capacity: int = 2000) -> None:
        self.workspaces: Repository[Workspace] = Repository(
            store,
            stream_type=WORKSPACE_STREAM_TYPE,
            new=Workspace,
            apply=apply_workspace_event,
            capacity=capacity,
        )
        self._refreshed: dict[UUID, float] = {}
        self._capacity = capacity

    async def workspace(self, workspace_id: UUID, *, fresh: bool = False) -> Workspace:
        now = time.monotonic()
        stale = fresh or now - self._refreshed.get(workspace_id, 0.0) > REFRESH_SECONDS
        entry = await self.workspaces.load(workspace_id, catch_up=stale)
        if stale:
            if len(self._refreshed) >= 2 * self._capacity:
                self._refreshed.clear()  # bounded memory; the next checks simply refresh
            self._refreshed[workspace_id] = now
        if not entry.aggregate.exists:
            raise NotFound(f"workspace {workspace_id} does not exist", code="workspace_not_found")
        return entry.aggregate

    async def require_view(self, workspace_id: UUID, user_id: UUID) -> Workspace:
        workspace = await self.workspace(workspace_id)
        if not workspace.can_view(user_id):
            workspace = await self.workspace(workspace_id, fresh=True)
            if not workspace.can_view(user_id):
                # Not a member: do not reveal that the workspace exists.
                raise NotFound(
                    f"workspace {workspace_id} does not exist or you are not a member",
                    code="workspace_not_found",
                )
        return workspace

    def viewer(self, user_id: UUID) -> Callable[[UUID], Awaitable[Workspace]]:
        """``require_view`` for this user, as a check of a workspace id alone."""
        return lambda workspace_id: self.require_view(workspace_id, user_id)

    async def require_edit(self, workspace_id: UUID, user_id: UUID) -> Workspace:
        workspace = await self.require_view(workspace_id, user_id)
        if not workspace.can_edit(user_id):
            workspace = await self.workspace(workspace_id, fresh=True)
            if not workspace.can_edit(user_id):
                raise NotAllowed(
                    f"your role in workspace {workspace_id} is "
                    f"{workspace.role_of(user_id)}; editing needs editor or owner",
                    code="not_an_editor",
                )
        return workspace
