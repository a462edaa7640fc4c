"""The composition root: builds every part of Loupe from the settings, for the app, the
background processes, the tests and the benchmarks alike."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as aioredis
from nats.aio.client import Client as NatsClient

import delivery
import projections
import sync
from api.metrics import Metrics
from api.settings import Settings
from commands.authorization import Authorizer
from commands.clock import ServerClock
from commands.datasets import DatasetHandler
from commands.eventstore import EventStore, RecordedEvent, connect_store, migrate
from commands.reports import ReportHandler
from commands.subscriptions import SubscriptionHandler
from commands.users import UserDirectory
from commands.workspaces import WorkspaceHandler
from projections.rebuild import rebuild
from projections.registry import FACTORIES, Factory, ProjectionContext
from projections.runner import ProjectionRunner, lag_seconds
from sync.bus import EventBus, connect_nats
from sync.live import LiveHub
from sync.relay import Relay

if TYPE_CHECKING:
    # Imported where the app opens them: the projector and rebuild workers need none of the
    # data side (DuckDB, Arrow, the connectors).
    from api.data_side import DataSide
    from exports.charts import VisualCharts
    from exports.documents import ReportDocuments
    from exports.service import Exports

log = logging.getLogger(__name__)

#: Component → its migrations directory. Order matters: the event store first.
MIGRATIONS: tuple[tuple[str, Path | None], ...] = (
    ("eventstore", None),
    ("sync", Path(sync.__file__).parent / "migrations"),
    ("projections", Path(projections.__file__).parent / "migrations"),
    ("delivery", Path(delivery.__file__).parent / "migrations"),
)


def queue_name(settings: Settings) -> str:
    """The arq queue of this Loupe installation (namespaced by the Redis prefix)."""
    return f"{settings.redis_prefix}arq:queue"


@contextlib.asynccontextmanager
async def open_exports(
    settings: Settings,
    store: EventStore,
    pool: asyncpg.Pool,
    redis: aioredis.Redis,
    data: DataSide,
) -> AsyncIterator[tuple[ReportDocuments, VisualCharts, Exports]]:
    """Reports drawn (exports/): documents at a version, visuals as charts, and export jobs
    (their records in Redis, their files in the blob store, their queue on arq)."""
    from arq.connections import ArqRedis  # noqa: PLC0415 - see the data side's import

    from charts.render import configure_render_workers, default_render_workers  # noqa: PLC0415
    from exports.charts import VisualCharts  # noqa: PLC0415
    from exports.documents import ReportDocuments  # noqa: PLC0415
    from exports.pages import StoredReportPages  # noqa: PLC0415
    from exports.records import ExportRecords  # noqa: PLC0415
    from exports.service import Exports  # noqa: PLC0415

    workers = settings.render_workers
    configure_render_workers(
        default_render_workers() if workers is None else workers, timeout=settings.render_timeout
    )
    queue = ArqRedis.from_url(_require(settings.redis_url, "REDIS"))
    try:
        documents = ReportDocuments(pool, store, settings.read_schema)
        charts = VisualCharts(pool, settings.read_schema, data.engine)
        exports = Exports(
            ExportRecords(redis, settings.redis_prefix),
            data.blobs,
            StoredReportPages(documents, charts),
            queue=queue,
            queue_name=queue_name(settings),
            work_dir=data.work_dir,
        )
        yield documents, charts, exports
    finally:
        await queue.aclose()


def _require(url: str | None, what: str) -> str:
    if url is None:
        raise RuntimeError(f"no {what} URL: start the embedded engines or set LOUPE_{what}_URL")
    return url


async def migrate_all(settings: Settings) -> list[str]:
    """Apply every component's pending migrations (idempotent, safe to run concurrently)."""
    conn = await asyncpg.connect(_require(settings.database_url, "DATABASE"))
    applied: list[str] = []
    try:
        for component, directory in MIGRATIONS:
            if directory is None:
                applied += await migrate(conn, settings.database_schema)
            else:
                schema = (
                    settings.read_schema if component == "projections" else settings.database_schema
                )
                applied += await migrate(conn, schema, component, directory)
    finally:
        await conn.close()
    return applied


