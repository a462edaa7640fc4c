"""Cards and KPIs: big numbers drawn as text (Vega-Lite has no card).

- ``card``: the value in the callout size, shrunk to fit, over its label
  (``category_label.show``); numbers default to automatic display units ("1.23M"), as Power
  BI's cards do. ``callout.font_size`` (points), ``callout.color``, ``callout.format``.
- ``multi_row_card``: a card per row of the answer, stacked; its text fields make the card's
  heading, its numbers sit side by side with their labels under them; an accent bar on the
  left (the theme's ``tableAccent``).
- ``kpi``: the latest value (by the trend axis) in the good or bad colour as it meets its
  target or not (``kpi.direction``: ``high_is_good`` (default) or ``low_is_good``), the goal and
  the distance to it under it, and the trend as a faint area behind.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.assemble import message_spec
from charts.compiler.context import Column, Context
from charts.compiler.encoding import category_channel
from charts.compiler.frame import finish
from charts.compiler.grid import (
    Box,
    Canvas,
    Text,
    cell_text,
    fit_text,
    grid_spec,
    plot_size,
    rows_note,
    titled,
)
from charts.formats import NumberFormat, format_number
from charts.properties import is_number, px

AUTO: Final = NumberFormat(display_units="auto")
BLANK: Final = "(Blank)"
CARD_GAP: Final = 10.0
ACCENT: Final = 3.0


def value_text(context: Context, column: Column, value: Any, element: str) -> str:
    fmt = context.number_format(column, element, base=AUTO)
    return cell_text(column, value, fmt) or BLANK


def _callout_size(context: Context, text: str, width: float, height: float) -> float:
    size = context.props.font_size("callout.font_size", context.theme.callout.font_size)
    by_width = width * 0.9 / max(len(text) * 0.6, 1)
    return round(max(min(size, height * 0.8, by_width), 6.0), 2)


def compile_card(context: Context) -> dict[str, Any]:
    value = context.column("values")
    if value is None:
        return message_spec(context, "Add a field to show")
    row = context.rows[0] if context.rows else {}
    text = value_text(context, value, row.get(value.key), "callout")
    title = titled(context)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    props = context.props
    label = props.flag("category_label.show", default=True)
    label_size = props.font_size("category_label.font_size", context.theme.label.font_size + 3)
    label_height = label_size * 1.6 if label else 0.0
    size = _callout_size(context, text, width, height - label_height)
    middle = (height - label_height) / 2 + (label_height / 4 if label else 0)
    color = props.color("callout.color", context.theme.callout.color)
    canvas.texts.append(Text(width / 2, middle, text, size, align="center", color=color))
    if label:
        canvas.texts.append(
            Text(
                width / 2,
                middle + size * 0.55 + label_size * 0.8,
                fit_text(value.label, width, label_size),
                label_size,
                align="center",
                color=context.theme.secondary,
            )
        )
    return grid_spec(context, canvas, title)


def compile_multi_row_card(context: Context) -> dict[str, Any]:
    columns = context.well("values")
    if not columns:
        return message_spec(context, "Add fields to show")
    if not context.rows:
        return message_spec(context, "No data")
    heads = [c for c in columns if not c.is_measure]
    values = [c for c in columns if c.is_measure] or heads
    if values is heads:
        heads = []
    theme = context.theme
    value_size = px(14)
    label_size = px(theme.label.font_size)
    head_size = px(theme.header.font_size)
    card_height = (head_size * 1.5 if heads else 0) + value_size * 1.4 + label_size * 1.4 + CARD_GAP
    count = len(context.rows)
    title = titled(context, reduction_note=False)
    fits = int((plot_size(context, title)[1] + CARD_GAP) // card_height)
    note = rows_note(context, min(fits, count), count, "cards")
    if note is not None:
        title = titled(context, [note], reduction_note=False)
        fits = int((plot_size(context, title)[1] + CARD_GAP) // card_height)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    slot = (width - ACCENT - 8) / len(values)
    y = 0.0
    for row in context.rows[: max(fits, 0)]:
        top = y
        canvas.boxes.append(Box(0, top, ACCENT, top + card_height - CARD_GAP, theme.table_accent))
        if heads:
            heading = " \u00b7 ".join(
                value_text(context, c, row.get(c.key), "values") for c in heads
            )
            canvas.texts.append(
                Text(
                    ACCENT + 8,
                    y + head_size * 0.75,
                    fit_text(heading, width - 16, head_size, bold=True),
                    head_size,
                    bold=True,
                )
            )
            y += head_size * 1.5
        for index, column in enumerate(values):
            left = ACCENT + 8 + index * slot
            text = value_text(context, column, row.get(column.key), "values")
            canvas.texts.append(
                Text(left, y + value_size * 0.7, fit_text(text, slot - 8, value_size), value_size)
            )
            canvas.texts.append(
                Text(
                    left,
                    y + value_size * 1.4 + label_size * 0.6,
                    fit_text(column.label, slot - 8, label_size),
                    label_size,
                    color=theme.secondary,
                )
            )
        y = top + card_height
    return grid_spec(context, canvas, title)


def compile_kpi(context: Context) -> dict[str, Any]:
    value = context.column("values")
    if value is None:
        return message_spec(context, "Add a value to show")
    if not context.rows:
        return message_spec(context, "No data")
    target = context.column("target")
    trend = context.column("x")
    latest = context.rows[0]
    current = latest.get(value.key)
    goal = latest.get(target.key) if target is not None else None
    theme = context.theme
    color = theme.foreground
    status = None
    if is_number(current) and is_number(goal):
        high = context.props.choice(
            "kpi.direction", ("high_is_good", "low_is_good"), "high_is_good"
        )
        now, wanted = float(current), float(goal)
        met = now >= wanted if high == "high_is_good" else now <= wanted
        color = theme.good if met else theme.bad
        status = "good" if met else "bad"
    title = titled(context)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    text = value_text(context, value, current, "callout")
    size = _callout_size(context, text, width, height * 0.45)
    middle = height * 0.4
    canvas.texts.append(Text(width / 2, middle, text, size, align="center", color=color))
    if target is not None and is_number(goal):
        goal_text = value_text(context, target, goal, "callout")
        line = f"Goal: {goal_text}"
        if is_number(current) and goal:
            distance = (current - goal) / abs(goal)
            shown = format_number(distance, NumberFormat(style="percent", decimals=1))
            line += f" ({'+' if distance > 0 else ''}{shown})"
        small = px(theme.label.font_size + 1)
        canvas.texts.append(
            Text(
                width / 2,
                middle + size * 0.6 + small,
                fit_text(line, width, small),
                small,
                align="center",
                color=theme.secondary,
            )
        )
    layers = canvas.layers(theme.foreground)
    resolve = None
    if trend is not None and len(context.rows) > 1:
        layers.insert(0, _trend(context, trend, value, color))
        resolve = {"scale": {"x": "independent", "y": "independent"}}
    body: dict[str, Any] = {"layer": layers}
    if resolve:
        body["resolve"] = resolve
    spec = finish(context, body, title=title)
    spec["usermeta"]["loupe"]["status"] = status
    return spec


def _trend(context: Context, trend: Column, value: Column, color: str) -> dict[str, Any]:
    x = category_channel(
        context, trend, axis="x_axis", discrete=not (trend.is_time or trend.is_number)
    )
    x["axis"] = None
    x["title"] = None
    return {
        "data": {"values": context.rows},
        "mark": {"type": "area", "color": color, "opacity": 0.18, "line": {"opacity": 0.5}},
        "encoding": {
            "x": x,
            "y": {
                "field": value.key,
                "type": "quantitative",
                "axis": None,
                "title": None,
                "scale": {"zero": False},
            },
        },
    }
