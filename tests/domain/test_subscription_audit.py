"""Subscription events in the audit log's words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.report.audit import AuditDescription
from domain.subscription.aggregate import Subscription
from domain.subscription.audit import describe_subscription_event
from domain.subscription.events import (
    EVENT_TYPES,
    DeliveryFailed,
    SubscriptionCreated,
    SubscriptionEvent,
    SubscriptionPaused,
    SubscriptionScheduleChanged,
    decode,
    encode,
    tag_of,
)

SUBSCRIPTION = UUID(int=1)
REPORT = UUID(int=2)
WORKSPACE = UUID(int=3)
ANA = UUID(int=4)
PAGES = [UUID(int=100), UUID(int=101), UUID(int=102)]
MEMBERS = frozenset({"ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"})
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MONDAY_8_BERLIN = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 in Berlin (winter time)

Step = Callable[[Subscription], Sequence[SubscriptionEvent]]


def _create(subscription: Subscription, **changes: Any) -> list[SubscriptionEvent]:
    settings: dict[str, Any] = {
        "report_id": REPORT,
        "workspace_id": WORKSPACE,
        "owner": ANA,
        "cron": "0 8 * * 1",
        "timezone": "Europe/Berlin",
        "format": "pdf",
        "recipients": ["ana@example.com", "bo@example.com", "cy@example.com"],
        "pages": [],
        "subject": "Weather",
        "at": AT,
        "report_pages": PAGES,
        "members": MEMBERS,
    }
    settings.update(changes)
    return [subscription.create(**settings)]


def _sent(subscription: Subscription, **changes: Any) -> list[SubscriptionEvent]:
    settings: dict[str, Any] = {
        "scheduled_for": MONDAY_8_BERLIN,
        "sent_at": MONDAY_8_BERLIN.replace(minute=1),
        "recipients": ["ana@example.com", "bo@example.com", "cy@example.com"],
        "message_id": "<1@loupe>",
        "report_version": 12,
    }
    settings.update(changes)
    return [subscription.record_success(**settings)]


def _described(
    subscription: Subscription, events: Sequence[SubscriptionEvent], actor_name: str = "Ana"
) -> list[AuditDescription]:
    """Each event described against the subscription just before it, then applied (through
    its stored form, as the audit log reads it)."""
    said = []
    for event in events:
        stored = decode(encode(event))
        description = describe_subscription_event(stored, subscription, actor_name)
        msgspec.json.encode(description)  # JSON all the way down
        said.append(description)
        subscription.apply(stored, subscription.version + 1)
    return said


def _history() -> list[tuple[str, AuditDescription]]:
    """(event type, description) of each event of one subscription's life."""
    subscription = Subscription(SUBSCRIPTION)
    steps: list[tuple[str, Step]] = [
        ("Ana", _create),
        ("Ana", lambda s: s.change(at=AT, cron="0 9 * * *")),
        ("Ana", lambda s: s.change(at=AT, timezone="America/New_York")),
        ("Ana", lambda s: s.change(at=AT, cron="0 8 * * MON-FRI", timezone="Europe/Berlin")),
        (
            "Ana",
            lambda s: s.change(
                at=AT, recipients=["ana@example.com", "dee@example.com"], members=MEMBERS
            ),
        ),
        ("Ana", lambda s: s.change(at=AT, pages=PAGES[:2], report_pages=PAGES)),
        ("Ana", lambda s: s.change(at=AT, format="png")),
        ("Ana", lambda s: s.change(at=AT, subject="Weekly weather")),
        ("Ana", lambda s: s.pause()),
        ("Ana", lambda s: s.resume(AT)),
        ("", lambda s: _sent(s, recipients=["ana@example.com", "dee@example.com"])),
        (
            "",
            lambda s: [
                s.record_failure(
                    scheduled_for=MONDAY_8_BERLIN.replace(day=8),
                    failed_at=MONDAY_8_BERLIN.replace(day=8, minute=5),
                    error="421 mail.example.com busy,\n try again later",
                    recipients=["ana@example.com", "dee@example.com"],
                    report_version=12,
                    attempts=3,
                    transient=True,
                )
            ],
        ),
        ("Ana", lambda s: [s.delete()]),
    ]
    said = []
    for actor_name, step in steps:
        events = step(subscription)
        assert events, "every step decides an event"
        said += [
            (tag_of(event), description)
            for event, description in zip(
                events, _described(subscription, events, actor_name), strict=True
            )
        ]
    return said


