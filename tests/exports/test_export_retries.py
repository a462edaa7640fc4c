"""How an export job meets failure: a transient one (a lost connection) is tried again later,
with back-off, up to a limit; any other fails the job at once with its reason. Real Redis
records, a real blob store and real rendering; the report's pages come from a source that
loses its connection on demand."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis.asyncio as aioredis
from arq import Retry

from charts.page import PageToRender
from charts.render import RenderFailed
from connectors.blobs import open_blob_store
from domain.errors import NotFound
from exports.options import ExportRequest, export_job
from exports.records import ExportRecords
from exports.service import MAX_TRIES, Exports, PagesAt


class FlakyPages:
    """A report of one empty page whose source fails the first ``failures`` times it is read."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.reads = 0

    async def pages_at(self, report_id, version):
        return PagesAt(report_id, uuid.uuid4(), version or 1, [uuid.uuid4()])

    async def page(self, job, page_id, exported_at):
        self.reads += 1
        if self.reads <= self.failures:
            raise self.error
        return PageToRender(report_name="Flaky", page_name="Only page", footer="Report v1")


@pytest.fixture
async def records(engines, redis_prefix):
    client = aioredis.from_url(engines.redis)
    yield ExportRecords(client, redis_prefix)
    await client.aclose()


async def _exports(records, tmp_path, pages):
    blobs = open_blob_store(tmp_path)
    exports = Exports(records, blobs, pages, work_dir=tmp_path)
    report = await pages.pages_at(uuid.uuid4(), 1)
    job = export_job(report.report_id, report.workspace_id, 1, report.page_ids, ExportRequest())
    return exports, job


async def test_a_lost_connection_is_tried_again_later_with_back_off(records, tmp_path):
    pages = FlakyPages(failures=2, error=ConnectionResetError("connection reset by peer"))
    exports, job = await _exports(records, tmp_path, pages)
    delays = []
    for attempt in (1, 2):
        with pytest.raises(Retry) as retry:
            await exports.run(job, attempt)
        delays.append(retry.value.defer_score)
        record = await records.get(job.job_id)
        assert record.status == "queued"
        assert "connection reset" in record.error
    assert delays[1] > delays[0]  # back-off
    record = await exports.run(job, 3)
    assert record.status == "complete"
    assert record.attempts == 3
    assert await exports.blobs.exists(job.blob_key)


async def test_a_job_that_keeps_losing_its_connection_is_given_up(records, tmp_path):
    pages = FlakyPages(failures=MAX_TRIES, error=ConnectionResetError("connection reset"))
    exports, job = await _exports(records, tmp_path, pages)
    record = await exports.run(job, MAX_TRIES)
    assert record.status == "failed"
    assert f"after {MAX_TRIES} tries" in record.error
    assert not await exports.blobs.exists(job.blob_key)


async def test_a_report_that_is_gone_fails_the_job_at_once(records, tmp_path):
    pages = FlakyPages(failures=1, error=NotFound("report gone", code="report_not_found"))
    exports, job = await _exports(records, tmp_path, pages)
    record = await exports.run(job, 1)
    assert record.status == "failed"
    assert record.error == "report gone"
    stored = await records.get(job.job_id)
    assert stored.status == "failed"
    assert stored.finished_at <= dt.datetime.now(dt.UTC)


async def test_a_render_failure_fails_the_job_with_its_reason(records, tmp_path):
    pages = FlakyPages(failures=1, error=RenderFailed("the chart engine crashed"))
    exports, job = await _exports(records, tmp_path, pages)
    record = await exports.run(job, 1)
    assert record.status == "failed"
    assert record.error == "the chart engine crashed"
    assert (await records.get(job.job_id)).status == "failed"


async def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running(records, tmp_path):
    pages = FlakyPages(failures=1, error=KeyError("pages"))
    exports, job = await _exports(records, tmp_path, pages)
    record = await exports.run(job, 1)
    assert record.status == "failed"
    assert "unexpected error" in record.error
    assert (await records.get(job.job_id)).status == "failed"
