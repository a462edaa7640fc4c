"""Query-cache invalidation: data-changing dataset events evict the answers they made stale.

The cache key carries the dataset version (connectors/query_cache.py), so a stale answer can
never be served; this projection keeps Redis tidy and records each dataset's current version
(``rm_dataset_versions``), which the query path uses to build its keys. Redis deletions are
idempotent, so replaying a batch after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from commands.eventstore import RecordedEvent
from connectors.query_cache import QueryCache
from domain.dataset.events import DATA_CHANGING
from projections.projection import Tables

if TYPE_CHECKING:
    from projections.projection import Connection

VERSIONS = "rm_dataset_versions"


class QueryCacheInvalidation:
    name = "query_cache"
    version = 1
    event_types = DATA_CHANGING
    tables: tuple[str, ...] = (VERSIONS,)

    def __init__(self, redis: aioredis.Redis | None, prefix: str) -> None:
        self.cache = QueryCache(redis, prefix) if redis is not None else None

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[VERSIONS]} (
                    dataset_id  uuid PRIMARY KEY,
                    version     bigint NOT NULL,
                    position    bigint NOT NULL,
                    changed_at  timestamptz NOT NULL
                )"""
        ]

    def reset(self) -> None:
        """Nothing is kept in memory."""

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001
        """Every event is handled at once; nothing to defer."""

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing deferred."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        newest: dict[object, RecordedEvent] = {}
        for event in events:
            newest[event.stream_id] = event
        for event in newest.values():
            await conn.execute(
                f"""INSERT INTO {t[VERSIONS]} (dataset_id, version, position, changed_at)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (dataset_id) DO UPDATE SET version = EXCLUDED.version,
                        position = EXCLUDED.position, changed_at = EXCLUDED.changed_at""",  # noqa: S608
                event.stream_id,
                event.version,
                event.position,
                event.recorded_at,
            )
            if self.cache is not None:
                await self.cache.evict_before(event.stream_id, event.version)
