"""A fresh event store and read schema per scenario, for tests that draw many (hypothesis)
and so cannot use the per-test ``db_schema`` fixture; and a report history re-targeted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from api.bootstrap import MIGRATIONS
from commands.eventstore import EventStore, connect_store, migrate
from domain.report.events import ReportCreated
from tests.domain.report_replicas import Stamped


async def prepare(database_url: str, pool_size: int = 4) -> tuple[str, EventStore, asyncpg.Pool]:
    """A new schema with the event store, its ``<schema>_read`` with the read models' tables."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    store = await connect_store(database_url, schema)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=pool_size)
    async with pool.acquire() as conn:
        await migrate(conn, f"{schema}_read", "projections", dict(MIGRATIONS)["projections"])
    return schema, store, pool


async def drop(database_url: str, schema: str, store: EventStore, pool: asyncpg.Pool) -> None:
    """Close what ``prepare`` opened and drop both schemas."""
    await store.close()
    await pool.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE; DROP SCHEMA {schema}_read CASCADE")
    finally:
        await conn.close()


def for_report(events: Sequence[Stamped], report_id: uuid.UUID) -> list[Stamped]:
    """The same history, as if it had happened to another report."""
    return [
        (msgspec.structs.replace(event, report_id=report_id), meta)
        if isinstance(event, ReportCreated)
        else (event, meta)
        for event, meta in events
    ]
