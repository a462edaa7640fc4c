"""Where each projection has got to: one row per projection in the read-model schema.

The row is the projection's fence: a batch locks it, checks it, and moves it in the same
transaction as the rows it writes; a rebuild swaps the tables and moves it in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import asyncpg

from commands.eventstore.names import quote_identifier

if TYPE_CHECKING:
    from projections.projection import Connection


class Stored(NamedTuple):
    position: int
    #: The projection version that built the tables (0: not built yet).
    version: int


class PositionStore:
    def __init__(self, pool: asyncpg.Pool, read_schema: str) -> None:
        self.pool = pool
        self.table = f"{quote_identifier(read_schema)}.projection_positions"

    async def get(self, name: str) -> Stored:
        row = await self.pool.fetchrow(
            f"SELECT position, version FROM {self.table} WHERE name = $1",  # noqa: S608
            name,
        )
        return Stored(0, 0) if row is None else Stored(row["position"], row["version"])

    async def all(self) -> dict[str, Stored]:
        rows = await self.pool.fetch(f"SELECT name, position, version FROM {self.table}")  # noqa: S608
        return {row["name"]: Stored(row["position"], row["version"]) for row in rows}

    async def claim(self, conn: Connection, name: str, version: int) -> bool:
        """Create the row (position 0) if missing; True when this call created it."""
        status = await conn.execute(
            f"""INSERT INTO {self.table} (name, position, version) VALUES ($1, 0, $2)
                ON CONFLICT (name) DO NOTHING""",  # noqa: S608
            name,
            version,
        )
        return status.endswith(" 1")

    async def lock(self, conn: Connection, name: str) -> int:
        """Lock the row for this transaction and return its position."""
        value = await conn.fetchval(
            f"SELECT position FROM {self.table} WHERE name = $1 FOR UPDATE",  # noqa: S608
            name,
        )
        if value is None:
            raise LookupError(f"projection {name!r} has no position row")
        return int(value)

    async def set(
        self, conn: Connection, name: str, position: int, *, version: int | None = None
    ) -> None:
        await conn.execute(
            f"""UPDATE {self.table}
                SET position = $2, version = coalesce($3, version), updated_at = now()
                WHERE name = $1""",  # noqa: S608
            name,
            position,
            version,
        )
