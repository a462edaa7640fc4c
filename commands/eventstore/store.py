"""The event store: append with optimistic concurrency, read, wait, subscribe.

Every report edit is an event appended here, and the commit is the only truth. The SQL side
(tables, the reservation function, the one-round-trip append function) is in
``migrations/0001_event_store.sql``, the readers' safe head and the reservation's in-flight
lock in ``migrations/0002_inflight_visibility.sql``; the reasoning, including the proof that
readers never skip an event that commits late, is in docs/event-store.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

import asyncpg

from commands.eventstore.errors import (
    SQLSTATE_DUPLICATE_COMMAND,
    SQLSTATE_NOT_FIRST_WRITE,
    SQLSTATE_VERSION_CONFLICT,
    SQLSTATE_WRONG_EXPECTED_VERSION,
    DuplicateEventIdError,
    EventStoreError,
    NotFirstWriteError,
    VersionConflictError,
    WrongExpectedVersion,
)
from commands.eventstore.migrations import migrate
from commands.eventstore.model import (
    AppendResult,
    NewEvent,
    RecordedEvent,
    Share,
    StreamRef,
)
from commands.eventstore.model import recorded as record
from commands.eventstore.names import check_identifier
from commands.eventstore.sql import (
    Statements,
    append_args,
    append_one_args,
    explicit_append_args,
)
from commands.eventstore.wakeup import DEFAULT_NOTIFY_INTERVAL, Wakeups

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Sequence

    from commands.eventstore.wakeup import Conn, ListenConnector

log = logging.getLogger(__name__)

#: Default seconds between polls while waiting (the fallback behind LISTEN/NOTIFY).
DEFAULT_POLL_INTERVAL = 0.5
#: First re-check delay when an event is known to be committed but is not yet safe.
_RECHECK_MIN = 0.001
#: How long subscribe() waits per round before it simply looks again.
_SUBSCRIBE_WAIT = 30.0


def channel_name(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a schema's event store."""
    return f"{check_identifier(schema)}.events"


