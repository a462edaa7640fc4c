"""The report read model: each report's document (what `GET /reports/{id}` serves), its row in
the workspace's report catalogue, and the snapshots that make time travel fast.

For every report event the projection brings the report's state to the version before it
(from its cache, or from the nearest snapshot and the events after it), applies the event, and
at the end of the batch writes each touched report's document and catalogue row once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec

from commands.eventstore import EventStore, RecordedEvent
from domain.report.events import EVENT_TYPES
from domain.report.snapshot import snapshot
from projections.projection import Tables
from projections.report_states import (
    SNAPSHOT_EVERY,
    SNAPSHOTS,
    ReportAt,
    StateCache,
    fold,
    load_at,
)

if TYPE_CHECKING:
    from projections.projection import Connection

REPORTS = "rm_reports"
_encoder = msgspec.json.Encoder()


@dataclass
class _Touched:
    """What a batch (or, in bulk mode, a whole rebuild) learnt about one report."""

    version: int
    created_by: UUID | None = None
    created_at: datetime | None = None
    last_actor: UUID | None = None
    last_at: datetime | None = None


class ReportReadModel:
    name = "reports"
    version = 1
    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    tables: tuple[str, ...] = (REPORTS, SNAPSHOTS)

    def __init__(
        self, store: EventStore, *, cache_size: int = 512, snapshot_every: int = SNAPSHOT_EVERY
    ) -> None:
        self.store = store
        self.snapshot_every = snapshot_every
        self.states = StateCache(cache_size)
        #: In bulk mode (a rebuild): every report touched so far, written once by `flush`.
        self._deferred: dict[UUID, _Touched] | None = None

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[REPORTS]} (
                    report_id       uuid PRIMARY KEY,
                    workspace_id    uuid,
                    name            text,
                    dataset_id      uuid,
                    created_by      uuid,
                    created_at      timestamptz,
                    last_edited_by  uuid,
                    last_edited_at  timestamptz,
                    pages           integer NOT NULL DEFAULT 0,
                    visuals         integer NOT NULL DEFAULT 0,
                    version         bigint NOT NULL,
                    position        bigint NOT NULL,
                    document        bytea
                )""",
            f"CREATE INDEX ON {t[REPORTS]} (workspace_id, lower(name))",
            f"""CREATE TABLE {t[SNAPSHOTS]} (
                    report_id    uuid NOT NULL,
                    version      bigint NOT NULL,
                    position     bigint NOT NULL,
                    recorded_at  timestamptz NOT NULL,
                    state        bytea NOT NULL,
                    PRIMARY KEY (report_id, version)
                )""",
        ]

    def reset(self) -> None:
        self.states.clear()
        if self._deferred is not None:
            self._deferred = {}

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001 - a mode switch
        self._deferred = {} if enabled else None

    async def flush(self, conn: Connection, tables: Tables) -> None:
        if self._deferred:
            await self._write_all(conn, tables, self._deferred)
            self._deferred = {}

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        touched = self._deferred if self._deferred is not None else {}
        for event in events:
            state = await self._state_before(conn, t, event)
            fold(state, [event])
            entry = touched.get(event.stream_id)
            if entry is None:
                entry = touched[event.stream_id] = _Touched(state.version)
            entry.version = state.version
            if event.type == "ReportCreated":
                entry.created_by, entry.created_at = event.actor, event.recorded_at
            entry.last_actor, entry.last_at = event.actor, event.recorded_at
            if state.version - state.snapshot_version >= self.snapshot_every:
                await self._snapshot(conn, t, state)
        if self._deferred is None:
            await self._write_all(conn, t, touched)

    async def _write_all(self, conn: Connection, t: Tables, touched: dict[UUID, _Touched]) -> None:
        for report_id, entry in touched.items():
            state = self.states.get(report_id)
            if state is None or state.version != entry.version:
                state = await load_at(conn, self.store, t, report_id, entry.version)
            await self._write(conn, t, state, entry)

    async def _state_before(self, conn: Connection, t: Tables, event: RecordedEvent) -> ReportAt:
        state = self.states.get(event.stream_id)
        if state is None or state.version != event.version - 1:
            state = await load_at(conn, self.store, t, event.stream_id, event.version - 1)
            self.states.put(state)
        return state

    async def _snapshot(self, conn: Connection, t: Tables, state: ReportAt) -> None:
        assert state.recorded_at is not None
        await conn.execute(
            f"""INSERT INTO {t[SNAPSHOTS]} (report_id, version, position, recorded_at, state)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",  # noqa: S608
            state.report.id,
            state.version,
            state.position,
            state.recorded_at,
            snapshot(state.report),
        )
        state.snapshot_version = state.version

    async def _write(self, conn: Connection, t: Tables, state: ReportAt, entry: _Touched) -> None:
        report = state.report
        document: dict[str, Any] | None = report.document() if report.exists else None
        pages = document["pages"] if document else []
        await conn.execute(
            f"""INSERT INTO {t[REPORTS]} AS r (report_id, workspace_id, name, dataset_id,
                    created_by, created_at, last_edited_by, last_edited_at, pages, visuals,
                    version, position, document)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (report_id) DO UPDATE SET
                    workspace_id = EXCLUDED.workspace_id, name = EXCLUDED.name,
                    dataset_id = EXCLUDED.dataset_id,
                    created_by = coalesce(EXCLUDED.created_by, r.created_by),
                    created_at = coalesce(EXCLUDED.created_at, r.created_at),
                    last_edited_by = EXCLUDED.last_edited_by,
                    last_edited_at = EXCLUDED.last_edited_at,
                    pages = EXCLUDED.pages, visuals = EXCLUDED.visuals,
                    version = EXCLUDED.version, position = EXCLUDED.position,
                    document = EXCLUDED.document""",  # noqa: S608
            report.id,
            report.workspace_id,
            report.name,
            report.dataset_id,
            entry.created_by,
            entry.created_at,
            entry.last_actor,
            entry.last_at,
            len(pages),
            sum(len(page["visuals"]) for page in pages),
            state.version,
            state.position,
            _encoder.encode(document) if document is not None else None,
        )
