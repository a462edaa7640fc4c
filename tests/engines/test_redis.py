"""The embedded Redis: Unix socket only, append-only file on."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

import pytest
from engine_helpers import redis_roundtrip, wait_gone

from api.engines import EmbeddedRedis, EngineError

if TYPE_CHECKING:
    from pathlib import Path


async def test_starts_answers_stops_and_keeps_its_data(data_dir: Path) -> None:
    engine = EmbeddedRedis(data_dir / "redis")
    engine.start()
    try:
        assert engine.url == f"unix://{data_dir}/redis/redis.sock"
        socket_path = engine.socket_path
        assert socket_path is not None
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o700
        pid = engine.pid
        assert pid is not None
        assert await redis_roundtrip(engine.url, "k", "kept") == b"kept"
    finally:
        engine.stop()
    assert engine.pid is None
    assert wait_gone([pid], timeout=5) == []
    assert (data_dir / "redis" / "appendonly.aof").exists()
    engine.stop()  # idempotent

    engine.start()
    try:
        import redis.asyncio as aioredis  # noqa: PLC0415

        client = aioredis.from_url(engine.url)
        assert await client.get("k") == b"kept"
        await client.aclose()
    finally:
        engine.stop()


async def test_long_data_dir_puts_the_socket_in_a_private_tmp_dir(data_dir: Path) -> None:
    engine = EmbeddedRedis(data_dir / ("r" * 60) / ("s" * 60) / "redis")
    engine.start()
    try:
        socket_path = engine.socket_path
        assert socket_path is not None
        assert socket_path.parent.name.startswith("loupe-")
        assert not socket_path.is_relative_to(data_dir)
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700
        assert await redis_roundtrip(engine.url) == b"v"
    finally:
        engine.stop()
    assert not socket_path.parent.exists()


def test_one_directory_one_server(data_dir: Path) -> None:
    first = EmbeddedRedis(data_dir / "redis")
    first.start()
    try:
        with pytest.raises(EngineError, match="already in use"):
            EmbeddedRedis(data_dir / "redis").start(timeout=0.5)
        assert first.pid is not None
    finally:
        first.stop()
