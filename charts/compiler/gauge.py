"""Gauge: a half ring from ``gauge.min`` (default 0) to ``gauge.max`` (default twice the
larger of the value and the target, as Power BI does), filled up to the value, with a tick at
the target; the value is written inside, the minimum and maximum under the ends. Drawn with
``arc`` marks on a ``theta`` scale mapping [min, max] to [-π/2, π/2].
"""

from __future__ import annotations

import math
from typing import Any, Final

from charts.compiler.assemble import message_spec
from charts.compiler.cards import value_text
from charts.compiler.context import Context
from charts.compiler.frame import finish
from charts.compiler.grid import Canvas, Text, fit_text, plot_size, titled
from charts.properties import px

#: The ring's thickness, as a fraction of its outer radius.
RING: Final = 0.35
#: Room under the ring's ends for the min and max labels, in pixels.
BELOW: Final = 24.0


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def compile_gauge(context: Context) -> dict[str, Any]:
    value = context.column("values")
    if value is None:
        return message_spec(context, "Add a value to show")
    target = context.column("target")
    row = context.rows[0] if context.rows else {}
    current = _number(row.get(value.key))
    goal = _number(row.get(target.key)) if target is not None else None
    props = context.props
    low = props.number("gauge.min", 0.0) or 0.0
    biggest = max([v for v in (current, goal) if v is not None], default=0.0)
    high = props.number("gauge.max")
    if high is None:
        high = 2 * biggest if biggest > low else low + 1
    if high <= low:
        props.note_ignored("gauge.max")
        high = low + 1
    title = titled(context)
    width, height = plot_size(context, title)
    outer = max(min(width / 2 - 8, height - BELOW - 8), 10.0)
    centre_x, centre_y = width / 2, 8 + outer
    theme = context.theme
    filled = min(max(current, low), high) if current is not None else low
    data = [
        {"from": low, "to": high, "color": theme.gridlines},
        {"from": low, "to": filled, "color": props.color("colors.default") or theme.color(0)},
    ]
    if goal is not None and low <= goal <= high:
        tick = (high - low) * 0.006
        data.append({"from": goal - tick, "to": goal + tick, "color": theme.foreground})
    scale = {"domain": [low, high], "range": [-math.pi / 2, math.pi / 2]}
    arc = {
        "data": {"values": data},
        "mark": {
            "type": "arc",
            "x": centre_x,
            "y": centre_y,
            "outerRadius": outer,
            "innerRadius": outer * (1 - RING),
        },
        "encoding": {
            "theta": {"field": "from", "type": "quantitative", "scale": scale},
            "theta2": {"field": "to"},
            "color": {"field": "color", "type": "nominal", "scale": None},
            "order": {"field": "from", "type": "quantitative", "sort": "ascending"},
        },
    }
    canvas = Canvas(width, height)
    text = value_text(context, value, row.get(value.key), "callout")
    size = max(
        min(
            px(theme.callout.font_size),
            outer * (1 - RING) * 0.8,
            outer * 1.6 / max(len(text) * 0.6, 1),
        ),
        6.0,
    )
    canvas.texts.append(
        Text(
            centre_x,
            centre_y - 2,
            text,
            round(size, 2),
            align="center",
            baseline="bottom",
            color=theme.callout.color,
        )
    )
    small = px(theme.label.font_size)
    ends = [(centre_x - outer * (1 - RING / 2), low), (centre_x + outer * (1 - RING / 2), high)]
    for x, end in ends:
        label = value_text(context, value, end, "callout")
        canvas.texts.append(
            Text(
                x,
                centre_y + small,
                fit_text(label, outer, small),
                small,
                align="center",
                color=theme.secondary,
            )
        )
    if target is not None and goal is not None:
        line = f"Target: {value_text(context, target, goal, 'callout')}"
        canvas.texts.append(
            Text(
                centre_x,
                centre_y + small * 2.4,
                fit_text(line, width, small),
                small,
                align="center",
                color=theme.secondary,
            )
        )
    body = {"layer": [arc, *canvas.layers(theme.foreground)]}
    return finish(context, body, title=title)
