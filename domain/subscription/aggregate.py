"""The Subscription aggregate: a report (or some of its pages) emailed on a schedule.

Invariants, checked when a change is decided: a valid five-field cron expression and a known
IANA time zone (`schedule`), a format of pdf/png/inline, 1 to 50 recipients who are members of
the report's workspace, pages that belong to the report, a one-line subject (`rules`).

Subscription events apply in stream order; the handler serialises writes with the stream
version. Deliveries are facts, not decisions: an outcome is recorded even if the subscription
was paused or deleted while its run was on its way (it happened), and each run is recorded once
because its command id is derived from (subscription, scheduled time).

The next run is derived, never stored in an event: the first fire time after the later of the
instant the schedule counts from (creation, schedule change, resume) and the last recorded
run. A paused or deleted subscription has none.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

import msgspec

from domain.errors import AlreadyExists, InvalidCommand, NotFound
from domain.subscription.events import (
    DeliveryFailed,
    DeliverySucceeded,
    Format,
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionEvent,
    SubscriptionFormatChanged,
    SubscriptionPagesChanged,
    SubscriptionPaused,
    SubscriptionRecipientsChanged,
    SubscriptionResumed,
    SubscriptionScheduleChanged,
    SubscriptionSubjectChanged,
)
from domain.subscription.rules import (
    check_format,
    check_pages,
    check_recipients,
    check_subject,
)
from domain.subscription.schedule import (
    Schedule,
    as_utc,
    parse_time_zone,
    subscription_cron,
)

Outcome = Literal["succeeded", "failed"]
#: Longest error text kept in an event (SMTP replies can be long; people need the gist).
MAX_ERROR_LENGTH: Final = 2000


class SubscriptionSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription's whole state at a version: what read models keep and what the renderer
    is given."""

    id: UUID
    version: int
    report_id: UUID
    workspace_id: UUID
    owner: UUID
    cron: str
    timezone: str
    format: Format
    recipients: tuple[str, ...]
    pages: tuple[UUID, ...]
    subject: str
    paused: bool
    deleted: bool
    #: The instant the schedule counts from (creation, schedule change, resume).
    schedule_from: datetime
    created_at: datetime
    last_scheduled_for: datetime | None = None
    last_outcome: Outcome | None = None
    last_error: str | None = None
    last_sent_at: datetime | None = None

    @property
    def schedule(self) -> Schedule:
        return Schedule(cron=self.cron, timezone=self.timezone)

    @property
    def next_run_at(self) -> datetime | None:
        """The next fire time (UTC) still to be run; None while paused or once deleted."""
        if self.paused or self.deleted:
            return None
        after = self.schedule_from
        if self.last_scheduled_for is not None and self.last_scheduled_for > after:
            after = self.last_scheduled_for
        return self.schedule.next_after(after)

    def due(self, now: datetime) -> datetime | None:
        """The fire time of the run due at ``now`` (the newest, if several were missed), or
        None when nothing is due."""
        first = self.next_run_at
        if first is None or first > now:
            return None
        return self.schedule.latest_fire(first, now)


