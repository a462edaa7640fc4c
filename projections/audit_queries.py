"""Reads of the audit log: filtered pages of entries, and a report's edits grouped into bursts."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from projections.audit import AUDIT, AuditLog
from projections.projection import tables_for

#: Consecutive edits of a report by one actor less than this apart form one burst.
BURST_GAP: Final = timedelta(minutes=5)
#: Summaries a burst shows (its first ones).
BURST_SUMMARIES: Final = 3
#: Rows a history page reads at most; a burst longer than that is continued on the next page.
HISTORY_SCAN: Final = 20_000
_HISTORY_CHUNK: Final = 1000


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event in the audit log."""

    #: The event's global position (entries are in position order; the keyset of pages).
    position: int
    #: When it was recorded (its transaction's time).
    at: datetime
    actor: UUID | None
    #: The actor's name as known when the event happened ("user 1a2b3c4d" if none was).
    actor_name: str | None
    workspace_id: UUID | None
    #: "report", "page", "visual", "field", "filter", "property", "workspace", "member",
    #: "user", or another stream type.
    object_type: str
    object_id: str
    #: The event type ("VisualMoved").
    event: str
    summary: str
    #: Each field the event set: ``{"before": ..., "after": ...}`` (``before`` only where a
    #: value existed, ``after`` only where one remains).
    change: dict[str, Any]


class HistoryBurst(msgspec.Struct, frozen=True, kw_only=True):
    """Consecutive edits of a report by one actor, each less than the gap after the last."""

    actor: UUID | None
    actor_name: str | None
    from_version: int
    to_version: int
    started_at: datetime
    ended_at: datetime
    #: How many events.
    events: int
    #: The first few events' summaries, oldest first.
    summaries: list[str]
    #: The global positions of its first and last event.
    positions: list[int]


@dataclass(frozen=True)
class Visibility:
    """What a caller may see: their workspaces' entries, and entries about themselves that
    belong to no workspace (their own user stream)."""

    workspaces: Collection[UUID]
    user_id: UUID


@dataclass(frozen=True)
class AuditFilter:
    workspace: UUID | None = None
    actor: UUID | None = None
    #: An object id: entries about that object, or of the stream with that id (a report's id
    #: gives every entry of the report).
    object: UUID | None = None
    types: tuple[str, ...] = ()
    #: ``since <= at < until``.
    since: datetime | None = None
    until: datetime | None = None


def _table(read_schema: str) -> str:
    return tables_for(read_schema, AuditLog.tables)[AUDIT]


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)


