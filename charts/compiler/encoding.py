"""Encodings shared by the chart families: category and value channels, axes, legends, series
colours, number formats on axes and labels.

Axis properties (``x_axis``, ``y_axis``, ``secondary_y_axis``): ``show``, ``show_title``,
``title``, ``min``, ``max``, ``scale`` (``linear``/``log``), ``gridlines``, ``format``. Legend:
``legend.show``, ``legend.position`` (``top``/``bottom``/``left``/``right``),
``legend.show_title``, ``legend.title``, ``legend.font_size``. Colours: ``colors.default`` for
a single series, ``colors.series`` = ``{series value: colour}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from charts.compiler.context import Column, Context, Row
from charts.formats import (
    NumberFormat,
    axis_format,
    js_number,
    js_string,
    needs_expression,
    tooltip_format,
    vega_expression,
)
from charts.properties import is_color, is_number, px

TIME_UNITS: Final = {
    "year": "utcyear",
    "quarter": "utcyearquarter",
    "month": "utcyearmonth",
    "week": "utcyearmonthdate",
    "day": "utcyearmonthdate",
}
LEGEND_POSITIONS: Final = ("top", "bottom", "left", "right")


def js_value(value: Any) -> str:
    """A data value as JavaScript's ``String(value)`` writes it (keys of ``colors.series``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:  # noqa: PLR2004
        return str(int(value))
    return "null" if value is None else str(value)


def field_ref(key: str) -> str:
    """A Vega expression reading field ``key`` of a datum."""
    return f"datum[{js_string(key)}]"


# -- category channels -------------------------------------------------------------------------


def category_channel(
    context: Context,
    column: Column,
    *,
    axis: str,
    discrete: bool,
    sort: Any = None,
) -> dict[str, Any]:
    """A dimension on a position channel: ordinal bands for bars (dates at their grain), a
    continuous time or number scale for lines, nominal for text."""
    channel: dict[str, Any] = {"field": column.key}
    if column.is_time:
        unit = TIME_UNITS.get(column.planned.grain or "")
        if column.type == "date" and unit is None and discrete:
            unit = "utcyearmonthdate"
        channel["type"] = "ordinal" if discrete else "temporal"
        if unit is not None:
            channel["timeUnit"] = unit
        elif not discrete:
            channel["scale"] = {"type": "utc"}
        else:
            channel["timeUnit"] = "utcyearmonthdatehoursminutes"
    elif column.is_number:
        channel["type"] = "ordinal" if discrete else "quantitative"
        if not discrete:
            channel["scale"] = {"zero": False}
    else:
        channel["type"] = "nominal"
    if sort is not None:
        channel["sort"] = sort
    channel["title"] = axis_title(context, axis, column.label)
    channel["axis"] = axis_def(context, axis, grid=False)
    if discrete and channel["axis"] is not None:
        # Too many categories for their labels: every other one goes until they fit.
        channel["axis"]["labelOverlap"] = True
        if axis == "x_axis":
            channel["axis"]["labelAngle"] = label_angle(context, column)
    return channel


def category_sort(context: Context, column: Column) -> Any:
    """The sort of a category axis from the plan's order: by the category itself, or by a
    value -- then an explicit list, the categories ordered by the sum of that value over
    their rows (ties in order of appearance), since Vega-Lite cannot sort layered charts by a
    sum."""
    order = context.plan.order
    if order is None:
        return None
    if order.key == column.key:
        return "descending" if order.descending else "ascending"
    totals: dict[Any, float] = {}
    for row in context.rows:
        value = row.get(order.key)
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
        category = row.get(column.key)
        totals[category] = totals.get(category, 0.0) + number
    # ``reverse`` keeps ties in their original order, as a stable sort with a descending
    # comparator does in JavaScript.
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=order.descending)
    return [category for category, _ in ranked]


#: Width of a character of axis labels, in pixels (for layout estimates).
CHAR_WIDTH: Final = 6.5
#: Label lengths of dates at each grain, in characters, as Vega writes them.
GRAIN_LENGTHS: Final = {"year": 4, "quarter": 7, "month": 8, "week": 12, "day": 12}


def label_angle(context: Context, column: Column) -> int:
    """0 when the category labels fit side by side across the plot, else -45."""
    values = distinct(context.rows, column.key)
    if column.is_time:
        longest = GRAIN_LENGTHS.get(column.planned.grain or "", 12)
    else:
        longest = max((len(js_value(v)) for v in values), default=0)
    needed = len(values) * (longest * CHAR_WIDTH + 6)
    return 0 if needed <= context.width * 0.85 else -45


# -- axes --------------------------------------------------------------------------------------


