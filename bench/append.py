"""Append throughput of report edits through the command path, beside the machine's limits.

Every Loupe scenario goes through the real ``ReportHandler.handle_batch`` (lock per report,
authorize, decide, stamp, apply, append through ``EventStore``), built the way
``api/bootstrap.py`` builds it (store pool of 8, ``Authorizer``, a ``ServerClock``, the
metrics callback). What a real server would already have decoded (the command structs) is
built once and reused; every batch still gets its own ``command_id``, is decided, stamped and
appended.

Baselines, measured in the same run and shown in the same table:

* raw asyncpg: one single-row ``INSERT`` per transaction (autocommit) into a table with the
  events table's columns and types, a ~170 B ``bytea`` payload, a ``bigserial`` position and
  ``UNIQUE (stream_id, version)``; 1 connection, and 16 tasks over an 8-connection pool (no
  reset query on release, like the store's pool). The machine's limit.
* the eventsourcing library's own PostgreSQL application (psycopg, a table lock per append):
  the peer.

Each scenario runs ``--seconds`` (after one ``--warmup`` round of every scenario), ``--runs``
times; the rounds are interleaved (every scenario once per round) so that a noisy neighbour
hits all scenarios alike. The table shows the median events/s.

Before each measured round the bench ANALYZEs its tables, as autovacuum would on a running
server (the development server has autovacuum off). Without statistics, the store's cached
plan for its expected-version check reads the whole stream on every append, and the results
would depend on how long the streams have grown; ``--no-analyze`` shows that case.

    .venv/bin/python bench/append.py [--database-url URL] [--seconds 3] [--runs 3]
                                     [--warmup 1] [--only SUBSTRING ...] [--no-analyze]
                                     [--json PATH]

Everything lives in a fresh schema ``bench_<hex>`` that is dropped at the end, also on Ctrl-C.
"""

# ruff: noqa: S608 - the only interpolated identifier is this run's own schema name,
# generated here (bench_<hex>); every value is a bind parameter.

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import signal
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import uvloop
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from api.metrics import Metrics
from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.eventstore import EventStore, connect_store
from commands.report import (
    AddPage,
    AddVisual,
    CommandBatch,
    CreateReport,
    MoveVisual,
    ReportCommand,
    SetProperty,
)
from commands.reports import ReportHandler
from commands.workspace import CreateWorkspace
from commands.workspaces import WorkspaceHandler

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
STORE_POOL_SIZE = 8
RAW_POOL_SIZE = 8
#: The raw baseline's payload, about the size of a report event's JSON.
RAW_PAYLOAD = (
    b'{"visual_id":"7d1c3f0e-8a52-4b8e-9a57-2f0c1d5e6b7a","x":12,"y":40,"w":6,"h":4,'
    b'"key":"a0V","title":"Revenue by region and quarter","theme":"contrast-dark","pad":"xx"}'
)
RAW_TARGET = "raw asyncpg INSERT, 8 connections"


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    text: str
    check: Callable[[float, float | None], bool | None]  # (median, raw-8 median) -> met?


def at_least_share_of_raw(share: float) -> Target:
    def check(median: float, raw: float | None) -> bool | None:
        return None if raw is None else median >= share * raw

    return Target(f">= {share:.0%} of raw-8", check)


def at_least(rate: float) -> Target:
    return Target(f">= {rate:,.0f} events/s", lambda median, _raw: median >= rate)


@dataclass
class Scenario:
    name: str
    #: Runs the workload for about `seconds`; returns (events appended, elapsed seconds).
    run: Callable[[float], Awaitable[tuple[int, float]]]
    target: Target | None = None
    note: str = ""
    rates: list[float] = field(default_factory=list)
    #: (events, elapsed seconds, CPU seconds of this process) per run.
    samples: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None

    @property
    def client_cpu_us(self) -> float | None:
        """Median CPU time of this process (all its threads) per event, in µs."""
        per_event = [cpu / events * 1e6 for events, _, cpu in self.samples if events]
        return statistics.median(per_event) if per_event else None


async def drive(
    workers: Sequence[Callable[[float], Awaitable[int]]], seconds: float
) -> tuple[int, float]:
    """Run every worker until the deadline; events counted are those that completed, and the
    elapsed time runs until the last one finished (an in-flight append is not cut short)."""
    start = time.perf_counter()
    deadline = start + seconds
    counts = await asyncio.gather(*(worker(deadline) for worker in workers))
    return sum(counts), time.perf_counter() - start