async def audit_entries(
    pool: asyncpg.Pool,
    read_schema: str,
    filters: AuditFilter,
    *,
    visible: Visibility | None,
    after: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int | None]:
    """Entries after position ``after`` matching ``filters`` and visible to the caller (None:
    everything), oldest first; and the ``after`` of the next page (None: this was the last)."""
    where = _Where()
    where.add(f"position > {where.arg(after)}")
    if visible is not None:
        where.add(
            f"(workspace_id = ANY({where.arg(list(visible.workspaces))}::uuid[]) OR "
            f"(workspace_id IS NULL AND stream_id = {where.arg(visible.user_id)}))"
        )
    if filters.workspace is not None:
        where.add(f"workspace_id = {where.arg(filters.workspace)}")
    if filters.actor is not None:
        where.add(f"actor = {where.arg(filters.actor)}")
    if filters.object is not None:
        where.add(
            f"(object_id = {where.arg(str(filters.object))} "
            f"OR stream_id = {where.arg(filters.object)})"
        )
    if filters.types:
        where.add(f"event_type = ANY({where.arg(list(filters.types))}::text[])")
    if filters.since is not None:
        where.add(f"recorded_at >= {where.arg(filters.since)}")
    if filters.until is not None:
        where.add(f"recorded_at < {where.arg(filters.until)}")
    rows = await pool.fetch(
        f"""SELECT position, recorded_at, actor, actor_name, workspace_id, object_type,
                   object_id, event_type, summary, change
            FROM {_table(read_schema)}
            WHERE {" AND ".join(where.clauses)}
            ORDER BY position LIMIT {where.arg(limit + 1)}""",  # noqa: S608
        *where.args,
    )
    more = len(rows) > limit
    entries = [
        AuditEntry(
            position=row["position"],
            at=row["recorded_at"],
            actor=row["actor"],
            actor_name=row["actor_name"],
            workspace_id=row["workspace_id"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            event=row["event_type"],
            summary=row["summary"],
            change=msgspec.json.decode(row["change"]),
        )
        for row in rows[:limit]
    ]
    return entries, (entries[-1].position if more else None)


async def report_workspace(pool: asyncpg.Pool, read_schema: str, report_id: UUID) -> UUID | None:
    """The workspace of a report the audit log knows (None: it knows no event of it)."""
    value: UUID | None = await pool.fetchval(
        f"""SELECT workspace_id FROM {_table(read_schema)}
            WHERE stream_id = $1 AND stream_type = 'report'
            ORDER BY position DESC LIMIT 1""",  # noqa: S608
        report_id,
    )
    return value


@dataclass
class _Burst:
    """A burst being read newest event first."""

    actor: UUID | None
    actor_name: str | None
    last_position: int
    to_version: int
    ended_at: datetime
    first_position: int
    from_version: int
    started_at: datetime
    events: int
    summaries: deque[str]

    @classmethod
    def starting(cls, row: asyncpg.Record, summaries: int) -> _Burst:
        return cls(
            actor=row["actor"],
            actor_name=row["actor_name"],
            last_position=row["position"],
            to_version=row["version"],
            ended_at=row["recorded_at"],
            first_position=row["position"],
            from_version=row["version"],
            started_at=row["recorded_at"],
            events=1,
            # Rows come newest first; appendleft keeps the OLDEST ones.
            summaries=deque([row["summary"]], maxlen=summaries),
        )

    def takes(self, row: asyncpg.Record, gap: timedelta) -> bool:
        at: datetime = row["recorded_at"]
        return row["actor"] == self.actor and self.started_at - at < gap

    def add_older(self, row: asyncpg.Record) -> None:
        self.first_position = row["position"]
        self.from_version = row["version"]
        self.started_at = row["recorded_at"]
        self.events += 1
        self.summaries.appendleft(row["summary"])

    def done(self) -> HistoryBurst:
        return HistoryBurst(
            actor=self.actor,
            actor_name=self.actor_name,
            from_version=self.from_version,
            to_version=self.to_version,
            started_at=self.started_at,
            ended_at=self.ended_at,
            events=self.events,
            summaries=list(self.summaries),
            positions=[self.first_position, self.last_position],
        )


async def report_history(
    pool: asyncpg.Pool,
    read_schema: str,
    report_id: UUID,
    *,
    before: int | None = None,
    limit: int = 20,
    gap: timedelta = BURST_GAP,
    summaries: int = BURST_SUMMARIES,
    max_scan: int = HISTORY_SCAN,
) -> tuple[list[HistoryBurst], int | None]:
    """The report's edits before position ``before``, grouped into bursts, newest first; and
    the ``before`` of the next page (None: this was the last).

    Reads newest first, only as far as it must: up to the event that starts burst
    ``limit + 1`` (or ``max_scan`` rows: a longer burst is cut there and continued on the
    next page).
    """
    bursts: list[HistoryBurst] = []
    current: _Burst | None = None
    cursor = before
    scanned = 0
    exhausted = False
    while not exhausted and scanned < max_scan:
        want = min(_HISTORY_CHUNK, max_scan - scanned)
        rows = await pool.fetch(
            f"""SELECT position, version, actor, actor_name, recorded_at, summary
                FROM {_table(read_schema)}
                WHERE stream_id = $1 AND ($2::bigint IS NULL OR position < $2)
                ORDER BY position DESC LIMIT $3""",  # noqa: S608
            report_id,
            cursor,
            want,
        )
        for row in rows:
            if current is None:
                current = _Burst.starting(row, summaries)
            elif current.takes(row, gap):
                current.add_older(row)
            else:
                bursts.append(current.done())
                if len(bursts) == limit:
                    return bursts, current.first_position
                current = _Burst.starting(row, summaries)
        scanned += len(rows)
        exhausted = len(rows) < want
        if rows:
            cursor = rows[-1]["position"]
    if current is None:
        return bursts, None
    bursts.append(current.done())
    # Out of rows: the last burst is complete. Out of scan: it may go on before its start.
    return bursts, (None if exhausted else current.first_position)
