"""The audit log: one row per event of every stream, in words a person reads.

Each event becomes a row of ``rm_audit`` (its global position is the key): when and by whom,
the stream it belongs to, the object it concerns, a summary ("Ana moved 'Sales by region' on
page 2 to 6,0") and ``change``, the values it set with the values they replaced.

Describing an event needs the thing as it was just BEFORE it:

* a report's state comes from the projection's own cache (``StateCache``) or, on a miss, from
  the nearest snapshot in the REPORTS projection's live snapshot table plus the events after
  it (``report_states``). A snapshot is a pure function of (report, version), so whichever
  snapshot of version <= N is found — written by a reports projection that is ahead of this
  one, behind it, or rebuilding itself — plus the events up to N gives exactly the report at N.
  Only the cost differs, never the result, which is why a rebuild of the audit log (which
  replays from position 0 while the reports projection sits at the head) can read the live
  snapshots. When that table does not exist, the events alone are folded.
* a workspace, a dataset or a subscription is folded from its stream on a miss, then kept in
  a cache.
* actors are named as they were known AT THE TIME: ``UserRegistered`` events are folded into
  ``rm_audit_users`` and an in-memory map, so a rebuild (which replays them in the same order)
  names everybody exactly as the live log did. An actor never registered is shown as
  "user 1a2b3c4d" (the start of their id).

Events of any other stream type (or types this code does not know) get a generic row.

Writes: a live batch is written with one ``executemany`` (``COPY`` when it is large); a rebuild
(bulk mode) writes every batch with ``COPY``. Nothing is deferred to ``flush``: a rebuild's
memory does not grow with the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Generic, NamedTuple, TypeVar
from uuid import UUID

import msgspec

from commands.envelope import metadata_of
from commands.eventstore import EventStore, RecordedEvent
from domain.dataset.aggregate import Dataset
from domain.dataset.audit import describe_dataset_event
from domain.dataset.events import EVENT_TYPES as DATASET_EVENT_TYPES
from domain.dataset.events import decode as decode_dataset_event
from domain.report.aggregate import Report
from domain.report.audit import AuditDescription, ReportDescriber, actor, change_of, quoted
from domain.report.events import EVENT_TYPES as REPORT_EVENT_TYPES
from domain.report.events import decode as decode_report_event
from domain.subscription.aggregate import Subscription
from domain.subscription.audit import describe_subscription_event
from domain.subscription.events import EVENT_TYPES as SUBSCRIPTION_EVENT_TYPES
from domain.subscription.events import decode as decode_subscription_event
from domain.user.events import UserRegistered
from domain.user.events import decode as decode_user_event
from domain.workspace.aggregate import Workspace
from domain.workspace.audit import describe_workspace_event
from domain.workspace.events import EVENT_TYPES as WORKSPACE_EVENT_TYPES
from domain.workspace.events import decode as decode_workspace_event
from projections.projection import Tables, tables_for
from projections.report_states import SNAPSHOTS, ReportAt, StateCache, fold, load_at

if TYPE_CHECKING:
    from projections.projection import Connection

log = logging.getLogger(__name__)

S = TypeVar("S")

AUDIT: Final = "rm_audit"
AUDIT_USERS: Final = "rm_audit_users"

#: The columns of ``rm_audit``, in the order rows are built.
COLUMNS: Final = (
    "position",
    "recorded_at",
    "workspace_id",
    "actor",
    "actor_name",
    "stream_type",
    "stream_id",
    "version",
    "event_type",
    "object_type",
    "object_id",
    "summary",
    "change",
)
#: A live batch at least this long is written with COPY rather than one INSERT per row.
COPY_FROM: Final = 64
#: Rows per COPY: the server stores one chunk while the next one is being described.
COPY_CHUNK: Final = 1000
#: Events described between two looks at the event loop (which moves a running COPY on).
_YIELD_EVERY: Final = 64

Row = tuple[
    int, datetime, UUID | None, UUID | None, str | None, str, UUID, int, str, str, str, str, str
]

_encode = msgspec.json.Encoder().encode


class Described(NamedTuple):
    """What an audit row says about its event (``AuditDescription``, for any stream type)."""

    object_type: str
    object_id: str
    summary: str
    change: dict[str, Any]

    @classmethod
    def of(cls, description: AuditDescription) -> Described:
        return cls(
            description.object_type, description.object_id, description.summary, description.change
        )


@lru_cache(maxsize=4096)
def unknown_actor(actor_id: UUID) -> str:
    """How an actor with no registered name is shown (kept: writing a UUID out is slow, and
    such an actor usually makes many edits)."""
    return f"user {str(actor_id)[:8]}"


class _ReportAt:
    """A report as the audit log holds it: its describer (which holds the report) and the
    version the report is at."""

    __slots__ = ("describer", "version")

    def __init__(self, describer: ReportDescriber, version: int) -> None:
        self.describer = describer
        self.version = version


class _StreamAt(Generic[S]):
    """A workspace's, dataset's or subscription's state after ``version`` (their streams
    apply in order)."""

    __slots__ = ("state", "version")

    def __init__(self, state: S, version: int) -> None:
        self.state = state
        self.version = version


class AuditLog:
    name = "audit"
    #: 2: json change, "C" collation for the indexed ids. 3: dataset events described.
    #: 4: subscription events described.
    version = 4
    #: Every event: the audit log has a row for each.
    event_types: frozenset[str] | None = None
    tables: tuple[str, ...] = (AUDIT, AUDIT_USERS)
    #: A report's rows depend on that report and on who the users are (shared events, few):
    #: a rebuild may give the reports to several processes.
    split_stream_types: frozenset[str] = frozenset({"report"})

    def __init__(
        self,
        store: EventStore,
        *,
        cache_size: int = 512,
        bulk_cache_size: int = 2048,
        workspace_cache_size: int = 1024,
        copy_from: int = COPY_FROM,
        copy_chunk: int = COPY_CHUNK,
    ) -> None:
        self.store = store
        self.cache_size = cache_size
        self.bulk_cache_size = bulk_cache_size
        self.copy_from = copy_from
        self.reports: StateCache[_ReportAt] = StateCache(cache_size)
        self.workspaces: OrderedDict[UUID, _StreamAt[Workspace]] = OrderedDict()
        self.datasets: OrderedDict[UUID, _StreamAt[Dataset]] = OrderedDict()
        self.subscriptions: OrderedDict[UUID, _StreamAt[Subscription]] = OrderedDict()
        self.workspace_cache_size = workspace_cache_size
        #: user id → name as registered so far; None until loaded from ``rm_audit_users``.
        self.names: dict[UUID, str] | None = None
        self._bulk = False
        self._snapshots_exist = False
        self.copy_chunk = copy_chunk
        #: The COPY pipeline of the batch being applied (None: the connection is free).
        self._copier: _Copier | None = None
        #: False in the workers of a split rebuild that leave the rows of shared (non-report)
        #: events to another worker.
        self._writes_shared = True

    # -- the projection protocol --------------------------------------------------------------

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[AUDIT]} (
                    position      bigint PRIMARY KEY,
                    recorded_at   timestamptz NOT NULL,
                    workspace_id  uuid,
                    actor         uuid,
                    actor_name    text,
                    stream_type   text NOT NULL,
                    stream_id     uuid NOT NULL,
                    version       bigint NOT NULL,
                    event_type    text COLLATE "C" NOT NULL,
                    object_type   text NOT NULL,
                    object_id     text COLLATE "C" NOT NULL,
                    summary       text NOT NULL,
                    change        json NOT NULL
                )""",
            # "C": the ids and type names are compared byte by byte (only ever for equality),
            # which makes their indexes cheaper to build. `json`, not `jsonb`: the change is
            # stored as written and returned whole, never queried into; a rebuild need not
            # parse a million of them.
            # Each filter of GET /audit, in position order (the keyset of its pages).
            f"CREATE INDEX ON {t[AUDIT]} (workspace_id, position)",
            f"CREATE INDEX ON {t[AUDIT]} (actor, position)",
            f"CREATE INDEX ON {t[AUDIT]} (object_id, position)",
            f"CREATE INDEX ON {t[AUDIT]} (stream_id, position)",
            f"CREATE INDEX ON {t[AUDIT]} (event_type, position)",
            f"CREATE INDEX ON {t[AUDIT]} (recorded_at)",
            f"""CREATE TABLE {t[AUDIT_USERS]} (
                    user_id   uuid PRIMARY KEY,
                    name      text NOT NULL,
                    email     text,
                    position  bigint NOT NULL
                )""",
        ]

    def reset(self) -> None:
        self.reports.clear()
        self.workspaces.clear()
        self.datasets.clear()
        self.subscriptions.clear()
        self.names = None
        self._snapshots_exist = False

    def split_worker(self, *, writes_shared: bool) -> None:
        self._writes_shared = writes_shared
        # From position 0 nobody is known yet; the users table is not read (other workers
        # fill it meanwhile, with names that later events register).
        self.names = {}

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001 - a mode switch
        self._bulk = enabled
        # A rebuild sweeps through every report in turn: keep more of them at hand.
        self.reports.capacity = self.bulk_cache_size if enabled else self.cache_size

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing is deferred: every batch writes its own rows."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        names = self.names
        if names is None:
            rows = await conn.fetch(f"SELECT user_id, name FROM {t[AUDIT_USERS]}")  # noqa: S608
            names = self.names = {row["user_id"]: row["name"] for row in rows}
        small = not self._bulk and len(events) < self.copy_from
        mine: Iterable[RecordedEvent] = events
        if not self._writes_shared:
            # Lazily, so in order: a shared event teaches a name only to the events after it.
            mine = (event for event in events if self._in_share(event, names))
        users: list[tuple[UUID, str, str | None, int]] = []
        if small:
            audit = [await self._row(conn, t, event, names, users) for event in mine]
            await self._write_users(conn, t, users)
            await conn.executemany(
                f"""INSERT INTO {t[AUDIT]} ({", ".join(COLUMNS)})
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                            $13::json)""",  # noqa: S608
                audit,
            )
            return
        copier = _Copier(conn, t, self.copy_chunk)
        self._copier = copier
        reports = self.reports
        try:
            for event in mine:
                # Report events (nearly all of a rebuild) without a coroutine per event.
                if event.stream_type == "report" and event.type in REPORT_EVENT_TYPES:
                    entry = reports.get(event.stream_id)
                    if entry is None or entry.version != event.version - 1:
                        entry = await self._load_entry(conn, t, event)
                    row = self._report_row(event, entry, names)
                else:
                    row = await self._row(conn, t, event, names, users)
                if copier.add(row):
                    await copier.step()
            await copier.finish()
        except BaseException:
            await copier.drain()
            raise
        finally:
            self._copier = None
        await self._write_users(conn, t, users)

    def _in_share(self, event: RecordedEvent, names: dict[UUID, str]) -> bool:
        """In a split rebuild's worker that does not write shared events: whether ``event``
        is one of its share's (to write); a shared one only teaches who the users are."""
        if event.stream_type in self.split_stream_types:
            return True
        if event.stream_type == "user" and event.type == "UserRegistered":
            payload = decode_user_event(event.data)
            assert isinstance(payload, UserRegistered)
            names[payload.user_id] = payload.name
        return False

    @staticmethod
    async def _write_users(
        conn: Connection, t: Tables, users: list[tuple[UUID, str, str | None, int]]
    ) -> None:
        if users:
            await conn.executemany(
                f"""INSERT INTO {t[AUDIT_USERS]} (user_id, name, email, position)
                    VALUES ($1, $2, $3, $4)
                    ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name,
                        email = EXCLUDED.email, position = EXCLUDED.position""",  # noqa: S608
                users,
            )

    # -- one event ----------------------------------------------------------------------------

    async def _row(
        self,
        conn: Connection,
        t: Tables,
        event: RecordedEvent,
        names: dict[UUID, str],
        users: list[tuple[UUID, str, str | None, int]],
    ) -> Row:
        kind = event.stream_type
        if kind == "report" and event.type in REPORT_EVENT_TYPES:
            entry = self.reports.get(event.stream_id)
            if entry is None or entry.version != event.version - 1:
                entry = await self._load_entry(conn, t, event)
            return self._report_row(event, entry, names)
        actor_id = event.actor
        actor_name = self._actor_name(actor_id, names)
        if kind == "user" and event.type == "UserRegistered":
            # Named by the name it registers: "Ana joined Loupe", by Ana.
            described = self._user(event, names, users)
            actor_name = self._actor_name(actor_id, names)
        elif kind == "workspace" and event.type in WORKSPACE_EVENT_TYPES:
            described = await self._workspace(event, actor_name or "", names)
        elif kind == "dataset" and event.type in DATASET_EVENT_TYPES:
            described = await self._dataset(event, actor_name or "")
        elif kind == "subscription" and event.type in SUBSCRIPTION_EVENT_TYPES:
            # Deliveries have no actor (the scheduler): "" reads "Loupe sent …".
            described = await self._subscription(event, actor_name or "")
        else:
            described = _generic(event, actor_name or "")
        return _row(event, actor_id, actor_name, kind, *described)

    @staticmethod
    def _actor_name(actor_id: UUID | None, names: dict[UUID, str]) -> str | None:
        if actor_id is None:
            return None
        name = names.get(actor_id)
        return name if name is not None else unknown_actor(actor_id)

    def _report_row(self, event: RecordedEvent, entry: _ReportAt, names: dict[UUID, str]) -> Row:
        """The row of a report event, ``entry`` holding the report just before it."""
        actor_id = event.actor
        actor_name = self._actor_name(actor_id, names)
        payload = decode_report_event(event.data)
        describer = entry.describer
        object_type: str
        try:
            described = describer.describe(payload, actor_name or "")
            object_type, object_id = described.object_type, described.object_id
            summary, change = described.summary, described.change
        except Exception:
            log.exception("audit: could not describe event %s (%s)", event.position, event.type)
            object_type, object_id, summary, change = _generic(event, actor_name or "")
        describer.apply(payload, metadata_of(event))
        entry.version = event.version
        return _row(event, actor_id, actor_name, "report", object_type, object_id, summary, change)

    async def _load_entry(self, conn: Connection, t: Tables, event: RecordedEvent) -> _ReportAt:
        """The report just before ``event``, loaded (and kept) when the cache has not got it."""
        state = await self._load_report(conn, t, event.stream_id, event.version - 1)
        entry = _ReportAt(ReportDescriber(state.report), state.version)
        self.reports.put(event.stream_id, entry)
        return entry

    async def _load_report(
        self, conn: Connection, t: Tables, report_id: UUID, version: int
    ) -> ReportAt:
        if self._copier is not None:
            await self._copier.idle()  # the connection is needed: let the running COPY end
        # The reports projection's LIVE snapshots, also while this projection rebuilds.
        snapshots = tables_for(t.schema, (SNAPSHOTS,))
        if not self._snapshots_exist:
            found = await conn.fetchval("SELECT to_regclass($1)", snapshots[SNAPSHOTS])
            self._snapshots_exist = found is not None
        if self._snapshots_exist:
            return await load_at(conn, self.store, snapshots, report_id, version)
        state = ReportAt(Report(report_id), 0, 0, None)
        if version > 0:
            fold(state, await self.store.read_stream(report_id, up_to_version=version))
        return state

    async def _workspace(self, event: RecordedEvent, who: str, names: dict[UUID, str]) -> Described:
        payload = decode_workspace_event(event.data)
        entry = await self._before(self.workspaces, event, Workspace, _apply_workspace_event)
        description = _described(
            lambda: describe_workspace_event(payload, entry.state, who, user_names=names),
            event,
            who,
        )
        entry.state.apply(payload)
        entry.version = event.version
        return description

    async def _dataset(self, event: RecordedEvent, who: str) -> Described:
        payload = decode_dataset_event(event.data)
        entry = await self._before(self.datasets, event, Dataset, _apply_dataset_event)
        description = _described(
            lambda: describe_dataset_event(payload, entry.state, who), event, who
        )
        entry.state.apply(payload, event.version)
        entry.version = event.version
        return description

    async def _subscription(self, event: RecordedEvent, who: str) -> Described:
        payload = decode_subscription_event(event.data)
        entry = await self._before(
            self.subscriptions, event, Subscription, _apply_subscription_event
        )
        description = _described(
            lambda: describe_subscription_event(payload, entry.state, who), event, who
        )
        entry.state.apply(payload, event.version)
        entry.version = event.version
        return description

    async def _before(
        self,
        cache: OrderedDict[UUID, _StreamAt[S]],
        event: RecordedEvent,
        new: Callable[[UUID], S],
        apply: Callable[[S, RecordedEvent], None],
    ) -> _StreamAt[S]:
        """The state of ``event``'s stream just before it: kept in memory, else folded from
        the stream (workspaces and datasets have few events; a subscription's stream grows
        by one event per run, but is folded once per process, then followed in memory)."""
        stream_id = event.stream_id
        entry = cache.get(stream_id)
        if entry is None or entry.version != event.version - 1:
            entry = _StreamAt(new(stream_id), 0)
            if event.version > 1:
                for past in await self.store.read_stream(
                    stream_id, up_to_version=event.version - 1
                ):
                    apply(entry.state, past)
                    entry.version = past.version
            cache[stream_id] = entry
        cache.move_to_end(stream_id)
        while len(cache) > self.workspace_cache_size:
            cache.popitem(last=False)
        return entry

    def _user(
        self,
        event: RecordedEvent,
        names: dict[UUID, str],
        users: list[tuple[UUID, str, str | None, int]],
    ) -> Described:
        payload = decode_user_event(event.data)
        assert isinstance(payload, UserRegistered)
        previous = names.get(payload.user_id)
        names[payload.user_id] = payload.name
        users.append((payload.user_id, payload.name, payload.email, event.position))
        name = actor(payload.name)
        change = {
            "name": change_of(previous, payload.name, had_before=previous is not None),
            "email": change_of(None, payload.email, had_before=False),
        }
        if event.actor not in (None, payload.user_id):
            summary = f"{actor(self._actor_name(event.actor, names) or '')} registered {name}"
        elif previous is not None and previous != payload.name:
            summary = f"{name} registered again, as {quoted(payload.name)} (was {quoted(previous)})"
        else:
            summary = f"{name} joined Loupe"
        return Described("user", str(payload.user_id), summary, change)


