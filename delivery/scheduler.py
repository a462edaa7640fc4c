"""The delivery loop: find the subscriptions whose run is due, claim each run, render the
report, email it, record the outcome as an event.

One pass (`Scheduler.tick`):

1. Take over runs whose scheduler stopped (their lease ran out) and finish them according to
   their state (`delivery.claims`): a run stopped while rendering is delivered; one stopped
   in the middle of an SMTP attempt is recorded as failed ("may or may not have arrived") and
   not sent again; one whose outcome was known but not recorded is recorded.
2. Ask the read model for due runs (``next_run_at <= now``, not paused, not claimed).
3. For each, check with the event store (the read model may lag: paused, rescheduled or
   already sent a moment ago), take the newest fire time due (missed runs are coalesced into
   one), claim the run, render it through the injected ``render``, build the message, send it
   (retrying transient SMTP failures with back-off), and record ``DeliverySucceeded`` or
   ``DeliveryFailed`` through the command handler.

Every instant comes from the injected ``clock``, so tests drive time. Guarantees and their
reasons: docs/subscriptions.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Final, Literal

import msgspec

from commands.subscriptions import DeliveryPlan, SubscriptionHandler, utc_now
from delivery.claims import Claim, RunClaims
from delivery.mail import Attachment, MessageTooLarge, build_message, message_id_for
from delivery.smtp import SendFailed, SmtpMailer
from domain.subscription.aggregate import SubscriptionSnapshot, restore
from domain.subscription.events import DeliveryFailed, DeliverySucceeded, decode, encode

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Finished runs are forgotten by the claims table after this long.
KEEP_FINISHED_RUNS: Final = timedelta(days=30)
PRUNE_EVERY: Final = timedelta(hours=1)


class Rendering(msgspec.Struct, frozen=True, kw_only=True):
    """What the renderer made of a subscription's report."""

    report_name: str
    #: PDFs or PNGs (one per page, or one for the whole report).
    attachments: list[Attachment]
    #: The report version rendered: the send history says which one people received.
    report_version: int | None = None


#: Renders a subscription's report (or its pages) in its format.
Render = Callable[[SubscriptionSnapshot], Awaitable[Rendering]]

RunOutcome = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True)
class Backoff:
    """How often, and after what waits, a transient SMTP failure is tried again."""

    #: SMTP attempts per run, the first included.
    attempts: int = 4
    #: Seconds before the second attempt; each later wait is ``factor`` times longer.
    first: float = 30.0
    factor: float = 4.0
    maximum: float = 600.0

    def delays(self) -> list[float]:
        """The waits after each failed attempt but the last."""
        return [
            min(self.first * self.factor**index, self.maximum)
            for index in range(max(self.attempts - 1, 0))
        ]


@dataclass(frozen=True)
class RunReport:
    """What one pass did with one run."""

    subscription_id: uuid.UUID
    scheduled_for: datetime
    outcome: RunOutcome
    detail: str = ""
    #: The global position of the recorded event (0: nothing recorded).
    position: int = 0


