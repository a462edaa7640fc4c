"""The subscription command path against real PostgreSQL: who may subscribe whom, the domain's
errors, and the read model that follows the events (incrementally and rebuilt)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from commands.subscription import ChangeSubscription, CreateSubscription
from commands.subscriptions import SubscriptionOutcome
from domain.errors import DomainError, InvalidCommand, NotAllowed, NotFound
from projections.rebuild import rebuild
from projections.subscriptions import (
    SubscriptionReadModel,
    deliveries_of,
    subscription_record,
    subscriptions_of_report,
)
from tests.subscriptions.conftest import World


def request(**changes: Any) -> CreateSubscription:
    values: dict[str, Any] = {
        "cron": "0 9 * * MON-FRI",
        "timezone": "Europe/Berlin",
        "recipients": ["ana@example.com", "Vic@Example.com"],
    }
    values.update(changes)
    return CreateSubscription(**values)


async def create(world: World, **changes: Any) -> SubscriptionOutcome:
    return await world.handler.create(world.report_id, request(**changes), world.ana)


async def test_an_owner_subscribes_members_and_the_read_model_shows_the_next_run(
    world: World,
) -> None:
    outcome = await create(world, pages=[world.pages[1]], format="inline")
    state = outcome.subscription
    assert state.recipients == ("ana@example.com", "vic@example.com")
    assert state.subject == "Revenue"  # the report's name when none is given
    assert state.owner == world.ana.id
    await world.caught_up(outcome.position)
    record = await subscription_record(world.pool, world.read_schema, state.id)
    assert record is not None
    assert record.report_id == world.report_id
    assert record.workspace_id == world.workspace_id
    assert record.pages == [world.pages[1]]
    assert record.format == "inline"
    assert record.recipients == ["ana@example.com", "vic@example.com"]
    # Created on Wednesday 2026-03-25 at 13:00 in Berlin: the next run is Thursday 09:00.
    assert record.next_run_at == datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    assert record.created_by == world.ana.id
    assert not record.paused
    listed = await subscriptions_of_report(world.pool, world.read_schema, world.report_id)
    assert [r.id for r in listed] == [state.id]


async def test_an_editor_may_subscribe_but_a_viewer_may_not(world: World) -> None:
    made = await world.handler.create(world.report_id, request(), world.ben)
    assert made.subscription.owner == world.ben.id
    with pytest.raises(NotAllowed):
        await world.handler.create(world.report_id, request(), world.vic)


async def test_a_stranger_cannot_even_see_the_report(world: World) -> None:
    with pytest.raises(NotFound):
        await world.handler.create(world.report_id, request(), world.cy)


async def test_a_recipient_without_access_is_refused(world: World) -> None:
    with pytest.raises(InvalidCommand) as refused:
        await create(world, recipients=["ana@example.com", "cy@example.com"])
    assert refused.value.code == "recipient_without_access"
    assert "cy@example.com has no access to this report" in refused.value.detail


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"cron": "every monday"}, "invalid_cron"),
        ({"cron": "0 9 * * 8"}, "invalid_cron"),
        ({"cron": "* * * * *"}, "schedule_too_frequent"),
        ({"timezone": "Berlin"}, "unknown_timezone"),
        ({"timezone": "Europe/Atlantis"}, "unknown_timezone"),
        ({"format": "xlsx"}, "invalid_format"),
        ({"recipients": []}, "no_recipients"),
        ({"pages": [uuid.UUID(int=1)]}, "page_not_found"),
        ({"subject": "Hi\nBcc: x@example.com"}, "invalid_subject"),
    ],
)
async def test_invalid_settings_are_clear_domain_errors(
    world: World, changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        await create(world, **changes)
    assert refused.value.code == code
    assert await world.store.head_position(stream_types=["subscription"]) == 0


async def test_a_repeated_create_command_appends_nothing(world: World) -> None:
    command_id = uuid.uuid4()
    subscription_id = uuid.uuid4()
    first = await create(world, id=subscription_id, command_id=command_id)
    again = await create(world, id=subscription_id, command_id=command_id)
    assert again.duplicate
    assert again.version == first.version == 1


async def test_a_member_who_joins_later_can_be_subscribed(world: World) -> None:
    outcome = await create(world)
    with pytest.raises(InvalidCommand):
        await world.handler.change(
            outcome.subscription.id, ChangeSubscription(recipients=["cy@example.com"]), world.ana
        )
    await world.add_member(world.cy, "viewer")
    changed = await world.handler.change(
        outcome.subscription.id, ChangeSubscription(recipients=["cy@example.com"]), world.ana
    )
    assert changed.subscription.recipients == ("cy@example.com",)


async def test_changes_pause_resume_and_delete_follow_through_to_the_read_model(
    world: World,
) -> None:
    subscription_id = (await create(world)).subscription.id
    handler = world.handler
    world.clock.set(datetime(2026, 3, 26, 10, 0, tzinfo=UTC))
    changed = await handler.change(
        subscription_id,
        ChangeSubscription(cron="30 7 * * *", timezone="America/New_York", subject="Daily"),
        world.ben,
    )
    assert [event.type for event in changed.events] == [
        "SubscriptionScheduleChanged",
        "SubscriptionSubjectChanged",
    ]
    await world.caught_up(changed.position)
    record = await subscription_record(world.pool, world.read_schema, subscription_id)
    assert record is not None
    # 10:00 UTC is 06:00 in New York: today's 07:30 EDT is still to come.
    assert record.next_run_at == datetime(2026, 3, 26, 11, 30, tzinfo=UTC)
    assert (record.cron, record.timezone, record.subject) == (
        "30 7 * * *",
        "America/New_York",
        "Daily",
    )

    paused = await handler.pause(subscription_id, world.ana)
    assert (await handler.pause(subscription_id, world.ana)).events == []  # already paused
    await world.caught_up(paused.position)
    record = await subscription_record(world.pool, world.read_schema, subscription_id)
    assert record is not None
    assert record.paused
    assert record.next_run_at is None

    world.clock.set(datetime(2026, 4, 2, 12, 0, tzinfo=UTC))
    resumed = await handler.resume(subscription_id, world.ana)
    await world.caught_up(resumed.position)
    record = await subscription_record(world.pool, world.read_schema, subscription_id)
    assert record is not None
    assert record.next_run_at == datetime(2026, 4, 3, 11, 30, tzinfo=UTC)

    deleted = await handler.delete(subscription_id, world.ana)
    await world.caught_up(deleted.position)
    assert await subscription_record(world.pool, world.read_schema, subscription_id) is None
    with pytest.raises(NotFound):
        await handler.pause(subscription_id, world.ana)


async def test_a_viewer_cannot_change_a_subscription_and_a_stranger_cannot_find_it(
    world: World,
) -> None:
    subscription_id = (await create(world)).subscription.id
    with pytest.raises(NotAllowed):
        await world.handler.pause(subscription_id, world.vic)
    with pytest.raises(NotFound):
        await world.handler.pause(subscription_id, world.cy)


async def test_outcomes_are_recorded_once_per_run_and_fill_the_send_history(
    world: World,
) -> None:
    state = (await create(world)).subscription
    run = state.next_run_at
    assert run is not None

    def succeeded(subscription: Any) -> Any:
        return subscription.record_success(
            scheduled_for=run,
            sent_at=run + timedelta(seconds=3),
            recipients=["ana@example.com"],
            withheld=["vic@example.com"],
            refused={"x@example.com": "550 no"},
            report_version=7,
            message_id="<m@loupe>",
        )

    first = await world.handler.record_delivery(state.id, run, succeeded)
    again = await world.handler.record_delivery(state.id, run, succeeded)
    assert again.duplicate
    assert again.version == first.version
    await world.caught_up(first.position)
    [delivery] = await deliveries_of(world.pool, world.read_schema, state.id)
    assert delivery.outcome == "succeeded"
    assert delivery.scheduled_for == run
    assert delivery.recipients == ["ana@example.com"]
    assert delivery.withheld == ["vic@example.com"]
    assert delivery.refused == {"x@example.com": "550 no"}
    assert delivery.report_version == 7
    assert delivery.message_id == "<m@loupe>"
    record = await subscription_record(world.pool, world.read_schema, state.id)
    assert record is not None
    assert record.last_outcome == "succeeded"
    assert record.next_run_at == run + timedelta(days=1)


async def test_a_rebuilt_read_model_equals_the_incremental_one(world: World) -> None:
    kept = (await create(world)).subscription.id
    gone = (await create(world, format="png")).subscription.id
    await world.handler.change(kept, ChangeSubscription(pages=[world.pages[0]]), world.ana)
    await world.handler.pause(gone, world.ana)
    run = datetime(2026, 3, 26, 8, 0, tzinfo=UTC)
    last = await world.handler.record_delivery(
        kept,
        run,
        lambda s: s.record_failure(scheduled_for=run, failed_at=run, error="554 no", attempts=1),
    )
    deleted = await world.handler.delete(gone, world.ana)
    await world.caught_up(max(last.position, deleted.position))

    async def snapshot() -> bytes:
        rows = {}
        for subscription_id in (kept, gone):
            rows[str(subscription_id)] = (
                await world.pool.fetchrow(
                    f"SELECT * FROM {world.read_schema}.rm_subscriptions WHERE id = $1",
                    subscription_id,
                ),
                await deliveries_of(world.pool, world.read_schema, subscription_id),
            )
        return msgspec.json.encode(
            {key: [dict(row) if row else None, history] for key, (row, history) in rows.items()}
        )

    before = await snapshot()
    await rebuild(SubscriptionReadModel(), world.store, world.pool, world.read_schema)
    assert await snapshot() == before