def _described(make: Callable[[], AuditDescription], event: RecordedEvent, who: str) -> Described:
    """``make()``, or a generic description should describing fail (logged: a bug to fix, but
    the audit log must not stop)."""
    try:
        return Described.of(make())
    except Exception:
        log.exception("audit: could not describe event %s (%s)", event.position, event.type)
        return _generic(event, who)


def _generic(event: RecordedEvent, who: str) -> Described:
    """An event this log has no words for: its type, the stream, and its fields as set."""
    try:
        data = msgspec.json.decode(event.data)
    except msgspec.DecodeError:
        data = None
    change: dict[str, Any] = {}
    if isinstance(data, dict):
        change = {
            key: change_of(None, value, had_before=False)
            for key, value in data.items()
            if key != "type"
        }
    summary = (
        f"{actor(who)} recorded a {event.stream_type} event: {event.type} "
        f"({event.stream_type} {str(event.stream_id)[:8]})"
    )
    return Described(event.stream_type, str(event.stream_id), summary, change)


class _Copier:
    """COPYs rows in chunks, each while the next chunk is being described: PostgreSQL stores
    (and indexes) one chunk on its own core while this process works on the next.

    The COPY runs as a task on the batch's connection, so anything else that needs the
    connection first waits for it (``idle``).
    """

    def __init__(self, conn: Connection, t: Tables, chunk: int) -> None:
        self.conn = conn
        self.table = t.bare(AUDIT)
        self.schema = t.schema
        self.chunk = chunk
        self.rows: list[Row] = []
        self.task: asyncio.Task[str] | None = None
        self._since_yield = 0

    def add(self, row: Row) -> bool:
        """Keep a row; True when ``step`` is due (a chunk is full, or it is time to let a
        running COPY read its answer)."""
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.chunk:
            return True
        if self.task is not None:
            self._since_yield += 1
            return self._since_yield >= _YIELD_EVERY
        return False

    async def step(self) -> None:
        if len(self.rows) >= self.chunk:
            await self.idle()
            rows, self.rows = self.rows, []
            self.task = asyncio.ensure_future(self._copy(rows))
        self._since_yield = 0
        await asyncio.sleep(0)  # start the COPY (the rows go out now) or let it read its answer

    async def idle(self) -> None:
        """Wait for the running COPY (re-raising its error)."""
        if self.task is not None:
            task, self.task = self.task, None
            await task

    async def finish(self) -> None:
        await self.idle()
        if self.rows:
            rows, self.rows = self.rows, []
            await self._copy(rows)

    async def drain(self) -> None:
        """After a failure: let a running COPY end (its outcome no longer matters: the
        transaction is rolled back), so the connection is free again."""
        if self.task is not None:
            task, self.task = self.task, None
            with contextlib.suppress(Exception):
                await task

    async def _copy(self, rows: list[Row]) -> str:
        return await self.conn.copy_records_to_table(
            self.table, schema_name=self.schema, columns=COLUMNS, records=rows
        )


def _row(  # noqa: PLR0917 - the columns of one row
    event: RecordedEvent,
    actor_id: UUID | None,
    actor_name: str | None,
    kind: str,
    object_type: str,
    object_id: Any,
    summary: str,
    change: Any,
) -> Row:
    """One ``rm_audit`` row, in the table's column order."""
    return (
        event.position,
        event.recorded_at,
        event.workspace_id,
        actor_id,
        actor_name,
        kind,
        event.stream_id,
        event.version,
        event.type,
        object_type,
        object_id,
        summary,
        _encode(change).decode(),
    )


def _apply_workspace_event(workspace: Workspace, event: RecordedEvent) -> None:
    if event.type in WORKSPACE_EVENT_TYPES:
        workspace.apply(decode_workspace_event(event.data))


def _apply_dataset_event(dataset: Dataset, event: RecordedEvent) -> None:
    if event.type in DATASET_EVENT_TYPES:
        dataset.apply(decode_dataset_event(event.data), event.version)


def _apply_subscription_event(subscription: Subscription, event: RecordedEvent) -> None:
    if event.type in SUBSCRIPTION_EVENT_TYPES:
        subscription.apply(decode_subscription_event(event.data), event.version)
