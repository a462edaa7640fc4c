"""Report aggregates as they were at a given version: from the nearest snapshot plus events.

Both the report read model and time travel need a report's full mergeable state at some
version. Folding a long stream from its start would cost O(stream); instead the reports
projection stores a snapshot every `SNAPSHOT_EVERY` versions, and a state at version N is the
snapshot at or below N plus at most `SNAPSHOT_EVERY - 1` events.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar
from uuid import UUID

from commands.envelope import metadata_of
from commands.errors import StreamOfAnotherKind
from commands.eventstore import EventStore, RecordedEvent
from commands.reports import STREAM_TYPE as REPORT_STREAM
from domain.report.aggregate import Report
from domain.report.events import decode
from domain.report.snapshot import restore
from projections.projection import Tables
from projections.report_documents import VisualParts

if TYPE_CHECKING:
    from projections.projection import Connection

#: A snapshot is written after every this many versions of a report.
SNAPSHOT_EVERY = 256
SNAPSHOTS = "rm_report_snapshots"

S = TypeVar("S")


@dataclass(eq=False)
class ReportAt:
    """A report's state and the stream coordinates it reflects."""

    report: Report
    version: int
    position: int
    recorded_at: datetime | None
    #: The version of the newest snapshot stored for this report (0: none).
    snapshot_version: int = 0
    #: Its document's visuals, encoded (every change of ``report`` must go through `apply`).
    parts: VisualParts = field(default_factory=VisualParts)

    def apply(self, event: RecordedEvent) -> None:
        """Apply a stored event of the report (the next version) and move to it."""
        payload = decode(event.data)
        self.parts.forget(payload)
        self.report.apply(payload, metadata_of(event))
        self.version = event.version
        self.position = event.position
        self.recorded_at = event.recorded_at


def fold(state: ReportAt, events: list[RecordedEvent]) -> None:
    for event in events:
        state.apply(event)


async def load_at(
    conn: Connection,
    store: EventStore,
    tables: Tables,
    report_id: UUID,
    version: int | None,
) -> ReportAt:
    """The report at `version` (None: its newest), from the nearest snapshot and the events."""
    row = await conn.fetchrow(
        f"""SELECT version, position, recorded_at, state FROM {tables[SNAPSHOTS]}
            WHERE report_id = $1 AND ($2::bigint IS NULL OR version <= $2)
            ORDER BY version DESC LIMIT 1""",  # noqa: S608
        report_id,
        version,
    )
    if row is None:
        state = ReportAt(Report(report_id), 0, 0, None)
    else:
        state = ReportAt(
            restore(report_id, row["state"]),
            row["version"],
            row["position"],
            row["recorded_at"],
            snapshot_version=row["version"],
        )
    if version is None or version > state.version:
        events = await store.read_stream(
            report_id, after_version=state.version, up_to_version=version
        )
        StreamOfAnotherKind.check(report_id, REPORT_STREAM, events)
        fold(state, events)
    return state


async def version_at(
    conn: Connection, store_schema: str, tables: Tables, report_id: UUID, at: datetime
) -> int:
    """The report's version at time `at` (0 if it did not exist yet).

    Within a stream, `recorded_at` never decreases with the version (an append checks the
    previous version is committed when it starts), so the snapshots on either side of `at`
    narrow the search to the events between two snapshots.
    """
    row = await conn.fetchrow(
        f"""SELECT
              (SELECT coalesce(max(version), 0) FROM {tables[SNAPSHOTS]}
               WHERE report_id = $1 AND recorded_at <= $2) AS low,
              (SELECT min(version) FROM {tables[SNAPSHOTS]}
               WHERE report_id = $1 AND recorded_at > $2) AS high""",  # noqa: S608
        report_id,
        at,
    )
    assert row is not None
    found = await conn.fetchval(
        f"""SELECT max(version) FROM {store_schema}.events
            WHERE stream_id = $1 AND version > $2 AND ($3::bigint IS NULL OR version < $3)
              AND recorded_at <= $4""",  # noqa: S608
        report_id,
        row["low"],
        row["high"],
        at,
    )
    return int(found if found is not None else row["low"])


class StateCache(Generic[S]):
    """Recently used report states (the projection's working set), least recently used out."""

    def __init__(
        self, capacity: int = 512, *, on_evict: Callable[[UUID, S], None] | None = None
    ) -> None:
        self.capacity = capacity
        self._states: OrderedDict[UUID, S] = OrderedDict()
        #: Called with each state pushed out to make room (not with replaced or cleared ones).
        self.on_evict = on_evict

    def get(self, report_id: UUID) -> S | None:
        state = self._states.get(report_id)
        if state is not None:
            self._states.move_to_end(report_id)
        return state

    def put(self, report_id: UUID, state: S) -> None:
        self._states[report_id] = state
        self._states.move_to_end(report_id)
        while len(self._states) > self.capacity:
            evicted_id, evicted = self._states.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(evicted_id, evicted)

    def clear(self) -> None:
        self._states.clear()
