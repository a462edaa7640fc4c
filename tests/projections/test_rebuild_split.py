"""A rebuild split across processes fails whole when a worker fails: the live read model and
its position stay as they were, and the error says which worker failed and why."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from projections.positions import PositionStore
from projections.rebuild import rebuild
from projections.rebuild_split import SplitRebuildError, Workers
from projections.report_queries import current_report
from projections.reports import ReportReadModel
from projections.runner import ProjectionRunner
from tests.projections.schemas import drop, prepare
from tests.projections.test_report_read_model import _append_all, _last_position, _long_history


async def test_a_failing_worker_fails_the_rebuild_and_leaves_the_live_read_model(engines):
    schema, store, pool = await prepare(engines.postgres)
    read_schema = f"{schema}_read"
    try:
        rng = random.Random(5)
        report_id = uuid.uuid4()
        await _append_all(store, report_id, _long_history(report_id, rng, 40), rng)
        runner = ProjectionRunner(ReportReadModel(store), store, pool, read_schema)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            assert await runner.wait_until(await _last_position(pool, schema), 30)
        finally:
            stop.set()
            await task
        before = await current_report(pool, read_schema, report_id)
        assert before is not None
        position = (await PositionStore(pool, read_schema).get("reports")).position
        assert position == await _last_position(pool, schema)

        # Workers that cannot connect (nothing listens on port 1).
        unreachable = "postgresql://postgres@127.0.0.1:1/nowhere"
        with pytest.raises(SplitRebuildError, match=r"rebuild worker \d of 2 for 'reports'"):
            await rebuild(
                ReportReadModel(store), store, pool, read_schema, workers=Workers(unreachable, 2)
            )

        assert await current_report(pool, read_schema, report_id) == before
        assert (await PositionStore(pool, read_schema).get("reports")).position == position
    finally:
        await drop(engines.postgres, schema, store, pool)
