"""Every committed event reaches NATS JetStream: in order, once, even across outages."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import msgspec
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from api.engines import EmbeddedNats
from sync.relay import Relay
from tests.apiclient import create_report, create_workspace, page_with_visual, send, uid
from tests.server import running_loupe


async def _stream_messages(url: str, stream: str) -> list[nats.aio.msg.Msg]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        total = info.state.messages
        sub = await js.subscribe(
            f"{info.config.subjects[0]}",
            stream=stream,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        messages = []
        for _ in range(total):
            messages.append(await sub.next_msg(timeout=5))
        await sub.unsubscribe()
        return messages
    finally:
        await nc.close()


async def _published_up_to_head(loupe, timeout: float = 20) -> None:
    head = await loupe.services.store.head_position()
    assert await loupe.services.relay.wait_until(head, timeout), (
        f"relay at {loupe.services.relay.position}, head {head}"
    )


async def test_committed_events_reach_jetstream_in_order_with_their_ids(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        await page_with_visual(client, report["id"])
        for index in range(5):
            await send(client, report["id"], {"type": "RenameReport", "name": f"v{index}"})
    await _published_up_to_head(loupe)
    stored = await loupe.services.store.read_all(after_position=0, limit=1000)
    messages = await _stream_messages(loupe.settings.nats_url, loupe.settings.nats_stream)
    assert [msg.headers["Nats-Msg-Id"] for msg in messages] == [str(e.event_id) for e in stored]
    report_subject = f"{loupe.settings.nats_subject_prefix}.{workspace['id']}.report.{report['id']}"
    report_messages = [msg for msg in messages if msg.subject == report_subject]
    versions = [msgspec.json.decode(msg.data)["version"] for msg in report_messages]
    assert versions == list(range(1, 9))


async def test_a_relay_that_crashed_before_its_checkpoint_publishes_again_and_nats_drops_the_copies(
    loupe,
):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        await page_with_visual(client, report["id"])
    await _published_up_to_head(loupe)
    before = await _stream_messages(loupe.settings.nats_url, loupe.settings.nats_stream)
    # As if the process died after publishing but before saving its checkpoint.
    services = loupe.services
    await services.pool.execute(f"UPDATE {services.schema}.relay_checkpoints SET position = 0")
    stop = asyncio.Event()
    replay = Relay(services.store, services.bus, services.pool, services.schema, name="nats")
    replay.is_leader = True
    task = asyncio.create_task(replay._lead(stop))
    try:
        assert await replay.wait_until(await services.store.head_position(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    after = await _stream_messages(loupe.settings.nats_url, loupe.settings.nats_stream)
    assert [m.headers["Nats-Msg-Id"] for m in after] == [m.headers["Nats-Msg-Id"] for m in before]


@pytest.fixture
def own_nats():
    data_dir = Path(tempfile.mkdtemp(prefix="loupe-test-nats-"))
    engine = EmbeddedNats(data_dir)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.slow
async def test_edits_during_a_nats_outage_all_reach_nats_once_it_is_back(settings, own_nats):
    settings = msgspec.structs.replace(settings, nats_url=own_nats.url)
    async with running_loupe(settings) as loupe, loupe.client() as client:
        workspace = await create_workspace(client)
        report = await create_report(client, workspace["id"])
        await _published_up_to_head(loupe)

        own_nats.stop()
        for index in range(20):
            response = await send(
                client, report["id"], {"type": "AddPage", "page_id": uid(), "name": f"P{index}"}
            )
            assert response.status_code == 200, "edits must not depend on NATS"
        health = await client.get("/health")
        assert health.status_code == 503
        assert health.json()["components"]["nats"] != "ok"
        assert health.json()["components"]["postgres"] == "ok"

        own_nats.start()  # from the main thread (the engine ties its child to it); blocks briefly
        await _published_up_to_head(loupe, timeout=30)
        assert (await client.get("/health")).status_code == 200
        stored = await loupe.services.store.read_all(after_position=0, limit=1000)

    messages = await _stream_messages(own_nats.url, settings.nats_stream)
    ids = [msg.headers["Nats-Msg-Id"] for msg in messages]
    assert len(ids) == len(set(ids)) == len(stored)
    assert sum(event.stream_type == "report" for event in stored) == 21
    assert ids == [str(event.event_id) for event in stored]
