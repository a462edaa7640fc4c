"""From a chart's body to the spec: inline data, small multiples, empty states.

Small multiples (``small_multiples.field``, ``small_multiples.columns``) split a chart into a
grid of panels, one per value of the field, in ascending order; at most 12 panels are drawn
(the subtitle says when more exist). A facet cannot be sized to fit, so panel sizes are
worked out from the visual's size: ``(width - 60) / columns - 10`` by
``(height - title - 40) / rows - 30`` (at least 40 by 30).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from charts.compiler.context import Context
from charts.compiler.encoding import TIME_UNITS, distinct, sorted_values
from charts.compiler.frame import PADDING, SCHEMA_URL, finish, title_block, title_height
from charts.properties import Properties, px
from charts.reduction import MAX_PANELS
from charts.theme import Theme, vega_config

MAX_COLUMNS: Final = 6


def chart_spec(
    context: Context, body: dict[str, Any], notes: list[str] | None = None
) -> dict[str, Any]:
    """The spec of a chart whose body is a layer (or a single view) over the rows."""
    if not context.rows:
        return message_spec(context, "No data")
    split = context.column("small_multiples")
    if split is None:
        title = title_block(context, notes=notes)
        return finish(context, {"data": {"values": context.rows}, **body}, title=title)
    panels = sorted_values(distinct(context.rows, split.key))
    shown = panels[:MAX_PANELS]
    notes = list(notes or [])
    if len(panels) > len(shown):
        notes.append(f"Showing the first {len(shown)} of {len(panels)} panels")
    rows = [row for row in context.rows if row.get(split.key) in shown]
    title = title_block(context, notes=notes)
    count = len(shown)
    columns = context.props.integer(
        "small_multiples.columns", math.ceil(math.sqrt(count)), low=1, high=MAX_COLUMNS
    )
    columns = min(columns, count)
    lines = math.ceil(count / columns)
    width = max(40.0, (context.width - 60) / columns - 10)
    height = max(30.0, (context.height - title_height(context, title) - 40) / lines - 30)
    facet: dict[str, Any] = {
        "field": split.key,
        "type": "ordinal" if split.is_time or split.is_number else "nominal",
        "title": None,
        "sort": shown,
        "header": {"labelFontSize": px(context.theme.header.font_size)},
    }
    if split.is_time:
        facet["timeUnit"] = TIME_UNITS.get(split.planned.grain or "", "utcyearmonthdate")
    spec = {
        "data": {"values": rows},
        "facet": facet,
        "columns": columns,
        "spec": {"width": round(width, 2), "height": round(height, 2), **body},
    }
    return finish(context, spec, title=title, fit=False)


def message_spec(context: Context, message: str) -> dict[str, Any]:
    """A titled visual showing ``message`` instead of marks ("No data")."""
    title = title_block(context)
    return finish(context, _message_body(message, context.theme), title=title)


def _message_body(message: str, theme: Theme) -> dict[str, Any]:
    return {
        "data": {"values": [{"message": message}]},
        "mark": {
            "type": "text",
            "x": {"expr": "width / 2"},
            "y": {"expr": "height / 2"},
            "align": "center",
            "baseline": "middle",
            "fontSize": px(theme.label.font_size + 2),
            "color": theme.secondary,
        },
        "encoding": {"text": {"field": "message", "type": "nominal"}},
    }


def empty_spec(
    visual: Mapping[str, Any], theme: Theme, width: float, height: float, message: str
) -> dict[str, Any]:
    """The spec of a visual with nothing to fetch (no field bound)."""
    props = Properties(visual.get("properties"))
    spec: dict[str, Any] = {"$schema": SCHEMA_URL}
    text = props.text("title.text") if props.flag("title.show", default=True) else None
    if text:
        spec["title"] = {"text": text}
    spec.update(_message_body(message, theme))
    spec.update(
        {
            "width": width,
            "height": height,
            "autosize": {"type": "fit", "contains": "padding"},
            "padding": PADDING,
            "background": theme.background,
            "config": vega_config(theme),
            "usermeta": {
                "loupe": {"visual_type": str(visual.get("visual_type")), "reduced": False}
            },
        }
    )
    return spec
