"""What the datasets routes answer (msgspec Structs; the OpenAPI schema is built from them)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import msgspec

from commands.eventstore import MAX_POSITION
from connectors.plugin import TableInfo
from connectors.query import Filter, Sort
from connectors.registry import ConnectorInfo

if TYPE_CHECKING:
    from api.data_side import DataSide
    from projections.datasets import DatasetRecord


class FieldOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    role: str
    hidden: bool
    #: The source's column (stable across renames).
    column: str
    #: The source's type when the field was retyped.
    source_type: str | None = None
    #: Names it had, the newest first: visuals and expressions that use one still find it.
    former_names: list[str] = msgspec.field(default_factory=list)


class CalculatedColumnOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    expression: str
    type: str
    role: str
    former_names: list[str] = msgspec.field(default_factory=list)


class MeasureOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    expression: str
    format: str | None = None
    former_names: list[str] = msgspec.field(default_factory=list)


class DatasetOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    workspace_id: UUID
    name: str
    connector: str
    #: The connector's configuration, secrets shown as "***".
    config: dict[str, Any]
    table: str | None
    rows: int | None
    size_bytes: int | None
    fields: list[FieldOut]
    calculated_columns: list[CalculatedColumnOut]
    measures: list[MeasureOut]
    #: The stream version (every change) and the data version (changes that alter answers).
    version: int
    data_version: int
    position: int
    created_by: UUID | None
    created_at: datetime
    updated_by: UUID | None
    updated_at: datetime
    #: How an uploaded file was read (encoding, delimiter, header, warnings).
    details: dict[str, Any]


class DatasetList(msgspec.Struct, frozen=True, kw_only=True):
    datasets: list[DatasetOut]


def dataset_out(record: DatasetRecord, data: DataSide) -> DatasetOut:
    snapshot = record.snapshot
    assert snapshot.workspace_id is not None
    schema = snapshot.schema
    return DatasetOut(
        id=snapshot.id,
        workspace_id=snapshot.workspace_id,
        name=snapshot.name,
        connector=snapshot.connector,
        config=data.redacted(snapshot.connector, snapshot.config),
        table=snapshot.table,
        rows=snapshot.rows,
        size_bytes=snapshot.size_bytes,
        fields=[
            FieldOut(
                name=f.name,
                type=f.type,
                role=f.role,
                hidden=f.hidden,
                column=f.column,
                source_type=f.source_type,
                former_names=list(f.former_names),
            )
            for f in schema.fields
        ],
        calculated_columns=[
            CalculatedColumnOut(
                name=c.name,
                expression=c.expression,
                type=c.type,
                role=c.role,
                former_names=list(c.former_names),
            )
            for c in schema.calculated_columns
        ],
        measures=[
            MeasureOut(
                name=m.name,
                expression=m.expression,
                format=m.format,
                former_names=list(m.former_names),
            )
            for m in schema.measures
        ],
        version=snapshot.version,
        data_version=snapshot.data_version,
        position=record.position,
        created_by=record.created_by,
        created_at=record.created_at,
        updated_by=record.updated_by,
        updated_at=record.updated_at,
        details=snapshot.details,
    )


PREVIEW_MAX_ROWS = 10_000


class PreviewRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Field names to show (default: every visible field, in order).
    columns: list[str] | None = None
    filters: list[Filter] = msgspec.field(default_factory=list)
    sort: list[Sort] = msgspec.field(default_factory=list)
    offset: Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=PREVIEW_MAX_ROWS)] = 100


class PreviewOut(msgspec.Struct, frozen=True, kw_only=True):
    """`{"offset", "limit", "total", "columns", "rows"}` (documented shape)."""

    offset: int
    limit: int
    total: int
    columns: list[dict[str, str]]
    rows: list[list[Any]]

    @staticmethod
    def encode(rows_json: bytes, *, offset: int, limit: int, total: int) -> bytes:
        """The page's body around already encoded ``"columns":…,"rows":…}``."""
        head = msgspec.json.encode({"offset": offset, "limit": limit, "total": total})
        return head[:-1] + b"," + rows_json


class CompiledOut(msgspec.Struct, frozen=True, kw_only=True):
    """A compiled query: SQL in the source's dialect, values bound as $1..$n."""

    dialect: str
    sql: str
    params: list[Any]
    columns: list[dict[str, str]]


class TestConnection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    config: dict[str, Any]


class TablesOut(msgspec.Struct, frozen=True, kw_only=True):
    tables: list[TableInfo]


class ConnectorList(msgspec.Struct, frozen=True, kw_only=True):
    connectors: list[ConnectorInfo]