class Subscription:
    def __init__(self, subscription_id: UUID) -> None:
        self.id: Final = subscription_id
        self.version = 0
        self._state: SubscriptionSnapshot | None = None

    # -- state -------------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self._state is not None

    @property
    def state(self) -> SubscriptionSnapshot:
        """The current state (raises `NotFound` before creation)."""
        if self._state is None:
            raise NotFound(f"subscription {self.id} does not exist", code="subscription_not_found")
        return self._state

    @property
    def deleted(self) -> bool:
        return self._state is not None and self._state.deleted

    def apply(self, event: SubscriptionEvent, version: int) -> None:
        if isinstance(event, SubscriptionCreated):
            if event.subscription_id != self.id:
                raise ValueError(
                    f"event of subscription {event.subscription_id} applied to {self.id}"
                )
            self._state = _created(event, version)
        else:
            state = self.state
            self._state = msgspec.structs.replace(state, version=version, **_changes(state, event))
        self.version = version

    # -- decisions ---------------------------------------------------------------------------

    def _require(self) -> SubscriptionSnapshot:
        state = self.state
        if state.deleted:
            raise NotFound(f"subscription {self.id} was deleted", code="subscription_not_found")
        return state

    def create(
        self,
        *,
        report_id: UUID,
        workspace_id: UUID,
        owner: UUID,
        cron: str,
        timezone: str,
        format: str,  # noqa: A002 - the API's word
        recipients: Iterable[str],
        pages: Iterable[UUID],
        subject: str,
        at: datetime,
        report_pages: Sequence[UUID],
        members: Collection[str],
    ) -> SubscriptionCreated:
        """A new subscription; ``members`` are the lower-case email addresses of the
        workspace's members, ``report_pages`` the report's page ids in order."""
        if self.exists:
            raise AlreadyExists(
                f"subscription {self.id} already exists", code="subscription_exists"
            )
        return SubscriptionCreated(
            subscription_id=self.id,
            report_id=report_id,
            workspace_id=workspace_id,
            owner=owner,
            cron=subscription_cron(cron),
            timezone=parse_time_zone(timezone),
            format=check_format(format),
            recipients=check_recipients(recipients, members),
            pages=check_pages(pages, report_pages),
            subject=check_subject(subject),
            at=as_utc(at),
        )

    def change(
        self,
        *,
        at: datetime,
        cron: str | None = None,
        timezone: str | None = None,
        format: str | None = None,  # noqa: A002 - the API's word
        recipients: Iterable[str] | None = None,
        pages: Iterable[UUID] | None = None,
        subject: str | None = None,
        report_pages: Sequence[UUID] = (),
        members: Collection[str] = (),
    ) -> list[SubscriptionEvent]:
        """The events for the settings given that differ from the current ones (none: no
        event). A new cron or time zone restarts the schedule at ``at``."""
        state = self._require()
        events: list[SubscriptionEvent] = []
        if cron is not None or timezone is not None:
            new_cron = subscription_cron(cron) if cron is not None else state.cron
            new_zone = parse_time_zone(timezone) if timezone is not None else state.timezone
            if (new_cron, new_zone) != (state.cron, state.timezone):
                events.append(
                    SubscriptionScheduleChanged(cron=new_cron, timezone=new_zone, at=as_utc(at))
                )
        if format is not None and (checked := check_format(format)) != state.format:
            events.append(SubscriptionFormatChanged(format=checked))
        if recipients is not None:
            addresses = check_recipients(recipients, members)
            if addresses != state.recipients:
                events.append(SubscriptionRecipientsChanged(recipients=addresses))
        if pages is not None:
            chosen = check_pages(pages, report_pages)
            if chosen != state.pages:
                events.append(SubscriptionPagesChanged(pages=chosen))
        if subject is not None and (line := check_subject(subject)) != state.subject:
            events.append(SubscriptionSubjectChanged(subject=line))
        return events

    def pause(self) -> list[SubscriptionEvent]:
        """Stop sending (nothing to do if already paused)."""
        return [] if self._require().paused else [SubscriptionPaused()]

    def resume(self, at: datetime) -> list[SubscriptionEvent]:
        """Send again, from the first fire time after ``at`` (nothing to do if not paused)."""
        return [SubscriptionResumed(at=as_utc(at))] if self._require().paused else []

    def delete(self) -> SubscriptionDeleted:
        self._require()
        return SubscriptionDeleted()

    def record_success(
        self,
        *,
        scheduled_for: datetime,
        sent_at: datetime,
        recipients: Sequence[str],
        message_id: str,
        refused: Mapping[str, str] | None = None,
        withheld: Sequence[str] = (),
        report_version: int | None = None,
        attempts: int = 1,
    ) -> DeliverySucceeded:
        self.state  # noqa: B018 - raises NotFound for a subscription that never existed
        if not recipients:
            raise InvalidCommand(
                "a delivery that succeeded reached at least one recipient",
                code="invalid_delivery",
            )
        return DeliverySucceeded(
            scheduled_for=as_utc(scheduled_for),
            sent_at=as_utc(sent_at),
            recipients=tuple(recipients),
            refused={address: _clip(reply) for address, reply in (refused or {}).items()},
            withheld=tuple(withheld),
            report_version=report_version,
            message_id=message_id,
            attempts=max(attempts, 1),
        )

    def record_failure(
        self,
        *,
        scheduled_for: datetime,
        failed_at: datetime,
        error: str,
        recipients: Sequence[str] = (),
        withheld: Sequence[str] = (),
        report_version: int | None = None,
        attempts: int = 0,
        transient: bool = False,
    ) -> DeliveryFailed:
        self.state  # noqa: B018 - raises NotFound for a subscription that never existed
        return DeliveryFailed(
            scheduled_for=as_utc(scheduled_for),
            failed_at=as_utc(failed_at),
            error=_clip(error.strip() or "unknown error"),
            recipients=tuple(recipients),
            withheld=tuple(withheld),
            report_version=report_version,
            attempts=max(attempts, 0),
            transient=transient,
        )


