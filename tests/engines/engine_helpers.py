"""Helpers for the embedded-engine tests: real processes, real clients, no mocks."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import asyncpg
import nats
import psutil
import redis.asyncio as aioredis

if TYPE_CHECKING:
    from collections.abc import Iterable

STANDARD_PORTS = {5432, 4222, 6379}


def alive(pid: int) -> bool:
    """Running (a zombie no longer runs: PID 1 here may be slow to reap what it inherits)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def family(pid: int) -> list[int]:
    """``pid`` and all its descendants (a postmaster's backends and workers)."""
    proc = psutil.Process(pid)
    return [pid, *(child.pid for child in proc.children(recursive=True))]


def wait_gone(pids: Iterable[int], timeout: float = 15) -> list[int]:
    """Wait until none of ``pids`` runs; return those still running after ``timeout``."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


async def postgres_select_1(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


async def nats_roundtrip(url: str) -> bytes:
    """Publish/subscribe a message and prove JetStream is enabled; return the payload."""
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        sub = await nc.subscribe("loupe.test")
        await nc.publish("loupe.test", b"hello")
        msg = await sub.next_msg(timeout=5)
        await nc.jetstream().account_info()  # raises unless JetStream is on
        return msg.data
    finally:
        await nc.close()


async def redis_roundtrip(url: str, key: str = "loupe:test", value: str = "v") -> bytes | None:
    client = aioredis.from_url(url)
    try:
        assert await client.ping()
        await client.set(key, value)
        return await client.get(key)
    finally:
        await client.aclose()
