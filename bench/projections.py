"""Projections: lag under a sustained edit rate, rebuild throughput, time travel latency.

Three targets, each with baselines measured in the same run:

1. **lag** — report edits go through the real command path (``ReportHandler.handle_batch`` of
   the services ``open_services`` builds) on a paced open-loop schedule (``--rate`` events/s in
   batches of ``--batch`` commands of one report, the reports in turn) while every registered
   projection runs as ``open_services`` runs it:

   * ``in-process``: in the same process as the commands, as in ``loupe serve --projections
     in-process`` (uvloop; the NATS relay runs there too);
   * ``projector``: in a process of their own, as ``loupe serve`` runs them by default (its
     child ``loupe projector --no-relay``) and as ``loupe projector`` does beside ``loupe serve
     --no-processors`` (bench/_projections_projector.py; here the relay runs in that process
     too);

   Lag of an event = the moment the batch transaction that folded it had committed (the
   runner's ``on_batch`` hook, called right after the commit) minus the moment
   ``EventStore.append`` returned it to the command path (the store's ``append`` is wrapped:
   the client's view of the commit). A projection that folds none of the events only moves its
   position in memory; its lag is to that move. "read" is the part until the runner's
   ``read_all`` handed the event out. Target: p50 < 20 ms and p99 < 100 ms at 2,000 events/s,
   with the rate actually sustained. Baselines: a trivial projection (one INSERT per event, the
   same runner built by ``api.bootstrap._runner``) beside the registered ones, and

   * ``alone``: the trivial projection with nothing else following the log;
   * ``held``: the trivial projection beside a follower whose batch transactions stay open
     50 ms longer (asleep): what one slow projection does to every other reader of the log
     (since the event store's in-flight visibility rule, nothing beyond the CPU it uses:
     write transactions no longer hold back the safe head).

   Also printed: the CPU each process used, every projection's batch transactions (how many,
   how long they stayed open), the SQL statements the bench process sent per event, the write
   transactions open in the cluster (ours and other sessions'; under the old xmin rule they held
   back the safe head),
   and each projection's ``apply`` CPU per event with SQL stubbed (bench/_projections_cpu.py).
2. **rebuild** — ``--events`` (1,000,000) realistic report events are generated with the
   domain (bench/_projections_edits.py: decided, stamped and applied as the command path does)
   and appended with ``EventStore.append`` in batches of ``--chunk`` events per stream; then
   ``projections.rebuild.rebuild`` of every registered projection (a fresh instance from its
   factory, over the pool ``loupe projections rebuild`` uses): in this one process, and, for
   the projections that can be split, in ``--workers`` processes (default: one per CPU, as
   ``loupe projections rebuild NAME`` does). Target: >= 50,000 events/s, for the rebuild as
   the command runs it.
   Baselines: ``read_all`` of the whole log in the rebuild's batch size without folding (the
   floor), COPY of as many rows into a plain table (the write limit); for information, the
   trivial projection's rebuild and folding the report events in memory (no SQL writes).
3. **timetravel** — one report with ``--tt-events`` (100,000) events from the same generator;
   a real ``loupe serve`` child (``LOUPE_DEV_AUTH=1``, the workspace owner as the dev user)
   folds it (snapshots every 256 versions), then ``GET /reports/{id}?version=N`` for random N,
   one request at a time. Target: p99 < 50 ms. Baseline: ``GET /reports/{id}`` (the stored
   document). For information: ``?at=`` and the same reads in this process without HTTP, split
   into their steps. The documents at a dozen versions are checked against the generator's.

    .venv/bin/python bench/projections.py [--only lag|rebuild|timetravel ...] [--runs 3]
        [--rate 2000] [--batch 1] [--seconds 10] [--warmup 3] [--reports 200]
        [--mode in-process|projector|alone|held ...] [--no-projector]
        [--events 1000000] [--rebuild-reports 1000] [--chunk 1000] [--workers N]
        [--tt-events 100000] [--requests 400]
        [--database-url URL] [--nats-url URL] [--redis-url URL] [--json PATH]

Everything lives in fresh schemas ``bench_<hex>_*`` (and their ``_read`` schemas), JetStream
streams ``BENCH_<hex>_*`` and Redis keys ``loupe-bench:<hex>:*``, all removed at the end, also
on Ctrl-C. The tables of the log are ANALYZEd after generation (autovacuum is off on the
development server). Other sessions share the machine and the PostgreSQL cluster: each run
first waits (up to 60 s) for the machine to be quiet, and prints how busy it was.
"""

# ruff: noqa: E402, S608 - E402: the import path is fixed first (see below). S608: the only
# interpolated identifiers are this run's own schema names, generated here.

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This script is named like the `projections` package, and Python puts the script's folder
# first on the import path: take it off (the package must answer `import projections`) and
# put the repository root there instead (for `bench._projections_*`).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import secrets
import shlex
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import psutil
import redis.asyncio as aioredis
import uvloop
from nats.js.errors import NotFoundError

from api.auth import DEV_USER_HEADER, dev_actor
from api.bootstrap import (
    Services,
    migrate_all,
    open_projection_context,
    open_services,
    settle_heap,
)
from api.routes.reports import document_of
from api.settings import Settings
from bench._common import start_serve as start_loupe_serve
from bench._common import stop_process, tail
from bench._projections_cpu import apply_cpu
from bench._projections_edits import Generator, ReportEditor
from bench._projections_probe import (
    HELD,
    TRIVIAL,
    HeldProjection,
    LagProbe,
    TrivialProjection,
    trivial_runner,
)
from commands.authorization import Actor, Authorizer
from commands.clock import ServerClock
from commands.errors import CommandRejected
from commands.eventstore import EventStore, NewEvent, StreamRef, connect_store
from commands.report import CommandBatch, CreateReport
from commands.users import UserDirectory
from commands.workspace import CreateWorkspace
from commands.workspaces import WorkspaceHandler
from domain.errors import DomainError
from domain.report.aggregate import Report
from domain.report.events import EVENT_TYPES as REPORT_EVENT_TYPES
from domain.report.snapshot import restore
from projections.projection import Splittable, tables_for
from projections.rebuild import REBUILD_BATCH, rebuild
from projections.rebuild_split import Workers
from projections.registry import FACTORIES, ProjectionContext
from projections.report_states import SNAPSHOTS, ReportAt, fold
from projections.reports import REPORTS, ReportReadModel
from projections.runner import ProjectionRunner

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TARGETS = ("lag", "rebuild", "timetravel")
LAG_P50_MS, LAG_P99_MS = 20.0, 100.0
#: The schedule counts as sustained when this share of the scheduled events committed in the
#: measured window.
SUSTAINED_SHARE = 0.98
REBUILD_TARGET = 50_000.0
TT_P99_MS = 50.0
DEV_USER = "bench-owner@example.com"
IN_PROCESS = "in-process (serve --projections in-process)"
CHILD = "own process (serve's child, loupe projector)"
ALONE = "baseline: trivial projection alone"
HELD_MODE = "baseline: trivial beside a follower holding its transactions"
#: How long the held follower keeps each batch transaction open (asleep).
HOLD_SECONDS = 0.05
NS = 1_000_000_000


# -- small helpers ---------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) of `values`, linearly interpolated; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def yes_no(met: bool | None) -> str:  # noqa: FBT001
    return "—" if met is None else ("yes" if met else "NO")


