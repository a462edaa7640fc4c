"""The embedded PostgreSQL: a real server through its real socket."""

from __future__ import annotations

import os
import signal
import stat
import time
from typing import TYPE_CHECKING

import asyncpg
import pytest
from engine_helpers import family, postgres_select_1, wait_gone

from api.engines import EmbeddedPostgres, EngineError
from api.engines._process import child_env, spawn, terminate

if TYPE_CHECKING:
    from pathlib import Path


async def test_starts_answers_and_stops(data_dir: Path) -> None:
    engine = EmbeddedPostgres(data_dir / "postgres")
    engine.start()
    try:
        assert engine.url == f"postgresql://postgres@/loupe?host={data_dir}/postgres/run"
        assert engine.pid is not None
        processes = family(engine.pid)
        assert await postgres_select_1(engine.url) == 1
        conn = await asyncpg.connect(engine.url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "loupe"
            assert await conn.fetchval("SHOW fsync") == "on"
            assert await conn.fetchval("SHOW listen_addresses") == ""
            assert await conn.fetchval("SELECT upper('é')") == "É"
        finally:
            await conn.close()
    finally:
        engine.stop()
    assert engine.pid is None
    assert wait_gone(processes, timeout=5) == []
    assert "database system is shut down" in engine.log_path.read_text()
    engine.stop()  # idempotent


async def test_committed_data_survives_a_crash(data_dir: Path) -> None:
    """SIGKILL leaves a stale postmaster.pid and socket lock; the next start recovers."""
    engine = EmbeddedPostgres(data_dir / "postgres")
    engine.start()
    try:
        conn = await asyncpg.connect(engine.url)
        await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('acknowledged')")
        await conn.close()
        assert engine.pid is not None
        processes = family(engine.pid)
        os.kill(engine.pid, signal.SIGKILL)
        assert wait_gone(processes) == []
        assert (engine.pgdata / "postmaster.pid").exists()
        engine.stop()

        engine.start()
        conn = await asyncpg.connect(engine.url)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == "acknowledged"
        finally:
            await conn.close()
    finally:
        engine.stop()


def test_a_live_postmaster_from_an_earlier_run_is_refused(data_dir: Path) -> None:
    """A server that holds the data files but not our lock (e.g. started by hand) is kept."""
    engine = EmbeddedPostgres(data_dir / "postgres")
    engine.start()
    argv, account = engine._command(), engine._account
    engine.stop()
    with engine.log_path.open("ab") as log:
        stray = spawn(
            argv,
            log=log,
            cwd=engine.pgdata,
            env=child_env(),
            death_signal=signal.SIGINT,
            run_as=account,
        )
    try:
        deadline = time.monotonic() + 30
        while not (engine.pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(EngineError, match=rf"\(pid {stray.pid}\) from an earlier run"):
            engine.start()
        assert engine.pid is None
        assert stray.poll() is None  # left alone
    finally:
        terminate(stray, signal.SIGINT, 10)


def test_a_failed_start_quotes_the_log_and_leaves_nothing(data_dir: Path) -> None:
    engine = EmbeddedPostgres(data_dir / "postgres")
    engine.start()
    engine.stop()
    (engine.pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(EngineError) as err:
        engine.start()
    message = str(err.value)
    assert "postgres.log" in message
    assert "incompatible with server" in message
    assert engine.pid is None


async def test_long_data_dir_puts_the_socket_in_a_private_tmp_dir(data_dir: Path) -> None:
    engine = EmbeddedPostgres(data_dir / ("d" * 60) / ("e" * 60) / "postgres")
    engine.start()
    try:
        socket_dir = engine.socket_dir
        assert socket_dir is not None
        assert socket_dir.name.startswith("loupe-")
        assert not socket_dir.is_relative_to(data_dir)
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert await postgres_select_1(engine.url) == 1
    finally:
        engine.stop()
    assert not socket_dir.exists()
