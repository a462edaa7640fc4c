"""The SQL text the store sends, built once per schema.

Kept apart from the Python logic so that the statements can be read (and EXPLAINed) in one
place, and so that tests can drive the same statements by hand, e.g. inside a transaction
they keep open to stage a late commit.
"""

# ruff: noqa: S608 - identifiers are interpolated only after names.check_identifier; every
# value is a bind parameter.

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from commands.eventstore.names import quote_identifier

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from commands.eventstore.model import NewEvent, StreamRef

#: Event columns in the order RecordedEvent is built from (see store._recorded).
EVENT_COLUMN_NAMES = (
    "position",
    "stream_id",
    "stream_type",
    "workspace_id",
    "version",
    "event_id",
    "type",
    "data",
    "actor",
    "client_id",
    "dot_counter",
    "hlc",
    "command_id",
    "correlation_id",
    "recorded_at",
)
EVENT_COLUMNS = ", ".join(EVENT_COLUMN_NAMES)


def event_columns(alias: str) -> str:
    """The event columns qualified by a table alias."""
    return ", ".join(f"{alias}.{name}" for name in EVENT_COLUMN_NAMES)


@dataclass(frozen=True)
class Statements:
    """Every statement of the store for one schema."""

    schema: str
    append: str
    append_one: str
    head: str
    head_of_types: str
    last_reserved: str
    read_safe: str
    read_share: str
    read_stream_asc: str
    read_stream_desc: str
    stream_version: str
    command_result: str
    command_exists: str
    notify: str

    @classmethod
    def for_schema(cls, schema: str) -> Statements:
        s = quote_identifier(schema)
        read_stream = (
            f"SELECT {EVENT_COLUMNS} FROM {s}.events"
            " WHERE stream_id = $1 AND version > $2 AND ($3::bigint IS NULL OR version <= $3)"
            " AND position > $5"
            " ORDER BY version {order} LIMIT $4"
        )
        return cls(
            schema=schema,
            append=(
                f"SELECT first_position, recorded_at FROM {s}.append_events("
                "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
            ),
            append_one=(
                f"SELECT first_position, recorded_at FROM {s}.append_event("
                "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            ),
            # The safe head and the rows are computed inside PL/pgSQL functions, never as
            # "SELECT ... WHERE position <= safe_head()": the rows must be read with a snapshot
            # taken AFTER the head was computed, and a statement's snapshot is taken when the
            # statement starts (migrations/0002_inflight_visibility.sql, docs/event-store.md).
            head=f"SELECT {s}.head_position(NULL)",
            head_of_types=f"SELECT {s}.head_position($1::text[])",
            # The highest position ever handed out (committed, in flight or rolled back).
            last_reserved=(
                f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END"
                f" FROM {s}.events_position_seq"
            ),
            # The head comes with the rows (column 0 of every row; one row of NULL event
            # columns when there are none), from the rows' snapshot: a caller that got fewer
            # rows than asked for may move its cursor to the head even when filters skipped
            # rows (see EventStore.subscribe).
            read_safe=f"SELECT * FROM {s}.read_safe($1, $2, $3, $4::text[], $5::text[])",
            # Up to a position the caller knows to be safe (at or below a head read before):
            # a plain range read. Streams of the split stream types are dealt out by a hash of
            # their id (uuid_hash: the uuid type's own hash, computed without text).
            read_share=(
                f"SELECT {EVENT_COLUMNS} FROM {s}.events"
                " WHERE position > $1 AND position <= $2"
                " AND ($3::text[] IS NULL OR type = ANY($3::text[]))"
                " AND (stream_type <> ALL($4::text[])"
                "      OR (uuid_hash(stream_id) & 2147483647) % $5 = $6)"
                " ORDER BY position LIMIT $7"
            ),
            read_stream_asc=read_stream.format(order="ASC"),
            read_stream_desc=read_stream.format(order="DESC"),
            # ORDER BY ... LIMIT 1 rather than max(): one index probe even with a plan cached
            # before the table had statistics (max() then read the whole stream).
            stream_version=(
                f"SELECT coalesce((SELECT version FROM {s}.events WHERE stream_id = $1"
                " ORDER BY version DESC LIMIT 1), 0)"
            ),
            command_result=(
                f"SELECT c.stream_id AS c_stream_id, c.version AS c_version, {event_columns('e')}"
                f" FROM {s}.commands c"
                f" LEFT JOIN {s}.events e"
                "   ON e.position BETWEEN c.first_position AND c.last_position"
                " WHERE c.command_id = $1"
                " ORDER BY e.position"
            ),
            command_exists=f"SELECT EXISTS (SELECT 1 FROM {s}.commands WHERE command_id = $1)",
            # Asynchronous commit: losing a wake-up in a crash is harmless (readers poll too),
            # and waiting for an fsync per NOTIFY would be pure cost.
            notify=("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)"),
        )


def append_args(
    stream: StreamRef,
    expected_version: int,
    events: Sequence[NewEvent],
    command_id: UUID | None,
) -> list[Any]:
    """Bind parameters of ``Statements.append`` for a single-stream append."""
    return [
        command_id,
        expected_version,
        stream.stream_id,
        stream.stream_type,
        stream.workspace_id,
        None,
        None,
        None,
        None,
        [e.event_id for e in events],
        [e.type for e in events],
        [e.data for e in events],
        [e.actor for e in events],
        [e.client_id for e in events],
        [e.dot_counter for e in events],
        [e.hlc for e in events],
        [e.correlation_id for e in events],
    ]


def append_one_args(
    stream: StreamRef, expected_version: int, event: NewEvent, command_id: UUID | None
) -> list[Any]:
    """Bind parameters of ``Statements.append_one``: one event, scalars only."""
    return [
        command_id,
        expected_version,
        stream.stream_id,
        stream.stream_type,
        stream.workspace_id,
        event.event_id,
        event.type,
        event.data,
        event.actor,
        event.client_id,
        event.dot_counter,
        event.hlc,
        event.correlation_id,
    ]


def explicit_append_args(items: Sequence[tuple[StreamRef, int, NewEvent]]) -> list[Any]:
    """Bind parameters of ``Statements.append`` for events that carry their own versions."""
    return [
        None,
        None,
        None,
        None,
        None,
        [s.stream_id for s, _, _ in items],
        [s.stream_type for s, _, _ in items],
        [s.workspace_id for s, _, _ in items],
        [v for _, v, _ in items],
        [e.event_id for _, _, e in items],
        [e.type for _, _, e in items],
        [e.data for _, _, e in items],
        [e.actor for _, _, e in items],
        [e.client_id for _, _, e in items],
        [e.dot_counter for _, _, e in items],
        [e.hlc for _, _, e in items],
        [e.correlation_id for _, _, e in items],
    ]
