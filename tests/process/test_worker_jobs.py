"""`loupe worker` runs arq jobs from Redis."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis
from arq.jobs import Job

from api.processes import build_worker, queue_name


async def test_a_worker_runs_a_job_enqueued_on_its_queue(settings):
    redis = ArqRedis.from_url(settings.redis_url)
    worker = build_worker(settings, redis, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        job = await redis.enqueue_job("probe", _queue_name=queue_name(settings))
        assert isinstance(job, Job)
        result = await job.result(timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()
        await redis.aclose()
    assert result["pid"] > 0
    assert result["job_try"] == 1
