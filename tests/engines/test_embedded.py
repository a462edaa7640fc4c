"""EmbeddedEngines: all three together, side by side, locked, and never orphaned."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import nats
import psutil
import pytest
import redis.asyncio as aioredis
from engine_helpers import (
    STANDARD_PORTS,
    alive,
    family,
    nats_roundtrip,
    postgres_select_1,
    redis_roundtrip,
    wait_gone,
)

from api.engines import EmbeddedEngines, EngineError

if TYPE_CHECKING:
    from collections.abc import Iterator

ALL = ("postgres", "nats", "redis")
#: The parent process, and the pids and URLs it printed.
Started = tuple[subprocess.Popen[str], dict[str, Any]]
REPO = Path(__file__).resolve().parents[2]

#: What `loupe serve` will do, reduced to the engines: run them until told to stop.
PARENT = """
import json, signal, sys, time
from pathlib import Path
from api.engines import EmbeddedEngines

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with EmbeddedEngines(Path(sys.argv[1]), ["postgres", "nats", "redis"]) as engines:
    print(json.dumps({"pids": engines.pids, "urls": engines.urls}), flush=True)
    time.sleep(600)
"""


async def _all_answer(urls: dict[str, str]) -> None:
    ones, hello, value = await asyncio.gather(
        postgres_select_1(urls["postgres"]),
        nats_roundtrip(urls["nats"]),
        redis_roundtrip(urls["redis"]),
    )
    assert (ones, hello, value) == (1, b"hello", b"v")


async def test_all_three_start_answer_and_stop(data_dir: Path) -> None:
    with EmbeddedEngines(data_dir, ALL) as engines:
        assert set(engines.urls) == set(ALL)
        processes = [pid for pid in engines.pids.values() for pid in family(pid)]
        await _all_answer(engines.urls)
        names = sorted(p.name for p in data_dir.iterdir())
        assert names == [".lock", "engines.json", "nats", "postgres", "redis"]
    assert engines.pids == {}
    assert wait_gone(processes, timeout=5) == []
    engines.stop()  # safe twice


async def test_two_data_dirs_side_by_side(data_dir: Path) -> None:
    with EmbeddedEngines(data_dir / "a", ALL) as a, EmbeddedEngines(data_dir / "b", ALL) as b:
        assert set(a.urls.values()).isdisjoint(b.urls.values())
        await asyncio.gather(_all_answer(a.urls), _all_answer(b.urls))


def test_no_engine_uses_a_standard_port(data_dir: Path) -> None:
    """The real servers may own 5432/4222/6379 on this machine; ours must not need them."""
    with EmbeddedEngines(data_dir, ALL) as engines:
        nats_port = int(engines.urls["nats"].rsplit(":", 1)[1])
        for name, pid in engines.pids.items():
            for member in family(pid):
                inet = psutil.Process(member).net_connections(kind="inet")
                ports = {c.laddr.port for c in inet if c.laddr}
                assert ports.isdisjoint(STANDARD_PORTS), f"{name} uses {ports}"
                listening = {(c.laddr.ip, c.laddr.port) for c in inet if c.status == "LISTEN"}
                expected = {("127.0.0.1", nats_port)} if name == "nats" else set()
                assert listening == expected, f"{name} (pid {member}) listens on {listening}"


def test_the_data_dir_is_locked(data_dir: Path) -> None:
    with EmbeddedEngines(data_dir, ["redis"]) as first:
        second = EmbeddedEngines(data_dir, ["redis"])
        with pytest.raises(
            EngineError,
            match=rf"{re.escape(str(data_dir))} is already in use by .* \(process {os.getpid()}\)",
        ):
            second.start()
        assert second.pids == {}
        assert set(first.pids) == {"redis"}
    with EmbeddedEngines(data_dir, ["redis"]) as again:  # released on stop
        assert set(again.pids) == {"redis"}


def test_unknown_engines_are_refused(data_dir: Path) -> None:
    with pytest.raises(EngineError, match="mysql"):
        EmbeddedEngines(data_dir, ["postgres", "mysql"])


def test_nothing_to_start_touches_nothing(data_dir: Path) -> None:
    with EmbeddedEngines(data_dir / "var", []) as engines:
        assert engines.urls == {}
    assert not (data_dir / "var").exists()


def test_engines_are_started_from_the_main_thread_only(data_dir: Path) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            EmbeddedEngines(data_dir, ["redis"]).start()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert isinstance(errors[0], EngineError)
    assert "main thread" in str(errors[0])
    with EmbeddedEngines(data_dir, ["redis"]) as engines:  # and nothing was left locked
        assert set(engines.pids) == {"redis"}


# -- the parent dies ----------------------------------------------------------------------


@pytest.fixture
def parent(data_dir: Path) -> Iterator[Started]:
    """A child Python process running EmbeddedEngines(all three), and what it printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with (data_dir / "parent.err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", PARENT, str(data_dir / "var")],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=REPO,
            env=env,
        )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        assert line, f"the parent printed nothing: {(data_dir / 'parent.err').read_text()}"
        yield proc, json.loads(line)
    finally:
        proc.kill()
        proc.wait()


