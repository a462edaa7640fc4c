"""Subscriptions and their send history: `rm_subscriptions` (one row per subscription, with
the time of its next run) and `rm_subscription_deliveries` (one row per scheduled run that was
sent or failed).

``next_run_at`` is computed here, from the events alone (`SubscriptionSnapshot.next_run_at`:
the first fire time after creation / the last schedule change / resume / the last recorded
run), so a rebuild computes the same times as the incremental fold. It is NULL while the
subscription is paused or once it is deleted; the scheduler (delivery/scheduler.py) finds due
runs with it. Deleted subscriptions keep their row (``deleted``) and their history.

The row keeps the subscription's whole state (``snapshot``), so folding an event needs nothing
but the row before it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import asyncpg
import msgspec

from commands.eventstore import RecordedEvent
from domain.subscription.aggregate import Subscription, SubscriptionSnapshot, restore
from domain.subscription.events import (
    EVENT_TYPES,
    DeliveryFailed,
    DeliverySucceeded,
    SubscriptionEvent,
)
from domain.subscription.events import decode as decode_subscription_event
from projections.projection import Tables, tables_for

if TYPE_CHECKING:
    from projections.projection import Connection

SUBSCRIPTIONS: Final = "rm_subscriptions"
DELIVERIES: Final = "rm_subscription_deliveries"

_encode = msgspec.json.Encoder().encode
_decode_snapshot = msgspec.json.Decoder(SubscriptionSnapshot).decode
_decode_refused = msgspec.json.Decoder(dict[str, str]).decode


class SubscriptionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription as the read model has it (`GET /subscriptions/{id}`)."""

    id: UUID
    report_id: UUID
    workspace_id: UUID
    owner: UUID
    cron: str
    timezone: str
    format: str
    pages: list[UUID]
    recipients: list[str]
    subject: str
    paused: bool
    next_run_at: datetime | None
    last_scheduled_for: datetime | None
    last_outcome: str | None
    last_error: str | None
    last_sent_at: datetime | None
    created_by: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    position: int


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduled run in the send history."""

    subscription_id: UUID
    scheduled_for: datetime
    #: "succeeded" or "failed".
    outcome: str
    #: When it was sent, or when it was given up.
    at: datetime
    error: str | None
    recipients: list[str]
    withheld: list[str]
    refused: dict[str, str]
    report_version: int | None
    message_id: str | None
    attempts: int
    transient: bool
    position: int


class SubscriptionReadModel:
    name = "subscriptions"
    version = 1
    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    tables: tuple[str, ...] = (SUBSCRIPTIONS, DELIVERIES)

    def __init__(self, cache_size: int = 1024) -> None:
        self.cache_size = cache_size
        self._cache: OrderedDict[UUID, Subscription] = OrderedDict()

    def ddl(self, t: Tables) -> list[str]:
        return [
            f"""CREATE TABLE {t[SUBSCRIPTIONS]} (
                    id                  uuid PRIMARY KEY,
                    report_id           uuid NOT NULL,
                    workspace_id        uuid NOT NULL,
                    owner               uuid NOT NULL,
                    cron                text NOT NULL,
                    timezone            text NOT NULL,
                    format              text NOT NULL,
                    pages               uuid[] NOT NULL,
                    recipients          text[] NOT NULL,
                    subject             text NOT NULL,
                    paused              boolean NOT NULL,
                    deleted             boolean NOT NULL,
                    next_run_at         timestamptz,
                    last_scheduled_for  timestamptz,
                    last_outcome        text,
                    last_error          text,
                    last_sent_at        timestamptz,
                    created_by          uuid,
                    created_at          timestamptz NOT NULL,
                    updated_at          timestamptz NOT NULL,
                    version             bigint NOT NULL,
                    position            bigint NOT NULL,
                    snapshot            json NOT NULL
                )""",
            f"""CREATE TABLE {t[DELIVERIES]} (
                    subscription_id  uuid NOT NULL,
                    scheduled_for    timestamptz NOT NULL,
                    outcome          text NOT NULL,
                    at               timestamptz NOT NULL,
                    error            text,
                    recipients       text[] NOT NULL,
                    withheld         text[] NOT NULL,
                    refused          json NOT NULL,
                    report_version   bigint,
                    message_id       text,
                    attempts         integer NOT NULL,
                    transient        boolean NOT NULL,
                    position         bigint NOT NULL,
                    PRIMARY KEY (subscription_id, scheduled_for)
                )""",
            # The scheduler's question: which runs are due (paused and deleted ones have none).
            f"""CREATE INDEX ON {t[SUBSCRIPTIONS]} (next_run_at)
                WHERE next_run_at IS NOT NULL""",
            f"CREATE INDEX ON {t[SUBSCRIPTIONS]} (report_id)",
            f"CREATE INDEX ON {t[SUBSCRIPTIONS]} (workspace_id)",
        ]

    def reset(self) -> None:
        self._cache.clear()

    def bulk(self, enabled: bool) -> None:  # noqa: FBT001
        """Every batch writes its rows; nothing to defer."""

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing deferred."""

    async def apply(self, conn: Connection, events: Sequence[RecordedEvent], t: Tables) -> None:
        touched: dict[UUID, tuple[Subscription, RecordedEvent]] = {}
        for event in events:
            held = touched.get(event.stream_id)
            subscription = held[0] if held else await self._before(conn, t, event)
            payload = decode_subscription_event(event.data)
            subscription.apply(payload, event.version)
            touched[event.stream_id] = (subscription, event)
            if event.version == 1:
                await self._insert(conn, t, subscription.state, event)
            if isinstance(payload, DeliverySucceeded | DeliveryFailed):
                await _insert_delivery(conn, t, event, payload)
        for subscription, event in touched.values():
            state = subscription.state
            await conn.execute(
                f"""UPDATE {t[SUBSCRIPTIONS]} SET cron = $2, timezone = $3, format = $4,
                        pages = $5, recipients = $6, subject = $7, paused = $8, deleted = $9,
                        next_run_at = $10, last_scheduled_for = $11, last_outcome = $12,
                        last_error = $13, last_sent_at = $14, updated_at = $15, version = $16,
                        position = $17, snapshot = $18::json
                    WHERE id = $1""",  # noqa: S608
                state.id,
                state.cron,
                state.timezone,
                state.format,
                list(state.pages),
                list(state.recipients),
                state.subject,
                state.paused,
                state.deleted,
                state.next_run_at,
                state.last_scheduled_for,
                state.last_outcome,
                state.last_error,
                state.last_sent_at,
                event.recorded_at,
                state.version,
                event.position,
                _encode(state).decode(),
            )

    @staticmethod
    async def _insert(
        conn: Connection, t: Tables, state: SubscriptionSnapshot, event: RecordedEvent
    ) -> None:
        """The row of a new subscription (its columns are set at the end of the batch)."""
        await conn.execute(
            f"""INSERT INTO {t[SUBSCRIPTIONS]} (id, report_id, workspace_id, owner, cron,
                    timezone, format, pages, recipients, subject, paused, deleted,
                    created_by, created_at, updated_at, version, position, snapshot)
                VALUES ($1, $2, $3, $4, '', '', '', '{{}}', '{{}}', '', false, false,
                        $5, $6, $6, 0, $7, '{{}}')
                ON CONFLICT (id) DO NOTHING""",  # noqa: S608
            state.id,
            state.report_id,
            state.workspace_id,
            state.owner,
            event.actor,
            event.recorded_at,
            event.position,
        )

    async def _before(self, conn: Connection, t: Tables, event: RecordedEvent) -> Subscription:
        """The subscription just before ``event`` (from memory, else from its row)."""
        cache = self._cache
        subscription = cache.get(event.stream_id)
        if subscription is None or subscription.version != event.version - 1:
            subscription = Subscription(event.stream_id)
            if event.version > 1:
                text = await conn.fetchval(
                    f"SELECT snapshot FROM {t[SUBSCRIPTIONS]} WHERE id = $1",  # noqa: S608
                    event.stream_id,
                )
                if text is not None and text != "{}":
                    subscription = restore(_decode_snapshot(text))
                if subscription.version != event.version - 1:
                    raise RuntimeError(
                        f"subscriptions: event {event.position} is version {event.version} of "
                        f"subscription {event.stream_id}, whose row is at version "
                        f"{subscription.version}"
                    )
            cache[event.stream_id] = subscription
            while len(cache) > self.cache_size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(event.stream_id)
        return subscription


