"""What bench/projections.py attaches to projection runners, in its own process or in a
`loupe projector`-like child (bench/_projections_projector.py).

* `TrivialProjection`: the baseline read model. One INSERT per event (sent with
  ``executemany``: one statement per event, pipelined), no state, no reads.
* `LagProbe`: records, per runner, when its ``read_all`` returned each batch of events, when the
  batch had committed (the runner's ``on_batch`` hook is called right after its transaction
  commits) and when the runner moved its position. All on ``time.monotonic_ns()``:
  CLOCK_MONOTONIC is one clock for every process of the machine, so a child's records compare
  with the bench's commit times.
* `HeldProjection`: the trivial projection holding each batch transaction open a while longer,
  to show what a slow projection does to the others.
* `trivial_runner`: the baseline's runner, built by ``api.bootstrap._runner`` like every
  registered projection (the metrics ``on_batch``, the rebuild callback), over its own small
  pool so that it takes no connection from the registered projections.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import asyncpg

from api.bootstrap import _runner
from api.metrics import Metrics
from commands.eventstore import EventStore, RecordedEvent
from projections.projection import Projection, Tables
from projections.registry import ProjectionContext
from projections.runner import ProjectionRunner

if TYPE_CHECKING:
    from projections.projection import Connection

TRIVIAL = "bench_trivial"
TRIVIAL_TABLE = "bench_trivial_events"
HELD = "bench_held"
HELD_TABLE = "bench_held_events"


class TrivialProjection:
    name = TRIVIAL
    version = 1
    event_types = None
    tables: tuple[str, ...] = (TRIVIAL_TABLE,)

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[TRIVIAL_TABLE]} (
                    position     bigint PRIMARY KEY,
                    stream_id    uuid NOT NULL,
                    version      bigint NOT NULL,
                    type         text NOT NULL,
                    recorded_at  timestamptz NOT NULL
                )"""
        ]

    def reset(self) -> None:
        """No state."""

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001 - the protocol's signature
        """Nothing to defer."""

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing deferred."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        await conn.executemany(
            f"INSERT INTO {t[TRIVIAL_TABLE]} (position, stream_id, version, type, recorded_at)"  # noqa: S608
            " VALUES ($1, $2, $3, $4, $5)",
            [(e.position, e.stream_id, e.version, e.type, e.recorded_at) for e in events],
        )


class HeldProjection(TrivialProjection):
    """The trivial projection, but each batch transaction stays open `hold` seconds longer
    (asleep: no CPU, no I/O) — as a projection with slow batches would."""

    name = HELD
    tables: tuple[str, ...] = (HELD_TABLE,)

    def __init__(self, hold: float) -> None:
        self.hold = hold

    def ddl(self, t: Tables) -> list[str]:
        return [f"CREATE TABLE {t[HELD_TABLE]} (position bigint PRIMARY KEY)"]

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        await conn.executemany(
            f"INSERT INTO {t[HELD_TABLE]} (position) VALUES ($1)",  # noqa: S608
            [(e.position,) for e in events],
        )
        await asyncio.sleep(self.hold)


class ReadTap:
    """Stands in for a runner's store: notes when its reads handed out which positions."""

    def __init__(self, store: EventStore, reads: list[tuple[int, int, int]]) -> None:
        self._store = store
        self._reads = reads

    async def read_all(self, **kwargs: Any) -> list[RecordedEvent]:
        events = await self._store.read_all(**kwargs)
        self._note(events)
        return events

    async def read_safe(self, **kwargs: Any) -> tuple[list[RecordedEvent], int]:
        events, head = await self._store.read_safe(**kwargs)
        self._note(events)
        return events, head

    def _note(self, events: list[RecordedEvent]) -> None:
        if events:
            self._reads.append((time.monotonic_ns(), events[0].position, events[-1].position))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class LagProbe:
    """When each projection read, committed and passed each event."""

    def __init__(self) -> None:
        #: name → [(monotonic ns when read_all returned, first position, last position)]
        self.reads: dict[str, list[tuple[int, int, int]]] = {}
        #: name → [(monotonic ns after the batch committed, positions of the folded events)]
        self.batches: dict[str, list[tuple[int, list[int]]]] = {}
        #: name → [(monotonic ns, the runner's new position)]
        self.advances: dict[str, list[tuple[int, int]]] = {}
        #: name → [(monotonic ns at the commit, ns the batch transaction took from taking a
        #: connection to the commit, events folded)]. The transaction holds an xid from its
        #: first statement (the position row's FOR UPDATE) to its commit (with the event
        #: store's in-flight visibility rule it no longer holds back other readers).
        self.transactions: dict[str, list[tuple[int, int, int]]] = {}

    def attach(self, runner: ProjectionRunner) -> None:
        name = runner.name
        batches = self.batches.setdefault(name, [])
        advances = self.advances.setdefault(name, [])
        runner.store = ReadTap(runner.store, self.reads.setdefault(name, []))  # type: ignore[assignment]
        observe = runner.on_batch

        def on_batch(projection: str, events: list[RecordedEvent]) -> None:
            batches.append((time.monotonic_ns(), [event.position for event in events]))
            if observe is not None:
                observe(projection, events)

        transactions = self.transactions.setdefault(name, [])
        commit = runner._commit_batch  # noqa: SLF001 - the probe wraps the runner's own steps

        async def committed(relevant: list[RecordedEvent], last: int) -> None:
            started = time.monotonic_ns()
            await commit(relevant, last)
            ended = time.monotonic_ns()
            transactions.append((ended, ended - started, len(relevant)))

        runner._commit_batch = committed  # type: ignore[method-assign] # noqa: SLF001
        advance = runner._advance  # noqa: SLF001

        async def advanced(position: int) -> None:
            advances.append((time.monotonic_ns(), position))
            await advance(position)

        runner.on_batch = on_batch
        runner._advance = advanced  # type: ignore[method-assign] # noqa: SLF001

    def records(self) -> dict[str, Any]:
        return {
            "reads": self.reads,
            "batches": self.batches,
            "advances": self.advances,
            "transactions": self.transactions,
        }


async def trivial_runner(
    context: ProjectionContext,
    database_url: str,
    metrics: Metrics,
    application_name: str,
    projection: Projection | None = None,
) -> tuple[ProjectionRunner, asyncpg.Pool]:
    """The baseline's runner (prepared), and its pool (the caller closes it)."""
    made = projection if projection is not None else TrivialProjection()
    pool = await asyncpg.create_pool(
        database_url,
        min_size=2,
        max_size=3,
        server_settings={"application_name": application_name},
    )
    runner = _runner(lambda _ctx: made, context, pool, metrics)
    await runner.prepare()
    return runner, pool
