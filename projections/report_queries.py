"""Reads of the report read model: the current document, the catalogue, and time travel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from commands.eventstore import EventStore
from commands.eventstore.names import quote_identifier
from domain.errors import NotFound
from domain.report.aggregate import Report
from projections.projection import Tables, tables_for
from projections.report_states import ReportAt, load_at, version_at
from projections.reports import REPORTS, ReportReadModel

#: Raises unless the reader may see the workspace (its id).
Authorize = Callable[[UUID], Awaitable[object]]


class StoredReport(msgspec.Struct, frozen=True, kw_only=True):
    report_id: UUID
    workspace_id: UUID | None
    version: int
    position: int
    #: The document's JSON, as stored (served without re-encoding).
    document: bytes | None


class ReportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A report's line in its workspace's catalogue."""

    id: UUID
    name: str | None
    dataset_id: UUID | None
    created_by: UUID | None
    created_at: datetime | None
    last_edited_by: UUID | None
    last_edited_at: datetime | None
    pages: int
    visuals: int
    version: int


def _tables(read_schema: str) -> Tables:
    return tables_for(read_schema, ReportReadModel.tables)


async def current_report(
    pool: asyncpg.Pool, read_schema: str, report_id: UUID
) -> StoredReport | None:
    row = await pool.fetchrow(
        f"""SELECT report_id, workspace_id, version, position, document
            FROM {_tables(read_schema)[REPORTS]} WHERE report_id = $1""",  # noqa: S608
        report_id,
    )
    if row is None:
        return None
    return StoredReport(
        report_id=row["report_id"],
        workspace_id=row["workspace_id"],
        version=row["version"],
        position=row["position"],
        document=row["document"],
    )


async def catalogue(
    pool: asyncpg.Pool, read_schema: str, workspace_id: UUID
) -> list[ReportSummary]:
    rows = await pool.fetch(
        f"""SELECT report_id, name, dataset_id, created_by, created_at, last_edited_by,
                   last_edited_at, pages, visuals, version
            FROM {_tables(read_schema)[REPORTS]}
            WHERE workspace_id = $1 AND document IS NOT NULL
            ORDER BY lower(name), report_id""",  # noqa: S608
        workspace_id,
    )
    return [
        ReportSummary(
            id=row["report_id"],
            name=row["name"],
            dataset_id=row["dataset_id"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            last_edited_by=row["last_edited_by"],
            last_edited_at=row["last_edited_at"],
            pages=row["pages"],
            visuals=row["visuals"],
            version=row["version"],
        )
        for row in rows
    ]


async def report_at(
    pool: asyncpg.Pool,
    store: EventStore,
    read_schema: str,
    report_id: UUID,
    *,
    version: int | None = None,
    at: datetime | None = None,
) -> ReportAt:
    """The report as it was at `version`, or at time `at` (its newest state if neither)."""
    tables = _tables(read_schema)
    async with pool.acquire() as conn:
        if at is not None:
            version = await version_at(conn, quote_identifier(store.schema), tables, report_id, at)
            if version == 0:
                return ReportAt(Report(report_id), 0, 0, None)  # it did not exist yet
        return await load_at(conn, store, tables, report_id, version)


async def existing_report_at(  # noqa: PLR0917 - where to read, what to read
    pool: asyncpg.Pool,
    store: EventStore,
    read_schema: str,
    report_id: UUID,
    version: int,
    authorize: Authorize | None = None,
) -> tuple[ReportAt, UUID]:
    """The report at ``version`` and its workspace; `NotFound` if there is no such report
    (``report_not_found``) or it has fewer versions (``no_such_version``). ``authorize``
    (the workspace id → raises if the reader may not see it) runs in between, so that only
    those who may see the report learn how many versions it has."""
    past = await report_at(pool, store, read_schema, report_id, version=version)
    workspace_id = past.report.workspace_id
    if workspace_id is None:
        raise NotFound(f"report {report_id} does not exist", code="report_not_found")
    if authorize is not None:
        await authorize(workspace_id)
    if past.version < version:
        raise NotFound(
            f"report {report_id} has {past.version} versions; there is no version {version}",
            code="no_such_version",
        )
    return past, workspace_id
