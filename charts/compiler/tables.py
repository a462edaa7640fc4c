"""Table: a header, the rows that fit the visual, and a total row (``totals.show``, default
on; its values come from the plan's ``total`` query, so averages and measures total
correctly). Text columns are left-aligned, numbers right-aligned; column widths follow their
longest text (4 to 40 characters). ``table.font_size`` (points), ``table.stripes`` (banded
rows), ``table.gridlines`` (lines between rows, default on), ``conditional_colors`` (the
first value column's cell backgrounds).
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.colors import cell_colors
from charts.compiler.context import Column, Context
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

ROW: Final = 1.9
CELL_PAD: Final = 6.0
MIN_CHARS: Final = 4
MAX_CHARS: Final = 40
STRIPE: Final = "#F3F2F1"


def compile_table(context: Context) -> dict[str, Any] | None:
    columns = context.well("values")
    if not columns:
        return None
    props = context.props
    size = props.font_size("table.font_size", context.theme.label.font_size + 1)
    formats = [context.number_format(c, "values") for c in columns]
    texts = [
        [cell_text(c, row.get(c.key), f) for c, f in zip(columns, formats, strict=True)]
        for row in context.rows
    ]
    total = _total_texts(context, columns, formats)
    row_height = round(size * ROW, 2)
    # The title may grow by a note line once we know the rows do not all fit.
    shown, title = _fit_rows(context, len(texts), row_height, has_total=total is not None)
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    lefts, widths = _columns(columns, texts, width)
    accent = context.theme.table_accent
    y = 0.0
    for index, column in enumerate(columns):
        canvas.texts.append(
            _cell(
                (lefts[index], widths[index], y, row_height), column.label, size, column, bold=True
            )
        )
    y += row_height
    canvas.lines.append(Line(0, y, width, y, accent, 2))
    backgrounds = cell_colors(context, columns, context.rows[:shown])
    for number, line in enumerate(texts[:shown]):
        if props.flag("table.stripes", default=False) and number % 2 == 1:
            canvas.boxes.append(Box(0, y, width, y + row_height, STRIPE))
        for index, column in enumerate(columns):
            color = backgrounds.get((number, index))
            if color is not None:
                canvas.boxes.append(
                    Box(lefts[index], y, lefts[index] + widths[index], y + row_height, color)
                )
            canvas.texts.append(
                _cell((lefts[index], widths[index], y, row_height), line[index], size, column)
            )
        y += row_height
        if props.flag("table.gridlines", default=True):
            canvas.lines.append(Line(0, y, width, y, context.theme.gridlines))
    if total is not None:
        canvas.lines.append(Line(0, y, width, y, context.theme.foreground))
        for index, column in enumerate(columns):
            canvas.texts.append(
                _cell(
                    (lefts[index], widths[index], y, row_height),
                    total[index],
                    size,
                    column,
                    bold=True,
                )
            )
    return grid_spec(context, canvas, title)


def _fit_rows(
    context: Context, count: int, row_height: float, *, has_total: bool
) -> tuple[int, dict[str, Any] | None]:
    title = titled(context, reduction_note=False)
    fixed = row_height * (2 if has_total else 1)
    shown = max(0, int((plot_size(context, title)[1] - fixed) // row_height))
    note = rows_note(context, min(shown, count), count)
    if note is not None:
        title = titled(context, [note], reduction_note=False)
        shown = max(0, int((plot_size(context, title)[1] - fixed) // row_height))
        note = rows_note(context, min(shown, count), count)
        title = titled(context, [note] if note else [], reduction_note=False)
    return min(shown, count), title


def _total_texts(context: Context, columns: list[Column], formats: list[Any]) -> list[str] | None:
    answer = context.totals_answer("total")
    if answer is None or not answer[1]:
        return None
    values = answer[1][0]
    texts = [
        cell_text(c, values.get(c.key), f) if c.is_measure else ""
        for c, f in zip(columns, formats, strict=True)
    ]
    if not columns[0].is_measure:
        texts[0] = "Total"
    return texts


def _columns(
    columns: list[Column], texts: list[list[str]], width: float
) -> tuple[list[float], list[float]]:
    """Each column's left edge and width: shares of the plot by their longest text."""
    weights = []
    for index, column in enumerate(columns):
        longest = max([len(column.label), *(len(line[index]) for line in texts)])
        weights.append(min(max(longest, MIN_CHARS), MAX_CHARS))
    total = sum(weights)
    widths = [width * w / total for w in weights]
    lefts = [sum(widths[:i]) for i in range(len(widths))]
    return lefts, widths


def _cell(
    box: tuple[float, float, float, float],
    text: str,
    size: float,
    column: Column,
    *,
    bold: bool = False,
) -> Text:
    """A cell's text in the box (left, width, top, height)."""
    left, width, top, height = box
    right = column.is_number
    fitted = fit_text(text, width - 2 * CELL_PAD, size, bold=bold)
    x = left + width - CELL_PAD if right else left + CELL_PAD
    return Text(
        x=x,
        y=top + height / 2,
        text=fitted,
        size=size,
        align="right" if right else "left",
        bold=bold,
    )
