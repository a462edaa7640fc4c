"""A data-changing dataset event evicts the cached answers of the versions it made stale."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import redis.asyncio as aioredis

from api.bootstrap import MIGRATIONS
from commands.eventstore import NewEvent, StreamRef, connect_store, migrate
from connectors.query_cache import QueryCache, answer_key
from projections.query_cache import QueryCacheInvalidation
from projections.runner import ProjectionRunner


async def test_a_refresh_evicts_older_answers_and_keys_can_never_serve_stale_data(
    engines, db_schema, redis_prefix
):
    store = await connect_store(engines.postgres, db_schema)
    pool = await asyncpg.create_pool(engines.postgres, min_size=1, max_size=4)
    redis = aioredis.Redis.from_url(engines.redis)
    read_schema = f"{db_schema}_read"
    async with pool.acquire() as conn:
        await migrate(conn, read_schema, "projections", dict(MIGRATIONS)["projections"])
    cache = QueryCache(redis, redis_prefix)
    dataset = uuid.uuid4()
    other = uuid.uuid4()
    stream = StreamRef(stream_id=dataset, stream_type="dataset")

    async def event(kind: str, version: int) -> int:
        result = await store.append(
            stream, version - 1, [NewEvent(event_id=uuid.uuid4(), type=kind, data=b"{}")]
        )
        return result.events[0].position

    runner = ProjectionRunner(QueryCacheInvalidation(redis, redis_prefix), store, pool, read_schema)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await event("DatasetCreated", 1)
        await cache.put(dataset, 1, "SELECT 1", [], b"one")
        await cache.put(dataset, 1, "SELECT 2", ["x"], b"two")
        await cache.put(other, 1, "SELECT 1", [], b"other")
        await event("DatasetDescriptionChanged", 2)  # not data-changing: answers stay valid
        position = await event("DatasetRefreshed", 3)
        await cache.put(dataset, 3, "SELECT 1", [], b"fresh")
        assert await runner.wait_until(position, 10)
    finally:
        stop.set()
        await task
    assert await cache.get(dataset, 1, "SELECT 1", []) is None
    assert await redis.exists(answer_key(redis_prefix, dataset, 1, "SELECT 2", ["x"])) == 0
    assert await cache.get(dataset, 3, "SELECT 1", []) == b"fresh"
    assert await cache.get(other, 1, "SELECT 1", []) == b"other"
    stored = await pool.fetchrow(
        f'SELECT version FROM "{read_schema}".rm_dataset_versions WHERE dataset_id = $1', dataset
    )
    assert stored["version"] == 3
    await redis.aclose()
    await store.close()
    await pool.close()
