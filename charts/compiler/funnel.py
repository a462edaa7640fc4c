"""Funnel: Vega-Lite has no funnel mark, so each stage is a bar centred on zero (from
``-value/2`` to ``value/2``), stages top to bottom in the visual's order (largest first by
default). Labels show the value and its share of the first stage ("% of first", as Power BI's
tooltip does) with ``data_labels.content`` ``value_percent`` (default), ``value`` or
``percent``.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.context import Context
from charts.compiler.encoding import (
    category_channel,
    conditional_color,
    default_color,
    distinct,
    field_ref,
    label_mark,
    labels_shown,
    tooltip_entry,
    tooltip_extras,
)
from charts.formats import NumberFormat, vega_expression

CONTENTS: Final = ("value_percent", "value", "percent")


def compile_funnel(context: Context) -> dict[str, Any] | None:
    stage = context.column("x")
    value = next((c for c in context.well("y") if c.is_measure), None)
    if stage is None or value is None:
        return None
    ref = field_ref(value.key)
    transforms: list[dict[str, Any]] = [
        {"calculate": f"-{ref} / 2", "as": "__left"},
        {"calculate": f"{ref} / 2", "as": "__right"},
        {
            "window": [{"op": "first_value", "field": value.key, "as": "__first"}],
            "frame": [None, None],
        },
    ]
    y = category_channel(
        context, stage, axis="y_axis", discrete=True, sort=distinct(context.rows, stage.key)
    )
    if y.get("axis") is not None:
        y["axis"] = {"grid": False, "domain": False, "ticks": False}
    y["title"] = None
    color = conditional_color(context, value.key, default_color(context))
    encoding: dict[str, Any] = {
        "y": y,
        "x": {"field": "__left", "type": "quantitative", "axis": None, "title": None},
        "x2": {"field": "__right"},
        "tooltip": [
            tooltip_entry(context, stage),
            tooltip_entry(context, value),
            {"field": "__share", "type": "quantitative", "title": "% of first", "format": ".1%"},
            *tooltip_extras(context),
        ],
    }
    transforms.append(
        {"calculate": f"datum.__first ? {ref} / datum.__first : null", "as": "__share"}
    )
    mark: dict[str, Any] = {"type": "bar"}
    if color is None:
        mark["color"] = default_color(context)
    else:
        encoding["color"] = color
    layers: list[dict[str, Any]] = [{"mark": mark, "encoding": encoding}]
    if labels_shown(context, default=True):
        content = context.props.choice("data_labels.content", CONTENTS, "value_percent")
        number = vega_expression(
            context.number_format(value, "data_labels"), ref, integer=value.is_integer
        )
        share = vega_expression(NumberFormat(style="percent", decimals=1), "datum.__share")
        text = {
            "value_percent": f"{number} + ' (' + {share} + ')'",
            "value": number,
            "percent": share,
        }[content]
        layers.append(
            {
                "transform": [{"calculate": text, "as": "__label"}],
                "mark": label_mark(context, align="center", baseline="middle"),
                "encoding": {
                    "y": {k: v for k, v in y.items() if k not in ("axis", "title")},
                    "x": {"datum": 0, "type": "quantitative"},
                    "text": {"field": "__label", "type": "nominal"},
                },
            }
        )
    return {"transform": transforms, "layer": layers}