async def _insert_delivery(
    conn: Connection, t: Tables, event: RecordedEvent, payload: SubscriptionEvent
) -> None:
    if isinstance(payload, DeliverySucceeded):
        outcome, at, error, refused = "succeeded", payload.sent_at, None, payload.refused
        message_id: str | None = payload.message_id
        attempts, transient = payload.attempts, False
    elif isinstance(payload, DeliveryFailed):
        outcome, at, error, refused = "failed", payload.failed_at, payload.error, {}
        message_id, attempts, transient = None, payload.attempts, payload.transient
    else:  # pragma: no cover - the caller passes deliveries only
        return
    await conn.execute(
        f"""INSERT INTO {t[DELIVERIES]} (subscription_id, scheduled_for, outcome, at, error,
                recipients, withheld, refused, report_version, message_id, attempts,
                transient, position)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $10, $11, $12, $13)
            ON CONFLICT (subscription_id, scheduled_for) DO NOTHING""",  # noqa: S608
        event.stream_id,
        payload.scheduled_for,
        outcome,
        at,
        error,
        list(payload.recipients),
        list(payload.withheld),
        _encode(refused).decode(),
        payload.report_version,
        message_id,
        attempts,
        transient,
        event.position,
    )


# -- queries ---------------------------------------------------------------------------------

