"""The query cache's key scheme (Redis). The query engine (connectors/engine.py) stores
answers here.

An answer is stored under

    <prefix>q:<dataset id>:<dataset version>:<sha256 of the compiled SQL and its parameters>

so a key names the exact version of the data it was computed from: after a refresh, a lookup
uses the new version and can never find an answer computed from the old data. Eviction is
housekeeping, not correctness: every key is also listed in ``<prefix>qk:<dataset>:<version>``
and every cached version in ``<prefix>qv:<dataset>``, so the `query_cache` projection can drop
all answers of the versions a data-changing event made obsolete without scanning Redis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Sequence
from typing import cast
from uuid import UUID

import msgspec
import redis.asyncio as aioredis

#: How long an answer may sit unused before Redis drops it anyway.
DEFAULT_TTL_SECONDS = 24 * 3600


def answer_key(
    prefix: str, dataset_id: UUID, version: int, sql: str, params: Sequence[object]
) -> str:
    digest = hashlib.sha256(msgspec.json.encode([sql, list(params)])).hexdigest()
    return f"{prefix}q:{dataset_id}:{version}:{digest}"


def keys_index(prefix: str, dataset_id: UUID, version: int) -> str:
    return f"{prefix}qk:{dataset_id}:{version}"


def versions_index(prefix: str, dataset_id: UUID) -> str:
    return f"{prefix}qv:{dataset_id}"


class QueryCache:
    def __init__(
        self, redis: aioredis.Redis, prefix: str, *, ttl: int = DEFAULT_TTL_SECONDS
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl

    def key(self, dataset_id: UUID, version: int, sql: str, params: Sequence[object]) -> str:
        return answer_key(self.prefix, dataset_id, version, sql, params)

    async def get(
        self, dataset_id: UUID, version: int, sql: str, params: Sequence[object]
    ) -> bytes | None:
        return await self.get_key(self.key(dataset_id, version, sql, params))

    async def get_key(self, key: str) -> bytes | None:
        value = await self.redis.get(key)
        return bytes(value) if value is not None else None

    async def put(
        self, dataset_id: UUID, version: int, sql: str, params: Sequence[object], answer: bytes
    ) -> None:
        await self.put_key(dataset_id, version, self.key(dataset_id, version, sql, params), answer)

    async def put_key(self, dataset_id: UUID, version: int, key: str, answer: bytes) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, answer, ex=self.ttl)
            pipe.sadd(keys_index(self.prefix, dataset_id, version), key)
            pipe.expire(keys_index(self.prefix, dataset_id, version), self.ttl)
            pipe.sadd(versions_index(self.prefix, dataset_id), str(version))
            await pipe.execute()

    async def _members(self, key: str) -> set[bytes]:
        # redis-py types smembers for its sync and async clients at once.
        return await cast("Awaitable[set[bytes]]", self.redis.smembers(key))

    async def evict_before(self, dataset_id: UUID, version: int) -> int:
        """Drop every answer of versions older than `version`; return how many keys went."""
        versions_key = versions_index(self.prefix, dataset_id)
        old = [int(v) for v in await self._members(versions_key) if int(v) < version]
        dropped = 0
        for stale in old:
            index = keys_index(self.prefix, dataset_id, stale)
            keys = list(await self._members(index))
            async with self.redis.pipeline(transaction=False) as pipe:
                if keys:
                    pipe.delete(*keys)
                pipe.delete(index)
                pipe.srem(versions_key, str(stale))
                await pipe.execute()
            dropped += len(keys)
        return dropped
