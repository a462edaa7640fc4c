"""User events. Tags are the class names, written out so a rename cannot change stored data."""

from __future__ import annotations

from uuid import UUID

import msgspec


class _UserEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class UserRegistered(_UserEvent, frozen=True, kw_only=True, tag="UserRegistered"):
    user_id: UUID
    #: How the user is shown to others ("Ana", "ana@example.com").
    name: str
    email: str | None = None


UserEvent = UserRegistered

_decoder = msgspec.json.Decoder(UserEvent)
_encoder = msgspec.json.Encoder()


def encode(event: UserEvent) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes | str) -> UserEvent:
    return _decoder.decode(data)
