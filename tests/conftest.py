"""Fixtures shared by the whole suite.

The suite runs against real engines. For each of PostgreSQL, NATS (JetStream) and Redis it uses,
in order: the URL in ``LOUPE_TEST_DATABASE_URL`` / ``LOUPE_TEST_NATS_URL`` /
``LOUPE_TEST_REDIS_URL``; the server on the standard local port when one answers; otherwise an
embedded engine that this session starts (and stops) itself (``LOUPE_TEST_EMBEDDED=1`` forces
the embedded engines for all three). A part that cannot be tested fails
loudly: nothing is skipped.

Each test gets its own PostgreSQL schema, JetStream stream + subject prefix and Redis key
prefix, so no test can see another's state or state left by an earlier run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
import redis.asyncio as aioredis

from api.settings import Settings

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
LOCAL_NATS = "nats://127.0.0.1:4222"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class EngineUrls:
    postgres: str
    nats: str
    redis: str
    #: Which of them this test session started itself (the rest were already running).
    embedded: tuple[str, ...]


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


async def _postgres_answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def _jetstream_answers(url: str) -> bool:
    try:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    except Exception:
        return False
    try:
        await nc.jetstream().account_info()
    except Exception:
        return False
    finally:
        await nc.close()
    return True


async def _redis_answers(url: str) -> bool:
    client = aioredis.from_url(url)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def engines() -> Iterator[EngineUrls]:
    """URLs of the three engines, starting embedded ones for whatever is not running."""
    urls: dict[str, str] = {}
    checks = {
        "postgres": (
            os.environ.get("LOUPE_TEST_DATABASE_URL"),
            LOCAL_POSTGRES,
            5432,
            _postgres_answers,
        ),
        "nats": (os.environ.get("LOUPE_TEST_NATS_URL"), LOCAL_NATS, 4222, _jetstream_answers),
        "redis": (os.environ.get("LOUPE_TEST_REDIS_URL"), LOCAL_REDIS, 6379, _redis_answers),
    }
    missing: list[str] = []
    force_embedded = os.environ.get("LOUPE_TEST_EMBEDDED", "").lower() in ("1", "true", "yes")
    for name, (explicit, local, port, answers) in checks.items():
        if force_embedded:
            missing.append(name)
        elif explicit:
            if not asyncio.run(answers(explicit)):
                pytest.fail(f"{name} at {explicit} (from LOUPE_TEST_*_URL) does not answer")
            urls[name] = explicit
        elif _port_open("127.0.0.1", port) and asyncio.run(answers(local)):
            urls[name] = local
        else:
            missing.append(name)

    if not missing:
        yield EngineUrls(**urls, embedded=())
        return

    from api.engines import EmbeddedEngines  # noqa: PLC0415 - only when something is missing

    # Not under tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 whenever a session
    # starts, which would lock out the unprivileged user that PostgreSQL runs as (as root).
    data_dir = Path(tempfile.mkdtemp(prefix="loupe-test-engines-"))
    try:
        with EmbeddedEngines(data_dir, missing) as started:
            urls.update(started.urls)
            yield EngineUrls(**urls, embedded=tuple(missing))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def db_schema(engines: EngineUrls) -> AsyncIterator[str]:
    """A fresh PostgreSQL schema for this test, dropped afterwards."""
    schema = _unique("t_")
    conn = await asyncpg.connect(engines.postgres)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    yield schema
    conn = await asyncpg.connect(engines.postgres)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema}_read CASCADE")
    finally:
        await conn.close()


@dataclass(frozen=True)
class NatsNames:
    stream: str
    subject_prefix: str


@pytest.fixture
async def nats_names(engines: EngineUrls) -> AsyncIterator[NatsNames]:
    """A JetStream stream and subject prefix of this test's own; the stream is deleted after."""
    token = uuid.uuid4().hex[:16]
    names = NatsNames(stream=f"T_{token}", subject_prefix=f"t_{token}")
    yield names
    nc = await nats.connect(engines.nats)
    try:
        await nc.jetstream().delete_stream(names.stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture
async def redis_prefix(engines: EngineUrls) -> AsyncIterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted after."""
    prefix = _unique("t:") + ":"
    yield prefix
    client = aioredis.from_url(engines.redis)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def settings(
    engines: EngineUrls,
    db_schema: str,
    nats_names: NatsNames,
    redis_prefix: str,
    tmp_path: Path,
) -> Settings:
    """Settings that point a Loupe app at this test's own schema, stream and key prefix."""
    return msgspec.structs.replace(
        Settings(),
        data_dir=tmp_path / "var",
        database_url=engines.postgres,
        nats_url=engines.nats,
        redis_url=engines.redis,
        database_schema=db_schema,
        nats_stream=nats_names.stream,
        nats_subject_prefix=nats_names.subject_prefix,
        redis_prefix=redis_prefix,
        dev_auth=True,
    )


@pytest.fixture
async def loupe(settings: Settings) -> AsyncIterator[Any]:
    """A running Loupe (HTTP + WebSocket + relay + projections) on this test's own engines state."""
    from tests.server import running_loupe  # noqa: PLC0415

    async with running_loupe(settings) as running:
        yield running


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    directory: Path


S3RVER = Path(__file__).resolve().parent / "s3" / "node_modules" / ".bin" / "s3rver"


@pytest.fixture
def s3_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """A real S3-compatible server (s3rver) on a free port with an empty bucket, and the
    AWS_* credentials it accepts in the environment."""
    if not S3RVER.exists():
        pytest.fail(f"{S3RVER} is missing: `make test` installs it (npm ci in tests/s3)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    directory = tmp_path / "s3"
    directory.mkdir()
    process = subprocess.Popen(
        [
            str(S3RVER),
            "-d",
            str(directory),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--silent",
            "--configure-bucket",
            "loupe",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not _port_open("127.0.0.1", port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"s3rver did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.05)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "S3RVER")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
        yield S3Server(endpoint=f"http://127.0.0.1:{port}", bucket="loupe", directory=directory)
    finally:
        process.terminate()
        process.wait(10)