# -- the command path ------------------------------------------------------------------------


@dataclass
class EditedReport:
    report_id: uuid.UUID
    page_id: uuid.UUID
    visual_id: uuid.UUID

    def edits(self) -> list[ReportCommand]:
        """Four edits to cycle through: two moves, two property sets (each a real change)."""
        target = f"visual:{self.visual_id}"
        return [
            MoveVisual(visual_id=self.visual_id, x=2, y=3),
            SetProperty(target=target, path="title.text", value="Revenue by region"),
            MoveVisual(visual_id=self.visual_id, x=4, y=5),
            SetProperty(target=target, path="title.text", value="Revenue by region and quarter"),
        ]


class CommandPath:
    """The composition root's command side, as api/bootstrap.py builds it (no relay, no
    projections, no HTTP: only what an append costs)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.metrics = Metrics()
        self.clock = ServerClock()
        self.authorizer = Authorizer(store)

        def count(outcome: str, events: int) -> None:
            self.metrics.command_batches.labels(outcome).inc()
            if events:
                self.metrics.events_appended.inc(events)

        self.reports = ReportHandler(store, self.authorizer, clock=self.clock, on_outcome=count)
        self.workspaces = WorkspaceHandler(store, self.authorizer, self.clock, on_outcome=count)
        self.actor = Actor(id=uuid.uuid4(), name="bench")
        self.workspace_id: uuid.UUID | None = None
        #: Events appended through the handlers (setup included), to check against the table.
        self.appended = 0

    async def setup(self) -> None:
        outcome = await self.workspaces.create(
            CreateWorkspace(name="Bench", client_id="bench-setup"), self.actor
        )
        self.workspace_id = outcome.workspace_id
        self.appended += len(outcome.events)

    async def new_report(self, name: str) -> EditedReport:
        assert self.workspace_id is not None
        created = await self.reports.create(
            self.workspace_id, CreateReport(name=name, client_id="bench-setup"), self.actor
        )
        page_id, visual_id = uuid.uuid4(), uuid.uuid4()
        outcome = await self.reports.handle_batch(
            created.report_id,
            CommandBatch(
                command_id=uuid.uuid4(),
                client_id="bench-setup",
                commands=[
                    AddPage(page_id=page_id, name="Overview"),
                    AddVisual(
                        visual_id=visual_id,
                        page_id=page_id,
                        visual_type="bar",
                        x=0,
                        y=0,
                        w=6,
                        h=4,
                    ),
                ],
            ),
            self.actor,
        )
        self.appended += len(created.events) + len(outcome.events)
        return EditedReport(created.report_id, page_id, visual_id)

    def editor(
        self, report: EditedReport, client_id: str, batch_size: int
    ) -> Callable[[float], Awaitable[int]]:
        """A client that sends batches of `batch_size` edits to one report, back to back."""
        edits = report.edits()
        batches = [
            [edits[(start + i) % len(edits)] for i in range(batch_size)]
            for start in range(len(edits))
        ]
        handle_batch = self.reports.handle_batch
        actor = self.actor
        report_id = report.report_id

        async def run(deadline: float) -> int:
            events = 0
            turn = 0
            while time.perf_counter() < deadline:
                outcome = await handle_batch(
                    report_id,
                    CommandBatch(
                        command_id=uuid.uuid4(),
                        client_id=client_id,
                        commands=batches[turn % len(batches)],
                    ),
                    actor,
                )
                turn += 1
                events += len(outcome.events)
            self.appended += events
            return events

        return run

    async def scenario(
        self, label: str, *, clients: int, batch_size: int, shared_report: bool = False
    ) -> Callable[[float], Awaitable[tuple[int, float]]]:
        if shared_report:
            one = await self.new_report(f"{label} (shared)")
            reports = [one] * clients
        else:
            reports = [await self.new_report(f"{label} #{i}") for i in range(clients)]
        workers = [
            self.editor(report, f"bench-{label}-{i}", batch_size)
            for i, report in enumerate(reports)
        ]
        return lambda seconds: drive(workers, seconds)


# -- raw asyncpg baseline --------------------------------------------------------------------

RAW_TABLE_SQL = """
CREATE TABLE {s}.raw_events (
    position        bigserial   PRIMARY KEY,
    stream_id       uuid        NOT NULL,
    stream_type     text        NOT NULL,
    workspace_id    uuid,
    version         bigint      NOT NULL,
    type            text        NOT NULL,
    data            bytea       NOT NULL,
    event_id        uuid        NOT NULL,
    actor           uuid,
    client_id       text,
    dot_counter     bigint,
    hlc             bigint,
    command_id      uuid,
    correlation_id  uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (stream_id, version)
)
"""

RAW_INSERT_SQL = (
    "INSERT INTO {s}.raw_events (stream_id, stream_type, workspace_id, version, type, data,"
    " event_id, actor, client_id, dot_counter, hlc, command_id, correlation_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)


async def _no_reset(_conn: Any) -> None:
    """Pool reset hook that does nothing: no extra round trip per release (as the store)."""


def raw_inserter(
    execute: Callable[..., Awaitable[Any]], sql: str, client: int
) -> Callable[[float], Awaitable[int]]:
    stream_id = uuid.uuid4()
    workspace_id = uuid.uuid4()
    actor = uuid.uuid4()
    client_id = f"raw-{client}"
    version = 0

    async def run(deadline: float) -> int:
        nonlocal version
        rows = 0
        while time.perf_counter() < deadline:
            version += 1
            command_id = uuid.uuid4()
            await execute(
                sql,
                stream_id,
                "report",
                workspace_id,
                version,
                "VisualMoved",
                RAW_PAYLOAD,
                uuid.uuid4(),
                actor,
                client_id,
                version,
                time.time_ns() >> 4,
                command_id,
                command_id,
            )
            rows += 1
        return rows

    return run


# -- eventsourcing (the peer) ----------------------------------------------------------------


def eventsourcing_env(database_url: str, schema: str) -> dict[str, str]:
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["127.0.0.1"])[0]
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or query.get("port", ["5432"])[0]),
        "POSTGRES_USER": unquote(parts.username or "") or os.environ.get("USER", "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_POOL_SIZE": "5",
    }


class BenchVisual(Aggregate):
    """The peer's aggregate: one event per call of ``move``."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.x = 0
        self.y = 0
        self.title = ""

    @event("Moved")
    def move(self, x: int, y: int, title: str) -> None:
        self.x = x
        self.y = y
        self.title = title


