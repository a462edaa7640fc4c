"""A rebuild split across processes: the parent's side (projections/rebuild_worker.py is the
worker's).

One Python process folds one event at a time on one core; a rebuild of the audit log is
bound by that. A `Splittable` projection's streams fold independently, so ``fold_split``
starts one worker process per `Share` of the streams: each folds its share of the log up to a
safe head into the same fresh tables, in its own transactions. The parent only waits; when
every worker has finished, the fresh tables hold exactly what one process folding the same
events would have written, and the parent goes on from the head (projections/rebuild.py).

The worker gets its task on stdin (it holds the database URL, which must not show in the
process list) and reports on stdout, one JSON object per line: progress, then its result.
Should one worker fail, the others are stopped and the rebuild fails with the worker's error;
the live tables were never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from commands.eventstore import Share

log = logging.getLogger(__name__)

#: How long a worker may take to stop after SIGTERM before it is killed.
_STOP_GRACE = 5.0


@dataclass(frozen=True)
class Workers:
    """Split a rebuild across ``count`` processes, each connecting with ``database_url``."""

    database_url: str
    count: int = 2


class WorkerTask(msgspec.Struct, frozen=True, kw_only=True):
    """What one worker process folds (sent on its stdin)."""

    database_url: str
    store_schema: str
    read_schema: str
    projection: str
    share: Share
    up_to_position: int
    batch_size: int


class Progress(msgspec.Struct, frozen=True, tag="progress"):
    position: int
    folded: int


class Done(msgspec.Struct, frozen=True, tag="done"):
    folded: int
    #: CPU seconds the worker used (user + system).
    cpu: float = 0.0


Report = Progress | Done


class SplitRebuildError(RuntimeError):
    """A worker of a split rebuild failed (the message carries its error output)."""


async def fold_split(  # noqa: PLR0917 - the split's parts
    workers: Workers,
    projection: str,
    store_schema: str,
    read_schema: str,
    shares: Sequence[Share],
    up_to_position: int,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Fold ``(0, up_to_position]`` in one worker process per share; the events folded."""
    tasks = [
        WorkerTask(
            database_url=workers.database_url,
            store_schema=store_schema,
            read_schema=read_schema,
            projection=projection,
            share=share,
            up_to_position=up_to_position,
            batch_size=batch_size,
        )
        for share in shares
    ]
    positions = [0] * len(tasks)

    def progress_of(index: int) -> Callable[[int], None]:
        def progress(position: int) -> None:
            positions[index] = position
            if on_progress is not None:
                # Every event up to the slowest worker's position has been folded.
                done = min(positions)
                on_progress(done, done)

        return progress

    processes: list[asyncio.subprocess.Process] = []
    try:
        for _ in tasks:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "projections.rebuild_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            processes.append(process)
        runs = [
            _run(process, task, progress_of(i))
            for i, (process, task) in enumerate(zip(processes, tasks, strict=True))
        ]
        return sum(await asyncio.gather(*runs))
    finally:
        await asyncio.shield(_stop(processes))


async def _run(
    process: asyncio.subprocess.Process, task: WorkerTask, progress: Callable[[int], None]
) -> int:
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdin.write(msgspec.json.encode(task))
    await process.stdin.drain()
    process.stdin.close()
    errors = asyncio.ensure_future(process.stderr.read())
    decoder = msgspec.json.Decoder(Report)
    folded: int | None = None
    async for line in process.stdout:
        try:
            report = decoder.decode(line)
        except msgspec.DecodeError:
            continue  # not ours (a library printing): the result line decides
        if isinstance(report, Progress):
            progress(report.position)
        else:
            folded = report.folded
            log.info(
                "rebuild worker %d of %d for %s: %d events folded, %.1f s of CPU",
                task.share.index + 1,
                task.share.count,
                task.projection,
                report.folded,
                report.cpu,
            )
    code = await process.wait()
    output = (await errors).decode(errors="replace").strip()
    if code != 0 or folded is None:
        share = task.share
        raise SplitRebuildError(
            f"rebuild worker {share.index + 1} of {share.count} for {task.projection!r} "
            f"failed (exit code {code}): {output[-2000:] or 'no output'}"
        )
    progress(task.up_to_position)
    return folded


async def _stop(processes: list[asyncio.subprocess.Process]) -> None:
    """Stop the workers still running (after a failure or a cancellation)."""
    running = [p for p in processes if p.returncode is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    for process in running:
        try:
            await asyncio.wait_for(process.wait(), _STOP_GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
