"""What a projection is: a name, the events it folds, its tables, and how it folds a batch.

Read models live in their own PostgreSQL schema (``<schema>_read``). A projection never
hard-codes a table name: it receives a `Tables` mapping (logical name → qualified name), so the
same code fills the live tables and, during a rebuild, a fresh set beside them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias, runtime_checkable

import asyncpg

from commands.eventstore import RecordedEvent
from commands.eventstore.names import check_identifier, quote_identifier

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    #: What a projection writes through: a connection inside the runner's transaction.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

#: The suffix of the tables a rebuild fills before they replace the live ones.
REBUILD_SUFFIX = "__rebuild"


@dataclass(frozen=True)
class Tables:
    """Logical table name → qualified SQL name, for one set of a projection's tables."""

    schema: str
    names: Mapping[str, str]

    def __getitem__(self, logical: str) -> str:
        return self.names[logical]

    def bare(self, logical: str) -> str:
        """The unqualified physical name (for renames)."""
        return self.names[logical].rsplit(".", 1)[1].strip('"')


def tables_for(schema: str, logical: Sequence[str], *, suffix: str = "") -> Tables:
    check_identifier(schema)
    return Tables(
        schema=schema,
        names={
            name: f"{quote_identifier(schema)}.{quote_identifier(check_identifier(name + suffix))}"
            for name in logical
        },
    )


class Projection(Protocol):
    """A read model: how to create its tables and fold events into them."""

    #: Stable name: its position row, its leadership lock, `loupe projections rebuild NAME`.
    @property
    def name(self) -> str: ...

    #: Bump when the tables or the fold change: the runner then rebuilds it (and swaps it in).
    @property
    def version(self) -> int: ...

    #: The event types it folds (None: all). Others only move its position.
    @property
    def event_types(self) -> Collection[str] | None: ...

    #: Logical names of its tables (`ddl` and `apply` get them via `Tables`).
    @property
    def tables(self) -> Sequence[str]: ...

    def ddl(self, tables: Tables) -> list[str]:
        """Statements that create its tables (and indexes) from nothing; run in one transaction.

        A rebuild runs the non-unique ``CREATE INDEX`` statements after it has filled the
        tables (projections/rebuild.py): ``apply`` must not need them to be correct.
        """
        ...

    async def apply(
        self, conn: Connection, events: Sequence[RecordedEvent], tables: Tables
    ) -> None:
        """Fold a batch of relevant events, in position order, inside the runner's transaction.

        May keep in-memory state (caches); `reset` must drop it.
        """
        ...

    def reset(self) -> None:
        """Forget in-memory state: the tables were replaced or another process wrote them."""
        ...

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001 - a mode switch
        """Rebuild mode: `apply` may defer writes (e.g. write each row once, at the end)."""
        ...

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Write what bulk mode deferred so far. A rebuild calls it after the bulk fold and
        again in the swap transaction, for the last events; bulk mode goes on after it."""
        ...


@runtime_checkable
class Splittable(Protocol):
    """A projection whose rebuild may be split across processes (projections/rebuild.py).

    The streams of ``split_stream_types`` fold independently of each other: each worker
    process of a split rebuild folds the events of a share of them (`commands.eventstore.Share`)
    and every event of other stream types. Such shared events reach every worker, so exactly
    one worker writes what they produce; the others fold them into memory only (e.g. a user's
    name, for the rows of later events).
    """

    @property
    def split_stream_types(self) -> frozenset[str]: ...

    def split_worker(self, *, writes_shared: bool) -> None:
        """This instance is a worker of a split rebuild (a fresh instance in bulk mode, folding
        from position 0 into fresh tables that other workers write too)."""
        ...
