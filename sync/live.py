"""Live collaboration channels: NATS → every WebSocket watching a report, plus presence.

Each API process keeps one core NATS subscription per report that has at least one local
WebSocket, and fans every committed event out to those sockets. A frame is built once per event
(the event's JSON is forwarded untouched) and queued per connection; a connection that falls too
far behind is closed, and its client catches up with ``after_version`` when it reconnects.

Presence (who is in the report, and what they point at) travels on a core subject that
JetStream does not store. Every process announces its local members on change and every
`PRESENCE_HEARTBEAT` seconds; entries from a process that stopped announcing expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from sync.bus import EventBus, presence_subject, stream_subject

log = logging.getLogger(__name__)

PRESENCE_HEARTBEAT = 10.0
PRESENCE_TTL = 3 * PRESENCE_HEARTBEAT
#: Frames a connection may have queued before it is considered too slow and closed.
MAX_QUEUED_FRAMES = 10_000


class _EventHeader(msgspec.Struct):
    """The only fields the hub reads from an event: enough to order and de-duplicate it."""

    version: int
    position: int


class PresenceMember(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    actor: UUID | None
    name: str
    #: What the client chooses to share: selection, cursor, colour, page... (bounded in size).
    state: dict[str, Any] = msgspec.field(default_factory=dict)


class _PresenceAnnouncement(msgspec.Struct, frozen=True, kw_only=True):
    instance: str
    report_id: UUID
    members: list[PresenceMember]
    leaving: bool = False


class PresenceFrame(msgspec.Struct, frozen=True, kw_only=True, tag="presence", tag_field="type"):
    members: list[PresenceMember]


_header_decoder = msgspec.json.Decoder(_EventHeader)
_announcement_decoder = msgspec.json.Decoder(_PresenceAnnouncement)
_encoder = msgspec.json.Encoder()

Closer = Callable[[str], None]


@dataclass(eq=False)
class LiveConnection:
    """One WebSocket's view of a report: its outbound queue and the last version it was sent."""

    client_id: str
    actor: UUID | None
    name: str
    last_version: int = 0
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_FRAMES))
    presence_state: dict[str, Any] = field(default_factory=dict)
    closed_reason: str | None = None
    #: Live events that arrived before the backlog was sent; flushed in order afterwards.
    _held: list[tuple[int, str]] | None = field(default_factory=list)

    def send_frame(self, frame: str) -> None:
        if self.closed_reason is not None:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            # The sender sees `closed_reason` at its next frame and closes the socket.
            self.closed_reason = "too far behind; reconnect with after_version to catch up"

    def offer_event(self, version: int, frame: str) -> None:
        if self._held is not None:
            self._held.append((version, frame))
            return
        if version <= self.last_version:
            return
        self.last_version = version
        self.send_frame(frame)

    def release(self, backlog_version: int) -> None:
        """The backlog up to `backlog_version` was sent: flush the held live events after it."""
        self.last_version = max(self.last_version, backlog_version)
        held, self._held = self._held or [], None
        for version, frame in sorted(held, key=lambda item: item[0]):
            self.offer_event(version, frame)

    def member(self) -> PresenceMember:
        return PresenceMember(
            client_id=self.client_id, actor=self.actor, name=self.name, state=self.presence_state
        )


def event_frame(event_json: bytes) -> str:
    """The frame for one event; its JSON is forwarded as is, decoded once for all sockets."""
    return '{"type":"event","event":' + event_json.decode() + "}"


@dataclass(eq=False)
class _Room:
    report_id: UUID
    connections: set[LiveConnection] = field(default_factory=set)
    subscription: Subscription | None = None
    presence_subscription: Subscription | None = None
    #: instance id → (members, expires at (monotonic))
    remote: dict[str, tuple[list[PresenceMember], float]] = field(default_factory=dict)


