"""Workspace commands. Members and roles arrive with identity; for now a workspace has its owner."""

from __future__ import annotations

from uuid import UUID

import msgspec

from commands.report import ClientId, Name


class CreateWorkspace(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /workspaces`: the caller becomes its owner."""

    name: Name
    id: UUID | None = None
    client_id: ClientId = "api"
    command_id: UUID | None = None
