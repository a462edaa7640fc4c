"""Slicer, as it shows in a static picture: a list of the field's values with a checkbox each
(ticked for the values its filter keeps; none ticked means no filter), or for a number or
date field (``slicer.style`` ``between``) the range of the field's values with the selected
range shown on a slider. The slicer's selection is its own field's filters (the plan's
``selection``), which its query leaves out so that every value stays listed.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.assemble import message_spec
from charts.compiler.context import Column, Context, prepare_value
from charts.compiler.grid import (
    Box,
    Canvas,
    Line,
    Text,
    cell_text,
    fit_text,
    grid_spec,
    plot_size,
    rows_note,
    titled,
)
from charts.formats import NumberFormat

ROW: Final = 1.9
BOX: Final = 12.0
PAD: Final = 4.0


def compile_slicer(context: Context) -> dict[str, Any]:
    minimum, maximum = context.column("min"), context.column("max")
    if minimum is not None and maximum is not None:
        return _between(context, minimum, maximum)
    field = context.column("values")
    if field is None:
        return message_spec(context, "Add a field to slice by")
    return _list(context, field)


def _checked(context: Context, field: Column) -> tuple[set[Any], bool]:
    """The values ticked, and whether the set lists the values left out instead."""
    for selection in context.plan.selection:
        values = selection.get("values")
        if selection.get("op") in ("in", "not_in") and isinstance(values, list):
            prepared = {prepare_value(field, v) for v in values}
            return prepared, selection.get("op") == "not_in"
    return set(), False


def _list(context: Context, field: Column) -> dict[str, Any]:
    theme = context.theme
    size = context.props.font_size("slicer.font_size", theme.label.font_size + 1)
    row_height = round(size * ROW, 2)
    fmt = NumberFormat(thousands=False)
    values = [row.get(field.key) for row in context.rows]
    count = len(values)
    title = titled(context, reduction_note=False)
    fits = int(plot_size(context, title)[1] // row_height)
    note = rows_note(context, min(fits, count), count, "values")
    if note is not None:
        title = titled(context, [note], reduction_note=False)
        fits = int(plot_size(context, title)[1] // row_height)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    chosen, inverted = _checked(context, field)
    y = 0.0
    for value in values[: max(fits, 0)]:
        ticked = bool(chosen) and ((value in chosen) != inverted)
        middle = y + row_height / 2
        fill = theme.foreground if ticked else theme.background
        canvas.boxes.append(
            Box(PAD, middle - BOX / 2, PAD + BOX, middle + BOX / 2, fill, theme.secondary)
        )
        text = cell_text(field, value, fmt) or "(Blank)"
        canvas.texts.append(
            Text(PAD + BOX + 8, middle, fit_text(text, width - BOX - 16, size), size)
        )
        y += row_height
    return grid_spec(context, canvas, title)


def _between(context: Context, minimum: Column, maximum: Column) -> dict[str, Any]:
    theme = context.theme
    row = context.rows[0] if context.rows else {}
    low, high = row.get(minimum.key), row.get(maximum.key)
    chosen_low, chosen_high = low, high
    for selection in context.plan.selection:
        if selection.get("op") == "range":
            chosen_low = selection.get("min", low) if selection.get("min") is not None else low
            chosen_high = selection.get("max", high) if selection.get("max") is not None else high
    fmt = context.number_format(minimum, "values")
    size = context.props.font_size("slicer.font_size", theme.label.font_size + 1)
    title = titled(context)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    box_height = size * 2
    half = (width - 3 * PAD) / 2
    for index, value in enumerate((chosen_low, chosen_high)):
        left = PAD + index * (half + PAD)
        canvas.boxes.append(
            Box(left, PAD, left + half, PAD + box_height, theme.background, theme.secondary)
        )
        text = cell_text(minimum, value, fmt) or "(Blank)"
        canvas.texts.append(
            Text(left + 6, PAD + box_height / 2, fit_text(text, half - 12, size), size)
        )
    track = PAD + box_height + 18
    canvas.lines.append(Line(PAD + 6, track, width - PAD - 6, track, theme.gridlines, 4))
    start, end = _position(low, high, chosen_low), _position(low, high, chosen_high)
    span = width - 2 * PAD - 12
    left, right = PAD + 6 + span * start, PAD + 6 + span * end
    canvas.lines.append(Line(left, track, right, track, theme.foreground, 4))
    for x in (left, right):
        canvas.boxes.append(
            Box(x - 6, track - 6, x + 6, track + 6, theme.background, theme.foreground)
        )
    return grid_spec(context, canvas, title)


def _position(low: Any, high: Any, value: Any) -> float:
    """Where ``value`` sits between ``low`` and ``high`` (0 to 1); dates compare as text."""
    try:
        if isinstance(low, str) or isinstance(value, str):
            from datetime import date  # noqa: PLC0415 - only date slicers need it

            low_d, high_d = date.fromisoformat(str(low)[:10]), date.fromisoformat(str(high)[:10])
            value_d = date.fromisoformat(str(value)[:10])
            days = (high_d - low_d).days
            return 0.0 if days <= 0 else min(max((value_d - low_d).days / days, 0.0), 1.0)
        whole = float(high) - float(low)
        return 0.0 if whole <= 0 else min(max((float(value) - float(low)) / whole, 0.0), 1.0)
    except (TypeError, ValueError):
        return 0.0