class EventStore:
    """The event store of one PostgreSQL schema, over an asyncpg pool.

    Use one instance per process and schema (it owns the process's wake-up machinery), from
    one event loop. ``listen_connector`` gives the dedicated LISTEN connection; without it the
    store holds one of the pool's connections while anybody waits. ``connect_store`` wires
    both from a DSN.
    """

    def __init__(
        self,
        pool: asyncpg.Pool[asyncpg.Record],
        schema: str,
        *,
        listen_connector: ListenConnector | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        notify: bool = True,
        notify_interval: float = DEFAULT_NOTIFY_INTERVAL,
        owns_pool: bool = False,
    ) -> None:
        self._pool = pool
        self.schema = check_identifier(schema)
        self._sql = Statements.for_schema(schema)
        self._owns_pool = owns_pool
        channel = channel_name(schema)
        if len(channel.encode()) > 63:  # noqa: PLR2004 - PostgreSQL's identifier limit
            raise ValueError(f"schema name {schema!r} is too long for a NOTIFY channel")
        self._wakeups = Wakeups(
            pool=pool,
            channel=channel,
            notify_sql=self._sql.notify,
            listen_connector=listen_connector or pool.acquire,
            poll_interval=poll_interval,
            send_notify=notify,
            notify_interval=notify_interval,
        )

    # -- writing -------------------------------------------------------------------------

    async def append(
        self,
        stream: StreamRef,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        command_id: UUID | None = None,
    ) -> AppendResult:
        """Append ``events`` as versions ``expected_version + 1 ...`` of the stream.

        One round trip, one transaction. Raises WrongExpectedVersion (nothing written) when
        the stream is at another version. With a ``command_id`` that was appended before,
        appends nothing and returns the first append's result with ``duplicate=True``, also
        when two appends of the same command race.
        """
        if expected_version < 0:
            raise ValueError("expected_version must be >= 0")
        if len(events) == 1:
            sql, args = (
                self._sql.append_one,
                append_one_args(stream, expected_version, events[0], command_id),
            )
        else:
            sql, args = self._sql.append, append_args(stream, expected_version, events, command_id)
        try:
            row = await self._pool.fetchrow(sql, *args)
        except asyncpg.PostgresError as exc:
            return await self._append_failed(exc, stream, expected_version, command_id)
        assert row is not None
        first: int | None = row[0]
        recorded = []
        if first is not None:
            recorded = [
                record(
                    e,
                    stream,
                    position=first + i,
                    version=expected_version + 1 + i,
                    recorded_at=row[1],
                    command_id=command_id,
                )
                for i, e in enumerate(events)
            ]
            self._wakeups.committed(first + len(events) - 1)
        return AppendResult(
            stream_id=stream.stream_id,
            version=expected_version + len(events),
            events=recorded,
            duplicate=False,
        )

    async def append_versioned(self, items: Sequence[tuple[StreamRef, int, NewEvent]]) -> list[int]:
        """Append events that carry their own stream and version; return their positions.

        The low-level path of the eventsourcing adapter: one transaction for events of any
        number of streams, no expected-version check beyond "(stream_id, version) is free"
        (VersionConflictError otherwise), no idempotency record.
        """
        if not items:
            return []
        try:
            row = await self._pool.fetchrow(self._sql.append, *explicit_append_args(items))
        except asyncpg.PostgresError as exc:
            raise _versioned_error(exc) from exc
        assert row is not None
        first: int = row[0]
        self._wakeups.committed(first + len(items) - 1)
        return list(range(first, first + len(items)))

    async def _append_failed(
        self,
        exc: asyncpg.PostgresError,
        stream: StreamRef,
        expected_version: int,
        command_id: UUID | None,
    ) -> AppendResult:
        state = exc.sqlstate
        constraint = getattr(exc, "constraint_name", None)
        if state == SQLSTATE_DUPLICATE_COMMAND or constraint == "commands_pkey":
            assert command_id is not None
            return await self._command_result(command_id)
        if state == SQLSTATE_WRONG_EXPECTED_VERSION:
            detail = getattr(exc, "detail", None)
            actual = int(detail) if detail else await self.stream_version(stream.stream_id)
            raise WrongExpectedVersion(stream.stream_id, expected_version, actual) from exc
        if isinstance(exc, asyncpg.UniqueViolationError):
            # A race that passed the pre-checks. The command may have won meanwhile.
            if command_id is not None and await self._pool.fetchval(
                self._sql.command_exists, command_id
            ):
                return await self._command_result(command_id)
            if constraint == "events_stream_version_key":
                actual = await self.stream_version(stream.stream_id)
                raise WrongExpectedVersion(stream.stream_id, expected_version, actual) from exc
            if constraint == "events_event_id_key":
                raise DuplicateEventIdError(str(exc)) from exc
        if state == SQLSTATE_NOT_FIRST_WRITE:
            raise NotFirstWriteError(str(exc)) from exc
        raise exc

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """The result of an earlier append of ``command_id`` (``duplicate=True``), or None."""
        if not await self._pool.fetchval(self._sql.command_exists, command_id):
            return None
        return await self._command_result(command_id)

    async def _command_result(self, command_id: UUID) -> AppendResult:
        rows = await self._pool.fetch(self._sql.command_result, command_id)
        if not rows:  # pragma: no cover - the command row was seen a moment ago
            raise RuntimeError(f"command {command_id} vanished")
        events = [_recorded(row, 2) for row in rows if row["position"] is not None]
        return AppendResult(
            stream_id=rows[0]["c_stream_id"],
            version=rows[0]["c_version"],
            events=events,
            duplicate=True,
        )

    # -- reading -------------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: UUID,
        *,
        after_version: int = 0,
        up_to_version: int | None = None,
        after_position: int = 0,
        limit: int | None = None,
        descending: bool = False,
    ) -> list[RecordedEvent]:
        """A stream's events with ``after_version < version <= up_to_version`` and
        ``position > after_position`` (within a stream, positions grow with versions).

        No visibility rule here: a stream's own order is its versions, which commit in order.
        ``descending`` with ``limit`` gives the newest ``limit`` events, newest first.
        """
        sql = self._sql.read_stream_desc if descending else self._sql.read_stream_asc
        rows = await self._pool.fetch(
            sql, stream_id, after_version, up_to_version, limit, after_position
        )
        return [_recorded(row) for row in rows]

    async def read_all(
        self,
        *,
        after_position: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
    ) -> list[RecordedEvent]:
        """Events after ``after_position`` in position order, only those safe to hand out.

        "Safe" means no append of this store that could still commit a lower position is in
        flight; an event that committed after a still-running older append waits for it.
        Other transactions (of other schemas or databases, projections' batches) do not delay
        it. One round trip; needs READ COMMITTED (any other isolation level is refused).
        """
        events, _head = await self.read_safe(
            after_position=after_position, limit=limit, stream_types=stream_types
        )
        return events

    async def read_safe(
        self,
        *,
        after_position: int,
        limit: int,
        stream_types: Collection[str] | None = None,
        types: Collection[str] | None = None,
        up_to_position: int | None = None,
    ) -> tuple[list[RecordedEvent], int]:
        """Like read_all, plus the safe head of the same snapshot.

        When fewer than ``limit`` events come back, every matching event up to the head has
        been returned, so a reader with filters may move its cursor to the head.
        """
        if limit <= 0:
            return [], await self.head_position()
        rows = await self._pool.fetch(
            self._sql.read_safe,
            after_position,
            limit,
            up_to_position,
            _text_array(stream_types),
            _text_array(types),
        )
        head: int = rows[0][0] if rows else 0
        events = [_recorded(row, 1) for row in rows if row[1] is not None]
        return events, head

    async def read_share(
        self,
        *,
        after_position: int,
        up_to_position: int,
        limit: int,
        share: Share,
        types: Collection[str] | None = None,
    ) -> list[RecordedEvent]:
        """One share of the log in ``(after_position, up_to_position]``, in position order:
        the events of the share's streams among ``share.stream_types``, and every event of
        other stream types (see `Share`). For work split across processes, e.g. a rebuild.

        ``up_to_position`` must be at or below a head this store returned (``head_position``):
        the read does not wait for appends in flight.
        """
        rows = await self._pool.fetch(
            self._sql.read_share,
            after_position,
            up_to_position,
            _text_array(types),
            sorted(share.stream_types),
            share.count,
            share.index,
            limit,
        )
        return [_recorded(row) for row in rows]

    async def stream_version(self, stream_id: UUID) -> int:
        """The stream's current version; 0 for a stream with no events."""
        version: int = await self._pool.fetchval(self._sql.stream_version, stream_id)
        return version

    async def head_position(self, *, stream_types: Collection[str] | None = None) -> int:
        """The highest position that is safe to hand out (0 if none).

        Everything at or below it that will ever commit has committed. With ``stream_types``,
        the highest such position among events of those types.
        """
        if stream_types is None:
            value = await self._pool.fetchval(self._sql.head)
        else:
            value = await self._pool.fetchval(self._sql.head_of_types, list(stream_types))
        return int(value or 0)

    async def last_reserved_position(self) -> int:
        """The highest position any append has taken so far (committed, still in flight or
        rolled back; 0 if none). No event has a position above it yet."""
        value: int = await self._pool.fetchval(self._sql.last_reserved)
        return value

    # -- waiting -------------------------------------------------------------------------

    async def wait_for_events(self, after_position: int, timeout: float) -> bool:
        """Wait until read_all(after_position=...) may return something; False on timeout.

        Raises EventStoreError if the store is (or gets) closed, so that nobody waits on a
        store that can no longer wake them.
        """
        wakeups = self._wakeups
        wakeups.ensure_listening()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        recheck = _RECHECK_MIN
        while True:
            if wakeups.closed:
                raise EventStoreError("the event store is closed")
            changed = wakeups.current()
            if await self.head_position() > after_position:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if wakeups.hint > after_position:
                # Committed but not yet safe: an older append is still in flight. Nobody
                # will announce its end, so look again soon.
                delay = recheck
                recheck = min(recheck * 2, wakeups.poll_interval)
            else:
                delay = wakeups.poll_interval
                recheck = _RECHECK_MIN
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(delay, remaining))

    async def subscribe(
        self,
        after_position: int = 0,
        *,
        stream_types: Collection[str] | None = None,
        batch_size: int = 500,
    ) -> AsyncIterator[RecordedEvent]:
        """Every event after ``after_position``, in position order, forever; never skips one."""
        cursor = after_position
        while True:
            events, head = await self.read_safe(
                after_position=cursor, limit=batch_size, stream_types=stream_types
            )
            for event in events:
                cursor = event.position
                yield event
            if len(events) < batch_size:
                cursor = max(cursor, head)
                await self.wait_for_events(cursor, _SUBSCRIBE_WAIT)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def wakeups(self) -> Wakeups:
        """The wake-up machinery (exposed for diagnostics and tests)."""
        return self._wakeups

    async def close(self) -> None:
        """Stop listening; close the pool if this store created it."""
        await self._wakeups.close()
        if self._owns_pool:
            await self._pool.close()


