"""Heatmap: a ``rect`` per (x, y) cell, its colour the value on a gradient from the theme's
``minimum`` to ``maximum`` colour (``conditional_colors`` replaces it); ``data_labels.show``
writes the values in the cells."""

from __future__ import annotations

from typing import Any

from charts.compiler.context import Context
from charts.compiler.encoding import (
    category_channel,
    category_sort,
    conditional_color,
    label_mark,
    labels_shown,
    tooltip_entry,
    tooltip_extras,
)
from charts.compiler.series import Series, label_expression


def compile_heatmap(context: Context) -> dict[str, Any] | None:
    x, y = context.column("x"), context.column("y")
    value = next((c for c in context.well("color") if c.is_measure), None)
    if x is None or y is None or value is None:
        return None
    encoding: dict[str, Any] = {
        "x": category_channel(
            context, x, axis="x_axis", discrete=True, sort=category_sort(context, x)
        ),
        "y": category_channel(
            context, y, axis="y_axis", discrete=True, sort=category_sort(context, y)
        ),
    }
    theme = context.theme
    color = conditional_color(context, value.key, theme.gridlines)
    if color is None:
        color = {
            "field": value.key,
            "type": "quantitative",
            "title": value.label,
            "scale": {"range": [theme.minimum, theme.maximum]},
            "legend": {
                "orient": context.props.choice(
                    "legend.position", ("top", "bottom", "left", "right"), "right"
                )
            }
            if context.props.flag("legend.show", default=True)
            else None,
        }
    encoding["color"] = color
    encoding["tooltip"] = [
        tooltip_entry(context, x),
        tooltip_entry(context, y),
        tooltip_entry(context, value),
        *tooltip_extras(context),
    ]
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "rect", "stroke": "#FFFFFF"}, "encoding": encoding}
    ]
    if labels_shown(context):
        series = Series(values=[value], value_field=value.key)
        layers.append(
            {
                "transform": [{"calculate": label_expression(context, series), "as": "__label"}],
                "mark": label_mark(context, baseline="middle"),
                "encoding": {
                    "x": {k: v for k, v in encoding["x"].items() if k not in ("axis", "title")},
                    "y": {k: v for k, v in encoding["y"].items() if k not in ("axis", "title")},
                    "text": {"field": "__label", "type": "nominal"},
                },
            }
        )
    return {"layer": layers}
