"""`loupe projector` with the bench's probe: the child process of bench/projections.py.

Runs what `loupe projector` runs (``api.processes._projector``: ``open_services`` with the
processors, on ``asyncio.run``) from the LOUPE_* environment, attaches a `LagProbe` to every
registered projection and adds the trivial baseline projection. It talks over stdin/stdout:

    -> ready                      (services open, runners started)
    <- drain POSITION PATH        every runner reaches POSITION; the records go to PATH (JSON)
    -> drained                    (or "timeout" if a runner did not get there in 120 s)
    <- quit (or end of input)     close the services and exit

Run it as ``python -m bench._projections_projector`` from the repository root.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec

from api.bootstrap import open_services, settle_heap
from api.logs import configure_logging
from api.settings import load_settings
from bench._projections_probe import LagProbe, trivial_runner
from projections.registry import ProjectionContext

DRAIN_TIMEOUT = 120.0


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main() -> None:
    settings = load_settings()
    configure_logging(settings)
    assert settings.database_url is not None
    async with open_services(settings, processors=True) as services:
        settle_heap()  # as `loupe projector` does once started
        probe = LagProbe()
        runners = list(services.projections.values())
        for runner in runners:
            probe.attach(runner)
        context = ProjectionContext(
            store=services.store,
            read_schema=services.read_schema,
            redis=services.redis,
            redis_prefix=settings.redis_prefix,
        )
        trivial, pool = await trivial_runner(
            context,
            settings.database_url,
            services.metrics,
            f"loupe-bench:{settings.database_schema}",
        )
        try:
            probe.attach(trivial)
            runners.append(trivial)
            services.tasks.append(asyncio.create_task(trivial.run(services.stop)))
            reader = await _stdin()
            print("ready", flush=True)
            while line := (await reader.readline()).decode().strip():
                verb, *rest = line.split()
                if verb == "quit":
                    break
                if verb == "drain":
                    position, path = int(rest[0]), rest[1]
                    reached = await asyncio.gather(
                        *(runner.wait_until(position, DRAIN_TIMEOUT) for runner in runners)
                    )
                    Path(path).write_bytes(msgspec.json.encode(probe.records()))
                    print("drained" if all(reached) else "timeout", flush=True)
        finally:
            services.stop.set()
            await asyncio.gather(*services.tasks, return_exceptions=True)
            await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