async def connect_store(
    dsn: str,
    schema: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    run_migrations: bool = True,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    notify: bool = True,
    notify_interval: float = DEFAULT_NOTIFY_INTERVAL,
) -> EventStore:
    """The one place that builds the store's pool (and its LISTEN connection) from a DSN.

    The pool is private to the store, whose statements leave no session state behind (the
    session-level locks of reserve_positions and safe_head are released inside those
    functions, also on error), so connections go back to the pool without asyncpg's reset
    query: that saves a round trip per append.
    Migrations run on a connection of their own, which is closed afterwards.
    """
    check_identifier(schema)
    if run_migrations:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn, schema)
        finally:
            await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        server_settings={"application_name": f"loupe-eventstore:{schema}"},
    )

    @asynccontextmanager
    async def listen_connection() -> AsyncIterator[Conn]:
        conn = await asyncpg.connect(
            dsn, server_settings={"application_name": f"loupe-eventstore-listen:{schema}"}
        )
        try:
            yield conn
        finally:
            with contextlib.suppress(*_CLOSE_ERRORS):
                await asyncio.wait_for(conn.close(), 2.0)
            conn.terminate()

    return EventStore(
        pool,
        schema,
        listen_connector=listen_connection,
        poll_interval=poll_interval,
        notify=notify,
        notify_interval=notify_interval,
        owns_pool=True,
    )


