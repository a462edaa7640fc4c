"""Filter values checked against the field's type and turned into the Python values bound to
the query (a date string for a date field becomes a `dt.date`, and so on)."""

from __future__ import annotations

import datetime as dt
import math

from connectors.errors import InvalidQuery
from connectors.measures.ir import FieldRef

Value = int | float | str | bool | dt.date | dt.datetime


def _wrong(field: FieldRef, value: object, expected: str) -> InvalidQuery:
    shown = repr(value)
    if len(shown) > 60:  # noqa: PLR2004
        shown = shown[:57] + "..."
    return InvalidQuery(
        f"field {field.name!r} is {field.type}: expected {expected}, got {shown}",
        code="invalid_value",
    )


def _date(field: FieldRef, value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _wrong(field, value, "an ISO date (YYYY-MM-DD)")


def _timestamp(field: FieldRef, value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _wrong(field, value, "an ISO timestamp (YYYY-MM-DDTHH:MM:SS)")


def coerce(field: FieldRef, value: object, *, numbers_only: bool = False) -> Value:  # noqa: C901, PLR0911
    """``value`` as the Python value of ``field``'s type; `InvalidQuery` if it does not fit.
    ``numbers_only`` (range bounds on numbers) also accepts a float for an integer field."""
    typ = field.type
    if typ == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if numbers_only and isinstance(value, float) and math.isfinite(value):
            return value
        raise _wrong(field, value, "a whole number")
    if typ == "decimal":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _wrong(field, value, "a finite number")
            return float(value)
        raise _wrong(field, value, "a number")
    if typ == "boolean":
        if isinstance(value, bool):
            return value
        raise _wrong(field, value, "true or false")
    if typ == "text":
        if isinstance(value, str):
            if "\x00" in value:
                raise _wrong(field, value, "text without NUL characters")
            return value
        raise _wrong(field, value, "a string")
    if typ == "date":
        return _date(field, value)
    return _timestamp(field, value)


def range_upper(field: FieldRef, value: object) -> tuple[Value, bool]:
    """A range's max and whether it is inclusive: a date-only max on a timestamp field means
    the whole day (``< next midnight``)."""
    if field.type == "timestamp" and isinstance(value, str) and len(value) == 10:  # noqa: PLR2004
        day = _date(field, value)
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), False
    return coerce(field, value, numbers_only=True), True


def period_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the ``unit`` holding ``day`` (ISO weeks start on Monday)."""
    if unit == "day":
        return day
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def add_units(start: dt.date, unit: str, n: int) -> dt.date:
    """``start`` (a period start) moved by ``n`` units."""
    if unit == "day":
        return start + dt.timedelta(days=n)
    if unit == "week":
        return start + dt.timedelta(days=7 * n)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def relative_bounds(
    today: dt.date, unit: str, last: int, *, include_current: bool
) -> tuple[dt.date, dt.date]:
    """``[low, high)`` of the last ``last`` calendar ``unit``s before (or up to and with) the one
    holding ``today``."""
    current = period_start(today, unit)
    if include_current:
        return add_units(current, unit, -(last - 1)), add_units(current, unit, 1)
    return add_units(current, unit, -last), current
