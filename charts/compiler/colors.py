"""Conditional colours worked out here (table and matrix cells, where each cell is drawn by
position): the same ``conditional_colors`` property as the charts' colour encodings.

A gradient interpolates each RGB channel linearly between ``min_color`` (at ``min``, default
the smallest value) and ``max_color`` (at ``max``, default the largest), through ``mid_color``
half-way when given; channels are rounded half up and written ``#RRGGBB``. Only hex colours
can be interpolated.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from charts.compiler.context import Column, Context, Row
from charts.properties import is_color

_HEX: Final = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def cell_colors(
    context: Context, columns: Sequence[Column], rows: Sequence[Row]
) -> dict[tuple[int, int], str]:
    """Background colours by (row, column) for the first value column."""
    spec = context.props.mapping("conditional_colors")
    target = next((i for i, c in enumerate(columns) if c.is_measure and c.is_number), None)
    if not spec or target is None:
        return {}
    key = columns[target].key
    values = [row.get(key) for row in rows]
    colors = value_colors(context, values, spec)
    return {(i, target): color for i, color in enumerate(colors) if color is not None}


def value_colors(
    context: Context, values: Sequence[Any], spec: Mapping[str, Any]
) -> list[str | None]:
    rules = spec.get("rules")
    if isinstance(rules, list):
        return [_rule_color(rules, v) for v in values]
    gradient = spec.get("gradient")
    if isinstance(gradient, Mapping):
        stops = _stops(context, gradient, values)
        if stops is not None:
            return [_interpolate(stops, v) for v in values]
    context.props.note_ignored("conditional_colors")
    return [None for _ in values]


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _rule_color(rules: list[Any], value: object) -> str | None:
    number = _number(value)
    if number is None:
        return None
    for rule in rules:
        if not isinstance(rule, Mapping) or not is_color(rule.get("color")):
            continue
        low, high = rule.get("min"), rule.get("max")
        if low is not None and (_number(low) is None or number < float(low)):
            continue
        if high is not None and (_number(high) is None or number >= float(high)):
            continue
        return str(rule["color"]).strip()
    return None


def _rgb(color: object) -> tuple[int, int, int] | None:
    if not isinstance(color, str):
        return None
    match = _HEX.fullmatch(color.strip())
    if match is None:
        return None
    digits = match[1]
    if len(digits) == 3:  # noqa: PLR2004 - #rgb
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


Stops = list[tuple[float, tuple[int, int, int]]]


def _stops(context: Context, gradient: Mapping[str, Any], values: Sequence[Any]) -> Stops | None:
    theme = context.theme
    low = _rgb(gradient.get("min_color", theme.minimum))
    high = _rgb(gradient.get("max_color", theme.maximum))
    mid_color = gradient.get("mid_color")
    mid = _rgb(mid_color) if mid_color is not None else None
    if low is None or high is None or (mid_color is not None and mid is None):
        context.props.note_ignored("conditional_colors.gradient")
        return None
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    start = _number(gradient.get("min"))
    end = _number(gradient.get("max"))
    start = start if start is not None else min(numbers, default=0.0)
    end = end if end is not None else max(numbers, default=1.0)
    stops: Stops = [(start, low)]
    if mid is not None:
        stops.append(((start + end) / 2, mid))
    stops.append((end, high))
    return stops


def _interpolate(stops: Stops, value: object) -> str | None:
    number = _number(value)
    if number is None:
        return None
    if number <= stops[0][0]:
        return _hex(stops[0][1])
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if number <= b:
            t = (number - a) / (b - a) if b > a else 1.0
            return _hex(
                tuple(math.floor(x + (y - x) * t + 0.5) for x, y in zip(ca, cb, strict=True))
            )
    return _hex(stops[-1][1])


def _hex(rgb: tuple[int, ...]) -> str:
    return "#" + "".join(f"{c:02X}" for c in rgb)
