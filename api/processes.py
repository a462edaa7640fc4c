"""The long-running processes other than the API: `loupe projector` and `loupe worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import uvloop
from arq import Worker, cron, func
from arq.connections import ArqRedis

from api.bootstrap import Services, open_projection_context, open_services, queue_name, settle_heap
from api.settings import Settings
from projections.positions import PositionStore, Stored
from projections.rebuild import RebuildResult, rebuild
from projections.rebuild_split import Workers
from projections.registry import FACTORIES

if TYPE_CHECKING:
    from delivery.scheduler import Scheduler

log = logging.getLogger(__name__)


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


#: Minutes of the hour at which expired export files are deleted.
SWEEP_MINUTES = frozenset(range(0, 60, 10))


def build_worker(
    settings: Settings,
    redis: ArqRedis,
    *,
    services: Services | None = None,
    handle_signals: bool = True,
) -> Worker:
    """The arq worker of this installation's queue. With ``services`` it runs the export jobs
    (and sweeps expired export files); without, only ``probe``."""
    functions: list[Any] = [probe]
    cron_jobs = []
    ctx: dict[str, Any] = {}
    if services is not None:
        from exports.service import (  # noqa: PLC0415 - charts load only where jobs run
            MAX_TRIES,
            export_report,
            sweep_exports,
        )

        ctx["services"] = services
        ctx["exports"] = services.exports
        functions.append(func(export_report, max_tries=MAX_TRIES))
        cron_jobs.append(
            cron(
                sweep_exports,
                # Cron jobs are named in Redis by name: one per installation.
                name=f"{settings.redis_prefix}sweep_exports",
                minute=set(SWEEP_MINUTES),
                run_at_startup=True,
            )
        )
    return Worker(
        functions=functions,
        cron_jobs=cron_jobs,
        redis_pool=redis,
        queue_name=queue_name(settings),
        handle_signals=handle_signals,
        health_check_interval=30,
        keep_result=60,
        ctx=ctx,
    )


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, services: Services) -> AsyncIterator[Worker]:
    """The worker running as a task of this process (``loupe serve`` with processors)."""
    if settings.redis_url is None:
        raise RuntimeError("no Redis URL")
    redis = ArqRedis.from_url(settings.redis_url)
    worker = build_worker(settings, redis, services=services, handle_signals=False)
    task = asyncio.create_task(worker.async_run(), name="worker")
    try:
        yield worker
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()
        await redis.aclose()


def build_scheduler(
    settings: Settings, services: Services, *, clock: Callable[[], datetime] | None = None
) -> Scheduler:
    """The subscriptions' delivery loop (delivery/scheduler.py) over these services; needs a
    mail server (``LOUPE_SMTP_HOST``)."""
    from commands.subscriptions import utc_now  # noqa: PLC0415
    from delivery.claims import RunClaims  # noqa: PLC0415 - only where mail is sent
    from delivery.scheduler import Scheduler  # noqa: PLC0415
    from delivery.smtp import SmtpMailer  # noqa: PLC0415
    from exports.subscriptions import SubscriptionRenderer  # noqa: PLC0415

    smtp = settings.smtp
    if smtp is None:
        raise RuntimeError("subscriptions need a mail server: set LOUPE_SMTP_HOST")
    return Scheduler(
        handler=services.subscriptions,
        claims=RunClaims(services.pool, settings.database_schema, settings.read_schema),
        render=SubscriptionRenderer(services.documents, services.charts),
        mailer=SmtpMailer(smtp),
        public_url=settings.public_url,
        clock=clock or utc_now,
    )


@contextlib.asynccontextmanager
async def running_scheduler(settings: Settings, services: Services) -> AsyncIterator[None]:
    """Subscriptions' deliveries as a task of this process, when a mail server is configured
    (``LOUPE_SMTP_HOST``); several processes may run one: each run is claimed by one of them."""
    if settings.smtp is None:
        log.info("no LOUPE_SMTP_HOST: subscriptions are kept but not sent")
        yield
        return
    scheduler = build_scheduler(settings, services)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop), name="subscriptions")
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


async def _worker(settings: Settings) -> None:
    async with (
        open_services(settings, processors=False) as services,
        running_worker(settings, services),
        running_scheduler(settings, services),
    ):
        settle_heap()
        await _until_signalled()


def run_worker(settings: Settings) -> None:
    log.info("worker running on queue %s", queue_name(settings))
    uvloop.run(_worker(settings))