def render(header: list[str], rows: list[list[str]], numeric: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


# -- the run and what it leaves behind -------------------------------------------------------


@dataclass
class RunInfo:
    token: str
    args: argparse.Namespace
    server_version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    #: Everything this run created, for the cleanup.
    schemas: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def redis_prefix(self) -> str:
        return f"loupe-bench:{self.token}:"

    @property
    def app_name(self) -> str:
        return f"loupe-bench-{self.token}"

    @property
    def database_url(self) -> str:
        """The URL with this run's application_name: every connection of the bench and of its
        children that does not name itself (the read-model pools) carries it, so that the
        xmin watch can tell this run's transactions from others'."""
        parts = urllib.parse.urlsplit(self.args.database_url)
        query = urllib.parse.parse_qsl(parts.query)
        query = [(k, v) for k, v in query if k != "application_name"]
        query.append(("application_name", self.app_name))
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def note(self, target: str, text: str) -> None:
        self.notes.setdefault(target, []).append(text)

    def settings_for(self, part: str) -> Settings:
        """Settings of one part of the run: its own schema, stream and subject prefix."""
        schema = f"bench_{self.token}_{part}"
        stream = f"BENCH_{self.token}_{part}"
        self.schemas += [schema, f"{schema}_read"]
        self.streams.append(stream)
        return Settings(
            database_url=self.database_url,
            nats_url=self.args.nats_url,
            redis_url=self.args.redis_url,
            database_schema=schema,
            nats_stream=stream,
            nats_subject_prefix=f"bench_{self.token}_{part}",
            redis_prefix=self.redis_prefix,
            dev_auth=True,
            log_level="WARNING",
        )


def settings_env(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    assert settings.nats_url is not None
    assert settings.redis_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOUPE_")}
    env.update(
        {
            "LOUPE_DATABASE_URL": settings.database_url,
            "LOUPE_NATS_URL": settings.nats_url,
            "LOUPE_REDIS_URL": settings.redis_url,
            "LOUPE_DATABASE_SCHEMA": settings.database_schema,
            "LOUPE_NATS_STREAM": settings.nats_stream,
            "LOUPE_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
            "LOUPE_REDIS_PREFIX": settings.redis_prefix,
            "LOUPE_DEV_AUTH": "1",
            "LOUPE_LOG_LEVEL": "WARNING",
        }
    )
    return env


def cleanup(info: RunInfo) -> None:
    """Stop the children, drop the schemas, delete the streams and the Redis keys."""
    for proc in info.children:
        with contextlib.suppress(Exception):
            stop_process(proc)
    import psycopg  # noqa: PLC0415 - only needed here

    token = info.token
    try:
        with psycopg.connect(info.args.database_url, autocommit=True) as conn:
            # Our own leftover sessions (store pools, the trivial runner's pool) would block the
            # drop: end them by the application names they carry.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
                (f"%{token}%",),
            )
            for schema in dict.fromkeys(info.schemas):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            left = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
                (f"bench\\_{token}%",),
            ).fetchone()
        info.checks.append(
            f"schemas bench_{token}_* dropped"
            if not left or not left[0]
            else f"{left[0]} schema(s) bench_{token}_* NOT dropped"
        )
    except Exception as exc:
        info.checks.append(f"COULD NOT DROP schemas bench_{token}_*: {exc}")

    async def streams_and_keys() -> None:
        try:
            nc = await nats.connect(info.args.nats_url)
            try:
                for stream in dict.fromkeys(info.streams):
                    with contextlib.suppress(NotFoundError):
                        await nc.jetstream().delete_stream(stream)
            finally:
                await nc.close()
            info.checks.append(f"JetStream streams BENCH_{token}_* deleted")
        except Exception as exc:
            info.checks.append(f"COULD NOT delete streams BENCH_{token}_*: {exc!r}")
        try:
            client = aioredis.from_url(info.args.redis_url)
            try:
                keys = [k async for k in client.scan_iter(match=f"{info.redis_prefix}*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()
            info.checks.append(f"Redis keys {info.redis_prefix}* deleted ({len(keys)})")
        except Exception as exc:
            info.checks.append(f"COULD NOT delete Redis keys {info.redis_prefix}*: {exc!r}")

    asyncio.run(streams_and_keys())


async def analyze(conn: asyncpg.Connection, *schemas: str) -> None:
    rows = await conn.fetch(
        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1)", list(schemas)
    )
    for row in rows:
        await conn.execute(f'ANALYZE "{row[0]}"."{row[1]}"')


# -- CPU accounting --------------------------------------------------------------------------


def cpu_snapshot(child: int | None) -> dict[str, Any]:
    """CPU seconds so far of: this process, the child, each postgres process, the machine."""
    own = psutil.Process().cpu_times()
    result: dict[str, Any] = {"bench": own.user + own.system, "child": 0.0}
    if child is not None:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(child).cpu_times()
            result["child"] = times.user + times.system
    postgres: dict[int, float] = {}
    result["nats"] = 0.0
    for proc in psutil.process_iter(["name"]):
        name = proc.info["name"]
        if name in ("postgres", "nats-server"):
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                if name == "postgres":
                    postgres[proc.pid] = times.user + times.system
                else:
                    result["nats"] += times.user + times.system
    result["postgres"] = postgres
    machine = psutil.cpu_times()
    result["machine"] = sum(
        getattr(machine, name, 0.0)
        for name in ("user", "nice", "system", "irq", "softirq", "steal")
    )
    result["wall"] = time.monotonic()
    return result


def cpu_cores(start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
    """Cores used between two snapshots (postgres: backends that ended in between are lost)."""
    wall = end["wall"] - start["wall"]
    cores = {k: (end[k] - start[k]) / wall for k in ("bench", "child", "nats", "machine")}
    before = start["postgres"]
    cores["postgres"] = (
        sum(seconds - before.get(pid, 0.0) for pid, seconds in end["postgres"].items()) / wall
    )
    return cores


async def wait_quiet(limit: float = 0.4, timeout: float = 60.0) -> float:
    """Wait (up to `timeout` s) until the machine's other work uses less than `limit` cores over
    a second; return what it used last. Other sessions share this machine."""
    deadline = time.monotonic() + timeout
    while True:
        busy = await asyncio.to_thread(psutil.cpu_percent, 1.0)
        cores = busy / 100 * (os.cpu_count() or 1)
        if cores < limit or time.monotonic() > deadline:
            return cores


class QueryCounter:
    """Counts the SQL statements this process sends, by statement (asyncpg's public methods
    wrapped on the Connection class: pools and stores included)."""

    METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._originals: dict[str, Any] = {}

    def name(self, query: str) -> str:
        name = self._names.get(query)
        if name is None:
            text = " ".join(query.split())
            for marker in (" FROM ", " INTO ", " TABLE ", "UPDATE "):
                if marker in text:
                    head, _, rest = text.partition(marker)
                    target = rest.split(" ")[0].split(".")[-1].strip('"(')
                    text = f"{head[:40]}{marker}{target}"
                    break
            name = self._names[query] = text[:72]
        return name

    def install(self) -> None:
        counts = self.counts
        for method in self.METHODS:
            original = getattr(asyncpg.connection.Connection, method)
            self._originals[method] = original

            def wrap(original: Any = original, method: str = method) -> Any:
                async def counted(conn: Any, query: str, *args: Any, **kwargs: Any) -> Any:
                    key = f"COPY {query}" if method == "copy_records_to_table" else self.name(query)
                    counts[key] = counts.get(key, 0) + 1
                    return await original(conn, query, *args, **kwargs)

                return counted

            setattr(asyncpg.connection.Connection, method, wrap())

    def uninstall(self) -> None:
        for method, original in self._originals.items():
            setattr(asyncpg.connection.Connection, method, original)
        self._originals.clear()

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


class XminWatch:
    """Samples, every `interval` s, the write transactions open in the whole cluster (those with
    an xid): under the old xmin rule they held back the safe head (docs/event-store.md).

    This run's own (application names carrying its token) and others' are told apart: on a shared
    server another session's long write transaction delays our projections as much as ours do.
    """

    def __init__(self, database_url: str, token: str, interval: float = 0.05) -> None:
        self.database_url = database_url
        self.token = token
        self.interval = interval
        #: (monotonic ns, oldest own xact age ms, oldest foreign age ms, the foreign one)
        self.samples: list[tuple[int, float, float, str]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        conn = await asyncpg.connect(self.database_url)
        self._task = asyncio.create_task(self._watch(conn))

    async def _watch(self, conn: asyncpg.Connection) -> None:
        try:
            while True:
                rows = await conn.fetch(
                    "SELECT application_name, datname, state,"
                    " extract(epoch FROM clock_timestamp() - xact_start) * 1000 AS age"
                    " FROM pg_stat_activity"
                    " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                )
                own, foreign, who = 0.0, 0.0, ""
                for row in rows:
                    age = float(row["age"] or 0.0)
                    if self.token in (row["application_name"] or ""):
                        own = max(own, age)
                    elif age > foreign:
                        foreign = age
                        who = f"{row['application_name'] or '?'}@{row['datname']} ({row['state']})"
                self.samples.append((time.monotonic_ns(), own, foreign, who))
                await asyncio.sleep(self.interval)
        finally:
            await conn.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def summary(self, window: tuple[int, int], at_least_ms: float = 10.0) -> dict[str, Any]:
        inside = [s for s in self.samples if window[0] <= s[0] < window[1]]
        if not inside:
            return {}
        foreign = [s for s in inside if s[2] >= at_least_ms]
        own = [s for s in inside if s[1] >= at_least_ms]
        longest = max(inside, key=lambda s: s[2])
        return {
            "samples": len(inside),
            "foreign_share": len(foreign) / len(inside),
            "foreign_max_ms": longest[2],
            "foreign_who": longest[3],
            "own_share": len(own) / len(inside),
            "own_max_ms": max(s[1] for s in inside),
        }


# ============================================================================================
# 1. lag
# ============================================================================================


@dataclass
class LagSample:
    """One run of one mode."""

    mode: str
    rate: float
    seconds: float
    #: commands (events) per batch
    batch: int = 1
    scheduled: int = 0
    committed: int = 0
    #: projection → lag (ms) of every event committed in the window that it folded/passed
    lags: dict[str, list[float]] = field(default_factory=dict)
    #: projection → "rows" (its batch committed rows) or "position" (nothing to fold)
    kinds: dict[str, str] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    #: scheduled send → the append returned (ms), events committed in the window
    append_ms: list[float] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    #: projection → commit → its read_all returned the event (ms)
    read_lags: dict[str, list[float]] = field(default_factory=dict)
    #: lags below zero: the child committed before this (busy) process saw the append return
    negative: list[float] = field(default_factory=list)
    #: statements this process sent during the CPU window (`cpu_seconds` long), by statement
    queries: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    #: projection → (batches committed in the window, events they folded)
    batches: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: projection → how long each of its batch transactions in the window took (ms)
    transactions: dict[str, list[float]] = field(default_factory=dict)
    #: XminWatch.summary of the window: write transactions open, ours and others'
    xmin: dict[str, Any] = field(default_factory=dict)
    #: cores the machine used just before the run (see wait_quiet)
    quiet: float = 0.0

    @property
    def achieved(self) -> float:
        return self.committed / self.seconds


class CommitClock:
    """Wraps a store's ``append``: the moment each event's append returned (its commit)."""

    def __init__(self, store: EventStore) -> None:
        self.at: dict[int, int] = {}
        original = store.append
        at = self.at

        async def append(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            now = time.monotonic_ns()
            for event in result.events:
                at[event.position] = now
            return result

        store.append = append  # type: ignore[method-assign]


async def lag_setup(
    services: Services, reports: int, seed: int
) -> tuple[Actor, list[ReportEditor]]:
    """A workspace and `reports` reports with pages, visuals and bindings (command path)."""
    actor = Actor(id=uuid.uuid4(), name="bench")
    created = await services.workspaces.create(CreateWorkspace(name="Bench lag"), actor)
    editors = []
    for index in range(reports):
        editor = ReportEditor(uuid.uuid4(), random.Random(seed * 1_000_003 + index))
        await services.reports.create(
            created.workspace_id,
            CreateReport(name=f"Report {index}", id=editor.report_id, client_id="bench-setup"),
            actor,
        )
        await services.reports.handle_batch(
            editor.report_id,
            CommandBatch(
                command_id=uuid.uuid4(),
                client_id=f"bench-tab-{index}",
                commands=editor.layout_commands(),
            ),
            actor,
        )
        editors.append(editor)
    return actor, editors


async def paced_edits(  # noqa: PLR0917 - the run's parts
    services: Services,
    actor: Actor,
    editors: list[ReportEditor],
    sample: LagSample,
    clock: CommitClock,
    warmup: float,
    on_window: Callable[[str], Any],
) -> tuple[int, int]:
    """Send batches of `sample.batch` commands at `sample.rate` events/s (open loop) for
    warmup + seconds, to the reports in turn; returns the measured window (monotonic ns).

    Each batch is made when its send is due, in schedule order, so the batches of one report
    are decided in the order they were made (the handler's per-report lock is FIFO).
    """
    handle = services.reports.handle_batch
    size = sample.batch
    interval = NS * size / sample.rate
    total = int(sample.rate * (warmup + sample.seconds) / size)
    start = time.monotonic_ns() + NS // 20
    window = (start + int(warmup * NS), start + int((warmup + sample.seconds) * NS))
    sent: list[tuple[int, list[int]]] = []
    tasks: set[asyncio.Task[None]] = set()

    async def send(index: int, due: int, commands: list[Any]) -> None:
        editor = editors[index % len(editors)]
        try:
            outcome = await handle(
                editor.report_id,
                CommandBatch(
                    command_id=uuid.uuid4(),
                    client_id=f"bench-tab-{index % len(editors)}",
                    commands=commands,
                ),
                actor,
            )
        except (CommandRejected, DomainError):
            sample.rejected += 1
            return
        except Exception as exc:
            if len(sample.errors) < 5:
                sample.errors.append(repr(exc))
            return
        sent.append((due, [event.position for event in outcome.events]))

    async def mark(at: int, label: str) -> None:
        await asyncio.sleep(max(0, at - time.monotonic_ns()) / NS)
        await on_window(label)

    marker = asyncio.create_task(mark(window[0] - NS // 2, "start"))
    index = 0
    while index < total:
        now = time.monotonic_ns()
        due = start + int(index * interval)
        if due > now:
            await asyncio.sleep((due - now) / NS)
            continue
        while index < total and start + int(index * interval) <= now:
            due = start + int(index * interval)
            editor = editors[index % len(editors)]
            commands = [editor.next_command() for _ in range(size)]
            task = asyncio.create_task(send(index, due, commands))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if window[0] <= due < window[1]:
                sample.scheduled += size
            index += 1
    await on_window("end")
    await asyncio.gather(*tasks, marker)
    for due, positions in sent:
        for position in positions:
            committed = clock.at.get(position)
            if committed is not None and window[0] <= committed < window[1]:
                sample.append_ms.append((committed - due) / 1e6)
    return window


def lag_of(
    sample: LagSample,
    probe_records: dict[str, Any],
    commits: dict[int, int],
    window: tuple[int, int],
    folds: dict[str, Callable[[int], bool]],
) -> None:
    """Fill the sample's lags from the probe's records and the commit times."""
    in_window = sorted(p for p, t in commits.items() if window[0] <= t < window[1])
    sample.committed = len(in_window)
    for name, batches in probe_records["batches"].items():
        # When the runner's read_all first handed the event out.
        reads = sorted(probe_records["reads"].get(name, []), key=lambda r: (r[2], r[0]))
        read_last = [last for _, _, last in reads]
        read_lags = []
        for position in in_window:
            i = bisect.bisect_left(read_last, position)
            if i < len(reads) and reads[i][1] <= position:
                read_lags.append((reads[i][0] - commits[position]) / 1e6)
        sample.read_lags[name] = read_lags
        relevant = [p for p in in_window if folds[name](p)]
        windowed = [len(positions) for at, positions in batches if window[0] <= at < window[1]]
        sample.batches[name] = (len(windowed), sum(windowed))
        sample.transactions[name] = [
            took / 1e6
            for ended, took, _n in probe_records.get("transactions", {}).get(name, [])
            if window[0] <= ended < window[1]
        ]
        if batches and relevant:
            done: dict[int, int] = {}
            for at, positions in batches:
                for position in positions:
                    done.setdefault(position, at)
            lags = []
            missing = 0
            for position in relevant:
                at = done.get(position)
                if at is None:
                    missing += 1
                    continue
                lag = (at - commits[position]) / 1e6
                if lag < 0:
                    sample.negative.append(lag)
                lags.append(lag)
            sample.lags[name], sample.kinds[name], sample.missing[name] = lags, "rows", missing
            continue
        # Nothing folded: the runner only moved its position (in memory) past these events.
        advances = sorted(probe_records["advances"].get(name, []))
        positions = [position for _, position in advances]
        lags, missing = [], 0
        for position in in_window:
            i = bisect.bisect_left(positions, position)
            if i == len(positions):
                missing += 1
                continue
            lags.append((advances[i][0] - commits[position]) / 1e6)
        sample.lags[name], sample.kinds[name], sample.missing[name] = lags, "position", missing


def folds_of(services: Services, report_positions: set[int]) -> dict[str, Callable[[int], bool]]:
    """projection → does it fold the event at this position (all edits are report events)."""
    result: dict[str, Callable[[int], bool]] = {}
    for name, runner in services.projections.items():
        wanted = runner.projection.event_types
        folds_reports = wanted is None or bool(set(wanted) & set(REPORT_EVENT_TYPES))
        result[name] = (lambda p: p in report_positions) if folds_reports else (lambda _p: False)
    result[TRIVIAL] = result[HELD] = lambda _p: True
    return result


async def start_baselines(  # noqa: PLR0917 - the run's parts
    services: Services,
    settings: Settings,
    probe: LagProbe,
    runners: list[ProjectionRunner],
    pools: list[asyncpg.Pool],
    held: HeldProjection | None,
) -> None:
    """Start the trivial projection (and the held one) in this process, probed."""
    assert settings.database_url is not None
    context = ProjectionContext(
        store=services.store,
        read_schema=services.read_schema,
        redis=services.redis,
        redis_prefix=settings.redis_prefix,
    )
    for projection in (None, held) if held is not None else (None,):
        runner, pool = await trivial_runner(
            context,
            settings.database_url,
            services.metrics,
            f"loupe-bench:{settings.database_schema}",
            projection,
        )
        pools.append(pool)
        probe.attach(runner)
        runners.append(runner)
        services.tasks.append(asyncio.create_task(runner.run(services.stop)))


async def lag_run(info: RunInfo, mode: str, run: int) -> LagSample:
    args = info.args
    part = {IN_PROCESS: "lp", CHILD: "lc", ALONE: "lt", HELD_MODE: "lh"}[mode] + str(run)
    settings = info.settings_for(part)
    sample = LagSample(mode=mode, rate=args.rate, seconds=args.seconds, batch=args.batch)
    child: subprocess.Popen[bytes] | None = None
    queries = QueryCounter()
    queries.install()
    records_path = Path(tempfile.mkstemp(".json", "bench-projector-")[1])
    log_path = Path(tempfile.mkstemp(".log", "bench-projector-")[1])
    try:
        async with open_services(settings, processors=mode == IN_PROCESS) as services:
            settle_heap()  # as `loupe serve` does once started
            clock = CommitClock(services.store)
            probe = LagProbe()
            runners: list[ProjectionRunner] = []
            pools: list[asyncpg.Pool] = []
            if mode == IN_PROCESS:
                runners = list(services.projections.values())
                for runner in runners:
                    probe.attach(runner)
            if mode != CHILD:
                held = HeldProjection(HOLD_SECONDS) if mode == HELD_MODE else None
                await start_baselines(services, settings, probe, runners, pools, held)
            reader = writer = None
            if mode == CHILD:
                child, reader, writer = await start_projector(info, settings, log_path)
            try:
                actor, editors = await lag_setup(services, args.reports, seed=run)
                head = await last_position(services.store)
                await drained(runners, head, child, reader, writer, records_path)
                watch = XminWatch(info.database_url, info.token)
                await watch.start()
                cpu_marks: dict[str, dict[str, Any]] = {}
                query_marks: dict[str, dict[str, int]] = {}
                pid = child.pid if child is not None else None

                async def on_window(label: str) -> None:
                    query_marks[label] = queries.snapshot()
                    cpu_marks[label] = await asyncio.to_thread(cpu_snapshot, pid)

                try:
                    window = await paced_edits(
                        services, actor, editors, sample, clock, args.warmup, on_window
                    )
                finally:
                    await watch.stop()
                sample.xmin = watch.summary(window)
                sample.cpu = cpu_cores(cpu_marks["start"], cpu_marks["end"])
                sample.cpu_seconds = cpu_marks["end"]["wall"] - cpu_marks["start"]["wall"]
                sample.queries = {
                    name: count - query_marks["start"].get(name, 0)
                    for name, count in query_marks["end"].items()
                    if count > query_marks["start"].get(name, 0)
                }
                head = await last_position(services.store)
                ok = await drained(runners, head, child, reader, writer, records_path)
                if not ok:
                    sample.errors.append(f"a projection did not reach position {head} in 120 s")
                records = (
                    msgspec.json.decode(records_path.read_bytes())
                    if mode == CHILD
                    else probe.records()
                )
                report_positions = set(clock.at)
                lag_of(sample, records, clock.at, window, folds_of(services, report_positions))
            finally:
                if writer is not None:
                    with contextlib.suppress(Exception):
                        writer.write(b"quit\n")
                        await writer.drain()
                if child is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        await asyncio.to_thread(child.wait, 20)
                    code = await asyncio.to_thread(stop_process, child)
                    if code not in (0, None):
                        sample.errors.append(f"projector child exited {code}: {tail(log_path)}")
                services.stop.set()
                await asyncio.gather(*services.tasks, return_exceptions=True)
                for pool in pools:
                    await pool.close()
    finally:
        queries.uninstall()
        records_path.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)
    return sample


async def start_projector(
    info: RunInfo, settings: Settings, log_path: Path
) -> tuple[subprocess.Popen[bytes], asyncio.StreamReader, asyncio.StreamWriter]:
    """The `loupe projector`-like child, ready (its runners started)."""
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._projections_projector"],
        cwd=ROOT,
        env=settings_env(settings),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    info.children.append(proc)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    assert proc.stdout is not None
    assert proc.stdin is not None
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), proc.stdout)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, proc.stdin
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        line = await asyncio.wait_for(reader.readline(), 60)
    except TimeoutError:
        line = b""
    if line.strip() != b"ready":
        raise RuntimeError(f"the projector child did not start:\n{tail(log_path)}")
    return proc, reader, writer


async def drained(  # noqa: PLR0917 - the run's parts
    runners: list[ProjectionRunner],
    position: int,
    child: subprocess.Popen[bytes] | None,
    reader: asyncio.StreamReader | None,
    writer: asyncio.StreamWriter | None,
    records_path: Path,
) -> bool:
    """Every runner (here or in the child) has reached `position`."""
    reached = all(await asyncio.gather(*(r.wait_until(position, 120) for r in runners)))
    if child is not None:
        assert reader is not None
        assert writer is not None
        writer.write(f"drain {position} {records_path}\n".encode())
        await writer.drain()
        reached = reached and (await reader.readline()).strip() == b"drained"
    return reached


@dataclass
class LagRow:
    mode: str
    projection: str
    samples: list[LagSample]

    def stat(self, q: float | str, *, read: bool = False) -> float | None:
        values = []
        for sample in self.samples:
            lags = (sample.read_lags if read else sample.lags).get(self.projection, [])
            values.append(max(lags, default=None) if q == "max" else pct(lags, float(q)))
        return median(values)

    @property
    def kind(self) -> str:
        return next(
            (s.kinds[self.projection] for s in self.samples if self.projection in s.kinds), "—"
        )

    @property
    def events(self) -> int:
        return round(median(len(s.lags.get(self.projection, [])) for s in self.samples) or 0)

    @property
    def registered(self) -> bool:
        return self.projection not in (TRIVIAL, HELD)

    @property
    def met(self) -> bool | None:
        if not self.registered or self.kind != "rows":
            return None  # the baseline, or a projection with nothing to fold
        p50, p99 = self.stat(50), self.stat(99)
        if p50 is None or p99 is None:
            return None
        sustained = all(s.committed >= SUSTAINED_SHARE * s.scheduled for s in self.samples)
        return p50 < LAG_P50_MS and p99 < LAG_P99_MS and sustained


async def apply_cpu_notes(info: RunInfo) -> None:
    """Where the projections' Python time goes, apart from SQL (see bench/_projections_cpu.py)."""
    results = await apply_cpu(FACTORIES, {TRIVIAL: TrivialProjection})
    for name, rows in results.items():
        info.note(
            "lag",
            f"{name}.apply with SQL stubbed, µs of CPU / statements per event at batches of"
            f" {'/'.join(str(size) for size, _, _ in rows)}:"
            f" {' / '.join(f'{cpu:.1f}' for _, cpu, _ in rows)} µs;"
            f" {' / '.join(f'{n:.2f}' for _, _, n in rows)} statements",
        )


async def lag_target(info: RunInfo) -> list[LagSample]:
    args = info.args
    chosen = {"in-process": IN_PROCESS, "projector": CHILD, "alone": ALONE, "held": HELD_MODE}
    modes = [chosen[m] for m in args.mode or list(chosen)]
    if not args.projector:
        modes = [m for m in modes if m != CHILD]
    samples: list[LagSample] = []
    for run in range(args.runs):
        for mode in modes:
            quiet = await wait_quiet()
            print(
                f"  lag: run {run + 1}/{args.runs}, {mode} (machine busy {quiet:.2f} cores"
                " before) ...",
                end="",
                flush=True,
            )
            started = time.monotonic()
            sample = await lag_run(info, mode, run)
            sample.quiet = quiet
            samples.append(sample)
            reports = sample.lags.get("reports", [])
            trivial = sample.lags.get(TRIVIAL, [])
            print(
                f" {sample.achieved:,.0f} events/s; reports p50/p99"
                f" {fmt(pct(reports, 50))}/{fmt(pct(reports, 99))} ms;"
                f" trivial {fmt(pct(trivial, 50))}/{fmt(pct(trivial, 99))} ms"
                f" ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    await apply_cpu_notes(info)
    return samples


def lag_notes(info: RunInfo, samples: list[LagSample]) -> None:
    """Per mode: the command path, CPU, batch transactions, statements, xmin, checks."""
    for mode in dict.fromkeys(s.mode for s in samples):
        of_mode = [s for s in samples if s.mode == mode]
        append_p50 = median(pct(s.append_ms, 50) for s in of_mode)
        append_p99 = median(pct(s.append_ms, 99) for s in of_mode)
        cpu = {
            k: median(s.cpu.get(k) for s in of_mode)
            for k in ("bench", "child", "postgres", "nats", "machine")
        }
        ours = ("bench", "child", "postgres", "nats")
        others = median(s.cpu["machine"] - sum(s.cpu[k] for k in ours) for s in of_mode if s.cpu)
        info.note(
            "lag",
            f"{mode}: scheduled→append returned p50 {fmt(append_p50)} / p99 {fmt(append_p99)} ms;"
            f" scheduled {'/'.join(f'{s.scheduled:,}' for s in of_mode)},"
            f" committed in window {'/'.join(f'{s.committed:,}' for s in of_mode)};"
            f" CPU (cores of {os.cpu_count()}): bench process {fmt(cpu['bench'], 2)},"
            + (f" projector child {fmt(cpu['child'], 2)}," if mode == CHILD else "")
            + f" postgres {fmt(cpu['postgres'], 2)}, nats-server {fmt(cpu['nats'], 2)},"
            f" everything else {fmt(others, 2)} (machine {fmt(cpu['machine'], 2)});"
            f" machine busy before the runs {'/'.join(f'{s.quiet:.2f}' for s in of_mode)}",
        )
        names = list(dict.fromkeys(n for s in of_mode for n in s.batches))
        per_batch = []
        for name in names:
            counts = [s.batches.get(name, (0, 0)) for s in of_mode]
            batches_per_s = median(c[0] / s.seconds for c, s in zip(counts, of_mode, strict=True))
            size = median(c[1] / c[0] if c[0] else None for c in counts)
            took50 = median(pct(s.transactions.get(name, []), 50) for s in of_mode)
            took99 = median(pct(s.transactions.get(name, []), 99) for s in of_mode)
            if batches_per_s:
                per_batch.append(
                    f"{name} {batches_per_s:,.0f}/s of {fmt(size)} events,"
                    f" open {fmt(took50)}/{fmt(took99)} ms"
                )
        if per_batch:
            info.note(
                "lag",
                f"{mode}: batch transactions (per s, events each, held open p50/p99):"
                f" {'; '.join(per_batch)}",
            )
        statements: dict[str, float] = {}
        for s in of_mode:
            events = s.achieved * s.cpu_seconds
            for name, count in s.queries.items():
                if "pg_stat_activity" in name:
                    continue  # the xmin watch's own
                statements[name] = statements.get(name, 0.0) + count / events / len(of_mode)
        if statements:
            top = sorted(statements.items(), key=lambda item: -item[1])
            info.note(
                "lag",
                f"{mode}: SQL statements sent by the bench process per event:"
                f" {sum(statements.values()):.1f} — "
                + "; ".join(f"{v:.2f} {k}" for k, v in top[:12]),
            )
        xmin = [s.xmin for s in of_mode if s.xmin]
        if xmin:
            info.note(
                "lag",
                f"{mode}: write transactions open >= 10 ms (no longer holding back the safe"
                " head), share"
                " of 50 ms samples per run: this run's "
                + " / ".join(f"{x['own_share']:.0%} (max {x['own_max_ms']:,.0f} ms)" for x in xmin)
                + "; other sessions' "
                + " / ".join(
                    f"{x['foreign_share']:.0%}"
                    + (
                        f" (max {x['foreign_max_ms']:,.0f} ms, {x['foreign_who']})"
                        if x["foreign_max_ms"] >= 10
                        else ""
                    )
                    for x in xmin
                ),
            )
        problems = [e for s in of_mode for e in s.errors]
        rejected = sum(s.rejected for s in of_mode)
        negative = [lag for s in of_mode for lag in s.negative]
        missing = {n: sum(s.missing.get(n, 0) for s in of_mode) for n in of_mode[0].missing}
        info.checks.append(
            f"lag {mode}: rejected commands {rejected}, errors {len(problems)}"
            f"{' ' + problems[0] if problems else ''}, events never seen by a projection"
            f" {sum(missing.values())}, negative lags {len(negative)}"
            + (f" (down to {min(negative):.1f} ms)" if negative else "")
        )


def lag_table(info: RunInfo, samples: list[LagSample]) -> tuple[list[str], list[dict[str, Any]]]:
    rows: list[LagRow] = []
    for mode in dict.fromkeys(s.mode for s in samples):
        of_mode = [s for s in samples if s.mode == mode]
        names = list(dict.fromkeys(n for s in of_mode for n in s.lags))
        rows += [LagRow(mode, name, of_mode) for name in names]
    header = [
        "mode",
        "projection",
        "lag to",
        "events",
        "achieved/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "runs p99 ms",
        "read p50/p99",
        "target",
        "met?",
    ]
    lines: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for row in rows:
        achieved = median(s.achieved for s in row.samples)
        runs_p99 = " / ".join(fmt(pct(s.lags.get(row.projection, []), 99)) for s in row.samples)
        if not row.registered:
            target = "— (baseline)"
        elif row.kind != "rows":
            target = "— (folds none)"
        else:
            target = f"p50<{LAG_P50_MS:g}, p99<{LAG_P99_MS:g}"
        lines.append(
            [
                row.mode,
                row.projection,
                "row commit" if row.kind == "rows" else "position",
                fmt_int(row.events),
                fmt_int(achieved),
                fmt(row.stat(50)),
                fmt(row.stat(90)),
                fmt(row.stat(99)),
                fmt(row.stat("max")),
                runs_p99,
                f"{fmt(row.stat(50, read=True))}/{fmt(row.stat(99, read=True))}",
                target,
                yes_no(row.met),
            ]
        )
        records.append(
            {
                "mode": row.mode,
                "projection": row.projection,
                "lag_to": row.kind,
                "events_median": row.events,
                "achieved_events_per_second_median": achieved,
                "p50_ms": row.stat(50),
                "p90_ms": row.stat(90),
                "p99_ms": row.stat(99),
                "max_ms": row.stat("max"),
                "read_p50_ms": row.stat(50, read=True),
                "read_p99_ms": row.stat(99, read=True),
                "runs": [
                    {
                        "p50_ms": pct(s.lags.get(row.projection, []), 50),
                        "p90_ms": pct(s.lags.get(row.projection, []), 90),
                        "p99_ms": pct(s.lags.get(row.projection, []), 99),
                        "max_ms": max(s.lags.get(row.projection, []), default=None),
                        "events": len(s.lags.get(row.projection, [])),
                        "missing": s.missing.get(row.projection, 0),
                        "scheduled": s.scheduled,
                        "committed": s.committed,
                    }
                    for s in row.samples
                ],
                "target": target if row.registered else None,
                "met": row.met,
            }
        )
    table = render(header, lines, {3, 4, 5, 6, 7, 8, 10})
    lag_notes(info, samples)
    return table, records


# ============================================================================================
# 2. rebuild
# ============================================================================================


@dataclass
class Generated:
    events: int = 0
    report_events: int = 0
    reports: int = 0
    seconds: float = 0.0
    appends: int = 0
    rejected: int = 0
    #: report id → [(version, document)] checkpoints, for correctness checks
    checkpoints: dict[uuid.UUID, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)


async def setup_workspace(
    store: EventStore, clock: ServerClock, owner: Actor, others: int, name: str
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A workspace created by `owner` (command path), and registered users."""
    handler = WorkspaceHandler(store, Authorizer(store), clock)
    created = await handler.create(CreateWorkspace(name=name), owner)
    users = UserDirectory(store)
    actors = [owner] + [
        Actor(id=uuid.uuid4(), name=f"editor{i}@example.com") for i in range(others)
    ]
    for actor in actors:
        await users.ensure(actor, clock.next())
    return created.workspace_id, [actor.id for actor in actors]


async def generate_log(  # noqa: PLR0917 - the log's shape
    store: EventStore,
    total: int,
    reports: int,
    chunk: int,
    seed: int,
    window: int = 32,
    in_flight: int = 3,
) -> Generated:
    """About `total` report events of `reports` reports, appended `chunk` events per append.

    Reports are written round-robin over `window` reports at a time (so the log interleaves
    reports as a busy server's does, at chunk granularity); up to `in_flight` appends run while
    the next chunk is generated.
    """
    rng = random.Random(seed)
    clock = ServerClock()
    started = time.perf_counter()
    result = Generated(reports=reports)
    per_workspace = 100
    owners: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    for index in range(max(1, math.ceil(reports / per_workspace))):
        owner = Actor(id=uuid.uuid4(), name=f"owner{index}@example.com")
        owners.append(await setup_workspace(store, clock, owner, 3, f"Workspace {index}"))
    average = total // reports
    lengths = [rng.randint(average // 2, average * 3 // 2) for _ in range(reports)]
    lengths[-1] = max(50, lengths[-1] + total - sum(lengths))
    pending = list(range(reports))
    active: list[tuple[int, Generator, StreamRef]] = []
    previous: dict[uuid.UUID, asyncio.Task[None]] = {}
    tasks: list[asyncio.Task[None]] = []
    slots = asyncio.Semaphore(in_flight)

    async def append(
        stream: StreamRef, version: int, events: list[NewEvent], after: asyncio.Task[None] | None
    ) -> None:
        try:
            if after is not None:
                await after  # the report's previous chunk
            await store.append(stream, version, events, command_id=uuid.uuid4())
        finally:
            slots.release()

    while pending or active:
        while pending and len(active) < window:
            index = pending.pop(0)
            workspace_id, actors = owners[index // per_workspace]
            generator = Generator(
                uuid.uuid4(), workspace_id, actors, random.Random(rng.getrandbits(64)), clock
            )
            stream = StreamRef(
                stream_id=generator.report_id, stream_type="report", workspace_id=workspace_id
            )
            active.append((index, generator, stream))
        index, generator, stream = active.pop(0)
        version, length = generator.version, lengths[index]
        if version == 0:
            events = generator.start(f"Report {index}")
            events += generator.edits(max(0, min(chunk, length) - len(events)))
        else:
            events = generator.edits(min(chunk, length - version))
        await slots.acquire()
        task = asyncio.create_task(
            append(stream, version, events, previous.get(generator.report_id))
        )
        previous[generator.report_id] = task
        tasks.append(task)
        result.appends += 1
        result.report_events += len(events)
        if generator.version < length:
            active.append((index, generator, stream))
        else:
            result.rejected += generator.rejected
    await asyncio.gather(*tasks)
    result.seconds = time.perf_counter() - started
    result.events = await last_position(store)
    return result


@dataclass
class Timed:
    name: str
    target: bool
    note: str = ""
    seconds: list[float] = field(default_factory=list)
    events: int = 0


async def last_position(store: EventStore) -> int:
    """The highest position appended. Not `head_position()`: that is the SAFE head, which any
    open write transaction anywhere in the cluster holds back (docs/event-store.md)."""
    return int(await store._pool.fetchval(f'SELECT max(position) FROM "{store.schema}".events'))  # noqa: SLF001


async def read_floor(store: EventStore) -> int:
    position, count = 0, 0
    while events := await store.read_all(after_position=position, limit=REBUILD_BATCH):
        position = events[-1].position
        count += len(events)
    return count


async def fold_in_memory(store: EventStore) -> int:
    """Read the log and fold every report event into in-memory Reports (no snapshots, no SQL
    writes, no documents): the reports projection's Python floor."""
    reports: dict[uuid.UUID, ReportAt] = {}
    position, count = 0, 0
    while events := await store.read_all(after_position=position, limit=REBUILD_BATCH):
        position = events[-1].position
        count += len(events)
        for event in events:
            if event.type not in REPORT_EVENT_TYPES:
                continue
            state = reports.get(event.stream_id)
            if state is None:
                state = reports[event.stream_id] = ReportAt(Report(event.stream_id), 0, 0, None)
            fold(state, [event])
    return count


async def copy_limit(
    conn: asyncpg.Connection, schema: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    table = f'"{schema}".copy_baseline'
    await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.execute(
        f"CREATE TABLE {table} (position bigint PRIMARY KEY, stream_id uuid NOT NULL,"
        " version bigint NOT NULL, type text NOT NULL, data bytea NOT NULL)"
    )
    await conn.copy_records_to_table(
        "copy_baseline",
        schema_name=schema,
        records=rows,
        columns=["position", "stream_id", "version", "type", "data"],
    )


async def rebuild_target(info: RunInfo) -> tuple[list[Timed], Generated]:
    args = info.args
    settings = info.settings_for("rb")
    rows: list[Timed] = []
    async with open_projection_context(settings) as (context, pool):
        store = context.store
        print(f"  rebuild: generating {args.events:,} events ...", end="", flush=True)
        generated = await generate_log(store, args.events, args.rebuild_reports, args.chunk, seed=7)
        print(f" {generated.events:,} in {generated.seconds:.0f} s", flush=True)
        async with pool.acquire() as conn:
            await analyze(conn, settings.database_schema)
            sizes = await conn.fetchrow(
                f"SELECT count(*), avg(octet_length(data))::int,"
                f" pg_total_relation_size('\"{settings.database_schema}\".events')"
                f' FROM "{settings.database_schema}".events'
            )
        total = sizes[0]
        floor = Timed("read_all in batches of 5,000, no fold (the floor)", target=False)
        copy = Timed("COPY of as many rows into a plain table (the write limit)", target=False)
        memory = Timed("read + fold report events in memory (reports' Python floor)", target=False)
        splittable = {
            name for name, factory in FACTORIES.items() if isinstance(factory(context), Splittable)
        }
        workers = Workers(info.database_url, args.workers)
        # As `loupe projections rebuild NAME` runs it: split where the projection allows.
        by_name = {
            name: Timed(
                f"rebuild {name}"
                + (f" ({args.workers} processes)" if name in splittable else " (1 process)"),
                target=True,
            )
            for name in FACTORIES
        }
        single = {
            name: Timed(f"rebuild {name} in 1 process", target=False)
            for name in FACTORIES
            if name in splittable
        }
        trivial = Timed("rebuild bench_trivial (one INSERT per event)", target=False)
        every = Timed(f"all {len(FACTORIES)} registered, in sequence (information)", target=False)
        rows = [floor, copy, *by_name.values(), every, *single.values(), trivial, memory]
        sample = await store.read_all(after_position=0, limit=1000)
        payload = max((e.data for e in sample), key=len)
        streams = [uuid.uuid4() for _ in range(1000)]

        def copy_rows() -> Iterator[tuple[Any, ...]]:
            # Made while copied: a million tuples held in this process would slow every
            # collection of its garbage collector (and so the in-process rebuilds below).
            for position in range(1, total + 1):
                yield (position, streams[position % 1000], position, "PropertySet", payload)

        for run in range(args.runs):
            quiet = await wait_quiet()
            print(
                f"  rebuild: run {run + 1}/{args.runs} (machine busy {quiet:.2f} cores before):",
                end="",
                flush=True,
            )
            started = time.perf_counter()
            floor.events = await read_floor(store)
            floor.seconds.append(time.perf_counter() - started)
            print(f" floor {floor.seconds[-1]:.1f} s,", end="", flush=True)
            async with pool.acquire() as conn:
                started = time.perf_counter()
                await copy_limit(conn, settings.database_schema, copy_rows())
                copy.seconds.append(time.perf_counter() - started)
                copy.events = total
                await conn.execute(f'DROP TABLE "{settings.database_schema}".copy_baseline')
            print(f" copy {copy.seconds[-1]:.1f} s,", end="", flush=True)
            sequence = 0.0
            for name, factory in FACTORIES.items():
                result = await rebuild(
                    factory(context), store, pool, context.read_schema, workers=workers
                )
                by_name[name].seconds.append(result.seconds)
                by_name[name].events = result.events
                sequence += result.seconds
                print(f" {name} {result.seconds:.1f} s,", end="", flush=True)
            every.seconds.append(sequence)
            every.events = total
            for name, timed in single.items():
                result = await rebuild(FACTORIES[name](context), store, pool, context.read_schema)
                timed.seconds.append(result.seconds)
                timed.events = result.events
                print(f" {name} alone {result.seconds:.1f} s,", end="", flush=True)
            result = await rebuild(TrivialProjection(), store, pool, context.read_schema)
            trivial.seconds.append(result.seconds)
            trivial.events = result.events
            started = time.perf_counter()
            memory.events = await fold_in_memory(store)
            memory.seconds.append(time.perf_counter() - started)
            print(
                f" trivial {trivial.seconds[-1]:.1f} s, in memory {memory.seconds[-1]:.1f} s",
                flush=True,
            )
        async with pool.acquire() as conn:
            stats = await conn.fetchrow(
                f"SELECT count(*), coalesce(avg(octet_length(state)), 0)::int,"
                f" coalesce(max(octet_length(state)), 0)"
                f" FROM {tables_for(context.read_schema, [SNAPSHOTS])[SNAPSHOTS]}"
            )
            docs = await conn.fetchrow(
                f"SELECT count(*), avg(octet_length(document))::int"
                f" FROM {tables_for(context.read_schema, [REPORTS])[REPORTS]}"
            )
        info.note(
            "rebuild",
            f"log: {sizes[0]:,} events ({generated.report_events:,} report events of"
            f" {generated.reports:,} reports, 1 workspace and 4 users per 100 reports) appended"
            f" with EventStore.append, {generated.appends:,} appends of <= {args.chunk:,} events,"
            f" round-robin over 32 reports at a time; generated in {generated.seconds:.0f} s"
            f" ({generated.events / generated.seconds:,.0f} events/s); payload {sizes[1]} B"
            f" on average; events table {sizes[2] / 2**20:,.0f} MiB",
        )
        info.note(
            "rebuild",
            f"after the rebuild: {stats[0]:,} snapshots (avg {stats[1]:,} B, max {stats[2]:,} B),"
            f" {docs[0]:,} documents (avg {docs[1]:,} B)",
        )
        if generated.rejected:
            info.checks.append(f"generator: {generated.rejected} commands rejected by decide")
    return rows, generated


def rebuild_table(rows: list[Timed]) -> tuple[list[str], list[dict[str, Any]]]:
    floor = rows[0]
    floor_rate = floor.events / statistics.median(floor.seconds) if floor.seconds else None
    header = [
        "scenario",
        "events",
        "seconds (median)",
        "runs (s)",
        "events/s",
        "vs floor",
        "target",
        "met?",
    ]
    lines, records = [], []
    for row in rows:
        seconds = statistics.median(row.seconds) if row.seconds else None
        rate = row.events / seconds if seconds else None
        met = None if not row.target or rate is None else rate >= REBUILD_TARGET
        lines.append(
            [
                row.name,
                fmt_int(row.events),
                fmt(seconds, 2),
                " / ".join(f"{s:.2f}" for s in row.seconds),
                fmt_int(rate),
                fmt(rate / floor_rate if rate and floor_rate else None, 2),
                f">= {REBUILD_TARGET:,.0f} events/s" if row.target else "—",
                yes_no(met),
            ]
        )
        records.append(
            {
                "scenario": row.name,
                "events": row.events,
                "seconds_median": seconds,
                "runs_seconds": row.seconds,
                "events_per_second": rate,
                "target": f">= {REBUILD_TARGET:,.0f} events/s" if row.target else None,
                "met": met,
            }
        )
    return render(header, lines, {1, 2, 4, 5}), records


# ============================================================================================
# 3. time travel
# ============================================================================================


@dataclass
class Requests:
    name: str
    target: bool
    latencies: list[list[float]] = field(default_factory=list)  # per run, ms

    def stat(self, q: float | str) -> float | None:
        return median(
            max(run) if q == "max" else pct(run, float(q)) for run in self.latencies if run
        )


def document_json(report: Report, version: int) -> dict[str, Any]:
    """The document as the route serves it (through the same `document_of`)."""
    decoded: dict[str, Any] = msgspec.json.decode(
        msgspec.json.encode(document_of(report, version, 0))
    )
    return decoded


async def generate_long_report(
    store: EventStore, events: int, chunk: int, seed: int
) -> tuple[uuid.UUID, uuid.UUID, Generated]:
    clock = ServerClock()
    owner = dev_actor(DEV_USER)
    workspace_id, actors = await setup_workspace(store, clock, owner, 3, "Time travel")
    rng = random.Random(seed)
    generator = Generator(
        uuid.uuid4(), workspace_id, actors, random.Random(rng.getrandbits(64)), clock
    )
    stream = StreamRef(
        stream_id=generator.report_id, stream_type="report", workspace_id=workspace_id
    )
    result = Generated(reports=1)
    started = time.perf_counter()
    batch = generator.start("A long-lived report")
    checkpoints: list[tuple[int, dict[str, Any]]] = []
    check_at = set(
        rng.sample(range(1, max(2, events // chunk)), min(12, max(1, events // chunk - 1)))
    )
    appended = 0
    while generator.version < events:
        batch += generator.edits(min(chunk, events - generator.version) - len(batch))
        await store.append(stream, appended, batch, command_id=uuid.uuid4())
        appended = generator.version
        result.appends += 1
        if result.appends in check_at:
            checkpoints.append((appended, document_json(generator.report, appended)))
        batch = []
    checkpoints.append((generator.version, document_json(generator.report, generator.version)))
    result.checkpoints[generator.report_id] = checkpoints
    result.report_events = generator.version
    result.rejected = generator.rejected
    result.seconds = time.perf_counter() - started
    result.events = await last_position(store)
    return generator.report_id, workspace_id, result


async def start_serve(
    info: RunInfo, settings: Settings, log_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    env = settings_env(settings)
    env["LOUPE_HOST"] = "127.0.0.1"
    env["LOUPE_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-projections-")
    proc, url = await start_loupe_serve(env, log_path, ROOT)
    info.children.append(proc)
    return proc, url


async def wait_caught_up(
    pool: asyncpg.Pool, settings: Settings, head: int, timeout: float = 600
) -> float:
    """Seconds until the reports projection and the relay stored positions >= head."""
    started = time.monotonic()
    read = f'"{settings.read_schema}".projection_positions'
    relay = f'"{settings.database_schema}".relay_checkpoints'
    while time.monotonic() - started < timeout:
        reports = await pool.fetchval(f"SELECT position FROM {read} WHERE name = 'reports'")
        published = await pool.fetchval(f"SELECT max(position) FROM {relay}")
        if (reports or 0) >= head and (published or 0) >= head:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the reports projection did not reach {head} in {timeout:.0f} s")


async def timed_gets(http: httpx.AsyncClient, urls: list[str]) -> list[float]:
    latencies = []
    for url in urls:
        started = time.perf_counter()
        response = await http.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
        latencies.append(elapsed)
    return latencies


async def in_process_steps(
    pool: asyncpg.Pool,
    store: EventStore,
    read_schema: str,
    report_id: uuid.UUID,
    versions: list[int],
) -> dict[str, list[float]]:
    """`report_at` + `document_of` for the same versions in this process, step by step (ms)."""
    tables = tables_for(read_schema, ReportReadModel.tables)
    steps: dict[str, list[float]] = {
        k: []
        for k in (
            "snapshot row",
            "restore",
            "read events",
            "fold",
            "document",
            "encode",
            "total",
            "events folded",
            "snapshot KiB",
        )
    }
    for version in versions:
        t0 = time.perf_counter()
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                f"""SELECT version, position, recorded_at, state FROM {tables[SNAPSHOTS]}
                    WHERE report_id = $1 AND version <= $2 ORDER BY version DESC LIMIT 1""",
                report_id,
                version,
            )
        t1 = time.perf_counter()
        state = (
            ReportAt(
                restore(report_id, row["state"]),
                row["version"],
                row["position"],
                row["recorded_at"],
            )
            if row is not None
            else ReportAt(Report(report_id), 0, 0, None)
        )
        t2 = time.perf_counter()
        events = await store.read_stream(
            report_id, after_version=state.version, up_to_version=version
        )
        t3 = time.perf_counter()
        fold(state, events)
        t4 = time.perf_counter()
        document = document_of(state.report, state.version, state.position)
        t5 = time.perf_counter()
        msgspec.json.encode(document)
        t6 = time.perf_counter()
        for name, seconds in zip(
            ("snapshot row", "restore", "read events", "fold", "document", "encode", "total"),
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0),
            strict=True,
        ):
            steps[name].append(seconds * 1000)
        steps["events folded"].append(float(len(events)))
        steps["snapshot KiB"].append(len(row["state"]) / 1024 if row is not None else 0.0)
    return steps


async def timetravel_target(info: RunInfo) -> tuple[list[Requests], dict[str, Any]]:
    args = info.args
    settings = info.settings_for("tt")
    await migrate_all(settings)
    extra: dict[str, Any] = {}
    store = await connect_store(args.database_url, settings.database_schema, run_migrations=False)
    pool = await asyncpg.create_pool(
        args.database_url,
        min_size=1,
        max_size=2,
        server_settings={"application_name": f"loupe-bench:{settings.database_schema}"},
    )
    log_path = Path(tempfile.mkstemp(".log", "bench-serve-")[1])
    proc = None
    try:
        print(
            f"  timetravel: generating one report of {args.tt_events:,} events ...",
            end="",
            flush=True,
        )
        report_id, _workspace, generated = await generate_long_report(
            store, args.tt_events, 1000, seed=11
        )
        print(f" {generated.seconds:.0f} s", flush=True)
        head = generated.events
        proc, url = await start_serve(info, settings, log_path)
        caught_up = await wait_caught_up(pool, settings, head)
        extra["catch_up_seconds"] = caught_up
        print(f"  timetravel: loupe serve folded it in {caught_up:.1f} s", flush=True)
        async with pool.acquire() as conn:
            await analyze(conn, settings.database_schema, settings.read_schema)
            snap = await conn.fetchrow(
                f"SELECT count(*), avg(octet_length(state))::int, max(octet_length(state))"
                f' FROM "{settings.read_schema}".{SNAPSHOTS}'
            )
            doc = await conn.fetchval(
                f'SELECT octet_length(document) FROM "{settings.read_schema}".{REPORTS}'
                " WHERE report_id = $1",
                report_id,
            )
        extra["snapshots"] = {"count": snap[0], "avg_bytes": snap[1], "max_bytes": snap[2]}
        extra["document_bytes"] = doc
        rng = random.Random(5)
        current = Requests("GET /reports/{id} (stored document) — baseline", target=False)
        by_version = Requests("GET /reports/{id}?version=N, N random", target=True)
        by_time = Requests("GET /reports/{id}?at=T, T random (info)", target=False)
        base = f"/reports/{report_id}"
        async with pool.acquire() as conn:
            first, last = await conn.fetchrow(
                "SELECT min(recorded_at), max(recorded_at)"
                f' FROM "{settings.database_schema}".events WHERE stream_id = $1',
                report_id,
            )
        span = (last - first).total_seconds()
        async with httpx.AsyncClient(
            base_url=url, headers={DEV_USER_HEADER: DEV_USER}, timeout=60
        ) as http:
            # Correctness: the documents at the generator's checkpoints.
            mismatches = 0
            for version, expected in generated.checkpoints[report_id]:
                response = await http.get(f"{base}?version={version}")
                got = response.json()
                for key in ("version", "position"):
                    got.pop(key)
                    expected.pop(key)
                mismatches += got != expected
            verdict = "ok" if not mismatches else f"{mismatches} MISMATCH"
            info.checks.append(
                f"time travel: {len(generated.checkpoints[report_id])} documents at checkpoint"
                f" versions equal the generator's in-memory report: {verdict}"
            )
            await timed_gets(
                http, [base] * 20 + [f"{base}?version={rng.randint(1, head)}" for _ in range(20)]
            )
            for run in range(args.runs):
                quiet = await wait_quiet()
                print(
                    f"  timetravel: run {run + 1}/{args.runs}"
                    f" (machine busy {quiet:.2f} cores before)",
                    flush=True,
                )
                current.latencies.append(await timed_gets(http, [base] * args.requests))
                by_version.latencies.append(
                    await timed_gets(
                        http,
                        [
                            f"{base}?version={rng.randint(1, generated.report_events)}"
                            for _ in range(args.requests)
                        ],
                    )
                )
                times = [
                    (first + dt.timedelta(seconds=rng.uniform(0, span))).isoformat()
                    for _ in range(args.requests // 4)
                ]
                by_time.latencies.append(
                    await timed_gets(http, [str(httpx.URL(base, params={"at": t})) for t in times])
                )
        versions = [rng.randint(1, generated.report_events) for _ in range(200)]
        extra["steps"] = await in_process_steps(
            pool, store, settings.read_schema, report_id, versions
        )
        extra["generated_seconds"] = generated.seconds
        extra["report_events"] = generated.report_events
        return [current, by_version, by_time], extra
    finally:
        if proc is not None:
            code = await asyncio.to_thread(stop_process, proc)
            if code not in (0, None):
                info.checks.append(f"loupe serve exited {code}: {tail(log_path, 5)}")
        log_path.unlink(missing_ok=True)
        await pool.close()
        await store.close()


def timetravel_table(
    info: RunInfo, rows: list[Requests], extra: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    header = [
        "request",
        "n/run",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "runs p99 ms",
        "target",
        "met?",
    ]
    lines, records = [], []
    for row in rows:
        p99 = row.stat(99)
        met = None if not row.target or p99 is None else p99 < TT_P99_MS
        lines.append(
            [
                row.name,
                fmt_int(len(row.latencies[0]) if row.latencies else None),
                fmt(row.stat(50), 2),
                fmt(row.stat(90), 2),
                fmt(p99, 2),
                fmt(row.stat("max"), 2),
                " / ".join(fmt(pct(r, 99), 2) for r in row.latencies),
                f"p99 < {TT_P99_MS:g} ms" if row.target else "—",
                yes_no(met),
            ]
        )
        records.append(
            {
                "request": row.name,
                "p50_ms": row.stat(50),
                "p90_ms": row.stat(90),
                "p99_ms": p99,
                "max_ms": row.stat("max"),
                "runs": [
                    {"p50_ms": pct(r, 50), "p99_ms": pct(r, 99), "n": len(r)} for r in row.latencies
                ],
                "target": f"p99 < {TT_P99_MS:g} ms" if row.target else None,
                "met": met,
            }
        )
    steps = extra.get("steps", {})
    if steps:
        total = steps["total"]
        lines.append(
            [
                "in this process: report_at + document_of + encode, no HTTP (info)",
                fmt_int(len(total)),
                fmt(pct(total, 50), 2),
                fmt(pct(total, 90), 2),
                fmt(pct(total, 99), 2),
                fmt(max(total), 2),
                "—",
                "—",
                "—",
            ]
        )
        parts = ", ".join(
            f"{name} {fmt(pct(values, 50), 2)}/{fmt(pct(values, 99), 2)}"
            for name, values in steps.items()
            if name not in ("total", "events folded", "snapshot KiB")
        )
        folded, size = steps["events folded"], steps["snapshot KiB"]
        info.note(
            "timetravel",
            f"in-process steps, p50/p99 ms: {parts}; events folded after the snapshot"
            f" p50/max {fmt(pct(folded, 50), 0)}/{fmt(max(folded), 0)};"
            f" snapshot size p50/max {fmt(pct(size, 50), 0)}/{fmt(max(size), 0)} KiB",
        )
    snap = extra.get("snapshots", {})
    info.note(
        "timetravel",
        f"report: {extra.get('report_events', 0):,} events generated in"
        f" {extra.get('generated_seconds', 0):.0f} s (1,000 per append); loupe serve's reports"
        f" projection and relay caught up with it in {extra.get('catch_up_seconds', 0):.1f} s;"
        f" {snap.get('count', 0):,} snapshots, avg {snap.get('avg_bytes', 0):,} B,"
        f" max {snap.get('max_bytes', 0):,} B;"
        f" current document {extra.get('document_bytes', 0):,} B",
    )
    return render(header, lines, {1, 2, 3, 4, 5}), records


# ============================================================================================
# main
# ============================================================================================


def print_header(info: RunInfo) -> None:
    args = info.args
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print("Loupe projections benchmark (bench/projections.py)")
    print(f"  date        {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}")
    print(f"  command     {command}")
    print(f"  cwd         {Path.cwd()}")
    print(
        f"  machine     {os.cpu_count()} CPUs ({platform.machine()}), load average {load}"
        " (bench, Loupe processes, PostgreSQL, NATS and Redis share them)"
    )
    print(
        f"  PostgreSQL  {info.server_version}"
        f" (fsync {info.settings.get('fsync')},"
        f" synchronous_commit {info.settings.get('synchronous_commit')},"
        f" shared_buffers {info.settings.get('shared_buffers')},"
        f" autovacuum {info.settings.get('autovacuum')})"
    )
    print(
        f"  client      Python {platform.python_version()}, uvloop {uvloop.__version__},"
        f" asyncpg {asyncpg.__version__}, msgspec {msgspec.__version__}"
    )
    names = ", ".join(FACTORIES)
    print(
        f"  projections {names} (registered in projections/registry.py;"
        f" audit {'IS' if 'audit' in FACTORIES else 'is NOT'} registered)"
    )
    print(f"  code        {code_version()}")
    print(f"  schemas     bench_{info.token}_* (dropped at the end)")
    print(f"  targets     {', '.join(args.only or TARGETS)}; {args.runs} run(s) each, medians")


def code_version() -> str:
    """The commit, and what of the Python code differs from it (another engineer's work)."""
    try:
        head = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=True
            )
            .stdout.decode()
            .strip()
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "*.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    changed = [line[3:] for line in status.splitlines() if not line[3:].startswith("bench/")]
    return f"git {head}" + (f" + uncommitted: {', '.join(changed)}" if changed else "")


async def server_info(info: RunInfo) -> None:
    conn = await asyncpg.connect(info.args.database_url)
    try:
        info.server_version = await conn.fetchval("SHOW server_version")
        for name in ("fsync", "synchronous_commit", "shared_buffers", "autovacuum"):
            info.settings[name] = await conn.fetchval(f"SHOW {name}")
    finally:
        await conn.close()


async def measure(info: RunInfo, results: dict[str, Any]) -> None:
    await server_info(info)
    print_header(info)
    wanted = info.args.only or list(TARGETS)
    if "lag" in wanted:
        results["lag"] = await lag_target(info)
    if "rebuild" in wanted:
        results["rebuild"] = await rebuild_target(info)
    if "timetravel" in wanted:
        results["timetravel"] = await timetravel_target(info)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env = os.environ.get
    parser.add_argument(
        "--database-url",
        default=env("LOUPE_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL URL (env LOUPE_BENCH_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--nats-url",
        default=env("LOUPE_BENCH_NATS_URL", DEFAULT_NATS_URL),
        help="NATS URL (env LOUPE_BENCH_NATS_URL; default %(default)s)",
    )
    parser.add_argument(
        "--redis-url",
        default=env("LOUPE_BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis URL (env LOUPE_BENCH_REDIS_URL; default %(default)s)",
    )
    parser.add_argument("--only", action="append", choices=TARGETS, default=[])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    lag = parser.add_argument_group("lag")
    lag.add_argument("--rate", type=float, default=2000.0, help="events/s (default 2000)")
    lag.add_argument("--seconds", type=float, default=10.0, help="measured s (default 10)")
    lag.add_argument("--warmup", type=float, default=3.0, help="warm-up s (default 3)")
    lag.add_argument("--reports", type=int, default=200, help="reports edited (default 200)")
    lag.add_argument(
        "--batch", type=int, default=1, help="commands per batch, one report's (default 1)"
    )
    lag.add_argument(
        "--mode",
        action="append",
        choices=("in-process", "projector", "alone", "held"),
        default=[],
        help="only these modes (repeatable; default all four)",
    )
    lag.add_argument(
        "--no-projector",
        dest="projector",
        action="store_false",
        help="skip the separate-process (loupe projector) mode",
    )
    rebuild_group = parser.add_argument_group("rebuild")
    rebuild_group.add_argument("--events", type=int, default=1_000_000, help="default 1,000,000")
    rebuild_group.add_argument("--rebuild-reports", type=int, default=1000, help="default 1,000")
    rebuild_group.add_argument("--chunk", type=int, default=1000, help="events per append")
    rebuild_group.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="processes of a split rebuild (default: one per CPU, as loupe projections rebuild)",
    )
    travel = parser.add_argument_group("timetravel")
    travel.add_argument("--tt-events", type=int, default=100_000, help="default 100,000")
    travel.add_argument("--requests", type=int, default=400, help="per run (default 400)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.seconds <= 0 or args.rate <= 0:
        parser.error("--runs must be >= 1, --seconds and --rate > 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    info = RunInfo(token=secrets.token_hex(5), args=args)
    started = dt.datetime.now(dt.UTC)
    results: dict[str, Any] = {}
    code = 0
    try:
        uvloop.run(measure(info, results))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 130
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not
        try:  # leave anything behind
            cleanup(info)
        finally:
            signal.signal(signal.SIGINT, previous)
    document: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv])),
        "cpu_count": os.cpu_count(),
        "postgresql": info.server_version,
        "postgresql_settings": info.settings,
        "python": platform.python_version(),
        "projections": list(FACTORIES),
        "audit_registered": "audit" in FACTORIES,
        "runs": args.runs,
    }
    sections = []
    if "lag" in results:
        table, records = lag_table(info, results["lag"])
        sections.append(
            (
                (
                    f"1. Projection lag at {args.rate:,.0f} events/s, commit → read-model row"
                    f" (medians over {args.runs} run(s) of {args.seconds:g} s after"
                    f" {args.warmup:g} s warm-up; {args.reports} reports,"
                    f" {args.batch} command(s) per batch)"
                ),
                table,
                "lag",
            )
        )
        document["lag"] = {"rate": args.rate, "seconds": args.seconds, "results": records}
    if "rebuild" in results:
        rows, _generated = results["rebuild"]
        table, records = rebuild_table(rows)
        sections.append(
            (
                f"2. Rebuild of {args.events:,} events (medians over {args.runs} run(s))",
                table,
                "rebuild",
            )
        )
        document["rebuild"] = {"results": records}
    if "timetravel" in results:
        rows, extra = results["timetravel"]
        table, records = timetravel_table(info, rows, extra)
        sections.append(
            (
                (
                    f"3. Time travel on one report of {args.tt_events:,} events through"
                    f" loupe serve (one request at a time; medians over {args.runs} run(s))"
                ),
                table,
                "timetravel",
            )
        )
        document["timetravel"] = {
            "results": records,
            "extra": {k: v for k, v in extra.items() if k != "steps"},
        }
    for title, table, key in sections:
        print()
        print(title)
        print("\n".join(table))
        for note in info.notes.get(key, []):
            print(f"  * {note}")
    print()
    for check in info.checks:
        print(f"  * {check}")
    document["notes"] = info.notes
    document["checks"] = info.checks
    if args.json:
        with Path(args.json).open("w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, default=str)
            out.write("\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