def _created(event: SubscriptionCreated, version: int) -> SubscriptionSnapshot:
    at = as_utc(event.at)
    return SubscriptionSnapshot(
        id=event.subscription_id,
        version=version,
        report_id=event.report_id,
        workspace_id=event.workspace_id,
        owner=event.owner,
        cron=event.cron,
        timezone=event.timezone,
        format=event.format,
        recipients=event.recipients,
        pages=event.pages,
        subject=event.subject,
        paused=False,
        deleted=False,
        schedule_from=at,
        created_at=at,
    )


def _changes(state: SubscriptionSnapshot, event: SubscriptionEvent) -> dict[str, Any]:  # noqa: C901, PLR0911 - one arm per event
    """What ``event`` changes in ``state`` (any event but the creation)."""
    match event:
        case SubscriptionScheduleChanged():
            return {
                "cron": event.cron,
                "timezone": event.timezone,
                "schedule_from": as_utc(event.at),
            }
        case SubscriptionRecipientsChanged():
            return {"recipients": event.recipients}
        case SubscriptionPagesChanged():
            return {"pages": event.pages}
        case SubscriptionFormatChanged():
            return {"format": event.format}
        case SubscriptionSubjectChanged():
            return {"subject": event.subject}
        case SubscriptionPaused():
            return {"paused": True}
        case SubscriptionResumed():
            return {"paused": False, "schedule_from": as_utc(event.at)}
        case SubscriptionDeleted():
            return {"deleted": True}
        case DeliverySucceeded():
            changes = _recorded(state, event.scheduled_for, "succeeded", None)
            sent_at = as_utc(event.sent_at)
            if state.last_sent_at is None or sent_at > state.last_sent_at:
                changes["last_sent_at"] = sent_at
            return changes
        case DeliveryFailed():
            return _recorded(state, event.scheduled_for, "failed", event.error)
        case SubscriptionCreated():  # pragma: no cover - `apply` handles it
            raise ValueError("a subscription is created once")


def _recorded(
    state: SubscriptionSnapshot, scheduled_for: datetime, outcome: Outcome, error: str | None
) -> dict[str, Any]:
    """The changes a recorded run makes. Runs may be recorded out of order (two processes
    finishing close together): the newest run decides the schedule and the last outcome."""
    run = as_utc(scheduled_for)
    if state.last_scheduled_for is not None and run < state.last_scheduled_for:
        return {}
    return {"last_scheduled_for": run, "last_outcome": outcome, "last_error": error}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def restore(snapshot: SubscriptionSnapshot) -> Subscription:
    """The aggregate holding ``snapshot`` (read models keep snapshots)."""
    subscription = Subscription(snapshot.id)
    subscription._state = snapshot  # noqa: SLF001 - the module's own restore
    subscription.version = snapshot.version
    return subscription
