"""Everything that can happen to a subscription, as stored events (one stream per subscription,
stream type ``subscription``; tagged by class name, written out so a rename cannot change
stored data).

Instants are aware UTC ``datetime``s. Events that (re)start the schedule carry ``at``, the
instant the schedule counts from, so the next run is a pure function of the events: a read
model rebuilt from the log computes exactly the run times the live one did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

import msgspec

#: How the report travels: PDF attachments, PNG attachments, or PNG images inside the message.
Format = Literal["pdf", "png", "inline"]


class _SubscriptionEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class SubscriptionCreated(_SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionCreated"):
    subscription_id: UUID
    report_id: UUID
    workspace_id: UUID
    #: Who subscribed (the report is rendered as they may see it).
    owner: UUID
    cron: str
    timezone: str
    format: Format
    #: Lower-case email addresses, each of a member of the workspace when it was decided.
    recipients: tuple[str, ...]
    #: Page ids to send, in report order; empty: every page.
    pages: tuple[UUID, ...] = ()
    subject: str
    #: The schedule counts from here: the first run is the first fire time after it.
    at: datetime


class SubscriptionScheduleChanged(
    _SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionScheduleChanged"
):
    cron: str
    timezone: str
    #: The new schedule counts from here.
    at: datetime


class SubscriptionRecipientsChanged(
    _SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionRecipientsChanged"
):
    recipients: tuple[str, ...]


class SubscriptionPagesChanged(
    _SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionPagesChanged"
):
    pages: tuple[UUID, ...]


class SubscriptionFormatChanged(
    _SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionFormatChanged"
):
    format: Format


class SubscriptionSubjectChanged(
    _SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionSubjectChanged"
):
    subject: str


class SubscriptionPaused(_SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionPaused"):
    pass


class SubscriptionResumed(_SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionResumed"):
    #: Runs missed while paused are not made up: the schedule counts from here.
    at: datetime


class SubscriptionDeleted(_SubscriptionEvent, frozen=True, kw_only=True, tag="SubscriptionDeleted"):
    pass


class DeliverySucceeded(_SubscriptionEvent, frozen=True, kw_only=True, tag="DeliverySucceeded"):
    """The mail server accepted the message of one scheduled run."""

    #: The fire time this run stands for (the newest, when missed ones were coalesced).
    scheduled_for: datetime
    sent_at: datetime
    #: The addresses the server accepted.
    recipients: tuple[str, ...]
    #: Addresses the server refused while accepting the others → its reply.
    refused: dict[str, str] = msgspec.field(default_factory=dict)
    #: Subscribed addresses left out because they are no longer members of the workspace.
    withheld: tuple[str, ...] = ()
    #: The report version that was rendered (None if the renderer did not say).
    report_version: int | None = None
    message_id: str
    #: SMTP attempts it took (transient failures are retried).
    attempts: int = 1


class DeliveryFailed(_SubscriptionEvent, frozen=True, kw_only=True, tag="DeliveryFailed"):
    """One scheduled run did not reach anyone (after retrying what was worth retrying)."""

    scheduled_for: datetime
    failed_at: datetime
    #: What went wrong, for the people reading the send history.
    error: str
    #: The addresses it was meant for.
    recipients: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    report_version: int | None = None
    attempts: int = 0
    #: Whether the last error was one that might pass (a busy or unreachable server).
    transient: bool = False


SubscriptionEvent = (
    SubscriptionCreated
    | SubscriptionScheduleChanged
    | SubscriptionRecipientsChanged
    | SubscriptionPagesChanged
    | SubscriptionFormatChanged
    | SubscriptionSubjectChanged
    | SubscriptionPaused
    | SubscriptionResumed
    | SubscriptionDeleted
    | DeliverySucceeded
    | DeliveryFailed
)

EVENT_TYPES: Final[dict[str, type[SubscriptionEvent]]] = {
    cls.__name__: cls
    for cls in (
        SubscriptionCreated,
        SubscriptionScheduleChanged,
        SubscriptionRecipientsChanged,
        SubscriptionPagesChanged,
        SubscriptionFormatChanged,
        SubscriptionSubjectChanged,
        SubscriptionPaused,
        SubscriptionResumed,
        SubscriptionDeleted,
        DeliverySucceeded,
        DeliveryFailed,
    )
}

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[SubscriptionEvent] = msgspec.json.Decoder(SubscriptionEvent)


def encode(event: SubscriptionEvent) -> bytes:
    """JSON bytes, with the event's tag under ``"type"``."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> SubscriptionEvent:
    """The event encoded by ``encode`` (dispatched on ``"type"``)."""
    return _decoder.decode(data)


def tag_of(event: SubscriptionEvent) -> str:
    """The stored type name of ``event``."""
    return str(event.__struct_config__.tag)
