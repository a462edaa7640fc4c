"""A small, explicit, versioned migration runner for one PostgreSQL schema.

Why not an ORM migration tool: the event store is plain SQL (tables, a sequence and two
PL/pgSQL functions) and the projections will be too; what they need is only "apply the numbered
files that have not been applied yet, once, in order", safely when several processes start at
the same time. Each component (``eventstore``, later each projection) keeps its own numbered
files and its own rows in ``<schema>.schema_migrations``.

Files are named ``NNNN_description.sql``; ``{schema}`` inside them is replaced by the quoted,
validated schema name. Each file runs in its own transaction together with the row that
records it, so a failed file leaves nothing half-applied and is retried next time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from commands.eventstore.names import check_identifier, quote_identifier

#: The event store's own migrations.
EVENTSTORE_MIGRATIONS = Path(__file__).with_name("migrations")

#: First half of the advisory lock key that serialises migrations of one schema (the second
#: half is hashtext(schema)). Distinct from the event store's reservation lock.
_MIGRATION_LOCK_CLASS = 1282373233

_FILE_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


class MigrationError(RuntimeError):
    """The migration files are inconsistent (bad name, duplicate version)."""


def discover(directory: Path) -> list[Migration]:
    """The migration files in ``directory``, in version order."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} also used by {found[version].path}")
        found[version] = Migration(version=version, name=match.group(2), path=path)
    return [found[v] for v in sorted(found)]


def render(sql: str, schema: str) -> str:
    """Substitute the ``{schema}`` placeholder (plain replace: SQL is full of braces)."""
    return sql.replace("{schema}", quote_identifier(schema))


async def migrate(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    schema: str,
    component: str = "eventstore",
    directory: Path = EVENTSTORE_MIGRATIONS,
) -> list[str]:
    """Apply the pending migrations of ``component``; return the labels of those applied.

    Creates the schema and ``schema_migrations`` if missing. Idempotent; concurrent callers
    (other processes included) queue on an advisory lock and find nothing left to do.
    """
    check_identifier(schema)
    if not component:
        raise ValueError("component must not be empty")
    migrations = discover(directory)
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            return await _migrate(conn, schema, component, migrations)
    return await _migrate(conn_or_pool, schema, component, migrations)


async def _migrate(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    schema: str,
    component: str,
    migrations: list[Migration],
) -> list[str]:
    if conn.is_in_transaction():
        # The session lock and the per-file transactions need a connection of their own.
        raise MigrationError("migrate() needs a connection that is not in a transaction")
    quoted = quote_identifier(schema)
    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _MIGRATION_LOCK_CLASS, schema)
    try:
        await conn.execute(
            f"""
            CREATE SCHEMA IF NOT EXISTS {quoted};
            CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations (
                component  text        NOT NULL,
                version    integer     NOT NULL,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version)
            );
            """
        )
        rows = await conn.fetch(
            f"SELECT version FROM {quoted}.schema_migrations WHERE component = $1",  # noqa: S608
            component,
        )
        done = {row["version"] for row in rows}
        applied: list[str] = []
        for migration in migrations:
            if migration.version in done:
                continue
            sql = render(migration.path.read_text(encoding="utf-8"), schema)
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {quoted}.schema_migrations (component, version, name)"  # noqa: S608
                    " VALUES ($1, $2, $3)",
                    component,
                    migration.version,
                    migration.name,
                )
            applied.append(migration.label)
        return applied
    finally:
        if not conn.is_closed():
            await conn.execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))", _MIGRATION_LOCK_CLASS, schema
            )
