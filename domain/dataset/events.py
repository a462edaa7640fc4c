"""Everything that can happen to a dataset, as stored events (tagged like report events).

Fields are named in events by their source ``column`` (stable); the names people see change
with ``FieldRenamed``. Measures and calculated columns are named by their name (a rename is a
change with ``new_name``). Connector configs arrive here with their secrets already sealed
(connectors/secrets.py): events are kept forever.
"""

from typing import Any, Final
from uuid import UUID

import msgspec

from domain.dataset.schema import FieldRole, FieldType


class _DatasetEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class SourceColumnSeen(msgspec.Struct, frozen=True, kw_only=True):
    """A column of the source as the connector described it."""

    column: str
    type: FieldType
    role: FieldRole
    source_type: str = ""


class DatasetCreated(_DatasetEvent, frozen=True, kw_only=True, tag="DatasetCreated"):
    dataset_id: UUID
    workspace_id: UUID
    name: str
    #: The connector's entry-point name ("csv", "postgres").
    connector: str
    #: The connector's config, secrets sealed.
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    #: The source table ("schema.table"), for connectors that have tables.
    table: str | None = None


class DatasetSchemaInferred(_DatasetEvent, frozen=True, kw_only=True, tag="DatasetSchemaInferred"):
    """The source's columns as found (at creation, and again when the source changed shape).
    Fields of columns seen before keep their names, types, roles and visibility; new columns
    become fields; fields of columns no longer there are dropped."""

    columns: tuple[SourceColumnSeen, ...]
    rows: int | None = None


class DatasetRefreshed(_DatasetEvent, frozen=True, kw_only=True, tag="DatasetRefreshed"):
    """New data: a CSV uploaded again (a new Parquet blob), or a live source declared changed.
    Queries after it use the new data version (cached answers of older ones are never served)."""

    #: The Parquet blob holding the data (file-based connectors).
    blob: str | None = None
    rows: int | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    #: How the file was read ("utf-8", ";", header), for people.
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class DatasetRenamed(_DatasetEvent, frozen=True, kw_only=True, tag="DatasetRenamed"):
    name: str


class DatasetDeleted(_DatasetEvent, frozen=True, kw_only=True, tag="DatasetDeleted"):
    pass


class FieldRenamed(_DatasetEvent, frozen=True, kw_only=True, tag="FieldRenamed"):
    column: str
    name: str


class FieldRetyped(_DatasetEvent, frozen=True, kw_only=True, tag="FieldRetyped"):
    column: str
    field_type: FieldType


class FieldRoleSet(_DatasetEvent, frozen=True, kw_only=True, tag="FieldRoleSet"):
    column: str
    role: FieldRole


class FieldHidden(_DatasetEvent, frozen=True, kw_only=True, tag="FieldHidden"):
    column: str


class FieldShown(_DatasetEvent, frozen=True, kw_only=True, tag="FieldShown"):
    column: str


class MeasureDefined(_DatasetEvent, frozen=True, kw_only=True, tag="MeasureDefined"):
    name: str
    expression: str
    format: str | None = None


class MeasureChanged(_DatasetEvent, frozen=True, kw_only=True, tag="MeasureChanged"):
    name: str
    expression: str
    format: str | None = None
    new_name: str | None = None


class MeasureRemoved(_DatasetEvent, frozen=True, kw_only=True, tag="MeasureRemoved"):
    name: str


class CalculatedColumnDefined(
    _DatasetEvent, frozen=True, kw_only=True, tag="CalculatedColumnDefined"
):
    name: str
    expression: str
    field_type: FieldType
    role: FieldRole


class CalculatedColumnChanged(
    _DatasetEvent, frozen=True, kw_only=True, tag="CalculatedColumnChanged"
):
    name: str
    expression: str
    field_type: FieldType
    role: FieldRole
    new_name: str | None = None


class CalculatedColumnRemoved(
    _DatasetEvent, frozen=True, kw_only=True, tag="CalculatedColumnRemoved"
):
    name: str


DatasetEvent = (
    DatasetCreated
    | DatasetSchemaInferred
    | DatasetRefreshed
    | DatasetRenamed
    | DatasetDeleted
    | FieldRenamed
    | FieldRetyped
    | FieldRoleSet
    | FieldHidden
    | FieldShown
    | MeasureDefined
    | MeasureChanged
    | MeasureRemoved
    | CalculatedColumnDefined
    | CalculatedColumnChanged
    | CalculatedColumnRemoved
)

EVENT_TYPES: Final[dict[str, type[DatasetEvent]]] = {
    cls.__name__: cls
    for cls in (
        DatasetCreated,
        DatasetSchemaInferred,
        DatasetRefreshed,
        DatasetRenamed,
        DatasetDeleted,
        FieldRenamed,
        FieldRetyped,
        FieldRoleSet,
        FieldHidden,
        FieldShown,
        MeasureDefined,
        MeasureChanged,
        MeasureRemoved,
        CalculatedColumnDefined,
        CalculatedColumnChanged,
        CalculatedColumnRemoved,
    )
}

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[DatasetEvent] = msgspec.json.Decoder(DatasetEvent)


def encode(event: DatasetEvent) -> bytes:
    """JSON bytes, with the event's tag under ``"type"``."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> DatasetEvent:
    """The event encoded by ``encode`` (dispatched on ``"type"``)."""
    return _decoder.decode(data)


#: Events after which a query over the dataset may answer differently: cached answers are keyed
#: by the version of the newest of these (the dataset's *data version*).
DATA_CHANGING: Final[frozenset[str]] = frozenset(
    {
        "DatasetCreated",
        "DatasetRefreshed",
        "DatasetSchemaInferred",
        "FieldRenamed",
        "FieldRetyped",
        "FieldHidden",
        "FieldShown",
        "CalculatedColumnDefined",
        "CalculatedColumnChanged",
        "CalculatedColumnRemoved",
        "MeasureDefined",
        "MeasureChanged",
        "MeasureRemoved",
        "DatasetDeleted",
    }
)