def axis_title(context: Context, axis: str, default: str | None) -> str | None:
    if not context.props.flag(f"{axis}.show_title", default=True):
        return None
    return context.props.text(f"{axis}.title", default)


def axis_def(
    context: Context,
    axis: str,
    *,
    grid: bool,
    labels: dict[str, Any] | None = None,
    orient: str | None = None,
) -> dict[str, Any] | None:
    """The axis of a channel; ``None`` (no axis) when ``<axis>.show`` is false."""
    props = context.props
    if not props.flag(f"{axis}.show", default=True):
        return None
    result: dict[str, Any] = {"grid": props.flag(f"{axis}.gridlines", default=grid)}
    if orient is not None:
        result["orient"] = orient
    if labels:
        result.update(labels)
    if not result["grid"]:
        result["domain"] = True
    else:
        result["domain"] = False
        result["ticks"] = False
    return result


def label_format(fmt: NumberFormat, *, integer: bool) -> dict[str, Any]:
    """Axis label settings for numbers in ``fmt``: a d3 format, or a label expression when a
    display unit or a currency symbol is needed."""
    if needs_expression(fmt):
        return {"labelExpr": vega_expression(fmt, "datum.value", integer=integer)}
    return {"format": axis_format(fmt, integer=integer)}


def value_scale(context: Context, axis: str, *, zero: bool = True) -> dict[str, Any]:
    """``<axis>.min``, ``.max`` and ``.scale`` (``log``) as a scale."""
    props = context.props
    scale: dict[str, Any] = {}
    low = props.number(f"{axis}.min")
    high = props.number(f"{axis}.max")
    if low is not None and high is not None and low >= high:
        props.note_ignored(f"{axis}.max")
        high = None
    if low is not None:
        scale["domainMin"] = low
    if high is not None:
        scale["domainMax"] = high
    if props.choice(f"{axis}.scale", ("linear", "log"), "linear") == "log":
        scale["type"] = "log"
        zero = False
    if not zero:
        scale["zero"] = False
    return scale


def value_channel(
    context: Context,
    field: str,
    *,
    axis: str,
    title: str | None,
    fmt: NumberFormat | None,
    integer: bool,
    zero: bool = True,
    percent: bool = False,
    orient: str | None = None,
) -> dict[str, Any]:
    """A measure on a position channel, with the axis's range, scale and label format."""
    labels = (
        {"format": ".0%"}
        if percent
        else (label_format(fmt, integer=integer) if fmt is not None else None)
    )
    channel: dict[str, Any] = {
        "field": field,
        "type": "quantitative",
        "title": axis_title(context, axis, title),
        "axis": axis_def(context, axis, grid=True, labels=labels, orient=orient),
    }
    scale = value_scale(context, axis, zero=zero)
    if scale:
        channel["scale"] = scale
    return channel


