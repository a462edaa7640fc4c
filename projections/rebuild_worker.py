"""One worker of a split rebuild (projections/rebuild_split.py starts it):
``python -m projections.rebuild_worker`` with a `WorkerTask` as JSON on stdin.

It builds a fresh instance of the registered projection, in bulk mode, folds its share of the
log up to the task's position into the fresh tables (a transaction per batch, as a rebuild
does), writes what bulk mode deferred, and prints its result. Progress and the result go to
stdout as JSON lines; errors to stderr with a non-zero exit code.
"""

from __future__ import annotations

import resource
import sys

import asyncpg
import msgspec
import uvloop

from commands.eventstore import RecordedEvent, connect_store
from projections.projection import REBUILD_SUFFIX, Splittable, tables_for
from projections.rebuild import BatchReader, fewer_collections, fold_all
from projections.rebuild_split import Done, Progress, WorkerTask
from projections.registry import FACTORIES, ProjectionContext

#: Progress lines at most this often (events folded between two).
_PROGRESS_EVERY = 50_000


def _report(message: Progress | Done) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(message) + b"\n")
    sys.stdout.buffer.flush()


async def run(task: WorkerTask) -> int:
    factory = FACTORIES.get(task.projection)
    if factory is None:
        raise SystemExit(f"no registered projection is called {task.projection!r}")
    store = await connect_store(
        task.database_url,
        task.store_schema,
        min_size=1,
        max_size=2,
        run_migrations=False,
        notify=False,
    )
    try:
        pool = await asyncpg.create_pool(task.database_url, min_size=1, max_size=2)
        try:
            projection = factory(ProjectionContext(store=store, read_schema=task.read_schema))
            if not isinstance(projection, Splittable):
                raise SystemExit(f"projection {task.projection!r} cannot be split")
            projection.reset()
            projection.bulk(enabled=True)
            projection.split_worker(writes_shared=task.share.index == 0)
            fresh = tables_for(task.read_schema, projection.tables, suffix=REBUILD_SUFFIX)
            wanted = projection.event_types
            types = None if wanted is None else sorted(wanted)

            async def read(after: int, limit: int) -> tuple[list[RecordedEvent], int]:
                events = await store.read_share(
                    after_position=after,
                    up_to_position=task.up_to_position,
                    limit=limit,
                    share=task.share,
                    types=types,
                )
                return events, task.up_to_position

            reader = BatchReader(read, task.batch_size, filtered=True)
            reported = 0

            def progress(position: int, _events: int) -> None:
                nonlocal reported
                if reader.folded - reported >= _PROGRESS_EVERY:
                    reported = reader.folded
                    _report(Progress(position, reader.folded))

            with fewer_collections():
                await fold_all(projection, reader, pool, fresh, progress)
            async with pool.acquire() as conn, conn.transaction():
                await projection.flush(conn, fresh)
            return reader.folded
        finally:
            await pool.close()
    finally:
        await store.close()


def main() -> None:
    task = msgspec.json.decode(sys.stdin.buffer.read(), type=WorkerTask)
    folded = uvloop.run(run(task))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _report(Done(folded, cpu=usage.ru_utime + usage.ru_stime))


if __name__ == "__main__":
    main()