class BenchApp(Application[uuid.UUID]):
    pass


class Peer:
    """The eventsourcing library's PostgreSQL application, driven from plain threads."""

    def __init__(self, database_url: str, schema: str) -> None:
        # libpq (psycopg) names its connections from PGAPPNAME: lets cleanup find them.
        os.environ["PGAPPNAME"] = f"loupe-bench:{schema}"
        self.app = BenchApp(env=eventsourcing_env(database_url, schema))
        self.stop = threading.Event()

    def close(self) -> None:
        self.stop.set()
        self.app.close()

    def new_aggregate(self) -> BenchVisual:
        aggregate = BenchVisual(name="visual")
        self.app.save(aggregate)
        return aggregate

    def stored_payload_bytes(self, aggregate: Any) -> int:
        recorder = self.app.recorder
        stored = recorder.select_events(aggregate.id, desc=True, limit=1)
        return len(stored[0].state)

    def scenario(
        self, *, threads: int, events_per_save: int
    ) -> Callable[[float], Awaitable[tuple[int, float]]]:
        aggregates = [self.new_aggregate() for _ in range(threads)]
        titles = ["Revenue by region", "Revenue by region and quarter"]

        def worker(aggregate: Any, deadline: float, counts: list[int], slot: int) -> None:
            events = 0
            turn = 0
            save = self.app.save
            while time.perf_counter() < deadline and not self.stop.is_set():
                for _ in range(events_per_save):
                    turn += 1
                    aggregate.move(2 + turn % 4, 3 + turn % 4, titles[turn % 2])
                save(aggregate)
                events += events_per_save
            counts[slot] = events

        def run_threads(seconds: float) -> tuple[int, float]:
            counts = [0] * threads
            start = time.perf_counter()
            deadline = start + seconds
            pool = [
                threading.Thread(target=worker, args=(agg, deadline, counts, i), daemon=True)
                for i, agg in enumerate(aggregates)
            ]
            for thread in pool:
                thread.start()
            for thread in pool:
                thread.join()
            return sum(counts), time.perf_counter() - start

        async def run(seconds: float) -> tuple[int, float]:
            try:
                return await asyncio.to_thread(run_threads, seconds)
            except asyncio.CancelledError:
                self.stop.set()
                raise

        return run


# -- the run ---------------------------------------------------------------------------------