async def _write_something(urls: dict[str, str]) -> None:
    conn = await asyncpg.connect(urls["postgres"])
    await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('pg')")
    await conn.close()
    nc = await nats.connect(urls["nats"])
    js = nc.jetstream()
    await js.add_stream(name="KEPT", subjects=["kept.>"])
    await js.publish("kept.one", b"nats")
    await nc.close()
    client = aioredis.from_url(urls["redis"])
    await client.set("kept", "redis")
    await client.aclose()


async def _read_it_back(urls: dict[str, str]) -> None:
    conn = await asyncpg.connect(urls["postgres"])
    assert await conn.fetchval("SELECT v FROM kept") == "pg"
    await conn.close()
    nc = await nats.connect(urls["nats"])
    info = await nc.jetstream().stream_info("KEPT")
    assert info.state.messages == 1
    await nc.close()
    client = aioredis.from_url(urls["redis"])
    assert await client.get("kept") == b"redis"
    await client.aclose()


def _shut_down_cleanly(var: Path) -> None:
    """Each engine got its own clean-stop signal: no crash recovery needed next time."""
    assert "received fast shutdown request" in (var / "postgres" / "postgres.log").read_text()
    assert 'Trapped "terminated" signal' in (var / "nats" / "nats.log").read_text()
    assert "Received SIGTERM" in (var / "redis" / "redis.log").read_text()


async def test_sigkill_of_the_parent_leaves_no_orphans(data_dir: Path, parent: Started) -> None:
    proc, started = parent
    pids = [pid for pid in started["pids"].values() for pid in family(int(pid))]
    assert len(started["pids"]) == 3
    await _write_something(started["urls"])

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_gone(pids, timeout=15) == []
    _shut_down_cleanly(data_dir / "var")

    with EmbeddedEngines(data_dir / "var", ALL) as again:  # lock released, no stale state
        await _read_it_back(again.urls)


async def test_a_restart_right_after_a_kill_waits_for_the_old_engines(
    data_dir: Path, parent: Started
) -> None:
    """Each server holds its directory's lock until it has exited: never two on one store."""
    proc, started = parent
    pids = [pid for pid in started["pids"].values() for pid in family(int(pid))]
    await _write_something(started["urls"])

    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with EmbeddedEngines(data_dir / "var", ALL) as again:  # at once, while they shut down
        assert [pid for pid in pids if alive(pid)] == []
        await _read_it_back(again.urls)


async def test_sigterm_stops_the_engines_in_order_and_keeps_the_data(
    data_dir: Path, parent: Started
) -> None:
    proc, started = parent
    pids = [pid for pid in started["pids"].values() for pid in family(int(pid))]
    await _write_something(started["urls"])

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert wait_gone(pids, timeout=2) == []  # stopped before the parent exited
    _shut_down_cleanly(data_dir / "var")

    with EmbeddedEngines(data_dir / "var", ALL) as again:
        await _read_it_back(again.urls)
