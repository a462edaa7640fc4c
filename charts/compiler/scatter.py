"""Scatter and bubble charts: a circle per row (per ``details`` value, per legend value), on two
value axes; ``size`` makes it a bubble chart (area proportional to the value). With
``data_labels.show`` each point is labelled with its ``details`` value.
"""

from __future__ import annotations

from typing import Any

from charts.compiler.context import Column, Context
from charts.compiler.encoding import (
    category_channel,
    color_channel,
    conditional_color,
    default_color,
    distinct,
    label_mark,
    labels_shown,
    log_filter,
    sorted_values,
    tooltip_entry,
    tooltip_extras,
    value_channel,
)


def _axis(context: Context, column: Column, axis: str) -> dict[str, Any]:
    if column.is_number:
        fmt = context.number_format(column, axis)
        return value_channel(
            context,
            column.key,
            axis=axis,
            title=column.label,
            fmt=fmt,
            integer=column.is_integer,
            zero=False,
        )
    return category_channel(context, column, axis=axis, discrete=not column.is_time)


def compile_scatter(context: Context) -> dict[str, Any] | None:
    x, y = context.column("x"), context.column("y")
    if x is None or y is None:
        return None
    size, color, details = (
        context.column("size"),
        context.column("color"),
        context.column("details"),
    )
    encoding: dict[str, Any] = {"x": _axis(context, x, "x_axis"), "y": _axis(context, y, "y_axis")}
    mark: dict[str, Any] = {
        "type": "circle",
        "opacity": 0.8,
        "stroke": "#FFFFFF",
        "strokeWidth": 0.5,
    }
    if color is not None:
        domain = sorted_values(distinct(context.rows, color.key))
        encoding["color"] = color_channel(context, color.key, domain, title=color.label)
    else:
        conditional = conditional_color(context, y.key, default_color(context))
        if conditional is None:
            mark["color"] = default_color(context)
        else:
            encoding["color"] = conditional
    if size is not None and size.is_number:
        encoding["size"] = {
            "field": size.key,
            "type": "quantitative",
            "title": size.label,
            "scale": {"range": [30, 1200]},
            "legend": None,
        }
    else:
        mark["size"] = 60
    encoding["tooltip"] = [
        tooltip_entry(context, c) for c in (details, color, x, y, size) if c is not None
    ] + tooltip_extras(context)
    transforms = log_filter(context, "x_axis", [x.key]) + log_filter(context, "y_axis", [y.key])
    layers: list[dict[str, Any]] = [{"mark": mark, "encoding": encoding}]
    if details is not None and labels_shown(context):
        layers.append(
            {
                "mark": label_mark(context, dy=-10),
                "encoding": {
                    "x": {k: v for k, v in encoding["x"].items() if k not in ("axis", "title")},
                    "y": {k: v for k, v in encoding["y"].items() if k not in ("axis", "title")},
                    "text": {"field": details.key, "type": "nominal"},
                },
            }
        )
    body: dict[str, Any] = {"layer": layers}
    if transforms:
        body = {"transform": transforms, **body}
    return body
