"""The projections of `loupe serve --projections process` in a process of their own.

`loupe serve` answers requests, relays committed events to NATS (what live co-editing waits
on) and runs the projections, by default all in one event loop. Folding every event into the
read models is CPU work that competes there with the live path; with `--projections process`
serve runs them in a child, `loupe projector --no-relay`, started once the app is up and
stopped before it: same engines, same leader election (the child simply becomes every
projection's leader), and reads that wait for a position (`min_position`) watch the stored
positions. The child dies with its parent (``PR_SET_PDEATHSIG``, as the embedded engines do)
and is started again, after a pause, if it exits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from api.engines._process import spawn
from api.settings import Settings, settings_env

log = logging.getLogger(__name__)

#: Pause before starting a child that exited again (doubling up to the maximum); a child that
#: ran this long before exiting starts over from the first pause.
RESTART_FIRST = 1.0
RESTART_MAX = 30.0
RAN_LONG = 60.0
#: How long the child may take to stop after SIGTERM.
STOP_GRACE = 10.0


def child_argv() -> list[str]:
    return [sys.executable, "-m", "api.cli", "projector", "--no-relay"]


def child_env(settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOUPE_")}
    env.update(settings_env(settings))
    return env


async def run_projector_child(settings: Settings, stop: asyncio.Event) -> None:
    """Keep a `loupe projector --no-relay` child running until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    pause = RESTART_FIRST
    while not stop.is_set():
        started = loop.time()
        process = spawn(
            child_argv(),
            log=sys.stderr.buffer,
            cwd=Path.cwd(),
            env=child_env(settings),
            death_signal=signal.SIGTERM,
        )
        log.info("projections running in process %d", process.pid)
        exited = asyncio.ensure_future(asyncio.to_thread(process.wait))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            stopping.cancel()
            await _stop(process, exited)
            return
        stopping.cancel()
        if stop.is_set():
            return
        if loop.time() - started > RAN_LONG:
            pause = RESTART_FIRST
        log.warning(
            "the projections process exited (status %s); starting it again in %.0f s",
            process.returncode,
            pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), pause)
        pause = min(pause * 2, RESTART_MAX)


async def _stop(process: subprocess.Popen[bytes], exited: asyncio.Future[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(exited), STOP_GRACE)
    except TimeoutError:
        log.warning("the projections process did not stop in %.0f s; killing it", STOP_GRACE)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await exited
