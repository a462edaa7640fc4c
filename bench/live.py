"""Live co-editing latency: N WebSocket clients editing ONE report, each seeing the others' edits.

Measures the time from a client's send of a command batch (``MoveVisual`` of its own visual) to
every OTHER client's receipt of the resulting ``event`` frame, through a real ``loupe serve``
subprocess: WebSocket → command handler → PostgreSQL commit → relay → NATS (JetStream) → the
process's core subscription → every socket. Targets on loopback: p50 < 5 ms, p99 < 25 ms.

In the same run, with the same client harness, it measures references:

* ``baseline litestar``: bench/_live_baseline.py on the same server stack as Loupe (Litestar,
  uvicorn, uvloop, httptools, websockets-sansio, a queue + sender task per socket) that fans
  every batch out at once — no database, no NATS;
* ``baseline websockets``: the same fan-out on the plain `websockets` server;
* ``nats core``: N nats-py connections publishing to / subscribed on one core subject at the
  same rate (no WebSocket at all).

Each scenario: connect all clients, warm up (not measured), measure, drain, then check that
every batch sent (warm-up included) reached every other client exactly once.

    .venv/bin/python bench/live.py                       # 20 clients, 100 ms, 10 s, 3 runs
    .venv/bin/python bench/live.py --interval 1 --runs 1 # is the harness the bottleneck?
    .venv/bin/python bench/live.py --json results.json

For Loupe it also splits the latency: the event's ``recorded_at`` (the append transaction's
start), the sender's ``result`` frame (committed) and the event's arrival on NATS, seen by a
subscriber of the bench's own (the relay has published it).

The server gets a fresh PostgreSQL schema, JetStream stream / subject prefix and Redis prefix,
all removed at the end. The machine (2 cores) is shared by the server, PostgreSQL, NATS and
this harness; the CPU each used during the measured window is printed too. Work of other
processes on the machine disturbs the figures a lot: each scenario waits for the machine to be
quiet first, and a run during which others used more than ``--max-neighbour-cpu`` cores is run
again (``--retries``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import math
import os
import platform
import random
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import psutil
import redis.asyncio as aioredis
import uvloop
from _common import free_port, stop_process, tail  # bench/ is the script's folder
from nats.js.errors import NotFoundError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BASELINE_SCRIPT = Path(__file__).resolve().parent / "_live_baseline.py"

TARGET_P50_MS = 5.0
TARGET_P99_MS = 25.0
DEV_USER = "bench"

LOUPE = "loupe"
LITESTAR = "litestar"
WEBSOCKETS = "websockets"
NATS_CORE = "nats"
SCENARIOS = (LOUPE, LITESTAR, WEBSOCKETS, NATS_CORE)
LABELS = {
    LOUPE: "Loupe (commit → relay → NATS → WS)",
    LITESTAR: "baseline: Litestar WS fan-out, no DB/NATS",
    WEBSOCKETS: "baseline: plain websockets fan-out",
    NATS_CORE: "reference: NATS core pub→sub (nats-py)",
}


# -- frames -----------------------------------------------------------------------------------


class _Event(msgspec.Struct):
    command_id: str | None = None
    recorded_at: str | None = None


class _Frame(msgspec.Struct):
    """The fields of a server frame the harness reads (everything else is ignored)."""

    type: str
    event: _Event | None = None
    command_id: str | None = None


_frame_decoder = msgspec.json.Decoder(_Frame)
_tap_decoder = msgspec.json.Decoder(_Event)

_BATCH = (
    '{{"type":"commands","command_id":"{cid}","client_id":"{client}","commands":'
    '[{{"type":"MoveVisual","visual_id":"{visual}","x":{x},"y":{y}}}]}}'
)


#: The report grid is 24 columns wide and each visual 6: x stays in 0..18.
GRID_X = 19


def batch_message(cid: str, client_id: str, visual_id: str, n: int, index: int) -> str:
    return _BATCH.format(cid=cid, client=client_id, visual=visual_id, x=n % GRID_X, y=index * 4)


def _nats_payload(cid: str, client_id: str, n: int) -> bytes:
    """A message of about the size of a Loupe event frame (≈ 600 B) carrying `cid`."""
    event = {
        "id": str(uuid.uuid4()),
        "type": "VisualMoved",
        "position": n,
        "version": n,
        "stream_id": "4d6e5b1a-0000-4000-8000-000000000000",
        "stream_type": "report",
        "workspace_id": "4d6e5b1a-0000-4000-8000-000000000001",
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "actor": "4d6e5b1a-0000-4000-8000-000000000002",
        "client_id": client_id,
        "dot": [client_id, n],
        "hlc": [1_700_000_000_000 + n, 0],
        "command_id": cid,
        "correlation_id": cid,
        "data": {"visual_id": str(uuid.uuid4()), "x": n % 100, "y": 1, "z_index": None},
    }
    return msgspec.json.encode({"type": "event", "event": event})


# -- measurement state --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    sender: int
    perf_ns: int
    wall_ns: int
    measured: bool


@dataclass(eq=False)
class Run:
    """What one scenario run recorded: sends, and every client's receipts."""

    clients: int
    sent: dict[str, Sent] = field(default_factory=dict)
    #: per client: (command_id, perf_ns) of each event frame / result frame
    events: list[list[tuple[str, int]]] = field(default_factory=list)
    results: list[list[tuple[str, int]]] = field(default_factory=list)
    #: the first recorded_at seen for each command_id (the server's stamp)
    stamped: dict[str, str] = field(default_factory=dict)
    #: when the event of each command_id was seen on NATS by a tap subscriber (perf_ns)
    tapped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: batches answered with an error frame: they produce no event
    rejected: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)
    other_receipts: int = 0
    last_frame_ns: int = 0
    send_lag_ms: list[float] = field(default_factory=list)
    #: frames received by type, after the hello (events, results, presence, errors...)
    frame_counts: Counter[str] = field(default_factory=Counter)
    #: length of the first event frame received (to compare the scenarios' frames)
    event_frame_bytes: int = 0

    def __post_init__(self) -> None:
        self.events = [[] for _ in range(self.clients)]
        self.results = [[] for _ in range(self.clients)]

    def on_frame(self, index: int, raw: str | bytes, now: int) -> None:
        self.last_frame_ns = now
        try:
            frame = _frame_decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            self.errors.append(f"undecodable frame: {raw[:200]!r}")
            return
        kind = frame.type
        self.frame_counts[kind] += 1
        if kind == "event":
            event = frame.event
            if event is None or event.command_id is None:
                return
            cid = event.command_id
            self.events[index].append((cid, now))
            if not self.event_frame_bytes:
                self.event_frame_bytes = len(raw)
            sent = self.sent.get(cid)
            if sent is not None and sent.sender != index:
                self.other_receipts += 1
            if event.recorded_at is not None and cid not in self.stamped:
                self.stamped[cid] = event.recorded_at
        elif kind == "result":
            if frame.command_id is not None:
                self.results[index].append((frame.command_id, now))
        elif kind == "error":
            self.errors.append(str(raw)[:300])
            if frame.command_id is not None:
                self.rejected.add(frame.command_id)


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarize(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 0.50),
        "p90": percentile(ordered, 0.90),
        "p99": percentile(ordered, 0.99),
        "max": ordered[-1] if ordered else math.nan,
        "mean": statistics.fmean(ordered) if ordered else math.nan,
    }


