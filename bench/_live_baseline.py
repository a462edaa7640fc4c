"""Baseline for bench/live.py: a WebSocket fan-out server with no database and no NATS.

For every ``commands`` message it builds one frame shaped and sized like a Loupe ``event`` frame
(carrying the batch's ``command_id``), queues it for every connected client (the sender too,
as Loupe does) and answers the sender with a ``result`` frame. Whatever latency it shows is the
harness plus WebSocket plumbing; Loupe's extra is its command → commit → relay → NATS path.

Two implementations, run as a subprocess by bench/live.py:

* ``litestar``: the same stack as ``loupe serve`` (Litestar on uvicorn with uvloop, httptools
  and the websockets-sansio protocol) and the same per-connection queue + sender task as
  sync/live.py, so only the command path differs;
* ``websockets``: the plain `websockets` asyncio server with ``broadcast`` — the least work
  a Python fan-out can do.

    python bench/_live_baseline.py --impl litestar --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import signal
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec


class _Batch(msgspec.Struct):
    """The fields of a ``commands`` message that the baseline reads."""

    type: str
    command_id: str = ""
    client_id: str = ""


_decoder = msgspec.json.Decoder(_Batch)
_encoder = msgspec.json.Encoder()
_positions = itertools.count(1)
_STREAM_ID = str(uuid.uuid4())
_WORKSPACE_ID = str(uuid.uuid4())
_ACTOR = str(uuid.uuid4())


def frames_for(raw: str | bytes) -> tuple[str, str] | None:
    """(event frame for everyone, result frame for the sender), or None for other messages."""
    try:
        batch = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if batch.type != "commands":
        return None
    position = next(_positions)
    event = {
        "id": str(uuid.uuid4()),
        "type": "VisualMoved",
        "position": position,
        "version": position,
        "stream_id": _STREAM_ID,
        "stream_type": "report",
        "workspace_id": _WORKSPACE_ID,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(),
        "actor": _ACTOR,
        "client_id": batch.client_id,
        "dot": [batch.client_id, position],
        "hlc": [1_700_000_000_000 + position, 0],
        "command_id": batch.command_id,
        "correlation_id": batch.command_id,
        "data": {"visual_id": str(uuid.uuid4()), "x": position % 100, "y": 1, "z_index": None},
    }
    event_json = _encoder.encode(event).decode()
    event_frame = '{"type":"event","event":' + event_json + "}"
    result = '{"type":"result","report_id":"' + _STREAM_ID + '","command_id":"' + batch.command_id
    result += f'","version":{position},"position":{position},"duplicate":false,"events":['
    result += event_json + "]}"
    return event_frame, result


# -- Litestar on uvicorn (the stack `loupe serve` runs) ------------------------------------------


@dataclass(eq=False)
class _Conn:
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(10_000))


def run_litestar(host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415
    from litestar import Litestar, WebSocket, get, websocket  # noqa: PLC0415
    from litestar.exceptions import WebSocketDisconnect  # noqa: PLC0415

    connections: set[_Conn] = set()

    async def send_frames(socket: WebSocket[Any, Any, Any], conn: _Conn) -> None:
        try:
            while True:
                await socket.send_text(await conn.queue.get())
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    @websocket("/live")
    async def live(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        conn = _Conn()
        connections.add(conn)
        sender = asyncio.create_task(send_frames(socket, conn))
        try:
            conn.queue.put_nowait('{"type":"hello","version":0}')
            while True:
                raw = await socket.receive_data(mode="text")
                frames = frames_for(raw)
                if frames is None:
                    continue
                event_frame, result = frames
                for other in tuple(connections):
                    other.queue.put_nowait(event_frame)
                conn.queue.put_nowait(result)
        except WebSocketDisconnect:
            pass
        finally:
            connections.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app = Litestar(route_handlers=[live, health], debug=False)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
    )
    uvicorn.Server(config).run()


# -- plain websockets ------------------------------------------------------------------------


def run_websockets(host: str, port: int) -> None:
    import uvloop  # noqa: PLC0415
    from websockets.asyncio.server import ServerConnection, broadcast, serve  # noqa: PLC0415
    from websockets.exceptions import ConnectionClosed  # noqa: PLC0415

    connections: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        connections.add(ws)
        try:
            await ws.send('{"type":"hello","version":0}')
            async for raw in ws:
                frames = frames_for(raw)
                if frames is None:
                    continue
                event_frame, result = frames
                broadcast(connections, event_frame)
                await ws.send(result)
        except ConnectionClosed:
            pass
        finally:
            connections.discard(ws)

    async def main() -> None:
        stop = asyncio.get_running_loop().create_future()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
        async with serve(handler, host, port, max_queue=None):
            await stop

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=("litestar", "websockets"), default="litestar")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.impl == "litestar":
        run_litestar(args.host, args.port)
    else:
        run_websockets(args.host, args.port)


if __name__ == "__main__":
    main()
