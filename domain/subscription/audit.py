"""Audit descriptions of subscription events, worded like the report's (``domain.report.audit``):
"Ana subscribed 3 people to 'Weather' at 08:00 on Monday (Europe/Berlin) as PDF".

``describe_subscription_event(event, before, actor_name)`` reads the subscription just BEFORE
the event is applied. Every description's object is the subscription (``object_type``
"subscription", ``object_id`` its id), so the `GET /audit?object=` filter finds its whole
history, deliveries included.

The report's name is not part of a subscription's state: a subscription is named by its
subject, which starts as the report's name ("the subscription to 'Weather'"). Schedules are
put in words by cronsim ("at 08:00 on Monday"), or shown as their cron expression where it
has none. Deliveries are recorded by the scheduler, without an actor: "Loupe sent …".
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from domain.report.audit import AuditDescription, actor, change_of, quoted, shorten
from domain.subscription.events import (
    DeliveryFailed,
    DeliverySucceeded,
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

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.subscription.aggregate import Subscription, SubscriptionSnapshot

#: Who records deliveries (the scheduler: no actor).
SYSTEM: Final = "Loupe"
#: Email addresses listed in a summary before "and N more".
ADDRESSES_IN_SUMMARY: Final = 5
#: Characters of an address, a schedule in words, an error in a summary (``change`` has them
#: whole).
MAX_ADDRESS: Final = 60
MAX_SCHEDULE: Final = 80
MAX_ERROR: Final = 120
FORMAT_WORDS: Final[dict[str, str]] = {
    "pdf": "PDF",
    "png": "PNG",
    "inline": "images in the message",
}


def describe_subscription_event(  # noqa: C901, PLR0911 - one arm per event
    event: SubscriptionEvent, before: Subscription, actor_name: str
) -> AuditDescription:
    """What ``event`` did to ``before`` (the subscription just before it is applied)."""
    d = _Describer(before, actor_name)
    match event:
        case SubscriptionCreated():
            return d.created(event)
        case SubscriptionScheduleChanged():
            return d.rescheduled(event)
        case SubscriptionRecipientsChanged():
            return d.recipients(event)
        case SubscriptionPagesChanged():
            return d.pages(event)
        case SubscriptionFormatChanged():
            old_format = d.state.format if d.state else None
            return d.said(
                f"changed the format of {d.called} from {_format(old_format)} "
                f"to {_format(event.format)}",
                {"format": change_of(old_format, event.format, had_before=old_format is not None)},
            )
        case SubscriptionSubjectChanged():
            old_subject = d.state.subject if d.state else None
            whose = "the subscription from " + d.name if d.state else d.called
            return d.said(
                f"changed the subject of {whose} to {quoted(event.subject)}",
                {"subject": change_of(old_subject, event.subject, had_before=d.state is not None)},
            )
        case SubscriptionPaused():
            paused = d.state.paused if d.state else False
            suffix = " (it was already paused)" if paused else ""
            return d.said(
                f"paused {d.called}{suffix}", {"paused": change_of(before=paused, after=True)}
            )
        case SubscriptionResumed():
            return d.resumed(event)
        case SubscriptionDeleted():
            return d.said(f"deleted {d.called}", {"deleted": change_of(before=False, after=True)})
        case DeliverySucceeded():
            return d.sent(event)
        case DeliveryFailed():
            return d.failed(event)


class _Describer:
    def __init__(self, subscription: Subscription, actor_name: str) -> None:
        self.id = str(subscription.id)
        self.state: SubscriptionSnapshot | None = (
            subscription.state if subscription.exists else None
        )
        self.actor_name = actor_name
        self.who = actor(actor_name)
        if self.state is not None:
            self.name = quoted(self.state.subject)
            self.called = f"the subscription to {self.name}"
        else:  # an event before the creation: not written by Loupe, described all the same
            self.name = self.called = f"subscription {self.id[:8]}"

    def said(
        self, summary: str, change: dict[str, Any], *, who: str | None = None
    ) -> AuditDescription:
        return AuditDescription(
            object_type="subscription",
            object_id=self.id,
            summary=f"{self.who if who is None else who} {summary}",
            change=change,
        )

    def created(self, event: SubscriptionCreated) -> AuditDescription:
        what = quoted(event.subject)
        if event.pages:
            what = f"{_count(len(event.pages), 'page')} of {what}"
        suffix = " (it already existed)" if self.state is not None else ""
        summary = (
            f"subscribed {_people(event.recipients)} to {what} "
            f"{_schedule(event.cron, event.timezone)} as {_format(event.format)}{suffix}"
        )
        change = {
            "subject": change_of(None, event.subject, had_before=False),
            "report": change_of(None, str(event.report_id), had_before=False),
            "cron": change_of(None, event.cron, had_before=False),
            "timezone": change_of(None, event.timezone, had_before=False),
            "format": change_of(None, event.format, had_before=False),
            "recipients": change_of(None, list(event.recipients), had_before=False),
            "pages": change_of(None, _page_ids(event.pages), had_before=False),
            "owner": change_of(None, str(event.owner), had_before=False),
        }
        return AuditDescription(
            object_type="subscription",
            object_id=str(event.subscription_id),
            summary=f"{self.who} {summary}",
            change=change,
        )

    def rescheduled(self, event: SubscriptionScheduleChanged) -> AuditDescription:
        state = self.state
        new = {"cron": event.cron, "timezone": event.timezone, "schedule_from": _instant(event.at)}
        if state is None:
            summary = (
                f"changed the schedule of {self.called} to {_schedule(event.cron, event.timezone)}"
            )
            return self.said(
                summary,
                {key: change_of(None, value, had_before=False) for key, value in new.items()},
            )
        if state.cron == event.cron:
            summary = (
                f"changed the time zone of {self.called} from {state.timezone} to "
                f"{event.timezone} ({_when(event.cron)})"
            )
        elif state.timezone == event.timezone:
            summary = (
                f"changed the schedule of {self.called} from {_quoted_when(state.cron)} to "
                f"{_quoted_when(event.cron)} ({event.timezone})"
            )
        else:
            summary = (
                f"changed the schedule of {self.called} from {_quoted_when(state.cron)} "
                f"({state.timezone}) to {_quoted_when(event.cron)} ({event.timezone})"
            )
        old = {
            "cron": state.cron,
            "timezone": state.timezone,
            "schedule_from": _instant(state.schedule_from),
        }
        return self.said(summary, {key: change_of(old[key], value) for key, value in new.items()})

    def recipients(self, event: SubscriptionRecipientsChanged) -> AuditDescription:
        old = self.state.recipients if self.state else ()
        added = [address for address in event.recipients if address not in old]
        removed = [address for address in old if address not in event.recipients]
        parts = [f"added {_addresses(added)}"] if added else []
        parts += [f"removed {_addresses(removed)}"] if removed else []
        what = "; ".join(parts) if parts else "changed their order"
        summary = (
            f"changed the recipients of {self.called}: {what} "
            f"(now {_people(event.recipients, named=False)})"
        )
        change = {
            "recipients": change_of(
                list(old), list(event.recipients), had_before=self.state is not None
            )
        }
        return self.said(summary, change)

    def pages(self, event: SubscriptionPagesChanged) -> AuditDescription:
        old = self.state.pages if self.state else None
        new = _pages(event.pages)
        if old is None:
            summary = f"chose {new} for {self.called}"
        elif len(old) == len(event.pages):
            summary = f"changed the pages of {self.called} ({new})"
        else:
            summary = f"changed the pages of {self.called} from {_pages(old)} to {new}"
        change = {
            "pages": change_of(
                _page_ids(old or ()), _page_ids(event.pages), had_before=old is not None
            )
        }
        return self.said(summary, change)

    def resumed(self, event: SubscriptionResumed) -> AuditDescription:
        state = self.state
        paused = state is not None and state.paused
        suffix = "" if paused else " (it was not paused)"
        change = {
            "paused": change_of(before=paused, after=False),
            "schedule_from": change_of(
                _instant(state.schedule_from) if state else None,
                _instant(event.at),
                had_before=state is not None,
            ),
        }
        return self.said(f"resumed {self.called}{suffix}", change)

    def sent(self, event: DeliverySucceeded) -> AuditDescription:
        who = actor(self.actor_name) if self.actor_name.strip() else SYSTEM
        version = f" v{event.report_version}" if event.report_version is not None else ""
        notes = [f"scheduled for {self._local(event.scheduled_for)}"]
        if event.refused:
            notes.append(f"refused by the mail server: {_addresses(sorted(event.refused))}")
        if event.withheld:
            notes.append(f"left out, no longer members: {_addresses(event.withheld)}")
        if event.attempts > 1:
            notes.append(f"after {event.attempts} attempts")
        late = self._late(event.scheduled_for)
        if late:
            notes.append("recorded after a later run")
        summary = f"sent {self.name}{version} to {_people(event.recipients)} ({'; '.join(notes)})"
        change: dict[str, Any] = {}
        if not late:
            change["outcome"] = self._outcome("succeeded")
        change |= {
            "scheduled_for": change_of(None, _instant(event.scheduled_for), had_before=False),
            "sent_at": change_of(None, _instant(event.sent_at), had_before=False),
            "recipients": change_of(None, list(event.recipients), had_before=False),
        }
        if event.refused:
            change["refused"] = change_of(None, dict(event.refused), had_before=False)
        if event.withheld:
            change["withheld"] = change_of(None, list(event.withheld), had_before=False)
        if event.report_version is not None:
            change["report_version"] = change_of(None, event.report_version, had_before=False)
        change["message_id"] = change_of(None, event.message_id, had_before=False)
        change["attempts"] = change_of(None, event.attempts, had_before=False)
        return self.said(summary, change, who=who)

    def failed(self, event: DeliveryFailed) -> AuditDescription:
        notes = [f"scheduled for {self._local(event.scheduled_for)}"]
        if event.attempts > 1:
            notes.append(f"after {event.attempts} attempts")
        if event.withheld:
            notes.append(f"left out, no longer members: {_addresses(event.withheld)}")
        late = self._late(event.scheduled_for)
        if late:
            notes.append("recorded after a later run")
        summary = (
            f"Sending {self.name} failed: {shorten(event.error, MAX_ERROR)} ({'; '.join(notes)})"
        )
        change: dict[str, Any] = {}
        if not late:
            change["outcome"] = self._outcome("failed")
        change |= {
            "scheduled_for": change_of(None, _instant(event.scheduled_for), had_before=False),
            "failed_at": change_of(None, _instant(event.failed_at), had_before=False),
            "error": change_of(None, event.error, had_before=False),
            "recipients": change_of(None, list(event.recipients), had_before=False),
        }
        if event.withheld:
            change["withheld"] = change_of(None, list(event.withheld), had_before=False)
        if event.report_version is not None:
            change["report_version"] = change_of(None, event.report_version, had_before=False)
        change["attempts"] = change_of(None, event.attempts, had_before=False)
        change["transient"] = change_of(None, event.transient, had_before=False)
        return AuditDescription(
            object_type="subscription", object_id=self.id, summary=summary, change=change
        )

    def _late(self, scheduled_for: datetime) -> bool:
        """Whether a newer run was recorded already (this one then changes no state)."""
        last = self.state.last_scheduled_for if self.state else None
        return last is not None and scheduled_for.astimezone(UTC) < last

    def _outcome(self, outcome: str) -> dict[str, Any]:
        last = self.state.last_outcome if self.state else None
        return change_of(last, outcome, had_before=last is not None)

    def _local(self, instant: datetime) -> str:
        """ "2026-12-07 08:00 Europe/Berlin": the instant in the subscription's time zone."""
        zone_name = self.state.timezone if self.state else "UTC"
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone, zone_name = ZoneInfo("UTC"), "UTC"
        return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} {zone_name}"


