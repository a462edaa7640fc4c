"""Treemap: Vega-Lite has no treemap transform, so the rectangles are laid out here with d3's
squarified algorithm (charts/compiler/squarify.py) and drawn as ``rect`` marks on two linear
scales spanning the plot (``[0, width]`` by ``[0, height]``, y downwards). Categories (``color``)
are coloured; ``details`` split each category into smaller rectangles of its colour. Labels
(category, details, value) are written in rectangles large enough to hold them.
Zero and negative values cannot be drawn and are left out.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.context import Context, Row
from charts.compiler.encoding import (
    color_channel,
    distinct,
    field_ref,
    label_mark,
    labels_shown,
    tooltip_entry,
    tooltip_extras,
)
from charts.compiler.frame import PADDING, title_block, title_height
from charts.compiler.series import Series, label_expression
from charts.compiler.squarify import Node, layout

#: Smallest rectangle that gets a label, in pixels.
LABEL_WIDTH: Final = 48
LABEL_HEIGHT: Final = 30
#: Room a legend above the plot takes, in pixels.
LEGEND_HEIGHT: Final = 24


def compile_treemap(context: Context) -> tuple[dict[str, Any], float, float] | None:
    """The body, and the plot size the rectangles were laid out in."""
    category = context.column("color")
    details = context.column("details")
    value = next((c for c in context.well("values") if c.is_measure), None)
    if value is None:
        return None
    rows = [
        row
        for row in context.rows
        if isinstance(row.get(value.key), int | float) and row[value.key] > 0
    ]
    legend = (
        category is not None
        and details is not None
        and context.props.flag("legend.show", default=True)
    )
    width = context.width - 2 * PADDING
    height = (
        context.height
        - 2 * PADDING
        - title_height(context, title_block(context))
        - (LEGEND_HEIGHT if legend else 0)
    )
    width, height = max(width, 10.0), max(height, 10.0)
    _place(rows, category.key if category else None, value.key, width, height)
    context.rows = rows
    encoding: dict[str, Any] = {
        "x": {
            "field": "__x0",
            "type": "quantitative",
            "scale": {"domain": [0, width], "nice": False, "zero": False},
            "axis": None,
        },
        "x2": {"field": "__x1"},
        "y": {
            "field": "__y0",
            "type": "quantitative",
            "scale": {"domain": [0, height], "nice": False, "zero": False, "reverse": True},
            "axis": None,
        },
        "y2": {"field": "__y1"},
        "tooltip": [tooltip_entry(context, c) for c in (category, details, value) if c is not None]
        + tooltip_extras(context),
    }
    mark: dict[str, Any] = {"type": "rect", "stroke": "#FFFFFF", "strokeWidth": 1}
    if category is not None:
        domain = distinct(rows, category.key)
        encoding["color"] = color_channel(context, category.key, domain, title=category.label)
        if not legend:
            encoding["color"]["legend"] = None
    else:
        mark["color"] = context.props.color("colors.default") or context.theme.color(0)
    layers: list[dict[str, Any]] = [{"mark": mark, "encoding": encoding}]
    if labels_shown(context, default=True):
        name = details or category
        number = label_expression(context, Series(values=[value], value_field=value.key))
        text = f"[{field_ref(name.key)} + '', {number}]" if name is not None else number
        layers.append(
            {
                "transform": [
                    {
                        "filter": f"datum.__x1 - datum.__x0 >= {LABEL_WIDTH} && "
                        f"datum.__y1 - datum.__y0 >= {LABEL_HEIGHT}"
                    },
                    {"calculate": text, "as": "__label"},
                ],
                "mark": label_mark(
                    context, align="left", baseline="top", dx=4, dy=4, color="#FFFFFF"
                ),
                "encoding": {
                    "x": {"field": "__x0", "type": "quantitative", "scale": encoding["x"]["scale"]},
                    "y": {"field": "__y0", "type": "quantitative", "scale": encoding["y"]["scale"]},
                    "text": {"field": "__label"},
                },
            }
        )
    return {"layer": layers}, width, height


def _place(rows: list[Row], category: str | None, value: str, width: float, height: float) -> None:
    """Lay the rows out (a category's rows are its details) and store each rectangle in its
    row as ``__x0``, ``__y0``, ``__x1``, ``__y1``."""
    root = Node()
    groups: dict[Any, Node] = {}
    for index, row in enumerate(rows):
        leaf = Node(value=float(row[value]), leaf=index)
        if category is None:
            root.children.append(leaf)
            continue
        group = groups.get(row.get(category))
        if group is None:
            group = groups[row.get(category)] = Node()
            root.children.append(group)
        group.children.append(leaf)
    if not root.children:
        return
    for row, (x0, y0, x1, y1) in zip(rows, layout(root, width, height), strict=True):
        row.update({"__x0": x0, "__y0": y0, "__x1": x1, "__y1": y1})
