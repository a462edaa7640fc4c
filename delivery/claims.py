"""Claims on scheduled runs: how several Loupe processes share the sending without sending a
run twice (docs/subscriptions.md, "Delivery guarantees").

A run is the pair (subscription, scheduled time). A scheduler claims it by inserting its row
into ``<schema>.subscription_runs``; the primary key lets exactly one insert win, for good (a
later process finds the row and leaves the run alone). The winner holds a lease and a fencing
token. Every later step is a conditional update on that token, so a scheduler whose lease ran
out and whose run was taken over cannot move the run on: in particular only one process can
ever move a run into ``sending``.

States: ``claimed`` (rendering) → ``sending`` (an SMTP attempt under way; back to ``claimed``
after an attempt the server refused with a "try later") → ``sent`` / ``failed`` (the outcome
is known and stored, as the event to record) → ``recorded``. ``skipped``: the run was no
longer due when looked at again. A run whose lease ran out is taken over by another scheduler
(`abandoned`, `take_over`), which goes on according to its state.

Lease times come from the schedulers' clocks (injectable, like the scheduler's); a skewed
clock only makes a takeover early or late, never a second send, because of the token.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal
from uuid import UUID

import asyncpg

from commands.eventstore import migrate
from commands.eventstore.names import check_identifier, quote_identifier
from projections.projection import tables_for
from projections.subscriptions import SUBSCRIPTIONS, SubscriptionReadModel

MIGRATIONS: Final = Path(__file__).with_name("migrations")
#: The component name of these migrations in ``<schema>.schema_migrations``.
COMPONENT: Final = "delivery"

RunState = Literal["claimed", "sending", "sent", "failed", "recorded", "skipped"]
#: States in which a run still needs a scheduler.
OPEN_STATES: Final = ("claimed", "sending", "sent", "failed")


async def migrate_runs(conn_or_pool: asyncpg.Connection | asyncpg.Pool, schema: str) -> list[str]:
    """Create (or bring up to date) the runs table in ``schema`` (the event store's)."""
    return await migrate(conn_or_pool, schema, COMPONENT, MIGRATIONS)


@dataclass(frozen=True)
class Claim:
    """A run this scheduler holds (or, from `abandoned`, one it may take over)."""

    subscription_id: UUID
    scheduled_for: datetime
    token: UUID
    state: RunState
    attempts: int
    #: The encoded event to record (``sent`` / ``failed``).
    outcome: str | None = None


class RunClaims:
    def __init__(self, pool: asyncpg.Pool, schema: str, read_schema: str) -> None:
        self.pool = pool
        self.runs = f"{quote_identifier(check_identifier(schema))}.subscription_runs"
        self.subscriptions = tables_for(read_schema, SubscriptionReadModel.tables)[SUBSCRIPTIONS]

    async def due(self, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
        """(subscription, next run) of subscriptions whose next run is due and not claimed
        yet, by the read model (which may lag: the caller checks with the event store)."""
        rows = await self.pool.fetch(
            f"""SELECT s.id, s.next_run_at FROM {self.subscriptions} s
                WHERE s.next_run_at IS NOT NULL AND s.next_run_at <= $1
                  AND NOT EXISTS (
                      SELECT 1 FROM {self.runs} r
                      WHERE r.subscription_id = s.id AND r.scheduled_for >= s.next_run_at)
                ORDER BY s.next_run_at LIMIT $2""",  # noqa: S608
            now,
            limit,
        )
        return [(row["id"], row["next_run_at"]) for row in rows]

    async def claim(
        self,
        subscription_id: UUID,
        scheduled_for: datetime,
        owner: str,
        now: datetime,
        lease: timedelta,
    ) -> Claim | None:
        """The run, if this call claimed it (None: it is, or was, another's)."""
        token = uuid.uuid4()
        inserted = await self.pool.fetchval(
            f"""INSERT INTO {self.runs} (subscription_id, scheduled_for, state, token,
                    claimed_by, claimed_at, lease_until, updated_at)
                VALUES ($1, $2, 'claimed', $3, $4, $5, $6, $5)
                ON CONFLICT (subscription_id, scheduled_for) DO NOTHING
                RETURNING true""",  # noqa: S608
            subscription_id,
            scheduled_for,
            token,
            owner,
            now,
            now + lease,
        )
        if not inserted:
            return None
        return Claim(subscription_id, scheduled_for, token, "claimed", 0)

    async def _move(
        self,
        claim: Claim,
        to: RunState,
        now: datetime,
        *,
        origin: tuple[RunState, ...],
        lease: timedelta | None = None,
        outcome: str | None = None,
        attempt: bool = False,
    ) -> bool:
        """Move the run from one of ``origin`` to ``to`` if ``claim`` still holds it."""
        moved = await self.pool.fetchval(
            f"""UPDATE {self.runs}
                SET state = $4, updated_at = $5,
                    lease_until = coalesce($6, lease_until),
                    outcome = coalesce($7::json, outcome),
                    attempts = attempts + $8
                WHERE subscription_id = $1 AND scheduled_for = $2 AND token = $3
                  AND state = ANY($9::text[])
                RETURNING true""",  # noqa: S608
            claim.subscription_id,
            claim.scheduled_for,
            claim.token,
            to,
            now,
            now + lease if lease is not None else None,
            outcome,
            1 if attempt else 0,
            list(origin),
        )
        return bool(moved)

    async def start_attempt(self, claim: Claim, now: datetime, lease: timedelta) -> bool:
        """claimed → sending, just before an SMTP attempt (False: the claim was lost)."""
        return await self._move(
            claim, "sending", now, origin=("claimed",), lease=lease, attempt=True
        )

    async def attempt_refused(self, claim: Claim, now: datetime, lease: timedelta) -> bool:
        """sending → claimed: the server refused the attempt, so nothing went out."""
        return await self._move(claim, "claimed", now, origin=("sending",), lease=lease)

    async def settle(
        self, claim: Claim, state: Literal["sent", "failed"], outcome: str, now: datetime
    ) -> bool:
        """The outcome is known: keep the event to record until it is recorded."""
        return await self._move(claim, state, now, origin=("claimed", "sending"), outcome=outcome)

    async def close(
        self, claim: Claim, state: Literal["recorded", "skipped"], now: datetime
    ) -> bool:
        origin: tuple[RunState, ...] = ("sent", "failed") if state == "recorded" else ("claimed",)
        return await self._move(claim, state, now, origin=origin)

    async def renew(self, claim: Claim, now: datetime, lease: timedelta) -> bool:
        """Extend the lease of a run still being worked on (False: the claim was lost)."""
        moved = await self.pool.fetchval(
            f"""UPDATE {self.runs} SET lease_until = $4
                WHERE subscription_id = $1 AND scheduled_for = $2 AND token = $3
                  AND state = ANY($5::text[])
                RETURNING true""",  # noqa: S608
            claim.subscription_id,
            claim.scheduled_for,
            claim.token,
            now + lease,
            list(OPEN_STATES),
        )
        return bool(moved)

    async def abandoned(self, now: datetime, limit: int) -> list[Claim]:
        """Open runs whose lease ran out: their scheduler stopped (or lost the database)."""
        rows = await self.pool.fetch(
            f"""SELECT subscription_id, scheduled_for, token, state, attempts, outcome
                FROM {self.runs}
                WHERE state = ANY($1::text[]) AND lease_until < $2
                ORDER BY lease_until LIMIT $3""",  # noqa: S608
            list(OPEN_STATES),
            now,
            limit,
        )
        return [
            Claim(
                row["subscription_id"],
                row["scheduled_for"],
                row["token"],
                row["state"],
                row["attempts"],
                row["outcome"],
            )
            for row in rows
        ]

    async def take_over(
        self, claim: Claim, owner: str, now: datetime, lease: timedelta
    ) -> Claim | None:
        """The abandoned run, now this scheduler's (None: someone else was quicker)."""
        token = uuid.uuid4()
        moved = await self.pool.fetchval(
            f"""UPDATE {self.runs}
                SET token = $4, claimed_by = $5, lease_until = $6, updated_at = $7
                WHERE subscription_id = $1 AND scheduled_for = $2 AND token = $3
                  AND lease_until < $7
                RETURNING true""",  # noqa: S608
            claim.subscription_id,
            claim.scheduled_for,
            claim.token,
            token,
            owner,
            now + lease,
            now,
        )
        if not moved:
            return None
        return Claim(
            claim.subscription_id,
            claim.scheduled_for,
            token,
            claim.state,
            claim.attempts,
            claim.outcome,
        )

    async def state_of(self, subscription_id: UUID, scheduled_for: datetime) -> RunState | None:
        """The run's state (None: never claimed)."""
        state: RunState | None = await self.pool.fetchval(
            f"""SELECT state FROM {self.runs}
                WHERE subscription_id = $1 AND scheduled_for = $2""",  # noqa: S608
            subscription_id,
            scheduled_for,
        )
        return state

    async def prune(self, before: datetime) -> int:
        """Forget finished runs scheduled before ``before`` (the read model is long past
        them); returns how many."""
        result = await self.pool.execute(
            f"""DELETE FROM {self.runs}
                WHERE state IN ('recorded', 'skipped') AND scheduled_for < $1""",  # noqa: S608
            before,
        )
        return int(result.rsplit(" ", 1)[-1])
