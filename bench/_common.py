"""Small helpers the benchmark scripts share (bench/live.py, bench/projections.py,
bench/data.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> int | None:
    """SIGTERM our own child, then SIGKILL it if it does not stop; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


async def start_serve(
    env: dict[str, str], log_path: Path, cwd: Path, *, timeout: float = 60
) -> tuple[subprocess.Popen[bytes], str]:
    """`loupe serve` on a free port with ``env``, its output in ``log_path``; (the process, its
    URL) once `/health` answers 200."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "loupe"), "serve", "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"loupe serve exited ({proc.returncode}):\n{tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/health")).status_code == 200:
                    return proc, url
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"loupe serve did not answer:\n{tail(log_path)}")
            await asyncio.sleep(0.1)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database-url``, ``--nats-url``, ``--redis-url``: this machine's servers unless
    ``LOUPE_BENCH_*_URL`` say otherwise."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LOUPE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL URL (env LOUPE_BENCH_DATABASE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("LOUPE_BENCH_NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS URL (env LOUPE_BENCH_NATS_URL; default %(default)s)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("LOUPE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL (env LOUPE_BENCH_REDIS_URL; default %(default)s)",
    )
