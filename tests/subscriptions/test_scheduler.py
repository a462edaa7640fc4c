"""The delivery loop, driven by an injected clock, against real PostgreSQL read models and a
real SMTP server: a due run is delivered once (also by two schedulers at once), failures and
retries end up in the send history, paused subscriptions stay quiet, DST is honoured, and runs
of a scheduler that stopped are finished by another."""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pytest
import vl_convert

from commands.subscription import CreateSubscription
from delivery.claims import Claim
from delivery.mail import Attachment
from delivery.scheduler import Backoff, Rendering, RunReport, Scheduler
from delivery.smtp import SmtpMailer, SmtpSettings
from domain.subscription.aggregate import SubscriptionSnapshot, restore
from domain.subscription.events import encode
from projections.subscriptions import deliveries_of, subscription_record
from tests.subscriptions.conftest import SmtpServer, World

# -- a real renderer: one small Vega-Lite chart per page, through vl-convert -------------------


@functools.cache
def _chart(title: str, fmt: str) -> bytes:
    spec = {
        "title": title,
        "data": {"values": [{"region": "East", "sales": 3}, {"region": "West", "sales": 5}]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "region", "type": "nominal"},
            "y": {"field": "sales", "type": "quantitative"},
        },
    }
    data: bytes = (
        vl_convert.vegalite_to_pdf(spec) if fmt == "pdf" else vl_convert.vegalite_to_png(spec)
    )
    return data


def renderer(world: World) -> Any:
    names = dict(zip(world.pages, ("Overview", "Regions"), strict=True))

    async def render(subscription: SubscriptionSnapshot) -> Rendering:
        fmt = "pdf" if subscription.format == "pdf" else "png"
        pages = subscription.pages or tuple(world.pages)
        attachments = [
            Attachment(
                filename=f"{names[page]}.{fmt}",
                content_type="application/pdf" if fmt == "pdf" else "image/png",
                data=await asyncio.to_thread(_chart, names[page], fmt),
                title=names[page],
            )
            for page in pages
        ]
        return Rendering(report_name="Revenue", attachments=attachments, report_version=3)

    return render


def scheduler(world: World, server: SmtpServer, **options: Any) -> Scheduler:
    settings = SmtpSettings(
        host=server.host,
        port=server.port,
        security="none",
        from_address="reports@loupe.example",
        timeout=5.0,
    )
    values: dict[str, Any] = {
        "handler": world.handler,
        "claims": world.claims,
        "render": renderer(world),
        "mailer": SmtpMailer(settings),
        "clock": world.clock,
        "public_url": "https://loupe.example",
        "backoff": Backoff(attempts=4, first=0.01, factor=2),
    }
    values.update(options)
    return Scheduler(**values)


async def subscribe(world: World, **changes: Any) -> SubscriptionSnapshot:
    values: dict[str, Any] = {
        "cron": "0 9 * * *",
        "timezone": "Europe/Berlin",
        "recipients": ["ana@example.com", "vic@example.com"],
    }
    values.update(changes)
    outcome = await world.handler.create(world.report_id, CreateSubscription(**values), world.ana)
    await world.caught_up(outcome.position)
    return outcome.subscription


async def settle(world: World, reports: list[RunReport]) -> None:
    """Wait until the read model has every outcome the pass recorded."""
    positions = [report.position for report in reports if report.position]
    if positions:
        await world.caught_up(max(positions))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- exactly once ---------------------------------------------------------------------------