def test_every_subscription_event_reads_as_a_sentence() -> None:
    history = _history()
    assert {event_type for event_type, _ in history} == set(EVENT_TYPES)
    assert [description.summary for _, description in history] == [
        "Ana subscribed 3 people to 'Weather' at 08:00 on Monday (Europe/Berlin) as PDF",
        (
            "Ana changed the schedule of the subscription to 'Weather' from 'at 08:00 on Monday' "
            "to 'at 09:00 every day' (Europe/Berlin)"
        ),
        (
            "Ana changed the time zone of the subscription to 'Weather' from Europe/Berlin to "
            "America/New_York (at 09:00 every day)"
        ),
        (
            "Ana changed the schedule of the subscription to 'Weather' from 'at 09:00 every day' "
            "(America/New_York) to 'at 08:00 on Monday through Friday' (Europe/Berlin)"
        ),
        (
            "Ana changed the recipients of the subscription to 'Weather': added "
            "dee@example.com; removed bo@example.com, cy@example.com (now 2 people)"
        ),
        "Ana changed the pages of the subscription to 'Weather' from every page to 2 pages",
        "Ana changed the format of the subscription to 'Weather' from PDF to PNG",
        "Ana changed the subject of the subscription from 'Weather' to 'Weekly weather'",
        "Ana paused the subscription to 'Weekly weather'",
        "Ana resumed the subscription to 'Weekly weather'",
        (
            "Loupe sent 'Weekly weather' v12 to 2 people "
            "(scheduled for 2026-12-07 08:00 Europe/Berlin)"
        ),
        (
            "Sending 'Weekly weather' failed: 421 mail.example.com busy, try again later "
            "(scheduled for 2026-12-08 08:00 Europe/Berlin; after 3 attempts)"
        ),
        "Ana deleted the subscription to 'Weekly weather'",
    ]
    for _, description in history:
        assert description.object_type == "subscription"
        assert description.object_id == str(SUBSCRIPTION)


def test_each_change_carries_the_values_it_replaced() -> None:
    changes = [description.change for _, description in _history()]
    created, schedule, zone, _, recipients, pages, fmt, subject, paused, resumed = changes[:10]
    assert created == {
        "subject": {"after": "Weather"},
        "report": {"after": str(REPORT)},
        "cron": {"after": "0 8 * * 1"},
        "timezone": {"after": "Europe/Berlin"},
        "format": {"after": "pdf"},
        "recipients": {"after": ["ana@example.com", "bo@example.com", "cy@example.com"]},
        "pages": {"after": []},
        "owner": {"after": str(ANA)},
    }
    assert schedule == {
        "cron": {"before": "0 8 * * 1", "after": "0 9 * * *"},
        "timezone": {"before": "Europe/Berlin", "after": "Europe/Berlin"},
        "schedule_from": {"before": "2026-11-30T12:00:00+00:00", "after": AT.isoformat()},
    }
    assert zone["timezone"] == {"before": "Europe/Berlin", "after": "America/New_York"}
    assert recipients == {
        "recipients": {
            "before": ["ana@example.com", "bo@example.com", "cy@example.com"],
            "after": ["ana@example.com", "dee@example.com"],
        }
    }
    assert pages == {"pages": {"before": [], "after": [str(PAGES[0]), str(PAGES[1])]}}
    assert fmt == {"format": {"before": "pdf", "after": "png"}}
    assert subject == {"subject": {"before": "Weather", "after": "Weekly weather"}}
    assert paused == {"paused": {"before": False, "after": True}}
    assert resumed["paused"] == {"before": True, "after": False}


def test_a_delivery_records_what_was_sent_and_the_outcome_it_replaced() -> None:
    history = dict(_history())
    sent = history["DeliverySucceeded"].change
    assert sent == {
        "outcome": {"after": "succeeded"},
        "scheduled_for": {"after": "2026-12-07T07:00:00+00:00"},
        "sent_at": {"after": "2026-12-07T07:01:00+00:00"},
        "recipients": {"after": ["ana@example.com", "dee@example.com"]},
        "report_version": {"after": 12},
        "message_id": {"after": "<1@loupe>"},
        "attempts": {"after": 1},
    }
    failed = history["DeliveryFailed"].change
    assert failed["outcome"] == {"before": "succeeded", "after": "failed"}
    # The summary shortens and flattens the error; the change keeps it as recorded.
    assert failed["error"] == {"after": "421 mail.example.com busy,\n try again later"}
    assert failed["transient"] == {"after": True}


