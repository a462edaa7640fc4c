"""The workspace catalogue: each workspace, its members and their roles (`GET /workspaces`)."""

from __future__ import annotations

from collections.abc import Sequence
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
from projections.projection import Tables, tables_for

if TYPE_CHECKING:
    from projections.projection import Connection

WORKSPACES = "rm_workspaces"
MEMBERS = "rm_workspace_members"


class WorkspaceSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    name: str
    role: str
    version: int


class WorkspaceCatalogue:
    name = "workspaces"
    version = 1
    event_types: tuple[str, ...] = (
        "WorkspaceCreated",
        "WorkspaceRenamed",
        "MemberRoleSet",
        "MemberRemoved",
    )
    tables: tuple[str, ...] = (WORKSPACES, MEMBERS)

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[WORKSPACES]} (
                    id          uuid PRIMARY KEY,
                    name        text NOT NULL,
                    created_by  uuid,
                    created_at  timestamptz NOT NULL,
                    version     bigint NOT NULL,
                    position    bigint NOT NULL
                )""",
            f"""CREATE TABLE {t[MEMBERS]} (
                    workspace_id uuid NOT NULL,
                    user_id      uuid NOT NULL,
                    role         text NOT NULL,
                    PRIMARY KEY (workspace_id, user_id)
                )""",
            f"CREATE INDEX ON {t[MEMBERS]} (user_id)",
        ]

    def reset(self) -> None:
        """Nothing is kept in memory."""

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001
        """Every event writes its row at once; nothing to defer."""

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing deferred."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        for event in events:
            await self._apply(conn, event, t)

    async def _apply(self, conn: Connection, event: RecordedEvent, t: Tables) -> None:
        payload = decode_workspace_event(event.data)
        match payload:
            case WorkspaceCreated():
                await conn.execute(
                    f"""INSERT INTO {t[WORKSPACES]}
                        (id, name, created_by, created_at, version, position)
                        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING""",  # noqa: S608
                    event.stream_id,
                    payload.name,
                    payload.owner,
                    event.recorded_at,
                    event.version,
                    event.position,
                )
                await self._set_role(conn, t, event.stream_id, payload.owner, "owner")
            case WorkspaceRenamed():
                await self._touch(conn, t, event, name=payload.name)
            case MemberRoleSet():
                await self._set_role(conn, t, event.stream_id, payload.user_id, payload.role)
                await self._touch(conn, t, event)
            case MemberRemoved():
                await conn.execute(
                    f"""DELETE FROM {t[MEMBERS]}
                        WHERE workspace_id = $1 AND user_id = $2""",  # noqa: S608
                    event.stream_id,
                    payload.user_id,
                )
                await self._touch(conn, t, event)

    async def _set_role(
        self, conn: Connection, t: Tables, workspace_id: UUID, user_id: UUID, role: str
    ) -> None:
        await conn.execute(
            f"""INSERT INTO {t[MEMBERS]} (workspace_id, user_id, role) VALUES ($1, $2, $3)
                ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role""",  # noqa: S608
            workspace_id,
            user_id,
            role,
        )

    async def _touch(
        self, conn: Connection, t: Tables, event: RecordedEvent, *, name: str | None = None
    ) -> None:
        await conn.execute(
            f"""UPDATE {t[WORKSPACES]}
                SET version = $2, position = $3, name = coalesce($4, name)
                WHERE id = $1""",  # noqa: S608
            event.stream_id,
            event.version,
            event.position,
            name,
        )


async def workspaces_of(
    pool: asyncpg.Pool, read_schema: str, user_id: UUID
) -> list[WorkspaceSummary]:
    t = tables_for(read_schema, WorkspaceCatalogue.tables)
    rows: list[Any] = await pool.fetch(
        f"""SELECT w.id, w.name, m.role, w.version
            FROM {t[MEMBERS]} m JOIN {t[WORKSPACES]} w ON w.id = m.workspace_id
            WHERE m.user_id = $1
            ORDER BY lower(w.name), w.id""",  # noqa: S608
        user_id,
    )
    return [
        WorkspaceSummary(id=row["id"], name=row["name"], role=row["role"], version=row["version"])
        for row in rows
    ]
