"""Waterfall: Vega-Lite has no waterfall mark; a ``window`` running sum gives each category's
end, its start is the end less its value, and a "Total" column (``waterfall.total``, default
on) closes the chart. Columns read Increase, Decrease and Total, coloured with the theme's
good, bad and first data colours (``colors.series`` can override them by those names).
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.context import Context
from charts.compiler.encoding import (
    category_channel,
    color_channel,
    distinct,
    field_ref,
    label_mark,
    labels_shown,
    tooltip_entry,
    value_channel,
)
from charts.compiler.series import Series, label_expression
from charts.properties import is_color

TOTAL: Final = "Total"
KINDS: Final = ["Increase", "Decrease", TOTAL]


def compile_waterfall(context: Context) -> dict[str, Any] | None:
    category = context.column("x")
    value = next((c for c in context.well("y") if c.is_measure), None)
    if category is None or value is None:
        return None
    ref = field_ref(value.key)
    order = distinct(context.rows, category.key)
    if context.props.flag("waterfall.total", default=True):
        context.rows = [*context.rows, {category.key: TOTAL, "__total": True}]
        order.append(TOTAL)
    transforms: list[dict[str, Any]] = [
        {"window": [{"op": "sum", "field": value.key, "as": "__end"}], "frame": [None, 0]},
        {"calculate": f"datum.__total ? 0 : datum.__end - ({ref} || 0)", "as": "__start"},
        {"calculate": f"datum.__total ? datum.__end : {ref}", "as": "__shown"},
        {"calculate": "max(datum.__start, datum.__end)", "as": "__top"},
        {
            "calculate": f"datum.__total ? '{TOTAL}' : {ref} >= 0 ? 'Increase' : 'Decrease'",
            "as": "__kind",
        },
    ]
    x = category_channel(context, category, axis="x_axis", discrete=True, sort=order)
    x["type"] = "ordinal" if category.is_time else "nominal"
    x.pop("timeUnit", None)
    fmt = context.number_format(value, "y_axis")
    y = value_channel(
        context, "__end", axis="y_axis", title=value.label, fmt=fmt, integer=value.is_integer
    )
    theme = context.theme
    overrides = context.props.mapping("colors.series")
    colors = [
        str(overrides[kind]).strip() if is_color(overrides.get(kind)) else default
        for kind, default in zip(KINDS, (theme.good, theme.bad, theme.color(0)), strict=True)
    ]
    encoding: dict[str, Any] = {
        "x": x,
        "y": y,
        "y2": {"field": "__start"},
        "color": color_channel(context, "__kind", KINDS, title=None, colors=colors),
        "tooltip": [
            tooltip_entry(context, category),
            tooltip_entry(context, value, field="__shown"),
        ],
    }
    layers: list[dict[str, Any]] = [{"mark": {"type": "bar"}, "encoding": encoding}]
    if labels_shown(context):
        shown = Series(values=[value], value_field="__shown")
        layers.append(
            {
                "transform": [{"calculate": label_expression(context, shown), "as": "__label"}],
                "mark": label_mark(context, dy=-4, baseline="bottom"),
                "encoding": {
                    "x": x,
                    "y": {"field": "__top", "type": "quantitative"},
                    "text": {"field": "__label", "type": "nominal"},
                },
            }
        )
    return {"transform": transforms, "layer": layers}