@dataclass
class RunInfo:
    schema: str
    database_url: str
    server_version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def wanted(name: str, only: Sequence[str]) -> bool:
    return not only or any(part.lower() in name.lower() for part in only) or name == RAW_TARGET


async def build_scenarios(
    args: argparse.Namespace, info: RunInfo, stack: contextlib.AsyncExitStack
) -> tuple[list[Scenario], CommandPath | None]:
    schema = info.schema
    s = f'"{schema}"'
    scenarios: list[Scenario] = []
    names = [
        "raw asyncpg INSERT, 1 connection",
        RAW_TARGET,
        "command path, 1 client",
        "command path, 16 clients",
        "command path, batches of 100, 1 client",
        "command path, batches of 100, 4 clients",
        "command path, 16 clients, one report",
        "eventsourcing (PostgreSQL, psycopg), 1 event/save, 1 thread",
        "eventsourcing (PostgreSQL, psycopg), 1 event/save, 4 threads",
        "eventsourcing (PostgreSQL, psycopg), 10 events/save, 1 thread",
    ]
    want = {name: wanted(name, args.only) for name in names}

    # Raw baseline.
    setup = await asyncpg.connect(args.database_url)
    try:
        await setup.execute(RAW_TABLE_SQL.format(s=s))
    finally:
        await setup.close()
    app_name = {"application_name": f"loupe-bench:{schema}"}
    insert = RAW_INSERT_SQL.format(s=s)
    if want[names[0]]:
        conn = await asyncpg.connect(args.database_url, server_settings=app_name)
        stack.push_async_callback(conn.close)
        one = [raw_inserter(conn.execute, insert, 0)]
        scenarios.append(Scenario(names[0], lambda sec: drive(one, sec)))
    raw_pool = await asyncpg.create_pool(
        args.database_url,
        min_size=RAW_POOL_SIZE,
        max_size=RAW_POOL_SIZE,
        reset=_no_reset,
        server_settings=app_name,
    )
    stack.push_async_callback(raw_pool.close)
    sixteen = [raw_inserter(raw_pool.execute, insert, i) for i in range(16)]
    scenarios.append(Scenario(RAW_TARGET, lambda sec: drive(sixteen, sec)))

    # The command path: one store and one set of handlers, like one API process.
    path: CommandPath | None = None
    if any(want[name] for name in names[2:7]):
        store = await connect_store(args.database_url, schema, max_size=STORE_POOL_SIZE)
        stack.push_async_callback(store.close)
        path = CommandPath(store)
        await path.setup()
        plans: list[tuple[str, dict[str, Any], Target | None, str]] = [
            (names[2], {"clients": 1, "batch_size": 1}, None, ""),
            (names[3], {"clients": 16, "batch_size": 1}, at_least_share_of_raw(0.5), ""),
            (names[4], {"clients": 1, "batch_size": 100}, at_least(20_000), ""),
            (names[5], {"clients": 4, "batch_size": 100}, at_least(20_000), ""),
            (
                names[6],
                {"clients": 16, "batch_size": 1, "shared_report": True},
                None,
                "informational: batches of one report take turns",
            ),
        ]
        for index, (name, params, target, note) in enumerate(plans):
            if want[name]:
                run = await path.scenario(f"s{index}", **params)
                scenarios.append(Scenario(name, run, target, note))

    # The peer.
    if any(want[name] for name in names[7:]):
        try:
            import eventsourcing.postgres  # noqa: F401, PLC0415 - needs psycopg[pool]
        except ImportError as exc:
            info.notes.append(
                f"eventsourcing rows SKIPPED: {exc} (eventsourcing.postgres needs "
                "psycopg[pool]: pip install psycopg-pool)"
            )
            return scenarios, path
        peer = await asyncio.to_thread(Peer, args.database_url, schema)
        stack.push_async_callback(asyncio.to_thread, peer.close)
        for name, threads, per_save in (
            (names[7], 1, 1),
            (names[8], 4, 1),
            (names[9], 1, 10),
        ):
            if want[name]:
                run = await asyncio.to_thread(
                    peer.scenario, threads=threads, events_per_save=per_save
                )
                scenarios.append(Scenario(name, run))
        sample = await asyncio.to_thread(peer.new_aggregate)
        await asyncio.to_thread(sample.move, 1, 2, "Revenue by region and quarter")
        await asyncio.to_thread(peer.app.save, sample)
        size = await asyncio.to_thread(peer.stored_payload_bytes, sample)
        info.notes.append(f"eventsourcing stored state of one event: {size} B")
    return scenarios, path