@lru_cache(maxsize=1024)
def _explained(cron: str) -> str | None:
    """The schedule in cronsim's words, first letter lowercased ("at 08:00 on Monday"); None
    where cronsim cannot say it."""
    try:
        words = CronSim(cron, datetime(2000, 1, 1, tzinfo=UTC)).explain()
    except (CronSimError, ValueError, IndexError, KeyError, NotImplementedError):
        return None
    return shorten(words[:1].lower() + words[1:], MAX_SCHEDULE) if words else None


def _when(cron: str) -> str:
    """ "at 08:00 on Monday", or "on schedule '0 8 L-2 * *'"."""
    words = _explained(cron)
    return words if words is not None else f"on schedule {quoted(cron, MAX_SCHEDULE)}"


def _quoted_when(cron: str) -> str:
    """ "'at 08:00 on Monday'", or the expression quoted ("'0 8 L-2 * *'")."""
    return quoted(_explained(cron) or cron, MAX_SCHEDULE)


def _schedule(cron: str, timezone: str) -> str:
    """ "at 08:00 on Monday (Europe/Berlin)"."""
    return f"{_when(cron)} ({shorten(timezone)})"


def _format(value: str | None) -> str:
    if value is None:
        return "an unknown format"
    return FORMAT_WORDS.get(value) or shorten(value, 20)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _people(addresses: Sequence[str], *, named: bool = True) -> str:
    """One address by itself (``named``), else "3 people"."""
    if named and len(addresses) == 1:
        return shorten(addresses[0], MAX_ADDRESS)
    return "1 person" if len(addresses) == 1 else f"{len(addresses)} people"


def _addresses(addresses: Sequence[str]) -> str:
    shown = ", ".join(shorten(a, MAX_ADDRESS) for a in addresses[:ADDRESSES_IN_SUMMARY])
    more = len(addresses) - ADDRESSES_IN_SUMMARY
    return shown + (f" and {more} more" if more > 0 else "")


def _pages(pages: Sequence[object]) -> str:
    return _count(len(pages), "page") if pages else "every page"


def _page_ids(pages: Sequence[object]) -> list[str]:
    return [str(page) for page in pages]


def _instant(instant: datetime) -> str:
    """An instant as JSON: ISO 8601 in UTC."""
    return instant.astimezone(UTC).isoformat()
