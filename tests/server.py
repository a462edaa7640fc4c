"""A real Loupe server for tests: the app under uvicorn on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from litestar import Litestar

from api.app import create_app
from api.auth import DEV_USER_HEADER
from api.bootstrap import Services
from api.settings import Settings


@dataclass
class RunningLoupe:
    url: str
    app: Litestar
    settings: Settings

    @property
    def services(self) -> Services:
        return self.app.state.services  # type: ignore[no-any-return]

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    def client(self, user: str | None = "ana@example.com", **kwargs: Any) -> httpx.AsyncClient:
        headers = {DEV_USER_HEADER: user} if user else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30, **kwargs)


@contextlib.asynccontextmanager
async def running_loupe(
    settings: Settings, *, processors: bool = True
) -> AsyncIterator[RunningLoupe]:
    app = create_app(settings, processors=processors)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield RunningLoupe(url=f"http://127.0.0.1:{port}", app=app, settings=settings)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)
        sock.close()


def new_id() -> str:
    return str(uuid.uuid4())