async def _keep_session(_conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Pool reset hook: nothing to undo (asyncpg still rolls back an open transaction)."""


_CLOSE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def _text_array(values: Collection[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _recorded(row: asyncpg.Record, offset: int = 0) -> RecordedEvent:
    """Build a RecordedEvent from columns in sql.EVENT_COLUMNS order, starting at ``offset``."""
    o = offset
    return RecordedEvent(
        position=row[o],
        stream_id=row[o + 1],
        stream_type=row[o + 2],
        workspace_id=row[o + 3],
        version=row[o + 4],
        event_id=row[o + 5],
        type=row[o + 6],
        data=row[o + 7],
        actor=row[o + 8],
        client_id=row[o + 9],
        dot_counter=row[o + 10],
        hlc=row[o + 11],
        command_id=row[o + 12],
        correlation_id=row[o + 13],
        recorded_at=row[o + 14],
    )


def _versioned_error(exc: asyncpg.PostgresError) -> Exception:
    """Map a failed explicit-version append to the store's exceptions."""
    state = exc.sqlstate
    if state == SQLSTATE_VERSION_CONFLICT:
        detail: Any = getattr(exc, "detail", None)
        return VersionConflictError(UUID(detail) if detail else None, str(exc))
    if isinstance(exc, asyncpg.UniqueViolationError):
        constraint = getattr(exc, "constraint_name", None)
        if constraint == "events_event_id_key":
            return DuplicateEventIdError(str(exc))
        return VersionConflictError(None, str(exc))
    if state == SQLSTATE_NOT_FIRST_WRITE:
        return NotFirstWriteError(str(exc))
    return exc
