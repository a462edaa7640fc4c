"""Registering users. With the development identity a user exists as soon as it is first seen;
its `UserRegistered` event gives audit entries and presence a name to show."""

from __future__ import annotations

import contextlib
import uuid

from commands.authorization import Actor
from commands.envelope import new_event
from commands.eventstore import EventStore, StreamRef, WrongExpectedVersion
from domain.clock import Hlc
from domain.metadata import EventMetadata
from domain.user.events import UserRegistered, encode
from domain.versions import Dot

STREAM_TYPE = "user"
_REPLICA = "server"


class UserDirectory:
    """Makes sure every actor has been registered, at most one query per user and process."""

    def __init__(self, store: EventStore, *, capacity: int = 10_000) -> None:
        self.store = store
        self._known: set[uuid.UUID] = set()
        self._capacity = capacity

    async def ensure(self, actor: Actor, hlc: Hlc) -> None:
        if actor.id in self._known:
            return
        if await self.store.stream_version(actor.id) == 0:
            email = actor.name if "@" in actor.name else None
            payload = UserRegistered(user_id=actor.id, name=actor.name, email=email)
            meta = EventMetadata(
                event_id=uuid.uuid4(),
                replica=_REPLICA,
                dot=Dot(_REPLICA, 1),
                hlc=hlc,
                actor=actor.id,
            )
            with contextlib.suppress(WrongExpectedVersion):  # another process was first
                await self.store.append(
                    StreamRef(stream_id=actor.id, stream_type=STREAM_TYPE),
                    0,
                    [new_event("UserRegistered", encode(payload), meta)],
                    command_id=uuid.uuid5(actor.id, "registered"),
                )
        if len(self._known) >= self._capacity:
            self._known.clear()
        self._known.add(actor.id)