def test_a_delivery_without_an_actor_is_sent_by_loupe_and_names_its_exceptions() -> None:
    subscription = Subscription(SUBSCRIPTION)
    _described(subscription, _create(subscription, recipients=["ana@example.com"]))
    [sent] = _described(
        subscription,
        _sent(
            subscription,
            recipients=["ana@example.com"],
            refused={"bo@example.com": "550 no such user"},
            withheld=["cy@example.com"],
            attempts=2,
            report_version=None,
        ),
        actor_name="",
    )
    assert sent.summary == (
        "Loupe sent 'Weather' to ana@example.com (scheduled for 2026-12-07 08:00 Europe/Berlin; "
        "refused by the mail server: bo@example.com; left out, no longer members: "
        "cy@example.com; after 2 attempts)"
    )
    assert sent.change["refused"] == {"after": {"bo@example.com": "550 no such user"}}
    assert sent.change["withheld"] == {"after": ["cy@example.com"]}


def test_a_run_recorded_after_a_later_one_says_so_and_leaves_the_outcome_alone() -> None:
    subscription = Subscription(SUBSCRIPTION)
    _described(subscription, _create(subscription))
    _described(subscription, _sent(subscription), actor_name="")
    earlier = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # the Monday before
    [late] = _described(
        subscription,
        [
            DeliveryFailed(
                scheduled_for=earlier,
                failed_at=earlier,
                error="connection refused",
                attempts=1,
            )
        ],
        actor_name="",
    )
    assert late.summary == (
        "Sending 'Weather' failed: connection refused "
        "(scheduled for 2026-11-30 08:00 Europe/Berlin; recorded after a later run)"
    )
    assert "outcome" not in late.change
    assert subscription.state.last_outcome == "succeeded"


def test_a_subscription_to_some_pages_for_one_person_names_them() -> None:
    subscription = Subscription(SUBSCRIPTION)
    [created] = _described(
        subscription,
        _create(
            subscription,
            recipients=["bo@example.com"],
            pages=[PAGES[2]],
            cron="*/30 * * * *",
            format="inline",
        ),
    )
    assert created.summary == (
        "Ana subscribed bo@example.com to 1 page of 'Weather' every 30th minute of every hour "
        "(Europe/Berlin) as images in the message"
    )
    assert created.change["pages"] == {"after": [str(PAGES[2])]}


def test_a_schedule_cronsim_cannot_put_in_words_is_shown_as_written() -> None:
    # The log holds whatever was appended; the description must not depend on it parsing.
    subscription = Subscription(SUBSCRIPTION)
    _described(subscription, _create(subscription))
    odd = SubscriptionScheduleChanged(cron="0 8 L-2 * *", timezone="Europe/Berlin", at=AT)
    [changed] = _described(subscription, [odd])
    assert changed.summary == (
        "Ana changed the schedule of the subscription to 'Weather' from 'at 08:00 on Monday' "
        "to '0 8 L-2 * *' (Europe/Berlin)"
    )
    created = SubscriptionCreated(
        subscription_id=UUID(int=9),
        report_id=REPORT,
        workspace_id=WORKSPACE,
        owner=ANA,
        cron="0 8 L-2 * *",
        timezone="UTC",
        format="pdf",
        recipients=("ana@example.com",),
        subject="Odd",
        at=AT,
    )
    described = describe_subscription_event(created, Subscription(UUID(int=9)), "Ana")
    assert described.summary == (
        "Ana subscribed ana@example.com to 'Odd' on schedule '0 8 L-2 * *' (UTC) as PDF"
    )


def test_an_unnamed_actor_reads_someone_and_an_event_before_creation_names_the_id() -> None:
    never_created = Subscription(SUBSCRIPTION)
    described = describe_subscription_event(SubscriptionPaused(), never_created, "")
    assert described.summary == f"Someone paused subscription {str(SUBSCRIPTION)[:8]}"
    assert described.change == {"paused": {"before": False, "after": True}}


def test_pausing_a_paused_subscription_says_it_changed_nothing() -> None:
    subscription = Subscription(SUBSCRIPTION)
    _described(subscription, _create(subscription))
    _described(subscription, [SubscriptionPaused()])
    [again] = _described(subscription, [SubscriptionPaused()])
    assert again.summary == "Ana paused the subscription to 'Weather' (it was already paused)"
    assert again.change == {"paused": {"before": True, "after": True}}
