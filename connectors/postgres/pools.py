"""One asyncpg pool per distinct source config, and the gate that limits how many statements
run against each source at once."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import asyncpg

from connectors.errors import DataError, SourceBusy
from connectors.plugin import ConnectorLimits
from connectors.postgres.config import PostgresConfig, connect_arguments, describe, pool_key
from connectors.postgres.failures import CONNECT_ERRORS, connect_failure
from connectors.postgres.literals import zone_of
from connectors.postgres.results import Description

#: Idle connections close after this long, so the pool of a config no longer used (an old
#: password) costs nothing but a dict entry.
IDLE_SECONDS: Final = 300.0
#: How long closing waits for connections still in use before cutting them.
CLOSE_SECONDS: Final = 10.0
SETTLE_SECONDS: Final = 5.0
#: Statement descriptions kept per source.
DESCRIPTIONS: Final = 512


if TYPE_CHECKING:
    #: A connection lent by a pool.
    Connection: TypeAlias = asyncpg.pool.PoolConnectionProxy[Any]
else:
    Connection = asyncpg.pool.PoolConnectionProxy


class Descriptions:
    """What PostgreSQL said of recent statements (parameter and result types), so that a
    statement seen before costs no extra round trip. Forgotten when a run of it fails (the
    schema may have changed) and, oldest first, past `DESCRIPTIONS` entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._known: OrderedDict[str, Description] = OrderedDict()

    def get(self, sql: str) -> Description | None:
        described = self._known.get(sql)
        if described is not None:
            self._known.move_to_end(sql)
        return described

    def put(self, sql: str, described: Description) -> Description:
        self._known[sql] = described
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return described

    def forget(self, sql: str) -> None:
        self._known.pop(sql, None)


@dataclass
class Source:
    """A configured source's pool, its gate, its session time zone and what it said of the
    statements it ran."""

    config: PostgresConfig
    pool: asyncpg.Pool
    gate: asyncio.Semaphore
    zone: dt.tzinfo
    descriptions: Descriptions = field(default_factory=lambda: Descriptions(DESCRIPTIONS))


async def _no_reset(_conn: Any) -> None:
    """Sessions change no state (no SET, LISTEN, cursor or lock), so a returned connection
    needs no ``RESET ALL`` round trip."""


async def _settle(conn: Connection) -> None:
    """End the implicit transaction a prepared-but-never-run statement leaves open (asyncpg
    prepares with Parse/Describe/Flush, no Sync), so that the idle connection holds no lock
    on the tables the statement named."""
    with contextlib.suppress(*CONNECT_ERRORS):
        await conn.execute("SELECT 1", timeout=SETTLE_SECONDS)


class Sources:
    def __init__(self, limits: ConnectorLimits) -> None:
        self.limits = limits
        self._opening: dict[str, asyncio.Task[Source]] = {}

    async def source(self, config: PostgresConfig) -> Source:
        """The pool for ``config``, created (connecting once) on first use."""
        key = pool_key(config)
        task = self._opening.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = asyncio.ensure_future(self._open(config))
            self._opening[key] = task
        # Shielded: a caller that gives up does not cancel the pool others are waiting for.
        return await asyncio.shield(task)

    async def _open(self, config: PostgresConfig) -> Source:
        try:
            pool = await asyncpg.create_pool(
                **connect_arguments(config),
                min_size=1,
                max_size=self.limits.concurrent_queries,
                max_inactive_connection_lifetime=IDLE_SECONDS,
                reset=_no_reset,
            )
        except CONNECT_ERRORS as exc:
            raise connect_failure(config, exc) from None
        return Source(
            config=config,
            pool=pool,
            gate=asyncio.Semaphore(self.limits.concurrent_queries),
            zone=zone_of(config.timezone),
        )

    @contextlib.asynccontextmanager
    async def connection(self, config: PostgresConfig) -> AsyncIterator[tuple[Source, Connection]]:
        """A connection to ``config``'s source, once one of its ``concurrent_queries`` slots is
        free (`SourceBusy` after ``queue_timeout``)."""
        source = await self.source(config)
        try:
            await asyncio.wait_for(source.gate.acquire(), self.limits.queue_timeout)
        except TimeoutError:
            raise SourceBusy(
                f"all {self.limits.concurrent_queries} query slots of {describe(config)} "
                f"stayed busy for {self.limits.queue_timeout:g} s"
            ) from None
        try:
            try:
                conn = await source.pool.acquire(timeout=config.connect_timeout)
            except CONNECT_ERRORS as exc:
                raise connect_failure(config, exc) from None
            try:
                yield source, conn
            except DataError:
                await _settle(conn)
                raise
            finally:
                await source.pool.release(conn)
        finally:
            source.gate.release()

    async def close(self) -> None:
        opening, self._opening = self._opening, {}
        for task in opening.values():
            task.cancel()  # a no-op for the pools already open
        outcomes = await asyncio.gather(*opening.values(), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Source):
                try:
                    await asyncio.wait_for(outcome.pool.close(), CLOSE_SECONDS)
                except TimeoutError:
                    outcome.pool.terminate()