def analyse(run: Run) -> dict[str, Any]:
    others = run.clients - 1
    seen: set[tuple[str, int]] = set()
    duplicates = 0
    unknown = 0
    deliveries: list[float] = []
    last_per_batch: dict[str, int] = {}
    count_per_batch: Counter[str] = Counter()
    for index, receipts in enumerate(run.events):
        for cid, now in receipts:
            sent = run.sent.get(cid)
            if sent is None:
                unknown += 1
                continue
            if sent.sender == index:
                continue
            key = (cid, index)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            count_per_batch[cid] += 1
            if sent.measured:
                deliveries.append((now - sent.perf_ns) / 1e6)
                last_per_batch[cid] = max(last_per_batch.get(cid, 0), now)
    all_others = [
        (last - run.sent[cid].perf_ns) / 1e6
        for cid, last in last_per_batch.items()
        if count_per_batch[cid] == others
    ]
    results = [
        (now - run.sent[cid].perf_ns) / 1e6
        for receipts in run.results
        for cid, now in receipts
        if cid in run.sent and run.sent[cid].measured
    ]
    stamp = []
    for cid, recorded_at in run.stamped.items():
        sent = run.sent.get(cid)
        if sent is None or not sent.measured:
            continue
        with contextlib.suppress(ValueError):
            stamped_ns = int(dt.datetime.fromisoformat(recorded_at).timestamp() * 1e9)
            stamp.append((stamped_ns - sent.wall_ns) / 1e6)
    nats_seen = [
        (now - run.sent[cid].perf_ns) / 1e6
        for cid, now in run.tapped.items()
        if cid in run.sent and run.sent[cid].measured
    ]
    accepted = {cid: s for cid, s in run.sent.items() if cid not in run.rejected}
    measured_batches = sum(1 for s in accepted.values() if s.measured)
    delivered = sum(1 for cid, _ in seen if cid in accepted)
    lost_total = len(accepted) * others - delivered
    lost_measured = measured_batches * others - len(deliveries)
    return {
        "batches_sent": len(run.sent),
        "batches_measured": measured_batches,
        "batches_rejected": len(run.rejected),
        "event_frame_bytes": run.event_frame_bytes,
        "frame_counts": dict(run.frame_counts),
        "deliveries": summarize(deliveries),
        "all_others_received": summarize(all_others),
        "sender_result": summarize(results),
        "send_to_server_stamp": summarize(stamp),
        "send_to_nats": summarize(nats_seen),
        "send_lag": summarize(run.send_lag_ms),
        "lost": lost_total,
        "lost_measured": lost_measured,
        "duplicates": duplicates,
        "unknown_events": unknown,
        "errors": len(run.errors),
        "error_samples": run.errors[:5],
        "closed": run.closed[:5],
    }


