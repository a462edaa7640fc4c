"""Fixtures of the event store tests: a migrated store in the test's own schema."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import pytest

from commands.eventstore import EventStore, connect_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable


@pytest.fixture
def dsn(engines) -> str:
    return engines.postgres


@pytest.fixture
async def store(dsn: str, db_schema: str) -> AsyncIterator[EventStore]:
    store = await connect_store(dsn, db_schema, min_size=2, max_size=8)
    yield store
    await store.close()


@pytest.fixture
async def make_store(
    dsn: str, db_schema: str
) -> AsyncIterator[Callable[..., Awaitable[EventStore]]]:
    """Further stores on the same schema, each with its own pool: other "processes"."""
    stores: list[EventStore] = []

    async def make(**kwargs: object) -> EventStore:
        kwargs.setdefault("min_size", 1)
        kwargs.setdefault("max_size", 4)
        made = await connect_store(dsn, db_schema, **kwargs)  # type: ignore[arg-type]
        stores.append(made)
        return made

    yield make
    for made in stores:
        await made.close()


@pytest.fixture
async def raw_conn(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()