@contextlib.asynccontextmanager
async def open_projection_context(
    settings: Settings,
) -> AsyncIterator[tuple[ProjectionContext, asyncpg.Pool]]:
    """Just what projections need (for `loupe projections ...`): store, pool, Redis."""
    database_url = _require(settings.database_url, "DATABASE")
    await migrate_all(settings)
    async with contextlib.AsyncExitStack() as stack:
        store = await connect_store(database_url, settings.database_schema, run_migrations=False)
        stack.push_async_callback(store.close)
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        redis = aioredis.Redis.from_url(_require(settings.redis_url, "REDIS"))
        stack.push_async_callback(redis.aclose)
        context = ProjectionContext(
            store=store,
            read_schema=settings.read_schema,
            redis=redis,
            redis_prefix=settings.redis_prefix,
        )
        yield context, pool


def settle_heap() -> None:
    """Call once a long-running process (serve, projector) has started: what exists now
    (modules, the app, connections, caches) lives as long as the process, so it is moved out
    of the cyclic garbage collector's view (``gc.freeze``). A full collection then walks only
    what was allocated since — a time-travel read restores tens of thousands of objects, and
    a full collection over the whole heap was its p99 — and the forked-off pages of a process
    stay shared longer. Garbage made before is collected first."""
    gc.collect()
    gc.freeze()