# -- CPU accounting ----------------------------------------------------------------------------


class CpuMeter:
    """Where the machine's CPU went between `start()` and `stop()`, in cores (of os.cpu_count()).

    Groups: ``server`` (the process under test and its children), ``bench`` (this harness),
    ``pg:server`` (the PostgreSQL backends serving the server's connections), ``pg:shared``
    (PostgreSQL's own processes: WAL writer, checkpointer...), ``pg:others`` (backends of
    anybody else), ``nats-server``, ``other`` (everything else on the machine: a neighbour's
    load shows up here), and ``machine`` (all busy time, kernel included).
    """

    GROUPS = ("server", "bench", "pg:server", "pg:shared", "pg:others", "nats-server", "other")

    def __init__(self, server_pid: int | None, database_port: int = 5432) -> None:
        self.server_pid = server_pid
        self.database_port = database_port
        self._before: dict[tuple[int, float], float] = {}
        self._machine_before: Any = None
        self._wall_before = 0.0
        self._server_ports: set[int] = set()
        self.result: dict[str, float] = {}
        self.top_other: list[tuple[str, float]] = []

    def _server_pids(self) -> set[int]:
        if self.server_pid is None:
            return set()
        try:
            server = psutil.Process(self.server_pid)
            return {server.pid, *(child.pid for child in server.children(recursive=True))}
        except psutil.Error:
            return set()

    def _note_server_ports(self) -> None:
        for pid in self._server_pids():
            with contextlib.suppress(psutil.Error):
                for conn in psutil.Process(pid).net_connections(kind="inet"):
                    if conn.raddr and conn.raddr.port == self.database_port:
                        self._server_ports.add(conn.laddr.port)

    @staticmethod
    def _snapshot() -> dict[tuple[int, float], tuple[str, str, float]]:
        """(pid, create_time) → (name, title, CPU seconds) of every readable process."""
        seen = {}
        for proc in psutil.process_iter(["name", "cmdline", "cpu_times", "create_time"]):
            info = proc.info
            times = info.get("cpu_times")
            if times is None:
                continue
            title = " ".join(info.get("cmdline") or [])
            key = (proc.pid, info.get("create_time") or 0.0)
            seen[key] = (info.get("name") or "?", title, times.user + times.system)
        return seen

    def start(self) -> None:
        self._note_server_ports()
        self._before = {key: value[2] for key, value in self._snapshot().items()}
        self._machine_before = psutil.cpu_times()
        self._wall_before = time.monotonic()

    def _group(self, pid: int, name: str, title: str, server_pids: set[int]) -> str:
        if pid in server_pids:
            return "server"
        if pid == os.getpid():
            return "bench"
        if name.startswith("postgres"):
            port = re.search(r"\((\d+)\)", title)
            if port is not None:
                return "pg:server" if int(port.group(1)) in self._server_ports else "pg:others"
            return "pg:others" if "[local]" in title else "pg:shared"
        if name.startswith("nats-server"):
            return "nats-server"
        return "other"

    def stop(self) -> None:
        after = self._snapshot()
        machine = psutil.cpu_times()
        wall = time.monotonic() - self._wall_before
        self._note_server_ports()
        server_pids = self._server_pids()
        result = dict.fromkeys(self.GROUPS, 0.0)
        others: Counter[str] = Counter()
        for key, (name, title, seconds) in after.items():
            # A process born in the window counts from zero; one that died is not seen.
            used = (seconds - self._before.get(key, 0.0)) / wall
            group = self._group(key[0], name, title, server_pids)
            result[group] += used
            if group == "other":
                others[name] += used
        busy_before = sum(self._machine_before) - self._machine_before.idle
        busy_before -= getattr(self._machine_before, "iowait", 0.0)
        busy_after = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        result["machine"] = (busy_after - busy_before) / wall
        self.result = result
        self.top_other = [(name, round(used, 3)) for name, used in others.most_common(3)]


