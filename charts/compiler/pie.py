"""Pie and donut charts: ``arc`` marks, slices in the answer's order (largest first, clockwise
from twelve o'clock), labels outside the slices.

``data_labels.content``: ``value`` (default), ``percent`` (of the whole), ``category``,
``category_value``, ``category_percent``. ``donut.inner_radius``: the hole, as a fraction of
the radius (default 0.6). Zero and negative values cannot be drawn as slices and are left out.
Slices under 3 % of the whole are not labelled (``MIN_LABEL_SHARE``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from charts.compiler.context import Column, Context
from charts.compiler.encoding import (
    color_channel,
    distinct,
    field_ref,
    js_value,
    label_mark,
    labels_shown,
    tooltip_entry,
    tooltip_extras,
)
from charts.formats import NumberFormat, js_number, vega_expression

CONTENTS: Final = ("value", "percent", "category", "category_value", "category_percent")
#: Room left around the pie for labels, before their own width, in pixels.
LABEL_ROOM: Final = 12
#: Slices smaller than this share of the whole get no label (their labels would pile up on
#: their neighbours'; Power BI drops labels that do not fit too). The tooltip still tells.
MIN_LABEL_SHARE: Final = 0.03


def compile_pie(context: Context) -> dict[str, Any] | None:
    category = context.column("color")
    value = next((c for c in context.well("values") if c.is_measure), None)
    if value is None:
        return None
    donut = context.visual_type == "donut"
    transforms: list[dict[str, Any]] = [
        {"filter": f"isValid({field_ref(value.key)}) && {field_ref(value.key)} > 0"}
    ]
    encoding: dict[str, Any] = {
        "theta": {"field": value.key, "type": "quantitative", "stack": True},
    }
    tooltip = [tooltip_entry(context, value)]
    if category is not None:
        domain = distinct(context.rows, category.key)
        encoding["color"] = color_channel(context, category.key, domain, title=category.label)
        transforms.append(
            {
                "calculate": (
                    f"indexof({json.dumps(domain, ensure_ascii=True)}, {field_ref(category.key)})"
                ),
                "as": "__order",
            }
        )
        encoding["order"] = {"field": "__order", "type": "quantitative"}
        tooltip.insert(0, tooltip_entry(context, category))
    encoding["tooltip"] = tooltip + tooltip_extras(context)
    room, offset = _label_room(context, category)
    radius = f"max(min(width, height) / 2 - {room}, 10)"
    arc: dict[str, Any] = {"type": "arc", "outerRadius": {"expr": radius}}
    if donut:
        inner = context.props.number("donut.inner_radius", 0.6)
        if inner is None or not 0 <= inner < 1:
            context.props.note_ignored("donut.inner_radius")
            inner = 0.6
        arc["innerRadius"] = {"expr": f"({radius}) * {js_number(inner)}"}
    if category is None:
        arc["color"] = context.props.color("colors.default") or context.theme.color(0)
    layers: list[dict[str, Any]] = [{"mark": arc}]
    if labels_shown(context, default=True):
        layers.append(_labels(context, category, value, f"{radius} + {offset}"))
        transforms.append({"joinaggregate": [{"op": "sum", "field": value.key, "as": "__total"}]})
    return {"transform": transforms, "encoding": encoding, "layer": layers}


def _label_room(context: Context, category: Column | None) -> tuple[int, int]:
    """Room around the pie for labels, and how far out they sit, in whole pixels: labels are
    centred on their point, so long ones (category names) need more."""
    if not labels_shown(context, default=True):
        return 8, 0
    content = context.props.choice("data_labels.content", CONTENTS, "value")
    chars = 8
    if category is not None and content.startswith("category"):
        longest = max((len(js_value(row.get(category.key))) for row in context.rows), default=0)
        chars = longest + (0 if content == "category" else 8)
    half = chars * 3.3
    return LABEL_ROOM + round(half), 10 + round(half * 0.6)


def _labels(
    context: Context, category: Column | None, value: Column, radius: str
) -> dict[str, Any]:
    content = context.props.choice("data_labels.content", CONTENTS, "value")
    if category is None and content.startswith("category"):
        content = "value" if content != "category_percent" else "percent"
    number = vega_expression(
        context.number_format(value, "data_labels"), field_ref(value.key), integer=value.is_integer
    )
    share = f"(datum.__total ? {field_ref(value.key)} / datum.__total : null)"
    percent = vega_expression(NumberFormat(style="percent", decimals=1), share)
    name = f"{field_ref(category.key)} + ''" if category is not None else "''"
    text = {
        "value": number,
        "percent": percent,
        "category": name,
        "category_value": f"{name} + ': ' + {number}",
        "category_percent": f"{name} + ': ' + {percent}",
    }[content]
    shown = f"{share} >= {js_number(MIN_LABEL_SHARE)} ? ({text}) : ''"
    return {
        "transform": [{"calculate": shown, "as": "__label"}],
        "mark": label_mark(context, radius={"expr": radius}),
        "encoding": {"text": {"field": "__label", "type": "nominal"}},
    }