@dataclass(eq=False)
class Services:
    settings: Settings
    store: EventStore
    pool: asyncpg.Pool
    nats: NatsClient
    bus: EventBus
    redis: aioredis.Redis
    metrics: Metrics
    clock: ServerClock
    authorizer: Authorizer
    reports: ReportHandler
    workspaces: WorkspaceHandler
    datasets: DatasetHandler
    data: DataSide
    #: Reports drawn: their documents at a version, their visuals as charts, export jobs.
    documents: ReportDocuments
    charts: VisualCharts
    exports: Exports
    subscriptions: SubscriptionHandler
    users: UserDirectory
    relay: Relay
    hub: LiveHub
    projections: dict[str, ProjectionRunner]
    processors: bool
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: Last values read for the scrape-time gauges.
    head_position: int = 0

    @property
    def schema(self) -> str:
        return self.settings.database_schema

    @property
    def read_schema(self) -> str:
        return self.settings.read_schema

    async def ping_postgres(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def ping_nats(self) -> None:
        if not self.nats.is_connected:
            raise ConnectionError(f"not connected (status {self.nats._status})")  # noqa: SLF001
        await self.nats.flush(timeout=1)

    async def ping_redis(self) -> None:
        await self.redis.ping()

    async def refresh_gauges(self) -> None:
        self.head_position = await self.store.head_position()

    def start_processors(self, *, relay: bool = True, projections: bool = True) -> None:
        """Run the relay and the projections in this process (each leader-elected)."""
        if relay:
            self.tasks.append(asyncio.create_task(self.relay.run(self.stop), name="relay"))
        if not projections:
            return
        for runner in self.projections.values():
            self.tasks.append(
                asyncio.create_task(runner.run(self.stop), name=f"projection:{runner.name}")
            )


def _register_gauges(services: Services) -> None:
    metrics = services.metrics

    def relay_lag() -> list[tuple[dict[str, str], float]]:
        if not services.relay.is_leader:
            return []
        return [({}, float(max(0, services.head_position - services.relay.position)))]

    def projection_lag() -> list[tuple[dict[str, str], float]]:
        return [
            ({"projection": name}, float(max(0, services.head_position - runner.position)))
            for name, runner in services.projections.items()
            if runner.is_leader
        ]

    metrics.gauge(
        "loupe_relay_lag_positions",
        "Positions between the newest safe event and the last one acknowledged by NATS",
        relay_lag,
    )
    metrics.gauge(
        "loupe_projection_lag_positions",
        "Positions between the newest safe event and a projection's position",
        projection_lag,
    )
    metrics.gauge(
        "loupe_live_connections",
        "WebSocket connections on this process",
        lambda: [({}, float(services.hub.connection_count))],
    )


def _runner(
    factory: Factory, context: ProjectionContext, pool: asyncpg.Pool, metrics: Metrics
) -> ProjectionRunner:
    def observe(name: str, events: list[RecordedEvent]) -> None:
        histogram = metrics.projection_lag.labels(name)
        for seconds in lag_seconds(events):
            histogram.observe(seconds)

    return ProjectionRunner(
        factory(context),
        context.store,
        pool,
        context.read_schema,
        on_batch=observe,
        rebuild=lambda: rebuild(factory(context), context.store, pool, context.read_schema),
    )


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    processors: bool = True,
    run_relay: bool = True,
    run_projections: bool = True,
    metrics: Metrics | None = None,
) -> AsyncIterator[Services]:
    """Everything the app needs, connected; closed in reverse order on exit.

    ``processors``: run background processors here — the relay and the projections, unless
    ``run_relay`` or ``run_projections`` says otherwise (another process runs them; reads that wait
    for a position then watch the stored positions)."""
    database_url = _require(settings.database_url, "DATABASE")
    async with contextlib.AsyncExitStack() as stack:
        await migrate_all(settings)
        store = await connect_store(
            database_url,
            settings.database_schema,
            max_size=settings.database_pool_size,
            run_migrations=False,
        )
        stack.push_async_callback(store.close)
        pool = await asyncpg.create_pool(
            database_url, min_size=1, max_size=settings.database_pool_size
        )
        stack.push_async_callback(pool.close)
        nc = await connect_nats(_require(settings.nats_url, "NATS"))
        stack.push_async_callback(nc.close)
        bus = EventBus(
            nc,
            stream=settings.nats_stream,
            subject_prefix=settings.nats_subject_prefix,
            max_age=settings.nats_max_age,
        )
        await bus.ensure_stream()
        redis = aioredis.Redis.from_url(_require(settings.redis_url, "REDIS"))
        stack.push_async_callback(redis.aclose)

        metrics = metrics or Metrics()
        clock = ServerClock()
        authorizer = Authorizer(store)

        def count(outcome: str, events: int) -> None:
            metrics.command_batches.labels(outcome).inc()
            if events:
                metrics.events_appended.inc(events)

        reports = ReportHandler(store, authorizer, clock=clock, on_outcome=count)
        workspaces = WorkspaceHandler(store, authorizer, clock, on_outcome=count)
        datasets = DatasetHandler(store, authorizer, clock, on_outcome=count)
        subscriptions = SubscriptionHandler(store, authorizer, reports, clock, on_outcome=count)
        from api.data_side import open_data_side  # noqa: PLC0415 - see the import above

        data = await stack.enter_async_context(open_data_side(settings, redis))
        documents, charts, exports = await stack.enter_async_context(
            open_exports(settings, store, pool, redis, data)
        )
        users = UserDirectory(store)
        relay = Relay(
            store,
            bus,
            pool,
            settings.database_schema,
            on_published=metrics.events_published.inc,
        )
        hub = LiveHub(bus)
        hub.start()
        stack.push_async_callback(hub.close)
        context = ProjectionContext(
            store=store,
            read_schema=settings.read_schema,
            redis=redis,
            redis_prefix=settings.redis_prefix,
        )
        runners = {
            name: _runner(factory, context, pool, metrics) for name, factory in FACTORIES.items()
        }
        services = Services(
            settings=settings,
            store=store,
            pool=pool,
            nats=nc,
            bus=bus,
            redis=redis,
            metrics=metrics,
            clock=clock,
            authorizer=authorizer,
            reports=reports,
            workspaces=workspaces,
            datasets=datasets,
            data=data,
            documents=documents,
            charts=charts,
            exports=exports,
            subscriptions=subscriptions,
            users=users,
            relay=relay,
            hub=hub,
            projections=runners,
            processors=processors,
        )
        _register_gauges(services)
        for runner in runners.values():
            await runner.prepare()  # the read models' tables exist before the first read
        if processors:
            services.start_processors(relay=run_relay, projections=run_projections)
        try:
            yield services
        finally:
            services.stop.set()
            if services.tasks:
                await asyncio.gather(*services.tasks, return_exceptions=True)
