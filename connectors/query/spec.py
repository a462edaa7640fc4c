"""The query spec: what a visual (or an API client) asks of a dataset (docs/query-spec.md).

    {"dimensions": ["Symbol", {"field": "Date", "grain": "year"}],
     "measures": [{"field": "Price", "agg": "avg"}, {"measure": "Total Sales"}],
     "filters": [{"field": "Symbol", "op": "in", "values": ["MSFT", "IBM"]}],
     "sort": [{"by": "Price (avg)", "desc": true}],
     "limit": 100}

Decoded by the API with `decode_spec` (msgspec: unknown fields refused, limits checked); the
compiler checks every name and value against the dataset.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

Grain = Literal["year", "quarter", "month", "week", "day"]
Aggregation = Literal["sum", "avg", "min", "max", "count", "distinct_count", "median"]
DateUnit = Literal["day", "week", "month", "quarter", "year"]

#: A query returns at most this many rows; ``limit`` defaults to it.
MAX_LIMIT: Final = 100_000
#: A preview page holds at most this many rows.
MAX_PREVIEW_LIMIT: Final = 10_000
MAX_ITEMS: Final = 64
MAX_VALUES: Final = 1_000
MAX_TOP: Final = 1_000
MAX_LAST: Final = 10_000
MAX_NAME: Final = 200
MAX_STRING: Final = 1_000

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, msgspec.Meta(max_length=MAX_STRING)]
Scalar = Text | int | float | bool | None
Bound = Text | int | float | None


class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class GrainDimension(_Strict, frozen=True, kw_only=True):
    """A date or timestamp field truncated to the start of its year, quarter, month, ISO week
    (Monday) or day."""

    field: Name
    grain: Grain


#: A field's name, or a date field at a grain.
Dimension = Name | GrainDimension


class MeasureItem(_Strict, frozen=True, kw_only=True, omit_defaults=True):
    """``{"field", "agg"}`` (an aggregate of a field) or ``{"measure"}`` (a defined measure),
    optionally renamed with ``"as"``."""

    field: Name | None = None
    agg: Aggregation | None = None
    measure: Name | None = None
    as_: Name | None = msgspec.field(default=None, name="as")

    def __post_init__(self) -> None:
        if self.measure is not None:
            if self.field is not None or self.agg is not None:
                raise ValueError("a measure item has either `measure` or `field` and `agg`")
        elif self.field is None or self.agg is None:
            raise ValueError("a measure item needs `field` and `agg`, or `measure`")


class _Filter(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="op"
):
    field: Name


class InFilter(_Filter, frozen=True, kw_only=True, tag="in"):
    """Rows whose field is one of ``values`` (``null`` matches blanks)."""

    values: Annotated[tuple[Scalar, ...], msgspec.Meta(min_length=1, max_length=MAX_VALUES)]


class NotInFilter(_Filter, frozen=True, kw_only=True, tag="not_in"):
    """Rows whose field is none of ``values``; blanks are kept unless ``null`` is listed."""

    values: Annotated[tuple[Scalar, ...], msgspec.Meta(min_length=1, max_length=MAX_VALUES)]


class RangeFilter(_Filter, frozen=True, kw_only=True, tag="range"):
    """``min <= field <= max``, either bound optional (numbers, or ISO dates/timestamps)."""

    min: Bound = None
    max: Bound = None


class RelativeDateFilter(_Filter, frozen=True, kw_only=True, tag="relative_date"):
    """The last ``last`` calendar ``unit``s: with ``include_current`` (the default) the current
    one (holding today) and the ``last - 1`` before it, else the ``last`` complete ones."""

    unit: DateUnit
    last: Annotated[int, msgspec.Meta(ge=1, le=MAX_LAST)]
    include_current: bool = True


class TopFilter(_Filter, frozen=True, kw_only=True, tag="top"):
    """The ``n`` values of the field ranking highest (lowest with ``bottom``) by a measure,
    computed within the query's other filters."""

    n: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP)]
    by: MeasureItem
    bottom: bool = False


Filter = InFilter | NotInFilter | RangeFilter | RelativeDateFilter | TopFilter


class Sort(_Strict, frozen=True, kw_only=True):
    """Order by an output column (by its name)."""

    by: Name
    desc: bool = False


class QuerySpec(_Strict, frozen=True, kw_only=True):
    dimensions: Annotated[tuple[Dimension, ...], msgspec.Meta(max_length=MAX_ITEMS)] = ()
    measures: Annotated[tuple[MeasureItem, ...], msgspec.Meta(max_length=MAX_ITEMS)] = ()
    filters: Annotated[tuple[Filter, ...], msgspec.Meta(max_length=MAX_ITEMS)] = ()
    sort: Annotated[tuple[Sort, ...], msgspec.Meta(max_length=MAX_ITEMS)] = ()
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)] = MAX_LIMIT


def decode_spec(data: bytes | str) -> QuerySpec:
    """A spec from JSON; `msgspec.ValidationError` (a 400) names the offending path."""
    return msgspec.json.decode(data, type=QuerySpec)
