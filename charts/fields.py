"""The dataset as the chart compiler sees it: names that a visual's wells may bind.

A visual binds fields by name. A name is a column of the source, a calculated column or a
measure defined on the dataset (``Total Sales``); the compiler must know which, because a
measure is queried as ``{"measure": name}`` and a column as a dimension or an aggregate, and
it must know the type to pick an aggregation, an axis type and a number format.

``dataset_fields`` is a plain list so that callers (the API, the web app's test vectors) can
hand it over as JSON: ``[{"name", "type", "role", "kind", "format"}]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal

import msgspec

from domain.dataset.schema import DatasetSchema

FieldKind = Literal["column", "calculated", "measure"]

NUMERIC: Final = frozenset({"integer", "decimal"})
TEMPORAL: Final = frozenset({"date", "timestamp"})


class DatasetField(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One name a well can bind. ``type`` is unknown (``None``) for a measure whose
    expression's type the caller did not work out; the result's column types are used then."""

    name: str
    type: str | None = None
    role: str = "dimension"
    kind: FieldKind = "column"
    #: A measure's number format ("#,0.00", "0.0%"), as the dataset defines it.
    format: str | None = None
    #: Names it had: a visual bound before a rename still finds it (``DatasetSchema.field``).
    former_names: tuple[str, ...] = ()

    @property
    def is_measure(self) -> bool:
        return self.kind == "measure"

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC

    @property
    def is_temporal(self) -> bool:
        return self.type in TEMPORAL


class FieldIndex:
    """The dataset's names, looked up case-insensitively as the query compiler does."""

    def __init__(self, fields: Sequence[DatasetField | Mapping[str, object]]) -> None:
        self._by_name: dict[str, DatasetField] = {}
        converted = [item if isinstance(item, DatasetField) else _convert(item) for item in fields]
        known = [field for field in converted if field is not None]
        for field in known:
            self._by_name.setdefault(field.name.casefold(), field)
        # Then the former names, where no name of now has taken them.
        for field in known:
            for former in field.former_names:
                self._by_name.setdefault(former.casefold(), field)

    def get(self, name: object) -> DatasetField | None:
        if not isinstance(name, str):
            return None
        return self._by_name.get(name.casefold())

    def __contains__(self, name: object) -> bool:
        return self.get(name) is not None


def _convert(item: Mapping[str, object]) -> DatasetField | None:
    try:
        return msgspec.convert(item, DatasetField)
    except msgspec.ValidationError:
        return None


def dataset_fields(schema: DatasetSchema) -> list[DatasetField]:
    """The bindable names of a dataset schema: its visible and hidden fields, calculated
    columns and measures (measure types are left to the query's answer)."""
    fields = [
        DatasetField(
            name=f.name, type=f.type, role=f.role, kind="column", former_names=f.former_names
        )
        for f in schema.fields
    ]
    fields += [
        DatasetField(
            name=c.name, type=c.type, role=c.role, kind="calculated", former_names=c.former_names
        )
        for c in schema.calculated_columns
    ]
    fields += [
        DatasetField(
            name=m.name,
            role="measure",
            kind="measure",
            format=m.format,
            former_names=m.former_names,
        )
        for m in schema.measures
    ]
    return fields
