"""Where an export's state lives while it exists: one JSON value in Redis per job
(``<prefix>export:<job id>``), and a sorted set of finished exports by expiry time, which the
retention sweep reads to delete the files.

Only the API creates a record (``create``: once, ``SET NX``) and only the job's worker moves it
on, so plain writes are enough. The record expires with the file it describes.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec
import redis.asyncio as aioredis

from exports.options import ExportJob

ExportStatus = Literal["queued", "running", "complete", "failed"]

#: How long a finished export (its file and record) is kept.
RETENTION: Final = dt.timedelta(hours=24)
#: How long an unfinished record may live (a job that never ran leaves no trace forever).
UNFINISHED_TTL: Final = dt.timedelta(hours=6)


class ExportRecord(msgspec.Struct, kw_only=True):
    job: ExportJob
    status: ExportStatus = "queued"
    pages_done: int = 0
    attempts: int = 0
    error: str | None = None
    size: int | None = None
    requested_by: str | None = None
    requested_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None


_decode = msgspec.json.Decoder(ExportRecord).decode


class ExportRecords:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, job_id: str) -> str:
        return f"{self.prefix}export:{job_id}"

    @property
    def expiring_key(self) -> str:
        return f"{self.prefix}exports:expiring"

    async def get(self, job_id: str) -> ExportRecord | None:
        raw = await self.redis.get(self.key(job_id))
        return None if raw is None else _decode(raw)

    async def create(self, record: ExportRecord) -> bool:
        """Store a new record; False (nothing written) when the job already has one."""
        created = await self.redis.set(
            self.key(record.job.job_id),
            msgspec.json.encode(record),
            nx=True,
            ex=UNFINISHED_TTL,
        )
        return bool(created)

    async def replace(self, record: ExportRecord) -> None:
        """Store a record anew (a failed or expired job asked for again)."""
        await self.redis.set(
            self.key(record.job.job_id), msgspec.json.encode(record), ex=UNFINISHED_TTL
        )

    async def save(self, record: ExportRecord) -> None:
        """The worker's update; a finished record lives as long as its file."""
        if record.expires_at is not None:
            ttl = max(1, int((record.expires_at - dt.datetime.now(dt.UTC)).total_seconds()))
        else:
            ttl = int(UNFINISHED_TTL.total_seconds())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.key(record.job.job_id), msgspec.json.encode(record), ex=ttl)
            if record.expires_at is not None and record.status == "complete":
                pipe.zadd(self.expiring_key, {record.job.blob_key: record.expires_at.timestamp()})
            await pipe.execute()

    async def expired_files(self, now: dt.datetime, limit: int = 500) -> list[str]:
        """Blob keys of exports whose retention ended (oldest first)."""
        keys = await self.redis.zrangebyscore(
            self.expiring_key, "-inf", now.timestamp(), start=0, num=limit
        )
        return [key.decode() if isinstance(key, bytes) else str(key) for key in keys]

    async def forget_files(self, keys: list[str]) -> None:
        if keys:
            await self.redis.zrem(self.expiring_key, *keys)
