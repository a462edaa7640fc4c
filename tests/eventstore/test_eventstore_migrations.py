"""The migration runner: versioned, idempotent, one transaction per file, safe concurrently."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import asyncpg
import pytest

from commands.eventstore import migrate
from commands.eventstore.migrations import MigrationError, discover

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def fresh_schema(dsn: str) -> AsyncIterator[str]:
    """A schema name that does not exist yet (migrate must create it); dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


async def test_migrate_is_idempotent(raw_conn: asyncpg.Connection, fresh_schema: str) -> None:
    assert await migrate(raw_conn, fresh_schema) == ["0001_event_store"]
    assert await migrate(raw_conn, fresh_schema) == []
    rows = await raw_conn.fetch(
        f"SELECT component, version, name FROM {fresh_schema}.schema_migrations"
    )
    assert [tuple(r) for r in rows] == [("eventstore", 1, "event_store")]


async def test_concurrent_migrations_apply_once(dsn: str, fresh_schema: str) -> None:
    conns = [await asyncpg.connect(dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, fresh_schema) for c in conns))
    finally:
        for conn in conns:
            await conn.close()
    assert sorted(results) == [[], [], [], ["0001_event_store"]]


async def test_migrate_accepts_a_pool(dsn: str, fresh_schema: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        assert await migrate(pool, fresh_schema) == ["0001_event_store"]
        assert await pool.fetchval(f"SELECT count(*) FROM {fresh_schema}.events") == 0
    finally:
        await pool.close()


async def test_components_keep_their_own_versions(
    raw_conn: asyncpg.Connection, fresh_schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE {schema}.things (id int);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE {schema}.things ADD COLUMN name text;")

    assert await migrate(raw_conn, fresh_schema) == ["0001_event_store"]
    applied = await migrate(raw_conn, fresh_schema, "things", tmp_path)
    assert applied == ["0001_things", "0002_more"]
    assert await migrate(raw_conn, fresh_schema, "things", tmp_path) == []
    await raw_conn.execute(f"INSERT INTO {fresh_schema}.things VALUES (1, 'x')")


async def test_failed_file_is_rolled_back_and_retried(
    raw_conn: asyncpg.Connection, fresh_schema: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE {schema}.a (id int);")
    bad = tmp_path / "0002_bad.sql"
    bad.write_text("CREATE TABLE {schema}.b (id int); SELECT no_such_function();")

    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(raw_conn, fresh_schema, "c", tmp_path)
    # 0001 stayed applied; nothing of 0002 (not even its first statement) did.
    assert await raw_conn.fetchval(f"SELECT to_regclass('{fresh_schema}.b')") is None
    versions = await raw_conn.fetch(
        f"SELECT version FROM {fresh_schema}.schema_migrations WHERE component = 'c'"
    )
    assert [r["version"] for r in versions] == [1]

    bad.write_text("CREATE TABLE {schema}.b (id int);")
    assert await migrate(raw_conn, fresh_schema, "c", tmp_path) == ["0002_bad"]
    # The session's migration lock was released even after the failure.
    assert (
        await raw_conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        )
        == 0
    )


def test_bad_file_names_and_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_short.sql").write_text("")
    with pytest.raises(MigrationError):
        discover(tmp_path)
    (tmp_path / "1_short.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(MigrationError):
        discover(tmp_path)


@pytest.mark.parametrize("name", ["Public", "1abc", "a-b", "a;drop", "", "x" * 64])
async def test_schema_names_are_validated(raw_conn: asyncpg.Connection, name: str) -> None:
    with pytest.raises(ValueError, match="schema name"):
        await migrate(raw_conn, name)