async def test_a_due_run_is_delivered_once_even_when_two_schedulers_run_at_once(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    first, second = scheduler(world, smtp_server), scheduler(world, smtp_server)
    inbox = smtp_server.inbox
    # 09:00 in Berlin on the 26th to the 29th (when summer time starts).
    runs = subscription.schedule.next_fires(world.clock(), 5)
    assert runs[0] == utc("2026-03-26T08:00")
    assert runs[3] == utc("2026-03-29T07:00")
    for day, scheduled_for in enumerate(runs[:4]):
        world.clock.set(scheduled_for + timedelta(seconds=20))
        reports = [r for both in await asyncio.gather(first.tick(), second.tick()) for r in both]
        assert [(r.outcome, r.scheduled_for) for r in reports] == [("succeeded", scheduled_for)]
        assert len(inbox.messages) == day + 1
        # Asked again before the read model has caught up: the claim keeps the run sent once.
        assert await asyncio.gather(first.tick(), second.tick()) == [[], []]
        await settle(world, reports)
        assert len(inbox.messages) == day + 1

    history = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert [d.scheduled_for for d in history] == runs[3::-1]
    assert {d.outcome for d in history} == {"succeeded"}
    record = await subscription_record(world.pool, world.read_schema, subscription.id)
    assert record is not None
    assert record.next_run_at == runs[4]
    assert record.last_outcome == "succeeded"

    received = inbox.messages[0]
    assert received.rcpt_tos == ["ana@example.com", "vic@example.com"]
    message = received.message
    assert message["Subject"] == "Revenue"
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Overview.pdf", "Regions.pdf"]
    assert all(a.get_content().startswith(b"%PDF") for a in attachments)
    assert history[-1].message_id == message["Message-ID"].strip()
    assert history[-1].report_version == 3
    assert history[-1].recipients == ["ana@example.com", "vic@example.com"]


async def test_the_loop_delivers_due_runs_until_stopped(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    after = await world.store.head_position()
    world.clock.set(utc("2026-03-26T08:00:01"))
    loops = [scheduler(world, smtp_server, poll_interval=0.02) for _ in range(2)]
    stop = asyncio.Event()
    running = [asyncio.create_task(loop.run(stop)) for loop in loops]
    try:
        recorded: list[str] = []
        while not recorded:
            assert await world.store.wait_for_events(after, 10), "nothing was recorded"
            events = await world.store.read_all(after_position=after, stream_types=["subscription"])
            recorded += [event.type for event in events]
            after = events[-1].position if events else after
    finally:
        stop.set()
        await asyncio.gather(*running)
    assert recorded == ["DeliverySucceeded"]
    assert len(smtp_server.inbox.messages) == 1
    assert await world.claims.state_of(subscription.id, utc("2026-03-26T08:00")) == "recorded"


async def test_nothing_is_sent_before_the_run_is_due(world: World, smtp_server: SmtpServer) -> None:
    await subscribe(world)
    world.clock.set(utc("2026-03-26T07:59:59"))
    assert await scheduler(world, smtp_server).tick() == []
    assert smtp_server.inbox.messages == []


async def test_missed_runs_are_sent_once_as_the_newest(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    world.clock.set(utc("2026-03-29T12:00"))  # the runs of the 26th to the 29th were missed
    reports = await scheduler(world, smtp_server).tick()
    assert [r.scheduled_for for r in reports] == [utc("2026-03-29T07:00")]  # 09:00 CEST
    assert len(smtp_server.inbox.messages) == 1
    await settle(world, reports)
    record = await subscription_record(world.pool, world.read_schema, subscription.id)
    assert record is not None
    assert record.next_run_at == utc("2026-03-30T07:00")


async def test_inline_pages_arrive_inside_the_message(
    world: World, smtp_server: SmtpServer
) -> None:
    await subscribe(world, format="inline", pages=[world.pages[1]])
    world.clock.set(utc("2026-03-26T08:00"))
    await scheduler(world, smtp_server).tick()
    message = smtp_server.inbox.messages[0].message
    assert list(message.iter_attachments()) == []
    html = message.get_body(preferencelist=("related",))
    assert html is not None
    [image] = [p for p in html.iter_parts() if p.get_content_type() == "image/png"]
    assert image.get_content() == _chart("Regions", "png")
    body = html.get_body(preferencelist=("html",))
    assert body is not None
    assert f"cid:{image['Content-ID'].strip().strip('<>')}" in body.get_content()
    assert "https://loupe.example/reports/" in body.get_content()


# -- failures -------------------------------------------------------------------------------


async def test_a_server_refusing_the_message_records_the_failure_in_the_send_history(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    smtp_server.inbox.refuse_data = "554 5.7.1 Message rejected: sender not allowed"
    world.clock.set(utc("2026-03-26T08:00:05"))
    reports = await scheduler(world, smtp_server).tick()
    assert [r.outcome for r in reports] == ["failed"]
    assert smtp_server.inbox.attempts == 1  # a permanent refusal is not retried
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.outcome == "failed"
    assert delivery.error is not None
    assert "554 5.7.1 Message rejected: sender not allowed" in delivery.error
    assert delivery.attempts == 1
    assert not delivery.transient
    assert delivery.recipients == ["ana@example.com", "vic@example.com"]
    record = await subscription_record(world.pool, world.read_schema, subscription.id)
    assert record is not None
    assert record.last_outcome == "failed"
    assert record.last_error == delivery.error
    # The next run is tomorrow's, as for a run that went out.
    assert record.next_run_at == utc("2026-03-27T08:00")


async def test_a_busy_server_is_tried_again_with_back_off(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    smtp_server.inbox.busy = 2
    world.clock.set(utc("2026-03-26T08:00"))
    reports = await scheduler(world, smtp_server).tick()
    assert [r.outcome for r in reports] == ["succeeded"]
    assert len(smtp_server.inbox.messages) == 1
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.attempts == 3


async def test_a_server_busy_for_every_attempt_records_a_transient_failure(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    smtp_server.inbox.busy = 100
    world.clock.set(utc("2026-03-26T08:00"))
    reports = await scheduler(world, smtp_server, backoff=Backoff(attempts=2, first=0.01)).tick()
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert (delivery.outcome, delivery.attempts, delivery.transient) == ("failed", 2, True)
    assert "451" in (delivery.error or "")


async def test_a_renderer_that_fails_records_the_failure(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)

    async def broken(_subscription: SubscriptionSnapshot) -> Rendering:
        raise RuntimeError("the dataset is gone")

    world.clock.set(utc("2026-03-26T08:00"))
    reports = await scheduler(world, smtp_server, render=broken).tick()
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.error == "the report could not be rendered: the dataset is gone"
    assert smtp_server.inbox.attempts == 0


# -- who gets it ----------------------------------------------------------------------------


async def test_a_paused_subscription_is_not_delivered(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    paused = await world.handler.pause(subscription.id, world.ana)
    world.clock.set(utc("2026-03-26T08:00"))
    # Whether or not the read model has seen the pause yet, nothing goes out.
    assert await scheduler(world, smtp_server).tick() == []
    await world.caught_up(paused.position)
    world.clock.set(utc("2026-03-28T08:00"))
    assert await scheduler(world, smtp_server).tick() == []
    assert smtp_server.inbox.messages == []
    assert await deliveries_of(world.pool, world.read_schema, subscription.id) == []


async def test_a_recipient_who_left_the_workspace_is_left_out(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    await world.remove_member(world.vic)
    world.clock.set(utc("2026-03-26T08:00"))
    reports = await scheduler(world, smtp_server).tick()
    assert smtp_server.inbox.messages[0].rcpt_tos == ["ana@example.com"]
    assert smtp_server.inbox.messages[0].message["To"] == "ana@example.com"
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.recipients == ["ana@example.com"]
    assert delivery.withheld == ["vic@example.com"]


# -- DST, end to end ------------------------------------------------------------------------


class DstCase(NamedTuple):
    zone: str
    cron: str
    #: When the subscription is made (UTC).
    created: str
    #: When it must fire (UTC).
    fires: list[str]
    #: Instants when it must not (UTC).
    quiet: list[str]


@pytest.mark.parametrize(
    "case",
    [
        # Europe/Berlin springs forward on 2026-03-29 (02:00 → 03:00).
        DstCase(
            "Europe/Berlin",
            "0 9 * * *",
            "2026-03-27T12:00",
            ["2026-03-28T08:00", "2026-03-29T07:00", "2026-03-30T07:00"],
            [],
        ),
        # 02:30 does not exist on the 29th: sent at 03:00 CEST.
        DstCase(
            "Europe/Berlin",
            "30 2 * * *",
            "2026-03-27T12:00",
            ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"],
            [],
        ),
        # ... and falls back on 2026-10-25 (03:00 → 02:00): 02:30 happens twice, sent once.
        DstCase(
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-23T12:00",
            ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30"],
            ["2026-10-25T01:30"],  # the second 02:30
        ),
        DstCase(
            "Europe/Berlin",
            "0 9 * * *",
            "2026-10-23T12:00",
            ["2026-10-24T07:00", "2026-10-25T08:00", "2026-10-26T08:00"],
            [],
        ),
        # America/New_York springs forward on 2026-03-08 and falls back on 2026-11-01.
        DstCase(
            "America/New_York",
            "0 9 * * *",
            "2026-03-07T00:00",
            ["2026-03-07T14:00", "2026-03-08T13:00", "2026-03-09T13:00"],
            [],
        ),
        DstCase(
            "America/New_York",
            "30 2 * * *",
            "2026-03-07T00:00",
            ["2026-03-07T07:30", "2026-03-08T07:00", "2026-03-09T06:30"],
            [],
        ),
        DstCase(
            "America/New_York",
            "30 1 * * *",
            "2026-10-31T00:00",
            ["2026-10-31T05:30", "2026-11-01T05:30", "2026-11-02T06:30"],
            ["2026-11-01T06:30"],  # the second 01:30
        ),
    ],
    ids=lambda case: f"{case.zone}-{case.cron.replace(' ', '_')}-{case.created[:7]}",
)
async def test_runs_go_out_at_the_right_local_time_across_a_dst_change(
    world: World, smtp_server: SmtpServer, case: DstCase
) -> None:
    world.clock.set(utc(case.created))
    await subscribe(world, cron=case.cron, timezone=case.zone)
    run = scheduler(world, smtp_server)
    checkpoints = sorted(
        [(utc(t), True) for t in case.fires] + [(utc(t), False) for t in case.quiet]
    )
    sent = 0
    for instant, fires_here in checkpoints:
        world.clock.set(instant - timedelta(seconds=1))
        assert await run.tick() == [], f"sent early, before {instant}"
        world.clock.set(instant)
        reports = await run.tick()
        if fires_here:
            assert [(r.outcome, r.scheduled_for) for r in reports] == [("succeeded", instant)]
            sent += 1
        else:
            assert reports == [], f"sent at {instant}, which is not a run"
        await settle(world, reports)
    assert len(smtp_server.inbox.messages) == sent == len(case.fires)


# -- a scheduler that stopped ----------------------------------------------------------------


async def _abandon(world: World, subscription_id: uuid.UUID, run: datetime) -> Claim:
    """A claim on ``run`` by a scheduler that stopped an hour ago (its lease is over)."""
    claim = await world.claims.claim(
        subscription_id, run, "stopped", run - timedelta(hours=1), timedelta(minutes=10)
    )
    assert claim is not None
    return claim


async def test_a_run_abandoned_while_rendering_is_delivered_by_another_scheduler(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    run = utc("2026-03-26T08:00")
    await _abandon(world, subscription.id, run)
    world.clock.set(run + timedelta(minutes=1))
    reports = await scheduler(world, smtp_server).tick()
    assert [(r.outcome, r.scheduled_for) for r in reports] == [("succeeded", run)]
    assert len(smtp_server.inbox.messages) == 1
    assert await world.claims.state_of(subscription.id, run) == "recorded"


async def test_a_run_abandoned_while_sending_is_recorded_as_uncertain_and_not_sent_again(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    run = utc("2026-03-26T08:00")
    claim = await _abandon(world, subscription.id, run)
    assert await world.claims.start_attempt(claim, run - timedelta(hours=1), timedelta(minutes=1))
    world.clock.set(run + timedelta(minutes=1))
    reports = await scheduler(world, smtp_server).tick()
    assert [r.outcome for r in reports] == ["failed"]
    assert smtp_server.inbox.attempts == 0
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.error is not None
    assert "may or may not have been delivered" in delivery.error
    assert delivery.attempts == 1


async def test_an_outcome_known_but_not_recorded_is_recorded_by_another_scheduler(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    run = utc("2026-03-26T08:00")
    claim = await _abandon(world, subscription.id, run)
    sent = restore(subscription).record_success(
        scheduled_for=run,
        sent_at=run + timedelta(seconds=2),
        recipients=["ana@example.com"],
        message_id="<sent-before-the-crash@loupe>",
    )
    assert await world.claims.settle(claim, "sent", encode(sent).decode(), run)
    world.clock.set(run + timedelta(minutes=1))
    reports = await scheduler(world, smtp_server).tick()
    assert [r.outcome for r in reports] == ["succeeded"]
    assert smtp_server.inbox.attempts == 0
    await settle(world, reports)
    [delivery] = await deliveries_of(world.pool, world.read_schema, subscription.id)
    assert delivery.message_id == "<sent-before-the-crash@loupe>"


async def test_a_scheduler_that_lost_its_claim_does_not_send(
    world: World, smtp_server: SmtpServer
) -> None:
    subscription = await subscribe(world)
    run = utc("2026-03-26T08:00")
    slow = await _abandon(world, subscription.id, run)
    taken = await world.claims.take_over(slow, "quick", run, timedelta(minutes=10))
    assert taken is not None
    # The slow one comes back and tries to send: its token no longer holds the run.
    assert not await world.claims.start_attempt(slow, run, timedelta(minutes=10))
    assert await world.claims.start_attempt(taken, run, timedelta(minutes=10))