_COLUMNS: Final = """id, report_id, workspace_id, owner, cron, timezone, format, pages,
    recipients, subject, paused, next_run_at, last_scheduled_for, last_outcome, last_error,
    last_sent_at, created_by, created_at, updated_at, version, position"""


def _record(row: Any) -> SubscriptionRecord:
    return SubscriptionRecord(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - a Record


def _delivery(row: Any) -> DeliveryRecord:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - a Record
    values["refused"] = _decode_refused(row["refused"])
    return DeliveryRecord(**values)


def _tables(read_schema: str) -> Tables:
    return tables_for(read_schema, SubscriptionReadModel.tables)


async def subscription_record(
    pool: asyncpg.Pool, read_schema: str, subscription_id: UUID
) -> SubscriptionRecord | None:
    """The subscription (None if it never existed or was deleted)."""
    t = _tables(read_schema)
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM {t[SUBSCRIPTIONS]} WHERE id = $1 AND NOT deleted",  # noqa: S608
        subscription_id,
    )
    return None if row is None else _record(row)


async def subscriptions_of_report(
    pool: asyncpg.Pool, read_schema: str, report_id: UUID
) -> list[SubscriptionRecord]:
    """The report's subscriptions, oldest first."""
    t = _tables(read_schema)
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM {t[SUBSCRIPTIONS]}
            WHERE report_id = $1 AND NOT deleted ORDER BY created_at, id""",  # noqa: S608
        report_id,
    )
    return [_record(row) for row in rows]


async def deliveries_of(
    pool: asyncpg.Pool,
    read_schema: str,
    subscription_id: UUID,
    *,
    before: datetime | None = None,
    limit: int = 50,
) -> list[DeliveryRecord]:
    """The send history, newest run first (``before``: runs scheduled before it, for the
    next page)."""
    t = _tables(read_schema)
    rows = await pool.fetch(
        f"""SELECT subscription_id, scheduled_for, outcome, at, error, recipients, withheld,
                refused, report_version, message_id, attempts, transient, position
            FROM {t[DELIVERIES]}
            WHERE subscription_id = $1 AND ($2::timestamptz IS NULL OR scheduled_for < $2)
            ORDER BY scheduled_for DESC LIMIT $3""",  # noqa: S608
        subscription_id,
        before,
        limit,
    )
    return [_delivery(row) for row in rows]
