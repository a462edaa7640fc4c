"""Subscription commands: the bodies of the subscription routes (decoded by msgspec; the
domain checks the values themselves: cron, time zone, addresses, pages)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec

Cron = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Address = Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
#: Longer than the domain's limit of 50 so that the domain's clearer error is the one given.
Recipients = Annotated[list[Address], msgspec.Meta(max_length=500)]
Pages = Annotated[list[UUID], msgspec.Meta(max_length=1000)]
Subject = Annotated[str, msgspec.Meta(max_length=400)]
Format = Annotated[str, msgspec.Meta(max_length=16)]


class _Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class CreateSubscription(_Command, frozen=True, kw_only=True):
    """`POST /reports/{id}/subscriptions`: email the report (or ``pages`` of it) to
    ``recipients`` at every fire time of ``cron`` in ``timezone``."""

    cron: Cron
    timezone: TimeZone
    recipients: Recipients
    format: Format = "pdf"
    #: Page ids; empty: every page.
    pages: Pages = msgspec.field(default_factory=list)
    #: None: the report's name.
    subject: Subject | None = None
    id: UUID | None = None
    command_id: UUID | None = None


class ChangeSubscription(_Command, frozen=True, kw_only=True):
    """`PATCH /subscriptions/{id}`: any of the settings; those left out stay as they are."""

    cron: Cron | None = None
    timezone: TimeZone | None = None
    recipients: Recipients | None = None
    format: Format | None = None
    pages: Pages | None = None
    subject: Subject | None = None
    command_id: UUID | None = None