class LiveHub:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.instance = uuid.uuid4().hex
        self._rooms: dict[UUID, _Room] = {}
        self._lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def connection_count(self) -> int:
        return sum(len(room.connections) for room in self._rooms.values())

    def start(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._announce_forever())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        for room in list(self._rooms.values()):
            await self._drop_room(room)

    async def join(self, report_id: UUID, workspace_id: UUID | None, conn: LiveConnection) -> None:
        """Subscribe (if this is the report's first local socket) and start holding events."""
        async with self._lock:
            room = self._rooms.get(report_id)
            if room is None:
                room = _Room(report_id)
                try:
                    room.subscription = await self.bus.subscribe(
                        stream_subject(self.bus.prefix, workspace_id, "report", report_id),
                        functools.partial(self._on_event, room),
                    )
                    room.presence_subscription = await self.bus.subscribe(
                        presence_subject(self.bus.prefix, report_id),
                        functools.partial(self._on_presence, room),
                    )
                except BaseException:
                    await self._drop_room(room)
                    raise
                self._rooms[report_id] = room
            room.connections.add(conn)
        # The subscription must be active at the server before the caller reads its backlog.
        await self.bus.nc.flush(timeout=5)

    async def leave(self, report_id: UUID, conn: LiveConnection) -> None:
        async with self._lock:
            room = self._rooms.get(report_id)
            if room is None or conn not in room.connections:
                return
            room.connections.discard(conn)
            empty = not room.connections
            if empty:
                del self._rooms[report_id]
        if empty:
            await self._announce(room, leaving=True)
            await self._drop_room(room)
        else:
            await self._announce(room)

    async def update_presence(self, report_id: UUID) -> None:
        """A local member joined or changed what it shares: tell everyone."""
        room = self._rooms.get(report_id)
        if room is not None:
            await self._announce(room)

    def members(self, report_id: UUID) -> list[PresenceMember]:
        room = self._rooms.get(report_id)
        if room is None:
            return []
        return self._members(room)

    async def _drop_room(self, room: _Room) -> None:
        for sub in (room.subscription, room.presence_subscription):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _on_event(self, room: _Room, msg: Msg) -> None:
        try:
            header = _header_decoder.decode(msg.data)
        except msgspec.DecodeError:
            log.warning("dropped a malformed event message on %s", msg.subject)
            return
        frame = event_frame(msg.data)
        for conn in tuple(room.connections):
            conn.offer_event(header.version, frame)

    async def _on_presence(self, room: _Room, msg: Msg) -> None:
        try:
            announcement = _announcement_decoder.decode(msg.data)
        except msgspec.DecodeError:
            return
        if announcement.instance == self.instance:
            return
        before = self._members(room)
        if announcement.leaving or not announcement.members:
            room.remote.pop(announcement.instance, None)
        else:
            room.remote[announcement.instance] = (
                announcement.members,
                time.monotonic() + PRESENCE_TTL,
            )
        if self._members(room) != before:
            self._broadcast_presence(room)

    def _members(self, room: _Room) -> list[PresenceMember]:
        now = time.monotonic()
        members = [conn.member() for conn in room.connections]
        for instance, (remote, expires) in list(room.remote.items()):
            if expires < now:
                del room.remote[instance]
                continue
            members.extend(remote)
        return sorted(members, key=lambda m: (m.name, m.client_id))

    def _broadcast_presence(self, room: _Room) -> None:
        frame = _encoder.encode(PresenceFrame(members=self._members(room))).decode()
        for conn in tuple(room.connections):
            conn.send_frame(frame)

    async def _announce(
        self, room: _Room, *, leaving: bool = False, tell_local: bool = True
    ) -> None:
        if tell_local:
            self._broadcast_presence(room)
        announcement = _PresenceAnnouncement(
            instance=self.instance,
            report_id=room.report_id,
            members=[] if leaving else [conn.member() for conn in room.connections],
            leaving=leaving,
        )
        with contextlib.suppress(Exception):
            await self.bus.publish_core(
                presence_subject(self.bus.prefix, room.report_id), _encoder.encode(announcement)
            )

    async def _announce_forever(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_HEARTBEAT)
            now = time.monotonic()
            for room in list(self._rooms.values()):
                expired = [i for i, (_, expires) in room.remote.items() if expires < now]
                for instance in expired:
                    del room.remote[instance]
                # Keep the other processes' view alive; local sockets hear only of changes.
                await self._announce(room, tell_local=bool(expired))