def default_owner() -> str:
    """Who claims runs, for people reading the claims table: host, process, instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Scheduler:
    def __init__(
        self,
        *,
        handler: SubscriptionHandler,
        claims: RunClaims,
        render: Render,
        mailer: SmtpMailer,
        clock: Clock = utc_now,
        owner: str | None = None,
        public_url: str | None = None,
        poll_interval: float = 30.0,
        lease: timedelta = timedelta(minutes=10),
        backoff: Backoff | None = None,
        batch_size: int = 50,
        concurrency: int = 4,
    ) -> None:
        self.handler = handler
        self.claims = claims
        self.render = render
        self.mailer = mailer
        self.clock = clock
        self.owner = owner or default_owner()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.poll_interval = poll_interval
        self.lease = lease
        self.backoff = backoff or Backoff()
        self.batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)
        #: Passes that may overlap in `run`.
        self.max_passes = concurrency
        self._pruned_at: datetime | None = None

    async def run(self, stop: asyncio.Event, *, grace: float = 30.0) -> None:
        """Start a pass every ``poll_interval`` seconds until ``stop`` is set, then give the
        passes under way ``grace`` seconds to finish.

        A pass waiting on a slow mail server (back-off can take minutes) does not hold up the
        next one: passes overlap, up to ``concurrency`` of them, and the claims keep them from
        taking the same run."""
        passes: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            if len(passes) < self.max_passes:
                task = asyncio.create_task(self._pass())
                passes.add(task)
                task.add_done_callback(passes.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_interval)
        if passes:
            _done, unfinished = await asyncio.wait(passes, timeout=grace)
            for task in unfinished:
                # A run cut off while sending is recorded as uncertain by whoever takes it over.
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)

    async def _pass(self) -> None:
        try:
            await self.tick()
            await self._prune()
        except Exception:
            log.exception("subscription scheduler: a pass failed; the next one tries again")

    async def tick(self) -> list[RunReport]:
        """One pass: finish abandoned runs, then deliver the due ones."""
        now = self.clock()
        reports = await self._recover(now)
        due = await self.claims.due(now, self.batch_size)
        results = await asyncio.gather(
            *(self._in_slot(self._run_due(subscription_id, now)) for subscription_id, _ in due),
            return_exceptions=True,
        )
        for (subscription_id, _), result in zip(due, results, strict=True):
            if isinstance(result, BaseException):
                # Its claim (if it got one) is finished by whoever finds the lease run out.
                log.error("subscription %s: the run failed", subscription_id, exc_info=result)
            elif result is not None:
                reports.append(result)
        return reports

    async def _in_slot(self, work: Awaitable[RunReport | None]) -> RunReport | None:
        async with self._slots:
            return await work

    async def _prune(self) -> None:
        now = self.clock()
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            await self.claims.prune(now - KEEP_FINISHED_RUNS)
            self._pruned_at = now

    # -- one due run -------------------------------------------------------------------------

    async def _run_due(self, subscription_id: uuid.UUID, now: datetime) -> RunReport | None:
        plan = await self.handler.delivery_plan(subscription_id)
        if plan is None:
            return None
        scheduled_for = plan.subscription.due(now)
        if scheduled_for is None:  # the read model was behind: paused, rescheduled, sent
            return None
        claim = await self.claims.claim(subscription_id, scheduled_for, self.owner, now, self.lease)
        if claim is None:  # another scheduler has (or had) this run
            return None
        return await self._deliver(claim, plan)

    async def _deliver(self, claim: Claim, plan: DeliveryPlan) -> RunReport:
        async with self._leased(claim):
            state = plan.subscription
            if not plan.recipients:
                withheld = ", ".join(plan.withheld)
                return await self._finish(
                    claim,
                    self._failure(
                        claim,
                        plan,
                        f"none of the recipients is a member of the workspace any more "
                        f"({withheld}); nothing was sent",
                    ),
                )
            try:
                rendering = await self.render(state)
                message = build_message(
                    sender=self.mailer.settings.from_address,
                    sender_name=self.mailer.settings.from_name,
                    recipients=plan.recipients,
                    subject=state.subject,
                    report_name=rendering.report_name,
                    scheduled_for=claim.scheduled_for,
                    timezone=state.timezone,
                    attachments=rendering.attachments,
                    inline=state.format == "inline",
                    message_id=message_id_for(
                        state.id, claim.scheduled_for, self.mailer.settings.from_domain
                    ),
                    link=self._link(state),
                    sent_at=self.clock(),
                )
            except MessageTooLarge as error:
                return await self._finish(claim, self._failure(claim, plan, str(error)))
            except Exception as error:
                log.exception("subscription %s: rendering failed", state.id)
                detail = f"the report could not be rendered: {error or type(error).__name__}"
                return await self._finish(claim, self._failure(claim, plan, detail))
            fresh = await self.handler.delivery_plan(state.id)
            if fresh is None or fresh.subscription.paused or fresh.subscription.deleted:
                # Paused or deleted while the report was being rendered: do not send.
                await self.claims.close(claim, "skipped", self.clock())
                return RunReport(state.id, claim.scheduled_for, "skipped", "paused or deleted")
            return await self._send(claim, plan, message, rendering)

    async def _send(
        self, claim: Claim, plan: DeliveryPlan, message: EmailMessage, rendering: Rendering
    ) -> RunReport:
        attempts = claim.attempts
        waits = self.backoff.delays()[attempts:]
        while True:
            if not await self.claims.start_attempt(claim, self.clock(), self.lease):
                return self._lost(claim)
            attempts += 1
            try:
                sent = await self.mailer.send(message, plan.recipients)
            except SendFailed as failed:
                if failed.transient and waits:
                    log.warning(
                        "subscription %s: attempt %d failed (%s); trying again",
                        plan.subscription.id,
                        attempts,
                        failed.detail,
                    )
                    if not await self.claims.attempt_refused(claim, self.clock(), self.lease):
                        return self._lost(claim)
                    await asyncio.sleep(waits.pop(0))
                    continue
                event: DeliverySucceeded | DeliveryFailed = self._failure(
                    claim,
                    plan,
                    failed.detail,
                    attempts=attempts,
                    transient=failed.transient,
                    report_version=rendering.report_version,
                )
                break
            event = restore(plan.subscription).record_success(
                scheduled_for=claim.scheduled_for,
                sent_at=self.clock(),
                recipients=sent.accepted,
                refused=sent.refused,
                withheld=plan.withheld,
                report_version=rendering.report_version,
                message_id=str(message["Message-ID"]),
                attempts=attempts,
            )
            break
        return await self._finish(claim, event)

    # -- outcomes ----------------------------------------------------------------------------

    def _failure(
        self,
        claim: Claim,
        plan: DeliveryPlan,
        error: str,
        *,
        attempts: int | None = None,
        transient: bool = False,
        report_version: int | None = None,
    ) -> DeliveryFailed:
        return restore(plan.subscription).record_failure(
            scheduled_for=claim.scheduled_for,
            failed_at=self.clock(),
            error=error,
            recipients=plan.recipients,
            withheld=plan.withheld,
            report_version=report_version,
            attempts=claim.attempts if attempts is None else attempts,
            transient=transient,
        )

    async def _finish(self, claim: Claim, event: DeliverySucceeded | DeliveryFailed) -> RunReport:
        """Keep the outcome with the run, record it as an event, close the run."""
        state: Literal["sent", "failed"] = (
            "sent" if isinstance(event, DeliverySucceeded) else "failed"
        )
        # If the claim was lost meanwhile, the outcome is recorded all the same: the first
        # recording of a run wins (its command id is the run's), the other appends nothing.
        await self.claims.settle(claim, state, encode(event).decode(), self.clock())
        return await self._record(claim, event)

    async def _record(self, claim: Claim, event: DeliverySucceeded | DeliveryFailed) -> RunReport:
        outcome: RunOutcome = "succeeded" if isinstance(event, DeliverySucceeded) else "failed"
        detail = event.error if isinstance(event, DeliveryFailed) else event.message_id
        try:
            recorded = await self.handler.record_delivery(
                claim.subscription_id, claim.scheduled_for, lambda _subscription: event
            )
        except Exception:
            # Kept with the run: whoever takes it over when its lease runs out records it.
            log.exception("subscription %s: recording the outcome failed", claim.subscription_id)
            return RunReport(claim.subscription_id, claim.scheduled_for, outcome, detail)
        await self.claims.close(claim, "recorded", self.clock())
        return RunReport(
            claim.subscription_id, claim.scheduled_for, outcome, detail, recorded.position
        )

    def _lost(self, claim: Claim) -> RunReport:
        log.warning(
            "subscription %s: the run of %s was taken over by another scheduler",
            claim.subscription_id,
            claim.scheduled_for,
        )
        return RunReport(claim.subscription_id, claim.scheduled_for, "skipped", "claim lost")

    # -- abandoned runs ----------------------------------------------------------------------

    async def _recover(self, now: datetime) -> list[RunReport]:
        reports = []
        for abandoned in await self.claims.abandoned(now, self.batch_size):
            claim = await self.claims.take_over(abandoned, self.owner, now, self.lease)
            if claim is None:
                continue
            log.warning(
                "subscription %s: taking over the run of %s (%s, its scheduler stopped)",
                claim.subscription_id,
                claim.scheduled_for,
                claim.state,
            )
            report = await self._resume(claim, now)
            if report is not None:
                reports.append(report)
        return reports

    async def _resume(self, claim: Claim, now: datetime) -> RunReport | None:
        if claim.state in ("sent", "failed") and claim.outcome is not None:
            event = decode(claim.outcome)
            assert isinstance(event, DeliverySucceeded | DeliveryFailed)
            return await self._record(claim, event)
        plan = await self.handler.delivery_plan(claim.subscription_id)
        if plan is None:
            return None
        if claim.state == "sending":
            # The SMTP attempt may have reached the server: never send it again.
            return await self._finish(
                claim,
                self._failure(
                    claim,
                    plan,
                    "the scheduler stopped while sending; the message may or may not have "
                    "been delivered, so it was not sent again",
                ),
            )
        next_run = plan.subscription.next_run_at
        if next_run is None or next_run > claim.scheduled_for:
            await self.claims.close(claim, "skipped", now)
            return RunReport(claim.subscription_id, claim.scheduled_for, "skipped", "not due")
        return await self._deliver(claim, plan)

    # -- helpers -----------------------------------------------------------------------------

    def _link(self, state: SubscriptionSnapshot) -> str | None:
        return f"{self.public_url}/reports/{state.report_id}" if self.public_url else None

    @contextlib.asynccontextmanager
    async def _leased(self, claim: Claim) -> AsyncIterator[None]:
        """Renew the claim's lease while the run is worked on (rendering can be slow)."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(max(self.lease.total_seconds() / 3, 0.05))
                with contextlib.suppress(Exception):
                    await self.claims.renew(claim, self.clock(), self.lease)

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
