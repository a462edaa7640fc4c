"""Dataset commands (the bodies of the datasets routes; a CSV upload arrives as multipart and
becomes `ingest` arguments instead)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec

from commands.report import Name

Expression = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
Format = Annotated[str, msgspec.Meta(max_length=100)]
TableName = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class _Command(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ConnectDataset(_Command, frozen=True, kw_only=True):
    """`POST /workspaces/{ws}/datasets` (JSON): a dataset over a live source's table."""

    name: Name
    connector: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    config: dict[str, Any]
    table: TableName
    id: UUID | None = None
    command_id: UUID | None = None


class RenameDataset(_Command, frozen=True, kw_only=True):
    name: Name


class ChangeField(_Command, frozen=True, kw_only=True):
    """`PATCH /datasets/{id}/fields/{name}`: any of rename, retype, role, hidden."""

    name: Name | None = None
    type: str | None = None
    role: str | None = None
    hidden: bool | None = None


class DefineMeasure(_Command, frozen=True, kw_only=True):
    name: Name
    expression: Expression
    format: Format | None = None


class ChangeMeasure(_Command, frozen=True, kw_only=True):
    expression: Expression
    format: Format | None = None
    name: Name | None = None


class DefineCalculatedColumn(_Command, frozen=True, kw_only=True):
    name: Name
    expression: Expression
    role: str | None = None


class ChangeCalculatedColumn(_Command, frozen=True, kw_only=True):
    expression: Expression
    role: str | None = None
    name: Name | None = None