async def measure(args: argparse.Namespace, info: RunInfo) -> list[Scenario]:
    conn = await asyncpg.connect(args.database_url)
    try:
        info.server_version = await conn.fetchval("SHOW server_version")
        for name in ("fsync", "synchronous_commit", "shared_buffers", "autovacuum"):
            info.settings[name] = await conn.fetchval(f"SHOW {name}")
        await conn.execute(f'CREATE SCHEMA "{info.schema}"')
    finally:
        await conn.close()
    print_header(args, info)

    async with contextlib.AsyncExitStack() as stack:
        scenarios, path = await build_scenarios(args, info, stack)
        rounds = [("warm-up", args.warmup, False)] * (args.warmup > 0) + [
            (f"run {i + 1}/{args.runs}", args.seconds, True) for i in range(args.runs)
        ]
        for label, seconds, measured in rounds:
            if measured and args.analyze:
                await analyze_schema(args.database_url, info.schema)
            print(f"  {label}:", end="", flush=True)
            for scenario in scenarios:
                cpu = time.process_time()
                events, elapsed = await scenario.run(seconds)
                cpu = time.process_time() - cpu
                if measured:
                    scenario.samples.append((events, elapsed, cpu))
                    scenario.rates.append(events / elapsed)
                print(".", end="", flush=True)
            print()
        if args.analyze:
            info.notes.append(
                "every table of the bench schema was ANALYZEd before each measured round "
                f"(autovacuum is {info.settings.get('autovacuum')} on this server); "
                "--no-analyze shows a fresh, never-analyzed table instead"
            )
        if path is not None:
            await check_store(path, info)
    return scenarios


async def analyze_schema(database_url: str, schema: str) -> None:
    """ANALYZE the bench's tables, as autovacuum would on a running server (outside the
    timed runs). Plans cached in the pooled connections are re-made from the new statistics.
    """
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)
        for row in tables:
            await conn.execute(f'ANALYZE "{schema}"."{row[0]}"')
    finally:
        await conn.close()


async def check_store(path: CommandPath, info: RunInfo) -> None:
    """Every event the handlers reported is in the table (and nothing else)."""
    conn = await asyncpg.connect(info.database_url)
    try:
        rows = await conn.fetchval(f'SELECT count(*) FROM "{info.schema}".events')
        sizes = await conn.fetchrow(
            f'SELECT avg(octet_length(data))::int, max(version) FROM "{info.schema}".events'
            " WHERE stream_type = 'report'"
        )
    finally:
        await conn.close()
    ok = "ok" if rows == path.appended else "MISMATCH"
    info.checks.append(
        f"store holds {rows:,} events, the handlers reported {path.appended:,}: {ok}"
    )
    info.notes.append(
        f"command-path event payload (data column): {sizes[0]} B on average; "
        f"longest report stream at the end: {sizes[1]:,} events"
    )


# -- output ----------------------------------------------------------------------------------


def print_header(args: argparse.Namespace, info: RunInfo) -> None:
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("Loupe append benchmark (bench/append.py)")
    print(f"  date        {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  command     {command}")
    print(f"  cwd         {Path.cwd()}")
    print(
        f"  machine     {os.cpu_count()} CPUs ({platform.machine()}), load average {load} "
        "(client and server share them)"
    )
    print(
        f"  PostgreSQL  {info.server_version}"
        f" (fsync {info.settings.get('fsync')},"
        f" synchronous_commit {info.settings.get('synchronous_commit')},"
        f" shared_buffers {info.settings.get('shared_buffers')},"
        f" autovacuum {info.settings.get('autovacuum')})"
    )
    print(
        f"  client      Python {platform.python_version()}, asyncio on uvloop "
        f"{uvloop.__version__}, asyncpg {asyncpg.__version__}"
    )
    print(f"  schema      {info.schema} (dropped at the end)")
    print(
        f"  method      {args.warmup:g} s warm-up round, then {args.runs} rounds of "
        f"{args.seconds:g} s per scenario, interleaved; median events/s"
    )


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def table(scenarios: Sequence[Scenario]) -> tuple[list[str], list[dict[str, Any]]]:
    raw = next((sc.median for sc in scenarios if sc.name == RAW_TARGET), None)
    header = [
        "scenario",
        "events/s (median)",
        "runs (events/s)",
        "vs raw-8",
        "target",
        "met?",
        "client CPU/event",
    ]
    rows: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for sc in scenarios:
        median = sc.median
        ratio = None if median is None or not raw else median / raw
        met = None
        if sc.target is not None and median is not None:
            met = sc.target.check(median, raw)
        rows.append(
            [
                sc.name,
                fmt_rate(median),
                " / ".join(f"{rate:,.0f}" for rate in sc.rates),
                "—" if ratio is None else f"{ratio:.2f}",
                sc.target.text if sc.target else (sc.note and "— (info)") or "—",
                "—" if met is None else ("yes" if met else "NO"),
                "—" if sc.client_cpu_us is None else f"{sc.client_cpu_us:,.0f} µs",
            ]
        )
        records.append(
            {
                "scenario": sc.name,
                "events_per_second_median": median,
                "runs": [
                    {
                        "events": events,
                        "seconds": elapsed,
                        "events_per_second": events / elapsed,
                        "client_cpu_seconds": cpu,
                    }
                    for events, elapsed, cpu in sc.samples
                ],
                "client_cpu_us_per_event": sc.client_cpu_us,
                "ratio_to_raw_8": ratio,
                "target": sc.target.text if sc.target else None,
                "met": met,
                "note": sc.note or None,
            }
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    numeric = {1, 3, 6}

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in rows]
    return lines, records


