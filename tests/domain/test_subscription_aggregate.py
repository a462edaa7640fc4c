"""The Subscription aggregate: its invariants, how its state folds, and its next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import AlreadyExists, DomainError, InvalidCommand, NotFound
from domain.subscription.aggregate import Subscription, restore
from domain.subscription.events import (
    DeliveryFailed,
    SubscriptionEvent,
    SubscriptionPaused,
    SubscriptionRecipientsChanged,
    SubscriptionScheduleChanged,
    decode,
    encode,
)
from domain.subscription.rules import MAX_RECIPIENTS

SUBSCRIPTION = UUID(int=1)
REPORT = UUID(int=2)
WORKSPACE = UUID(int=3)
ANA = UUID(int=4)
PAGES = [UUID(int=100), UUID(int=101), UUID(int=102)]
MEMBERS = frozenset({"ana@example.com", "ben@example.com"})
CREATED_AT = datetime(2026, 5, 4, 8, 30, tzinfo=UTC)  # a Monday


def _fold(subscription: Subscription, *events: SubscriptionEvent) -> Subscription:
    for event in events:
        # Every event goes through its stored form, as it does in the store.
        subscription.apply(decode(encode(event)), subscription.version + 1)
    return subscription


def _create(**changes: Any) -> Subscription:
    subscription = Subscription(SUBSCRIPTION)
    settings: dict[str, Any] = {
        "report_id": REPORT,
        "workspace_id": WORKSPACE,
        "owner": ANA,
        "cron": "0 9 * * *",
        "timezone": "Europe/Berlin",
        "format": "pdf",
        "recipients": ["ana@example.com"],
        "pages": [],
        "subject": "Sales",
        "at": CREATED_AT,
        "report_pages": PAGES,
        "members": MEMBERS,
    }
    settings.update(changes)
    return _fold(subscription, subscription.create(**settings))


def _refused(code: str, **changes: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        _create(**changes)
    assert refused.value.code == code, refused.value.detail
    return refused.value


# -- invariants -----------------------------------------------------------------------------


def test_a_subscription_is_created_with_normalised_settings() -> None:
    state = _create(
        cron=" 0  9 * * mon-fri",
        recipients=[" Ana@Example.com", "ben@example.com", "ANA@example.com"],
        pages=[PAGES[2], PAGES[0]],
        subject="  Weekly sales ",
    ).state
    assert state.cron == "0 9 * * MON-FRI"
    assert state.recipients == ("ana@example.com", "ben@example.com")
    assert state.pages == (PAGES[0], PAGES[2])  # in report order
    assert state.subject == "Weekly sales"
    assert not state.paused
    assert state.created_at == CREATED_AT


def test_a_bad_cron_expression_is_a_clear_error() -> None:
    error = _refused("invalid_cron", cron="0 25 * * *")
    assert "'0 25 * * *' is not a valid cron expression" in error.detail


def test_an_unknown_time_zone_is_a_clear_error() -> None:
    error = _refused("unknown_timezone", timezone="Europe/Atlantis")
    assert "unknown time zone 'Europe/Atlantis'" in error.detail


def test_a_recipient_without_access_to_the_report_is_a_clear_error() -> None:
    error = _refused("recipient_without_access", recipients=["ana@example.com", "cy@elsewhere.org"])
    assert error.detail.startswith("cy@elsewhere.org has no access to this report")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"format": "docx"}, "invalid_format"),
        ({"recipients": []}, "no_recipients"),
        ({"recipients": ["not an address"]}, "invalid_recipient"),
        ({"recipients": ["ana@example.com\r\nBcc: all@example.com"]}, "invalid_recipient"),
        ({"pages": [UUID(int=999)]}, "page_not_found"),
        ({"pages": [PAGES[0], PAGES[0]]}, "invalid_pages"),
        ({"subject": "  "}, "invalid_subject"),
        ({"subject": "Sales\r\nBcc: all@example.com"}, "invalid_subject"),
        ({"subject": "x" * 201}, "invalid_subject"),
    ],
)
def test_invalid_settings_are_refused(changes: dict[str, Any], code: str) -> None:
    _refused(code, **changes)


def test_at_most_fifty_recipients() -> None:
    many = [f"user{index}@example.com" for index in range(MAX_RECIPIENTS + 1)]
    _create(recipients=many[:MAX_RECIPIENTS], members=frozenset(many))
    _refused("too_many_recipients", recipients=many, members=frozenset(many))


@pytest.mark.parametrize("fmt", ["pdf", "png", "inline"])
def test_each_format_is_accepted(fmt: str) -> None:
    assert _create(format=fmt).state.format == fmt


def test_creating_twice_is_already_exists() -> None:
    subscription = _create()
    with pytest.raises(AlreadyExists):
        subscription.create(
            report_id=REPORT,
            workspace_id=WORKSPACE,
            owner=ANA,
            cron="0 9 * * *",
            timezone="UTC",
            format="pdf",
            recipients=["ana@example.com"],
            pages=[],
            subject="Again",
            at=CREATED_AT,
            report_pages=PAGES,
            members=MEMBERS,
        )


def test_changes_produce_one_event_per_setting_that_differs() -> None:
    subscription = _create()
    at = CREATED_AT + timedelta(hours=1)
    events = subscription.change(
        at=at,
        cron="0 9 * * *",  # unchanged
        timezone="America/New_York",
        format="png",
        recipients=["ben@example.com"],
        members=MEMBERS,
    )
    assert [type(event).__name__ for event in events] == [
        "SubscriptionScheduleChanged",
        "SubscriptionFormatChanged",
        "SubscriptionRecipientsChanged",
    ]
    assert events[0] == SubscriptionScheduleChanged(
        cron="0 9 * * *", timezone="America/New_York", at=at
    )
    _fold(subscription, *events)
    assert subscription.state.timezone == "America/New_York"
    assert subscription.state.recipients == ("ben@example.com",)
    assert subscription.change(at=at, format="png") == []


def test_changing_recipients_checks_access_again() -> None:
    subscription = _create()
    with pytest.raises(InvalidCommand) as refused:
        subscription.change(at=CREATED_AT, recipients=["cy@elsewhere.org"], members=MEMBERS)
    assert refused.value.code == "recipient_without_access"


def test_pausing_or_resuming_twice_changes_nothing() -> None:
    subscription = _create()
    assert subscription.resume(CREATED_AT) == []
    _fold(subscription, *subscription.pause())
    assert subscription.pause() == []


def test_a_deleted_subscription_takes_no_more_changes() -> None:
    subscription = _create()
    _fold(subscription, subscription.delete())
    for decide in (
        subscription.pause,
        subscription.delete,
        lambda: subscription.change(at=CREATED_AT, subject="x"),
    ):
        with pytest.raises(NotFound):
            decide()


def test_outcomes_are_recorded_even_after_a_deletion() -> None:
    subscription = _create()
    _fold(subscription, subscription.delete())
    failed = subscription.record_failure(
        scheduled_for=CREATED_AT, failed_at=CREATED_AT, error="  boom  ", attempts=2
    )
    assert failed == DeliveryFailed(
        scheduled_for=CREATED_AT, failed_at=CREATED_AT, error="boom", attempts=2
    )


def test_nothing_can_be_decided_or_recorded_before_creation() -> None:
    with pytest.raises(NotFound):
        Subscription(SUBSCRIPTION).pause()
    with pytest.raises(NotFound):
        Subscription(SUBSCRIPTION).record_failure(
            scheduled_for=CREATED_AT, failed_at=CREATED_AT, error="x"
        )


# -- the next run ---------------------------------------------------------------------------


def test_the_first_run_is_the_first_fire_time_after_creation() -> None:
    # 08:30 UTC is 10:30 in Berlin: today's 09:00 has passed.
    assert _create().state.next_run_at == datetime(2026, 5, 5, 7, 0, tzinfo=UTC)


def test_a_recorded_run_moves_the_next_run_on() -> None:
    subscription = _create()
    first = subscription.state.next_run_at
    assert first is not None
    _fold(
        subscription,
        subscription.record_success(
            scheduled_for=first,
            sent_at=first + timedelta(seconds=5),
            recipients=["ana@example.com"],
            message_id="<m@x>",
        ),
    )
    state = subscription.state
    assert state.next_run_at == first + timedelta(days=1)
    assert state.last_outcome == "succeeded"
    assert state.last_sent_at == first + timedelta(seconds=5)


def test_a_failed_run_counts_as_run_and_keeps_its_error() -> None:
    subscription = _create()
    first = subscription.state.next_run_at
    assert first is not None
    _fold(
        subscription,
        subscription.record_failure(scheduled_for=first, failed_at=first, error="550 no"),
    )
    assert subscription.state.next_run_at == first + timedelta(days=1)
    assert (subscription.state.last_outcome, subscription.state.last_error) == (
        "failed",
        "550 no",
    )


def test_an_older_run_recorded_late_does_not_move_the_schedule_back() -> None:
    subscription = _create(cron="*/5 * * * *")
    later = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    earlier = later - timedelta(minutes=5)
    for run in (later, earlier):
        _fold(
            subscription,
            subscription.record_success(
                scheduled_for=run, sent_at=run, recipients=["ana@example.com"], message_id="m"
            ),
        )
    assert subscription.state.last_scheduled_for == later
    assert subscription.state.next_run_at == later + timedelta(minutes=5)


def test_a_paused_subscription_has_no_next_run_and_resumes_from_the_resume_time() -> None:
    subscription = _create()
    _fold(subscription, SubscriptionPaused())
    assert subscription.state.next_run_at is None
    assert subscription.state.due(CREATED_AT + timedelta(days=30)) is None
    resumed_at = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
    _fold(subscription, *subscription.resume(resumed_at))
    # Runs missed while paused are not made up.
    assert subscription.state.next_run_at == datetime(2026, 5, 21, 7, 0, tzinfo=UTC)


def test_a_schedule_change_counts_from_the_change() -> None:
    subscription = _create()
    at = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)
    _fold(subscription, *subscription.change(at=at, cron="0 21 * * *"))
    assert subscription.state.next_run_at == datetime(2026, 5, 4, 19, 0, tzinfo=UTC)


def test_missed_runs_are_coalesced_into_the_newest() -> None:
    state = _create().state
    now = datetime(2026, 5, 8, 12, 0, tzinfo=UTC)
    assert state.due(now) == datetime(2026, 5, 8, 7, 0, tzinfo=UTC)
    assert state.due(datetime(2026, 5, 5, 6, 59, tzinfo=UTC)) is None


# -- storage --------------------------------------------------------------------------------


def test_a_restored_snapshot_is_the_same_subscription() -> None:
    subscription = _create(pages=[PAGES[1]])
    _fold(subscription, SubscriptionRecipientsChanged(recipients=("ben@example.com",)))
    encoded = msgspec.json.encode(subscription.state)
    restored = restore(msgspec.json.decode(encoded, type=type(subscription.state)))
    assert restored.state == subscription.state
    assert restored.version == subscription.version == 2


@given(
    subject=st.text(min_size=1, max_size=200).filter(
        lambda s: s.strip() and not any(c < " " or c == "\x7f" for c in s)
    ),
    recipients=st.lists(st.sampled_from(sorted(MEMBERS)), min_size=1, max_size=5),
)
def test_created_events_survive_their_stored_form(subject: str, recipients: list[str]) -> None:
    event = Subscription(SUBSCRIPTION).create(
        report_id=REPORT,
        workspace_id=WORKSPACE,
        owner=ANA,
        cron="0 9 * * *",
        timezone="UTC",
        format="inline",
        recipients=recipients,
        pages=PAGES[:1],
        subject=subject,
        at=CREATED_AT,
        report_pages=PAGES,
        members=MEMBERS,
    )
    assert decode(encode(event)) == event
