"""`WS /reports/{id}/live`: every committed event of the report, presence, and command batches.

Protocol (JSON text frames, each an object with a ``type``):

server → client
  ``hello``     ``{"report_id", "version", "client_id"}`` once, after the backlog is queued
  ``event``     ``{"event": <as GET /reports/{id}/events>}`` for every committed event, in
                version order, each once (also the sender's own)
  ``result``    the answer to a ``commands`` message (as POST /reports/{id}/commands)
  ``error``     ``{"command_id", "problem": <problem+json body>}``
  ``presence``  ``{"members": [{"client_id", "actor", "name", "state"}]}`` on every change
  ``pong``

client → server
  ``commands``  a command batch, exactly the body of POST /reports/{id}/commands
  ``presence``  ``{"state": {...}}`` what this client shares (selection, cursor...; ≤ 2 KB)
  ``ping``

Query parameters: ``after_version`` (send the events after it first: how a client catches up
after a disconnect), ``client_id`` (this replica's id; default: random), ``dev_user``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, Parameter

from api.problems import describe
from api.routes.reports import command_result
from commands.authorization import Actor
from commands.eventstore import MAX_POSITION
from commands.report import CommandBatch
from sync.live import LiveConnection, event_frame
from sync.wire import encode_message, to_message

log = logging.getLogger(__name__)

MAX_PRESENCE_BYTES = 2048
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN = 1013


class CommandsMessage(CommandBatch, frozen=True, kw_only=True, tag="commands", tag_field="type"):
    pass


class PresenceMessage(msgspec.Struct, frozen=True, kw_only=True, tag="presence", tag_field="type"):
    state: dict[str, Any]


class PingMessage(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    pass


ClientMessage = CommandsMessage | PresenceMessage | PingMessage
_decoder = msgspec.json.Decoder(ClientMessage)
_encoder = msgspec.json.Encoder()


def _frame(kind: str, **body: Any) -> str:
    return _encoder.encode({"type": kind, **body}).decode()


@websocket("/reports/{report_id:uuid}/live")
async def live(
    socket: WebSocket[Actor, Any, State],
    report_id: FromPath[UUID],
    after_version: Annotated[int | None, Parameter(ge=0, le=MAX_POSITION)] = None,
    client_id: Annotated[str | None, Parameter(max_length=64)] = None,
) -> None:
    try:
        await _serve(socket, report_id, after_version, client_id)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("live channel of report %s failed", report_id)
        raise


async def _serve(
    socket: WebSocket[Actor, Any, State],
    report_id: UUID,
    after_version: int | None,
    client_id: str | None,
) -> None:
    services = socket.app.state.services
    actor: Actor = socket.user
    await socket.accept()
    try:
        entry = await services.reports.load(report_id, actor)
    except Exception as exc:
        problem = describe(exc)
        if problem is None:
            raise
        await socket.send_text(_frame("error", command_id=None, problem=problem))
        await socket.close(code=4000 + int(problem["status"]), reason=problem["detail"][:120])
        return
    workspace_id = entry.aggregate.workspace_id
    conn = LiveConnection(
        client_id=client_id or f"ws-{uuid.uuid4().hex[:12]}", actor=actor.id, name=actor.name
    )
    await services.hub.join(report_id, workspace_id, conn)
    sender = asyncio.create_task(_send_frames(socket, conn, services))
    try:
        start = (
            after_version
            if after_version is not None
            else await services.store.stream_version(report_id)
        )
        backlog = (
            await services.store.read_stream(report_id, after_version=start)
            if after_version is not None
            else []
        )
        for event in backlog:
            conn.send_frame(event_frame(encode_message(to_message(event))))
        version = backlog[-1].version if backlog else start
        conn.send_frame(
            _frame("hello", report_id=report_id, version=version, client_id=conn.client_id)
        )
        conn.release(version)
        await services.hub.update_presence(report_id)
        await _receive_messages(socket, conn, report_id, services)
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await services.hub.leave(report_id, conn)


async def _send_frames(
    socket: WebSocket[Any, Any, Any], conn: LiveConnection, services: Any
) -> None:
    try:
        while True:
            frame = await conn.queue.get()
            if conn.closed_reason is not None:
                await socket.close(code=CLOSE_TRY_AGAIN, reason=conn.closed_reason[:120])
                return
            await socket.send_text(frame)
            services.metrics.live_frames.inc()
    except (WebSocketDisconnect, RuntimeError, OSError):
        return


async def _receive_messages(
    socket: WebSocket[Actor, Any, State], conn: LiveConnection, report_id: UUID, services: Any
) -> None:
    while True:
        raw = await socket.receive_data(mode="text")
        try:
            message = _decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            conn.send_frame(_frame("error", command_id=None, problem=describe(exc)))
            continue
        match message:
            case CommandsMessage():
                conn.send_frame(await _run_commands(message, report_id, socket.user, services))
            case PresenceMessage():
                if len(_encoder.encode(message.state)) > MAX_PRESENCE_BYTES:
                    problem = describe(
                        msgspec.ValidationError(
                            f"presence state is larger than {MAX_PRESENCE_BYTES} bytes"
                        )
                    )
                    conn.send_frame(_frame("error", command_id=None, problem=problem))
                    continue
                conn.presence_state = message.state
                await services.hub.update_presence(report_id)
            case PingMessage():
                conn.send_frame(_frame("pong"))


async def _run_commands(
    message: CommandsMessage, report_id: UUID, actor: Actor, services: Any
) -> str:
    try:
        outcome = await services.reports.handle_batch(report_id, message, actor)
    except Exception as exc:
        problem = describe(exc)
        if problem is None:
            log.exception("command batch %s failed", message.command_id)
            problem = {
                "status": 500,
                "title": "Internal Server Error",
                "detail": "unexpected error; sending the same batch again is safe",
            }
        return _frame("error", command_id=message.command_id, problem=problem)
    result = command_result(outcome, message.command_id)
    return '{"type":"result",' + _encoder.encode(result).decode()[1:]
