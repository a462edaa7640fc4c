"""Filters on a report, a page or a visual: a tagged union on ``op``.

The shapes are those of a query-spec filter (shared/API.md) minus ``field``, which is the key
the filter is stored under: ``{"op": "in", "values": [...]}``, ``{"op": "range", "min",
"max"}``, ``{"op": "relative_date", "unit", "last"}``, ``{"op": "top", "n", "by"}``.

The structs carry no msgspec constraints on purpose: stored events must keep decoding if the
limits change, so the limits are checked by ``check_filter`` when a command is decided.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

import msgspec

from domain.errors import InvalidCommand
from domain.json_values import is_scalar
from domain.report.visuals import AGGREGATIONS

Scalar = str | int | float | bool | None
DateUnit = Literal["day", "week", "month", "quarter", "year"]
DATE_UNITS: Final[frozenset[str]] = frozenset(get_args(DateUnit))

MAX_VALUES = 1000
MAX_STRING_VALUE = 1000
MAX_TOP = 1000
MAX_LAST = 1000
MAX_FIELD_NAME = 200


class _Filter(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    pass


class InFilter(_Filter, frozen=True, kw_only=True, tag="in"):
    """Keep rows whose field is one of ``values``."""

    values: tuple[Scalar, ...]


class NotInFilter(_Filter, frozen=True, kw_only=True, tag="not_in"):
    """Drop rows whose field is one of ``values``."""

    values: tuple[Scalar, ...]


class RangeFilter(_Filter, frozen=True, kw_only=True, tag="range"):
    """Keep rows with ``min <= field <= max`` (numbers or ISO date strings); one may be null."""

    min: int | float | str | None = None
    max: int | float | str | None = None


class RelativeDateFilter(_Filter, frozen=True, kw_only=True, tag="relative_date"):
    """Keep rows whose date falls in the last ``last`` ``unit``s."""

    unit: str
    last: int


class TopBy(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What ``top`` ranks by: ``{"field", "agg"}`` or ``{"measure"}``."""

    field: str | None = None
    agg: str | None = None
    measure: str | None = None


class TopFilter(_Filter, frozen=True, kw_only=True, tag="top"):
    """Keep the ``n`` values of the field that rank highest ``by`` a measure."""

    n: int
    by: TopBy


Filter = InFilter | NotInFilter | RangeFilter | RelativeDateFilter | TopFilter


def check_field_name(field: str, what: str = "field") -> None:
    if not field or len(field) > MAX_FIELD_NAME or not field.strip():
        raise InvalidCommand(
            f"{what} name must be 1 to {MAX_FIELD_NAME} characters, got {field!r}",
            code="invalid_field",
        )


def _check_values(values: tuple[Scalar, ...], op: str) -> None:
    if not 1 <= len(values) <= MAX_VALUES:
        raise InvalidCommand(
            f"an {op!r} filter takes 1 to {MAX_VALUES} values, got {len(values)}",
            code="invalid_filter",
        )
    for value in values:
        if not is_scalar(value):
            raise InvalidCommand(
                f"filter values must be strings, numbers, booleans or null, got {value!r}",
                code="invalid_filter",
            )
        if isinstance(value, str) and len(value) > MAX_STRING_VALUE:
            raise InvalidCommand(
                f"filter values must be at most {MAX_STRING_VALUE} characters",
                code="invalid_filter",
            )


def _check_bound(value: object, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not is_scalar(value):
        raise InvalidCommand(
            f"range {name} must be a number or an ISO date string, got {value!r}",
            code="invalid_filter",
        )
    if isinstance(value, str) and not 0 < len(value) <= MAX_STRING_VALUE:
        raise InvalidCommand(f"range {name} must be 1 to {MAX_STRING_VALUE} characters")


def _check_range(flt: RangeFilter) -> None:
    if flt.min is None and flt.max is None:
        raise InvalidCommand("a range filter needs a min, a max or both", code="invalid_filter")
    _check_bound(flt.min, "min")
    _check_bound(flt.max, "max")
    low, high = flt.min, flt.max
    if low is None or high is None:
        return
    if isinstance(low, str) != isinstance(high, str):
        raise InvalidCommand(
            f"range min and max must both be numbers or both be strings, got {low!r} and {high!r}",
            code="invalid_filter",
        )
    if low > high:  # type: ignore[operator]  # same kind, checked above
        raise InvalidCommand(
            f"range min must not exceed max, got {low!r} > {high!r}", code="invalid_filter"
        )


def _check_top(flt: TopFilter) -> None:
    if isinstance(flt.n, bool) or not 1 <= flt.n <= MAX_TOP:
        raise InvalidCommand(
            f"top n must be between 1 and {MAX_TOP}, got {flt.n!r}", code="invalid_filter"
        )
    by = flt.by
    if by.measure is not None:
        if by.field is not None or by.agg is not None:
            raise InvalidCommand(
                "top by takes either a measure or a field and agg, not both",
                code="invalid_filter",
            )
        check_field_name(by.measure, "measure")
        return
    if by.field is None or by.agg is None:
        raise InvalidCommand("top by needs {field, agg} or {measure}", code="invalid_filter")
    check_field_name(by.field)
    if by.agg not in AGGREGATIONS:
        raise InvalidCommand(
            f"top by agg must be one of {', '.join(sorted(AGGREGATIONS))}, got {by.agg!r}",
            code="invalid_filter",
        )


def check_filter(flt: Filter) -> None:
    """Raise ``InvalidCommand`` unless ``flt`` is within the limits."""
    if isinstance(flt, (InFilter, NotInFilter)):
        _check_values(flt.values, "in" if isinstance(flt, InFilter) else "not_in")
    elif isinstance(flt, RangeFilter):
        _check_range(flt)
    elif isinstance(flt, RelativeDateFilter):
        if flt.unit not in DATE_UNITS:
            raise InvalidCommand(
                f"relative_date unit must be one of day, week, month, quarter, year, "
                f"got {flt.unit!r}",
                code="invalid_filter",
            )
        if isinstance(flt.last, bool) or not 1 <= flt.last <= MAX_LAST:
            raise InvalidCommand(
                f"relative_date last must be between 1 and {MAX_LAST}, got {flt.last!r}",
                code="invalid_filter",
            )
    elif isinstance(flt, TopFilter):
        _check_top(flt)
    else:
        raise InvalidCommand(f"not a filter: {flt!r}", code="invalid_filter")


def filter_entry(field: str, flt: Filter) -> dict[str, Any]:
    """The document form: ``{"field", "op", ...}``, the shape of a query-spec filter."""
    entry: dict[str, Any] = {"field": field, **msgspec.to_builtins(flt)}
    if isinstance(flt, (InFilter, NotInFilter)):
        entry["values"] = list(flt.values)
    return entry
