"""The workspace catalogue: each workspace, its members and their roles (`GET /workspaces`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg
import msgspec

from commands.eventstore import RecordedEvent
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    WorkspaceCreated,
    WorkspaceRenamed,
)
from domain.workspace.events import decode as decode_workspace_event

if TYPE_CHECKING:
    from projections.runner import Connection


class WorkspaceSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    role: str
    version: int


class WorkspaceCatalogue:
    name = "workspaces"
    event_types: tuple[str, ...] = (
        "WorkspaceCreated",
        "WorkspaceRenamed",
        "MemberRoleSet",
        "MemberRemoved",
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def apply(self, conn: Connection, event: RecordedEvent) -> None:
        payload = decode_workspace_event(event.data)
        s = self.schema
        match payload:
            case WorkspaceCreated():
                await conn.execute(
                    f"""INSERT INTO {s}.rm_workspaces
                        (id, name, created_by, created_at, version, position)
                        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING""",  # noqa: S608
                    event.stream_id,
                    payload.name,
                    payload.owner,
                    event.recorded_at,
                    event.version,
                    event.position,
                )
                await conn.execute(
                    f"""INSERT INTO {s}.rm_workspace_members (workspace_id, user_id, role)
                        VALUES ($1, $2, 'owner') ON CONFLICT DO NOTHING""",  # noqa: S608
                    event.stream_id,
                    payload.owner,
                )
            case WorkspaceRenamed():
                await self._touch(conn, event, name=payload.name)
            case MemberRoleSet():
                await conn.execute(
                    f"""INSERT INTO {s}.rm_workspace_members (workspace_id, user_id, role)
                        VALUES ($1, $2, $3)
                        ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role""",  # noqa: S608
                    event.stream_id,
                    payload.user_id,
                    payload.role,
                )
                await self._touch(conn, event)
            case MemberRemoved():
                await conn.execute(
                    f"""DELETE FROM {s}.rm_workspace_members
                        WHERE workspace_id = $1 AND user_id = $2""",  # noqa: S608
                    event.stream_id,
                    payload.user_id,
                )
                await self._touch(conn, event)
            case _:
                pass

    async def _touch(
        self, conn: Connection, event: RecordedEvent, *, name: str | None = None
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.schema}.rm_workspaces
                SET version = $2, position = $3, name = coalesce($4, name)
                WHERE id = $1""",  # noqa: S608
            event.stream_id,
            event.version,
            event.position,
            name,
        )


async def workspaces_of(pool: asyncpg.Pool, schema: str, user_id: UUID) -> list[WorkspaceSummary]:
    rows: list[Any] = await pool.fetch(
        f"""SELECT w.id, w.name, m.role, w.version
            FROM {schema}.rm_workspace_members m
            JOIN {schema}.rm_workspaces w ON w.id = m.workspace_id
            WHERE m.user_id = $1
            ORDER BY lower(w.name), w.id""",  # noqa: S608
        user_id,
    )
    return [
        WorkspaceSummary(id=row["id"], name=row["name"], role=row["role"], version=row["version"])
        for row in rows
    ]