def log_filter(context: Context, axis: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    """A log axis cannot draw zero or negative values: a filter leaves them out."""
    if context.props.choice(f"{axis}.scale", ("linear", "log"), "linear") != "log":
        return []
    test = " && ".join(f"{field_ref(f)} > 0" for f in fields)
    return [{"filter": test}]


# -- series, colours, legends ------------------------------------------------------------------


def distinct(rows: Sequence[Row], key: str) -> list[Any]:
    """The distinct values of ``key`` in order of appearance."""
    seen: dict[Any, None] = {}
    for row in rows:
        seen.setdefault(row.get(key), None)
    return list(seen)


def sorted_values(values: Sequence[Any]) -> list[Any]:
    """Series values in the order a legend lists them: numbers by value, the rest by text,
    blanks last."""
    numbers = sorted(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    texts = sorted(
        (v for v in values if not isinstance(v, int | float) or isinstance(v, bool)),
        key=js_value,
    )
    blank = [v for v in texts if v in (None, "(Blank)")]
    return [*numbers, *(v for v in texts if v not in blank), *blank]


def series_colors(context: Context, domain: Sequence[Any], *, offset: int = 0) -> list[str]:
    """A colour per series: ``colors.series[value]``, else the theme's next colour."""
    overrides = context.props.mapping("colors.series")
    colors: list[str] = []
    for index, value in enumerate(domain):
        chosen = overrides.get(js_value(value))
        if chosen is not None and isinstance(chosen, str):
            if is_color(chosen):
                colors.append(chosen.strip())
                continue
            context.props.note_ignored("colors.series")
        colors.append(context.theme.color(index + offset))
    return colors


def default_color(context: Context) -> str:
    return context.props.color("colors.default") or context.theme.color(0)


def legend_def(context: Context, title: str | None) -> dict[str, Any] | None:
    props = context.props
    if not props.flag("legend.show", default=True):
        return None
    legend: dict[str, Any] = {
        "orient": props.choice("legend.position", LEGEND_POSITIONS, "top"),
        "title": props.text("legend.title", title)
        if props.flag("legend.show_title", default=True)
        else None,
    }
    size = props.number("legend.font_size")
    if size is not None and 1 <= size <= 400:  # noqa: PLR2004
        legend["labelFontSize"] = px(size)
    return legend


def color_channel(
    context: Context,
    field: str,
    domain: Sequence[Any],
    *,
    title: str | None,
    colors: Sequence[str] | None = None,
) -> dict[str, Any]:
    return {
        "field": field,
        "type": "nominal",
        "scale": {"domain": list(domain), "range": list(colors or series_colors(context, domain))},
        "legend": legend_def(context, title),
        "title": title,
    }


# -- data labels -------------------------------------------------------------------------------


def labels_shown(context: Context, *, default: bool = False) -> bool:
    return context.props.flag("data_labels.show", default=default)


def label_mark(context: Context, **extra: Any) -> dict[str, Any]:
    """A text mark for data labels: ``data_labels.color`` and ``.font_size`` (points)."""
    props = context.props
    mark: dict[str, Any] = {
        "type": "text",
        "fontSize": props.font_size("data_labels.font_size", context.theme.label.font_size),
        "color": props.color("data_labels.color", context.theme.foreground),
    }
    mark.update(extra)
    return mark


# -- conditional colours -----------------------------------------------------------------------


def conditional_color(context: Context, field: str, default: str) -> dict[str, Any] | None:
    """``conditional_colors``: ``{"rules": [{"min", "max", "color"}]}`` (``min <= value <
    max``, either bound optional, the first rule that matches wins) or ``{"gradient":
    {"min_color", "max_color", "mid_color", "min", "max"}}``."""
    props = context.props
    spec = props.mapping("conditional_colors")
    if not spec:
        return None
    rules = spec.get("rules")
    if isinstance(rules, list):
        conditions = []
        for rule in rules:
            test = _rule_test(rule, field)
            if test is None:
                props.note_ignored("conditional_colors.rules")
                continue
            conditions.append({"test": test, "value": rule["color"].strip()})
        if conditions:
            return {"condition": conditions, "value": default}
        return None
    gradient = spec.get("gradient")
    if isinstance(gradient, dict):
        return _gradient(context, field, gradient)
    props.note_ignored("conditional_colors")
    return None


def _rule_test(rule: object, field: str) -> str | None:
    if not isinstance(rule, dict) or not is_color(rule.get("color")):
        return None
    parts = [f"isValid({field_ref(field)})"]
    for bound, op in (("min", ">="), ("max", "<")):
        value = rule.get(bound)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        parts.append(f"{field_ref(field)} {op} {js_number(value)}")
    return " && ".join(parts)


def _gradient(context: Context, field: str, gradient: dict[str, Any]) -> dict[str, Any] | None:
    theme = context.theme
    low = gradient.get("min_color", theme.minimum)
    high = gradient.get("max_color", theme.maximum)
    mid = gradient.get("mid_color")
    if not is_color(low) or not is_color(high) or (mid is not None and not is_color(mid)):
        context.props.note_ignored("conditional_colors.gradient")
        return None
    scale: dict[str, Any] = {"range": [low, mid, high] if mid else [low, high]}
    start, end = gradient.get("min"), gradient.get("max")
    if is_number(start) and is_number(end):
        if mid:
            scale["domainMid"] = (float(start) + float(end)) / 2
        scale["domain"] = [start, end]
    return {"field": field, "type": "quantitative", "scale": scale, "legend": None}


# -- tooltips ----------------------------------------------------------------------------------


def tooltip_entry(
    context: Context, column: Column, *, field: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """One tooltip line for ``column`` (read from ``field`` when a transform moved it)."""
    entry: dict[str, Any] = {"field": field or column.key, "title": title or column.label}
    if column.is_time and not column.is_measure:
        entry["type"] = "temporal"
        unit = TIME_UNITS.get(column.planned.grain or "")
        if unit is None:
            unit = (
                "utcyearmonthdate"
                if column.type == "date"
                else "utcyearmonthdatehoursminutesseconds"
            )
        entry["timeUnit"] = unit
    elif column.is_number:
        entry["type"] = "quantitative"
        fmt = context.number_format(column, "tooltip")
        entry["format"] = tooltip_format(fmt, integer=column.is_integer)
    else:
        entry["type"] = "nominal"
    return entry


def tooltip_extras(context: Context) -> list[dict[str, Any]]:
    """The ``tooltip`` well's values."""
    return [tooltip_entry(context, c) for c in context.well("tooltip")]