# -- the harness -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    clients: int
    interval: float
    jitter: float
    warmup: float
    seconds: float
    drain: float


#: Seconds between the CPU snapshots and the measured window's edges.
METER_MARGIN = 0.15


async def _sleep_until(loop: asyncio.AbstractEventLoop, when: float) -> None:
    delay = when - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def drive(
    plan: Plan,
    run: Run,
    send: Callable[[int, str, int], Awaitable[None]],
    meter: CpuMeter,
) -> None:
    """Every client sends at `plan.interval` ± jitter from `start`; then wait for the drain."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    measure_from = start + plan.warmup
    stop_at = measure_from + plan.seconds

    async def client(index: int) -> None:
        rng = random.Random(index * 7919 + time.perf_counter_ns())
        due = start + rng.uniform(0, plan.interval)
        n = 0
        while due < stop_at:
            await _sleep_until(loop, due)
            now = loop.time()
            cid = str(uuid.uuid4())
            measured = measure_from <= now < stop_at
            if measured:
                run.send_lag_ms.append((now - due) * 1e3)
            run.sent[cid] = Sent(index, time.perf_counter_ns(), time.time_ns(), measured)
            await send(index, cid, n)
            n += 1
            due += plan.interval * rng.uniform(1 - plan.jitter, 1 + plan.jitter)

    async def meter_window() -> None:
        # A CPU snapshot blocks this loop for ~5-10 ms (it reads /proc for every process):
        # take it just outside the measured window, so it delays no measured receipt.
        await _sleep_until(loop, measure_from - METER_MARGIN)
        meter.start()
        await _sleep_until(loop, stop_at + METER_MARGIN)
        meter.stop()

    # A full collection of this process's heap (earlier runs' receipts) pauses the loop for
    # 10-20 ms: collect now, and not during the run.
    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(meter_window(), *(client(i) for i in range(plan.clients)))
        # Drain: until every batch reached every other client, or nothing arrived for a while.
        expected = len(run.sent) * (plan.clients - 1)
        deadline = loop.time() + plan.drain
        while run.other_receipts < expected and loop.time() < deadline:
            quiet = (time.perf_counter_ns() - run.last_frame_ns) / 1e9
            if quiet > min(3.0, plan.drain):
                break
            await asyncio.sleep(0.05)
    finally:
        gc.enable()


async def websocket_scenario(
    plan: Plan,
    url_of: Callable[[int], str],
    visual_of: Callable[[int], str],
    *,
    compression: str | None,
    server_pid: int | None,
    database_port: int,
    tap: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`tap`: (NATS URL, subject) on which the server's events can be seen as they are
    published, to split the latency at NATS."""
    run = Run(plan.clients)
    sockets: list[ClientConnection] = []
    tap_conn: Any = None
    hellos = [asyncio.Event() for _ in range(plan.clients)]
    client_ids = [f"bench-{i:02d}" for i in range(plan.clients)]

    async def receive(index: int, ws: ClientConnection) -> None:
        on_frame = run.on_frame
        try:
            async for raw in ws:
                now = time.perf_counter_ns()
                if not hellos[index].is_set():
                    if '"type":"hello"' in raw:
                        hellos[index].set()
                    continue
                on_frame(index, raw, now)
        except ConnectionClosed as exc:
            run.closed.append(f"client {index}: {exc!r}")

    receivers = []
    try:
        if tap is not None:
            tap_conn = await nats.connect(tap[0], name="bench-live-tap")

            async def on_tapped(msg: Any) -> None:
                now = time.perf_counter_ns()
                with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
                    cid = _tap_decoder.decode(msg.data).command_id
                    if cid is not None:
                        run.tapped.setdefault(cid, now)

            await tap_conn.subscribe(tap[1], cb=on_tapped)
            await tap_conn.flush()
        for index in range(plan.clients):
            ws = await connect(
                url_of(index),
                compression=compression,
                max_queue=None,
                open_timeout=10,
                ping_interval=None,
            )
            sockets.append(ws)
            receivers.append(asyncio.create_task(receive(index, ws)))
        async with asyncio.timeout(15):
            await asyncio.gather(*(hello.wait() for hello in hellos))
        await asyncio.sleep(0.3)  # let the join-time presence frames settle

        async def send(index: int, cid: str, n: int) -> None:
            await sockets[index].send(
                batch_message(cid, client_ids[index], visual_of(index), n, index)
            )

        meter = CpuMeter(server_pid, database_port)
        await drive(plan, run, send, meter)
    finally:
        for ws in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        if tap_conn is not None:
            with contextlib.suppress(Exception):
                await tap_conn.close()
        for task in receivers:
            task.cancel()
        await asyncio.gather(*receivers, return_exceptions=True)
    return {**analyse(run), "cpu_cores": meter.result, "cpu_other_top": meter.top_other}


