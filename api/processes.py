"""The long-running processes other than the API: `loupe projector` and `loupe worker`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import uvloop
from arq import Worker
from arq.connections import ArqRedis

from api.bootstrap import open_projection_context, open_services, settle_heap
from api.settings import Settings
from projections.positions import PositionStore, Stored
from projections.rebuild import RebuildResult, rebuild
from projections.rebuild_split import Workers
from projections.registry import FACTORIES

log = logging.getLogger(__name__)


def queue_name(settings: Settings) -> str:
    """The arq queue of this Loupe installation (namespaced by the Redis prefix)."""
    return f"{settings.redis_prefix}arq:queue"


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _projector(settings: Settings, *, relay: bool) -> None:
    async with open_services(settings, processors=True, run_relay=relay):
        settle_heap()
        log.info(
            "projector running: %s (leader-elected)",
            "NATS relay and projections" if relay else "projections",
        )
        await _until_signalled()
        log.info("projector stopping")


def run_projector(settings: Settings, *, relay: bool = True) -> None:
    uvloop.run(_projector(settings, relay=relay))


async def rebuild_projection(
    settings: Settings,
    name: str,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = 1,
) -> RebuildResult:
    """`loupe projections rebuild NAME`: refill from position 0 and swap in, while serving;
    in ``workers`` processes where the projection can be split."""
    factory = FACTORIES[name]
    assert settings.database_url is not None
    async with open_projection_context(settings) as (context, pool):
        return await rebuild(
            factory(context),
            context.store,
            pool,
            context.read_schema,
            on_progress=progress,
            workers=Workers(settings.database_url, workers),
        )


async def projection_status(settings: Settings) -> list[tuple[str, int, int, int]]:
    """(name, position, head, version) for every projection."""
    async with open_projection_context(settings) as (context, pool):
        stored = await PositionStore(pool, context.read_schema).all()
        head = await context.store.head_position()
    return [
        (
            name,
            stored.get(name, Stored(0, 0)).position,
            head,
            stored.get(name, Stored(0, 0)).version,
        )
        for name in FACTORIES
    ]


async def probe(ctx: dict[str, Any]) -> dict[str, Any]:
    """A job that proves a worker is alive end to end (enqueue → run → result)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "job_try": ctx.get("job_try")}


#: Every job the worker runs. Exports and subscriptions add theirs here.
JOBS = [probe]


def build_worker(settings: Settings, redis: ArqRedis, *, handle_signals: bool = True) -> Worker:
    return Worker(
        functions=JOBS,
        redis_pool=redis,
        queue_name=queue_name(settings),
        handle_signals=handle_signals,
        health_check_interval=30,
    )


async def _worker(settings: Settings) -> None:
    if settings.redis_url is None:
        raise RuntimeError("no Redis URL")
    redis = ArqRedis.from_url(settings.redis_url)
    worker = build_worker(settings, redis, handle_signals=False)
    try:
        task = asyncio.create_task(worker.async_run())
        await _until_signalled()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await worker.close()
        await redis.aclose()


def run_worker(settings: Settings) -> None:
    log.info("worker running on queue %s", queue_name(settings))
    asyncio.run(_worker(settings))
