"""CPU per event of each projection's ``apply`` with the SQL stubbed out (bench/projections.py).

The lag and rebuild figures mix Python, asyncpg and PostgreSQL; this isolates the first: the
same kind of report events as the lag run (200 reports, built and edited by the generator) are
folded by a fresh instance of each projection in batches of a given size, through a connection
that answers every statement at once (and counts them) and a store that has no events to read
(every report is already in the projection's cache after the warm-up). What remains is the
projection's own work per event: decode, fold, describe, materialise and encode documents,
build rows — and the statements it would send per event.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from bench._projections_edits import Generator
from commands.clock import ServerClock
from commands.eventstore import NewEvent, RecordedEvent, StreamRef
from commands.eventstore import recorded as record
from projections.projection import Projection, tables_for
from projections.registry import ProjectionContext

BATCH_SIZES = (1, 8, 64, 512)


class StubConnection:
    """Answers every statement at once: nothing found, nothing written; counts them."""

    def __init__(self) -> None:
        self.statements = 0

    async def execute(self, *_args: Any, **_kwargs: Any) -> str:
        self.statements += 1
        return "UPDATE 0"

    async def executemany(self, *_args: Any, **_kwargs: Any) -> None:
        self.statements += 1

    async def fetch(self, *_args: Any, **_kwargs: Any) -> list[Any]:
        self.statements += 1
        return []

    async def fetchrow(self, *_args: Any, **_kwargs: Any) -> None:
        self.statements += 1

    async def fetchval(self, *_args: Any, **_kwargs: Any) -> None:
        self.statements += 1

    async def copy_records_to_table(self, *_args: Any, **kwargs: Any) -> None:
        self.statements += 1
        for _record in kwargs.get("records", ()):  # consume a generator, as asyncpg would
            pass


class EmptyStore:
    """A store with no events (the projections only read it on a cache miss)."""

    schema = "bench_stub"

    async def read_stream(self, *_args: Any, **_kwargs: Any) -> list[RecordedEvent]:
        return []

    async def stream_version(self, *_args: Any, **_kwargs: Any) -> int:
        return 0


def report_events(
    reports: int, edits_per_report: int, seed: int
) -> tuple[list[RecordedEvent], list[RecordedEvent]]:
    """(creation and layout of every report, then edits interleaved across the reports)."""
    rng = random.Random(seed)
    clock = ServerClock()
    workspace_id = uuid.uuid4()
    actors = [uuid.uuid4() for _ in range(4)]
    generators = [
        Generator(uuid.uuid4(), workspace_id, actors, random.Random(rng.getrandbits(64)), clock)
        for _ in range(reports)
    ]
    now = dt.datetime.now(dt.UTC)
    position = 0
    versions: dict[uuid.UUID, int] = {}

    def recorded(generator: Generator, event: NewEvent) -> RecordedEvent:
        nonlocal position
        position += 1
        version = versions[generator.report_id] = versions.get(generator.report_id, 0) + 1
        stream = StreamRef(
            stream_id=generator.report_id, stream_type="report", workspace_id=workspace_id
        )
        return record(
            event,
            stream,
            position=position,
            version=version,
            recorded_at=now,
            command_id=event.correlation_id,
        )

    setup = [recorded(g, e) for g in generators for e in g.start(f"Report {g.report_id.hex[:6]}")]
    edits = []
    for _ in range(edits_per_report):
        for generator in rng.sample(generators, len(generators)):
            edits += [recorded(generator, e) for e in generator.edits(1)]
    return setup, edits


async def apply_cpu(
    factories: dict[str, Callable[[ProjectionContext], Projection]],
    extra: dict[str, Callable[[], Projection]],
    *,
    reports: int = 200,
    edits_per_report: int = 40,
    sizes: Sequence[int] = BATCH_SIZES,
) -> dict[str, list[tuple[int, float, float]]]:
    """name → [(batch size, µs of CPU per event, statements per event)] for every projection
    that folds report events."""
    setup, edits = report_events(reports, edits_per_report, seed=3)
    context = ProjectionContext(store=EmptyStore(), read_schema="bench_stub_read")  # type: ignore[arg-type]
    makers: dict[str, Callable[[], Projection]] = {
        name: (lambda factory=factory: factory(context)) for name, factory in factories.items()
    }
    makers.update(extra)
    results: dict[str, list[tuple[int, float, float]]] = {}
    for name, make in makers.items():
        wanted = make().event_types
        if wanted is not None and "PropertySet" not in wanted:
            continue  # folds no report events
        rows = []
        for size in sizes:
            projection = make()
            tables = tables_for("bench_stub_read", projection.tables)
            conn = StubConnection()
            for start in range(0, len(setup), 500):
                await projection.apply(conn, setup[start : start + 500], tables)  # type: ignore[arg-type]
            conn.statements = 0
            started = time.process_time()
            for start in range(0, len(edits), size):
                await projection.apply(conn, edits[start : start + size], tables)  # type: ignore[arg-type]
            cpu = time.process_time() - started
            rows.append((size, cpu / len(edits) * 1e6, conn.statements / len(edits)))
        results[name] = rows
    return results