async def nats_scenario(
    plan: Plan, nats_url: str, subject: str, database_port: int
) -> dict[str, Any]:
    run = Run(plan.clients)
    conns: list[Any] = []
    client_ids = [f"bench-{i:02d}" for i in range(plan.clients)]
    try:
        for index in range(plan.clients):
            nc = await nats.connect(nats_url, name=f"bench-live-{index}")
            conns.append(nc)

            async def on_msg(msg: Any, index: int = index) -> None:
                run.on_frame(index, msg.data, time.perf_counter_ns())

            await nc.subscribe(subject, cb=on_msg)
            await nc.flush()

        async def send(index: int, cid: str, n: int) -> None:
            await conns[index].publish(subject, _nats_payload(cid, client_ids[index], n))

        meter = CpuMeter(None, database_port)
        await drive(plan, run, send, meter)
    finally:
        for nc in conns:
            with contextlib.suppress(Exception):
                await nc.close()
    return {**analyse(run), "cpu_cores": meter.result, "cpu_other_top": meter.top_other}


# -- servers --------------------------------------------------------------------------------


async def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{url}: server exited ({proc.returncode}):\n{tail(log, 40)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer 200 in {timeout:.0f}s:\n{tail(log, 40)}")
            await asyncio.sleep(0.1)


@dataclass
class LoupeServer:
    database_url: str
    nats_url: str
    redis_url: str
    host: str
    #: what to run instead of `.venv/bin/loupe` (e.g. under a profiler); `serve --port N` follows
    command: list[str] = field(default_factory=lambda: [str(BIN / "loupe")])
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(".log", "loupe-bench-")[1]))
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="loupe-bench-")))
    exit_code: int | None = None
    stop_seconds: float | None = None

    @property
    def schema(self) -> str:
        return f"bench_{self.token}"

    @property
    def stream(self) -> str:
        return f"BENCH_{self.token}"

    @property
    def prefix(self) -> str:
        return f"bench_{self.token}"

    @property
    def redis_prefix(self) -> str:
        return f"bench:{self.token}:"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.port = free_port(self.host)
        env = {
            **os.environ,
            "LOUPE_HOST": self.host,
            "LOUPE_DATA_DIR": str(self.data_dir),
            "LOUPE_DATABASE_URL": self.database_url,
            "LOUPE_NATS_URL": self.nats_url,
            "LOUPE_REDIS_URL": self.redis_url,
            "LOUPE_DATABASE_SCHEMA": self.schema,
            "LOUPE_NATS_STREAM": self.stream,
            "LOUPE_NATS_SUBJECT_PREFIX": self.prefix,
            "LOUPE_REDIS_PREFIX": self.redis_prefix,
            "LOUPE_DEV_AUTH": "1",
            "LOUPE_LOG_LEVEL": "WARNING",
        }
        env.pop("LOUPE_PORT", None)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*self.command, "serve", "--port", str(self.port)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        await wait_http(f"{self.url}/health", self.proc, self.log, 60)

    async def stop_and_clean(self) -> list[str]:
        problems: list[str] = []
        if self.proc is not None:
            started = time.monotonic()
            self.exit_code = stop_process(self.proc)
            self.stop_seconds = time.monotonic() - started
            if self.exit_code not in (0, None):
                problems.append(f"loupe serve exited with {self.exit_code}")
            if self.stop_seconds > 5:
                problems.append(f"loupe serve took {self.stop_seconds:.1f}s to stop on SIGTERM")
        try:
            conn = await asyncpg.connect(self.database_url)
            try:
                # The event store's schema and the read models' (loupe serve's projections).
                await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
                await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema}_read CASCADE")
            finally:
                await conn.close()
        except Exception as exc:
            problems.append(f"dropping schema {self.schema}: {exc!r}")
        try:
            nc = await nats.connect(self.nats_url)
            try:
                with contextlib.suppress(NotFoundError):
                    await nc.jetstream().delete_stream(self.stream)
            finally:
                await nc.close()
        except Exception as exc:
            problems.append(f"deleting stream {self.stream}: {exc!r}")
        try:
            client = aioredis.from_url(self.redis_url)
            try:
                keys = [key async for key in client.scan_iter(match=f"{self.redis_prefix}*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()
        except Exception as exc:
            problems.append(f"deleting redis keys {self.redis_prefix}*: {exc!r}")
        with contextlib.suppress(OSError):
            self.data_dir.rmdir()
        return problems


@dataclass
class BaselineServer:
    impl: str
    host: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(".log", "live-baseline-")[1]))

    async def start(self) -> None:
        self.port = free_port(self.host)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, str(BASELINE_SCRIPT), "--impl", self.impl),
                    *("--host", self.host, "--port", str(self.port)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.impl == LITESTAR:
            await wait_http(f"http://{self.host}:{self.port}/health", self.proc, self.log, 30)
            return
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"baseline exited:\n{tail(self.log, 40)}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"baseline did not listen:\n{tail(self.log, 40)}") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)
        self.log.unlink(missing_ok=True)


async def prepare_report(
    server: LoupeServer, clients: int, workspace: str | None
) -> dict[str, Any]:
    """A fresh report with one page and one visual per client, over HTTP."""
    async with httpx.AsyncClient(
        base_url=server.url, headers={"X-Loupe-Dev-User": DEV_USER}, timeout=30
    ) as http:
        if workspace is None:
            response = await http.post("/workspaces", json={"name": "bench live"})
            response.raise_for_status()
            workspace = response.json()["id"]
        response = await http.post(f"/workspaces/{workspace}/reports", json={"name": "bench"})
        response.raise_for_status()
        report = response.json()["id"]
        page = str(uuid.uuid4())
        visuals = [str(uuid.uuid4()) for _ in range(clients)]
        commands: list[dict[str, Any]] = [{"type": "AddPage", "page_id": page, "name": "p"}]
        commands += [
            {
                "type": "AddVisual",
                "visual_id": visual,
                "page_id": page,
                "visual_type": "column",
                "x": 0,
                "y": index * 4,
                "w": 6,
                "h": 4,
            }
            for index, visual in enumerate(visuals)
        ]
        response = await http.post(
            f"/reports/{report}/commands",
            json={
                "command_id": str(uuid.uuid4()),
                "client_id": "bench-setup",
                "commands": commands,
            },
        )
        response.raise_for_status()
    return {"workspace": workspace, "report": report, "visuals": visuals}


# -- report ---------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


BREAKDOWN = (
    "deliveries",
    "all_others_received",
    "sender_result",
    "send_to_server_stamp",
    "send_to_nats",
)


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of each statistic; counts and losses are totals."""
    out: dict[str, Any] = {"runs": len(runs)}
    for part in BREAKDOWN:
        out[part] = {
            key: _median([r[part][key] for r in runs]) for key in ("p50", "p90", "p99", "max")
        }
        out[part]["count"] = sum(r[part]["count"] for r in runs)
    for key in ("lost", "lost_measured", "duplicates", "errors", "batches_sent"):
        out[key] = sum(r[key] for r in runs)
    groups = runs[0]["cpu_cores"].keys() if runs else []
    out["cpu_cores"] = {g: _median([r["cpu_cores"].get(g, math.nan) for r in runs]) for g in groups}
    out["send_lag_p99"] = _median([r["send_lag"]["p99"] for r in runs])
    noisiest = max(runs, key=lambda r: r["cpu_cores"].get("other", 0.0)) if runs else {}
    out["cpu_other_top"] = noisiest.get("cpu_other_top", [])
    return out


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def render(summary: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    stamp, result_, nats_ = "send_to_server_stamp", "sender_result", "send_to_nats"
    each, last = "deliveries", "all_others_received"
    lines = [
        f"# bench/live.py — {meta['date']}",
        f"command: {meta['command']}",
        f"machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
        (
            f"load: {meta['clients']} clients x 1 batch / {meta['interval'] * 1e3:.0f} ms "
            f"(±{meta['jitter'] * 100:.0f}%) = {meta['batches_per_s']:.0f} batches/s, "
            f"{meta['deliveries_per_s']:.0f} deliveries/s; warm-up {meta['warmup']:g} s, "
            f"measured {meta['seconds']:g} s x {meta['runs']} runs; "
            f"client compression: {meta['compression']}"
        ),
        (
            "latency = a client's send of a batch → each OTHER client's receipt of its event "
            "(medians over runs; deliveries and lost are totals over runs)"
        ),
        "",
    ]
    header = (
        "scenario",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "deliveries",
        "lost",
        "target met?",
    )
    rows = []
    for name, result in summary.items():
        d = result["deliveries"]
        met = d["p50"] < TARGET_P50_MS and d["p99"] < TARGET_P99_MS
        lost = result["lost"]
        rows.append(
            (
                LABELS[name],
                _ms(d["p50"]),
                _ms(d["p90"]),
                _ms(d["p99"]),
                _ms(d["max"]),
                str(d["count"]),
                str(lost) + (f" (+{result['duplicates']} dup)" if result["duplicates"] else ""),
                ("yes" if met else "NO") + f" (p50<{TARGET_P50_MS:g}, p99<{TARGET_P99_MS:g})",
            )
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines.append(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("")
    if LOUPE in summary:
        loupe = summary[LOUPE]["deliveries"]
        for base in (LITESTAR, WEBSOCKETS, NATS_CORE):
            if base in summary:
                ref = summary[base]["deliveries"]
                lines.append(
                    f"Loupe / {base}: p50 x{loupe['p50'] / ref['p50']:.1f}, "
                    f"p99 x{loupe['p99'] / ref['p99']:.1f}"
                )
        lo = summary[LOUPE]

        def pair(part: str) -> str:
            return f"{_ms(lo[part]['p50'])} / {_ms(lo[part]['p99'])}"

        lines += [
            "Loupe's path, p50 / p99 ms after the send (medians over runs):",
            f"  server stamp (recorded_at: the append's transaction start)  {pair(stamp)}",
            f"  sender's result frame (committed, answered)                 {pair(result_)}",
            f"  event seen on NATS by a tap subscriber (relay published)    {pair(nats_)}",
            f"  event at each other client (the latency above)              {pair(each)}",
            f"  event at the last of the other clients                      {pair(last)}",
        ]
    lines.append(f"CPU during the measured window (cores of {meta['cpus']}; medians over runs):")
    for name, result in summary.items():
        cpu = result["cpu_cores"]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        top = ", ".join(f"{n} {c:.2f}" for n, c in result.get("cpu_other_top", []) if c >= 0.05)
        lines.append(f"  {name:<10} {parts}" + (f" (other, noisiest run: {top})" if top else ""))
    problems = [
        f"{name}: {result['errors']} error frames, {result['lost']} lost, "
        f"send lag p99 {result['send_lag_p99']:.1f} ms"
        for name, result in summary.items()
        if result["errors"] or result["lost"] or result["send_lag_p99"] > 5
    ]
    if problems:
        lines.append("WARNINGS: " + "; ".join(problems))
    return "\n".join(lines)


def neighbour_load(result: dict[str, Any]) -> float:
    """Cores the machine spent during the window on anything but the scenario's processes
    (including processes that came and went within it, which no snapshot sees)."""
    cpu = result["cpu_cores"]
    ours = sum(cpu.get(g, 0.0) for g in ("server", "bench", "pg:server", "pg:shared"))
    ours += cpu.get("nats-server", 0.0)
    return max(0.0, float(cpu.get("machine", 0.0) - ours))


async def wait_for_quiet(limit: float, busy_cores: float = 0.3) -> float:
    """Wait (up to `limit` s) until the machine used < `busy_cores` over half a second: other
    work on a shared machine is what makes these figures noisy. Returns the last busy figure."""
    deadline = time.monotonic() + limit
    while True:
        before, start = psutil.cpu_times(), time.monotonic()
        await asyncio.sleep(0.5)
        after = psutil.cpu_times()
        busy = (sum(after) - after.idle - sum(before) + before.idle) / (time.monotonic() - start)
        if busy < busy_cores or time.monotonic() >= deadline:
            if busy >= busy_cores:
                print(f"  (machine still busy: {busy:.2f} cores in use by others)", flush=True)
            return busy


# -- main ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0912
    plan = Plan(
        clients=args.clients,
        interval=args.interval,
        jitter=args.jitter,
        warmup=args.warmup,
        seconds=args.seconds,
        drain=args.drain,
    )
    compression = None if args.compression == "none" else "deflate"
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for name in scenarios:
        if name not in SCENARIOS:
            raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
    database_port = urllib.parse.urlsplit(args.database_url).port or 5432
    notes: list[str] = []
    loupe = LoupeServer(args.database_url, args.nats_url, args.redis_url, args.host)
    if args.server_command:
        loupe.command = shlex.split(args.server_command)
    baselines = {
        name: BaselineServer(name, args.host)
        for name in (LITESTAR, WEBSOCKETS)
        if name in scenarios
    }
    try:
        if LOUPE in scenarios:
            await loupe.start()
            print(f"loupe serve pid {loupe.proc.pid if loupe.proc else '?'} at {loupe.url}")
        for server in baselines.values():
            await server.start()
        workspace: str | None = None

        async def run_scenario(name: str) -> dict[str, Any]:
            nonlocal workspace
            if name == LOUPE:
                setup = await prepare_report(loupe, plan.clients, workspace)
                workspace = setup["workspace"]
                query = f"dev_user={DEV_USER}"
                base = f"ws://{args.host}:{loupe.port}/reports/{setup['report']}/live?{query}"
                return await websocket_scenario(
                    plan,
                    lambda i: f"{base}&client_id=bench-{i:02d}",
                    lambda i: setup["visuals"][i],
                    compression=compression,
                    server_pid=loupe.proc.pid if loupe.proc else None,
                    database_port=database_port,
                    tap=(args.nats_url, f"{loupe.prefix}.{workspace}.report.{setup['report']}"),
                )
            if name in baselines:
                server = baselines[name]
                url = f"ws://{args.host}:{server.port}/live"
                return await websocket_scenario(
                    plan,
                    lambda _i: url,
                    lambda _i: str(uuid.UUID(int=0)),
                    compression=compression,
                    server_pid=server.proc.pid if server.proc else None,
                    database_port=database_port,
                )
            subject = f"bench_{uuid.uuid4().hex[:12]}.live"
            return await nats_scenario(plan, args.nats_url, subject, database_port)

        for number in range(1, args.runs + 1):
            for name in scenarios:
                for attempt in range(args.retries + 1):
                    busy = await wait_for_quiet(args.wait_quiet)
                    result = await run_scenario(name)
                    result["machine_busy_before"] = busy
                    noise = neighbour_load(result)
                    result["neighbour_cores"] = noise
                    d = result["deliveries"]
                    print(
                        f"run {number}/{args.runs} {name:<10} p50 {_ms(d['p50'])}"
                        f" p90 {_ms(d['p90'])} p99 {_ms(d['p99'])} max {_ms(d['max'])} ms,"
                        f" {d['count']} deliveries, lost {result['lost']},"
                        f" errors {result['errors']}; CPU: server"
                        f" {result['cpu_cores']['server']:.2f}, neighbours {noise:.2f} cores",
                        flush=True,
                    )
                    if noise <= args.max_neighbour_cpu:
                        break
                    if attempt < args.retries:
                        print("  (others used the machine meanwhile: running it again)")
                        await asyncio.sleep(args.pause)
                results[name].append(result)
                await asyncio.sleep(args.pause)
    finally:
        for server in baselines.values():
            server.stop()
        if loupe.proc is not None:
            notes += await loupe.stop_and_clean()
            logged = [
                line
                for line in loupe.log.read_text(errors="replace").splitlines()
                if line.strip() and not line.startswith("Loupe is running at")
            ]
            if logged:
                notes.append(f"loupe serve logged ({loupe.log}):\n" + "\n".join(logged[-30:]))
            else:
                loupe.log.unlink(missing_ok=True)
    summary = {name: combine(runs) for name, runs in results.items() if runs}
    meta = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "clients": plan.clients,
        "interval": plan.interval,
        "jitter": plan.jitter,
        "warmup": plan.warmup,
        "seconds": plan.seconds,
        "runs": args.runs,
        "compression": args.compression,
        "batches_per_s": plan.clients / plan.interval,
        "deliveries_per_s": plan.clients * (plan.clients - 1) / plan.interval,
        "targets_ms": {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS},
        "loupe_exit_code": loupe.exit_code,
        "loupe_stop_seconds": loupe.stop_seconds,
    }
    print()
    print(render(summary, meta))
    for note in notes:
        print(note)
    return {"meta": meta, "summary": summary, "runs": results, "notes": notes}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=20, help="WebSocket clients")
    parser.add_argument(
        "--interval", type=float, default=0.1, help="seconds between one client's batches"
    )
    parser.add_argument("--jitter", type=float, default=0.5, help="interval x U(1-j, 1+j)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drain", type=float, default=20.0, help="max seconds to wait at end")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between scenarios")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="what the clients offer (browsers offer permessage-deflate)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=20.0,
        help="before each scenario, wait up to this many seconds for the machine to be idle",
    )
    parser.add_argument(
        "--max-neighbour-cpu",
        type=float,
        default=0.25,
        help="a run during which other processes used more cores than this is run again",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a disturbed run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--nats-url", default=os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--server-command",
        help="run this instead of .venv/bin/loupe (`serve --port N` is appended), "
        "e.g. to wrap the server in a profiler",
    )
    args = parser.parse_args()
    if args.clients < 2:
        parser.error("--clients must be at least 2")
    output = uvloop.run(bench(args))
    if args.json is not None:
        args.json.write_text(json.dumps(output, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    failed = any(result["lost"] or result["errors"] for result in output["summary"].values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
