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
    #: Each report folds on its own: a rebuild may give its reports to several processes.
    split_stream_types: frozenset[str] = frozenset({"report"})

    def __init__(
        self,
        store: EventStore,
        *,
        cache_size: int = 512,
        bulk_cache_size: int = 2048,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.store = store
        self.snapshot_every = snapshot_every
        self.cache_size = cache_size
        self.bulk_cache_size = bulk_cache_size
        self.states: StateCache[ReportAt] = StateCache(cache_size, on_evict=self._evicted)
        #: In bulk mode (a rebuild): every report touched so far whose state is in the cache,
        #: written once by `flush`...
        self._deferred: dict[UUID, _Touched] | None = None
        #: ... or, when its state has to leave the cache, at the end of the batch.
        self._leaving: list[tuple[ReportAt, _Touched]] = []

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
        self._leaving = []
        if self._deferred is not None:
            self._deferred = {}

    def split_worker(self, *, writes_shared: bool) -> None:
        """Nothing to do: every event it folds belongs to a report stream (no shared events)."""

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001 - a mode switch
        self._deferred = {} if enabled else None
        self._leaving = []
        # A rebuild sweeps through every report in turn: keep more of them at hand.
        self.states.capacity = self.bulk_cache_size if enabled else self.cache_size

    async def flush(self, conn: Connection, tables: Tables) -> None:
        await self._write_leaving(conn, tables)
        if self._deferred:
            await self._write_all(conn, tables, self._deferred)
            self._deferred = {}

    def _evicted(self, report_id: UUID, state: ReportAt) -> None:
        """In bulk mode, a report whose state leaves the cache is written with this batch (its
        state would otherwise have to be loaded again to be written at the end)."""
        if self._deferred is None:
            return
        entry = self._deferred.get(report_id)
        if entry is not None and entry.version == state.version:
            del self._deferred[report_id]
            self._leaving.append((state, entry))

    async def _write_leaving(self, conn: Connection, t: Tables) -> None:
        leaving, self._leaving = self._leaving, []
        for state, entry in leaving:  # in order: a report may leave twice (upserts)
            await self._write(conn, t, state, entry)

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        touched = self._deferred if self._deferred is not None else {}
        states = self.states
        for event in events:
            report_id = event.stream_id
            state = states.get(report_id)
            if state is None or state.version != event.version - 1:
                state = await load_at(conn, self.store, t, report_id, event.version - 1)
                states.put(report_id, state)
            state.apply(event)
            version = event.version
            entry = touched.get(report_id)
            if entry is None:
                entry = touched[report_id] = _Touched(version)
            entry.version = version
            if event.type == "ReportCreated":
                entry.created_by, entry.created_at = event.actor, event.recorded_at
            entry.last_actor, entry.last_at = event.actor, event.recorded_at
            if version - state.snapshot_version >= self.snapshot_every:
                await self._snapshot(conn, t, state)
        if self._deferred is None:
            await self._write_all(conn, t, touched)
        else:
            await self._write_leaving(conn, t)

    async def _write_all(self, conn: Connection, t: Tables, touched: dict[UUID, _Touched]) -> None:
        for report_id, entry in touched.items():
            state = self.states.get(report_id)
            if state is None or state.version != entry.version:
                state = await load_at(conn, self.store, t, report_id, entry.version)
            await self._write(conn, t, state, entry)

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
        document: dict[str, Any] | None = (
            report.document(state.parts.render) if report.exists else None
        )
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