# -- cleanup ---------------------------------------------------------------------------------


def drop_schema(database_url: str, schema: str) -> None:
    """Drop the bench schema; end this run's own leftover connections first (by the
    application names this bench and the store give them), so the drop cannot hang."""
    import psycopg  # noqa: PLC0415 - only needed here

    names = [f"loupe-bench:{schema}", f"loupe-eventstore:{schema}"]
    names.append(f"loupe-eventstore-listen:{schema}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = ANY(%s) AND pid <> pg_backend_pid()",
            (names,),
        )
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        left = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)
        ).fetchone()
    if left and left[0]:
        raise RuntimeError(f"schema {schema} is still there")


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOUPE_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL (env LOUPE_BENCH_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds (default 1)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SUBSTRING",
        help="run only scenarios whose name contains this (repeatable; raw-8 always runs)",
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="do not ANALYZE the bench tables before each measured round",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.seconds <= 0:
        parser.error("--runs must be >= 1 and --seconds > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = RunInfo(schema=f"bench_{secrets.token_hex(6)}", database_url=args.database_url)
    started = dt.datetime.now(dt.UTC)
    try:
        scenarios = uvloop.run(measure(args, info))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        # A second Ctrl-C must not leave the schema behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            drop_schema(args.database_url, info.schema)
            info.checks.append(f"schema {info.schema} dropped")
            print(f"  (schema {info.schema} dropped)", file=sys.stderr)
        except Exception as exc:  # report it, and do not hide an earlier error
            print(f"COULD NOT DROP schema {info.schema}: {exc}", file=sys.stderr)
            info.checks.append(f"schema {info.schema} NOT dropped: {exc}")
        finally:
            signal.signal(signal.SIGINT, previous)

    lines, records = table(scenarios)
    print()
    print("\n".join(lines))
    print()
    names = " ".join(sc.name for sc in scenarios)
    notes = [
        (
            "events/s = events appended / elapsed; client CPU = this process's CPU time "
            "(all threads) per event"
        ),
        (
            "raw: 1 INSERT per transaction, events-table columns, ~170 B bytea, bigserial, "
            "UNIQUE (stream_id, version); 16 tasks over 8 connections, no pool reset query"
        ),
    ]
    if "command path" in names:
        notes.append(
            "command path: ReportHandler.handle_batch (lock, authorize, decide, stamp, apply, "
            "append) over connect_store(max_size=8); no relay, projections or HTTP"
        )
    if "eventsourcing" in names:
        notes.append("eventsourcing: its PostgreSQL recorder locks the table per append")
    notes += [*info.notes, *info.checks]
    for note in notes:
        print(f"  * {note}")
    if args.json:
        document = {
            "date": started.isoformat(timespec="seconds"),
            "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
            "cpu_count": os.cpu_count(),
            "postgresql": info.server_version,
            "postgresql_settings": info.settings,
            "python": platform.python_version(),
            "event_loop": f"uvloop {uvloop.__version__}",
            "seconds": args.seconds,
            "runs": args.runs,
            "warmup": args.warmup,
            "analyze_before_runs": args.analyze,
            "schema": info.schema,
            "results": records,
            "notes": info.notes,
            "checks": info.checks,
        }
        with Path(args.json).open("w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
