"""What a dataset offers to a report: its fields, calculated columns and measures.

A field is a column of the source (a CSV's Parquet file, a PostgreSQL table) under the name
people see. ``column`` is the source's own name and never changes; ``name`` can be renamed, and
queries, measures and visuals use ``name``. A renamed field, calculated column or measure keeps
its ``former_names``: a name no item holds now still finds the item that last held it, so the
visuals and expressions that say ``amount`` go on working once it is called ``Sales amount``
(Power BI keeps them working by rewriting them; the reports here are streams of their own,
edited offline too, so they are resolved instead of rewritten).

Everything here is plain data, shared by the dataset aggregate, the query compiler
(connectors/query), the measure language (connectors/measures) and the API.
"""

from __future__ import annotations

from typing import Final, Literal, TypeVar, get_args

import msgspec

#: The types Loupe tells apart. ``decimal``: any non-integer number (stored as double or
#: numeric at the source); ``timestamp``: a date with a time of day.
FieldType = Literal["integer", "decimal", "boolean", "date", "timestamp", "text"]
FIELD_TYPES: Final[tuple[FieldType, ...]] = get_args(FieldType)

#: As in Power BI: a dimension groups and filters, a measure is aggregated (summed by default).
FieldRole = Literal["dimension", "measure"]
FIELD_ROLES: Final[tuple[FieldRole, ...]] = get_args(FieldRole)

#: Former names an item keeps, the newest first.
MAX_FORMER_NAMES: Final = 8

NUMERIC_TYPES: Final[frozenset[str]] = frozenset({"integer", "decimal"})
TEMPORAL_TYPES: Final[frozenset[str]] = frozenset({"date", "timestamp"})


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """One column of the source as the dataset shows it."""

    #: The name people and queries use (unique in the dataset, case-insensitively).
    name: str
    #: The source's column name (stable across renames).
    column: str
    type: FieldType
    role: FieldRole
    hidden: bool = False
    #: The type the source has (None: the same as ``type``). A retyped field differs: queries
    #: cast the source column to ``type``.
    source_type: FieldType | None = None
    #: Names it had before, the newest first (see the module's docstring).
    former_names: tuple[str, ...] = ()


class CalculatedColumn(msgspec.Struct, frozen=True, kw_only=True):
    """A row-level expression in the measure language (``[Price] * [Quantity]``), usable as a
    field: grouped by, filtered on, aggregated. ``type`` is what the expression yields."""

    name: str
    expression: str
    type: FieldType
    role: FieldRole
    former_names: tuple[str, ...] = ()


class Measure(msgspec.Struct, frozen=True, kw_only=True):
    """A named aggregate expression in the measure language (``DIVIDE(SUM([Profit]),
    SUM([Sales]))``), evaluated in the filter context of each result row."""

    name: str
    expression: str
    #: A number format for visuals ("#,0.00", "0.0%"); not used by queries.
    format: str | None = None
    former_names: tuple[str, ...] = ()


_Named = TypeVar("_Named", Field, CalculatedColumn, Measure)


class DatasetSchema(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a query over the dataset may name."""

    fields: tuple[Field, ...] = ()
    calculated_columns: tuple[CalculatedColumn, ...] = ()
    measures: tuple[Measure, ...] = ()

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (case-insensitively), or that was, if nothing is now."""
        return self._named(self.fields, name)

    def calculated_column(self, name: str) -> CalculatedColumn | None:
        return self._named(self.calculated_columns, name)

    def measure(self, name: str) -> Measure | None:
        return self._named(self.measures, name)

    def _named(self, items: tuple[_Named, ...], name: str) -> _Named | None:
        folded = name.casefold()
        found = next((item for item in items if item.name.casefold() == folded), None)
        if found is not None:
            return found
        holder = next(
            (item for item in items if any(f.casefold() == folded for f in item.former_names)),
            None,
        )
        # A former name leads to its holder unless something has that name now (rare: only
        # then is the whole namespace gathered).
        return None if holder is None or folded in self.names() else holder

    def names(self) -> set[str]:
        """Every name taken (case-folded): fields, calculated columns and measures share one
        namespace, as in Power BI, so ``[Sales]`` means one thing."""
        return {
            item.name.casefold()
            for group in (self.fields, self.calculated_columns, self.measures)
            for item in group
        }
