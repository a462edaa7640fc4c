"""Matrix: a pivot of the values by row fields and column fields, with subtotals.

Row fields are stepped (each level indented under its parent, as Power BI's default layout):
a group's row carries its subtotal, its children follow; a "Total" row closes the matrix.
Column fields make a column per combination of their values (labelled "A / B"), times the
values; a "Total" column group follows. Subtotals and totals come from the plan's totals
queries (``r<i>c<j>``: grouped by the first ``i`` row fields and the first ``j`` column
fields), so every aggregation and measure totals correctly; ``subtotals.rows`` and
``subtotals.columns`` (default on) turn them off. Rows and columns that do not fit the visual
are left out, and the subtitle says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from charts.compiler.colors import value_colors
from charts.compiler.context import Column, Context, Row
from charts.compiler.grid import (
    BOLD_CHAR,
    Box,
    Canvas,
    Line,
    Text,
    cell_text,
    fit_text,
    grid_spec,
    plot_size,
    titled,
)
from charts.formats import NumberFormat

ROW: Final = 1.9
PAD: Final = 6.0
INDENT: Final = 12.0
MIN_CHARS: Final = 6
MAX_CHARS: Final = 24
MAX_ROW_HEADER: Final = 40
TOTAL: Final = "Total"
GROUP_FILL: Final = "#F3F2F1"

Key = tuple[Any, ...]


@dataclass
class _Column:
    """A display column: a combination of column-field values (``None``: the total column)
    and a value."""

    key: Key | None
    value: Column
    header: str


@dataclass
class _Row:
    label: str
    level: int
    #: The row-field values (the prefix at ``level``); ``None``: the grand total.
    key: Key | None
    group: bool


@dataclass
class _Pivot:
    """The matrix laid out: its rows and columns, cell texts and column widths."""

    rows_fields: list[Column]
    columns: list[_Column]
    rows: list[_Row]
    texts: dict[tuple[int, int], str]
    widths: list[float]
    header_width: float
    header_lines: int
    size: float
    row_height: float


def compile_matrix(context: Context) -> dict[str, Any] | None:
    rows_fields = context.well("rows")
    cols_fields = context.well("columns")
    values = [c for c in context.well("values") if c.is_measure]
    if not values and not rows_fields:
        return None
    cells = _Cells(context, rows_fields, cols_fields)
    pivot = _pivot(context, cells, rows_fields, cols_fields, values)
    title, fit_rows, fit_cols = _fit(
        context,
        count=len(pivot.rows),
        widths=pivot.widths,
        header_width=pivot.header_width,
        header_height=pivot.row_height * pivot.header_lines,
        row_height=pivot.row_height,
    )
    width, height = plot_size(context, title)
    canvas = Canvas(width, height)
    lefts = [pivot.header_width + sum(pivot.widths[:i]) for i in range(fit_cols)]
    right = lefts[-1] + pivot.widths[fit_cols - 1] if fit_cols else pivot.header_width
    _draw_header(context, canvas, pivot, lefts, right)
    colors = _colors(context, pivot.rows[:fit_rows], pivot.columns[:fit_cols], cells)
    y = pivot.row_height * pivot.header_lines
    for r_index, row in enumerate(pivot.rows[:fit_rows]):
        _draw_row(context, canvas, pivot, (r_index, row), (y, lefts, right), colors=colors)
        y += pivot.row_height
    return grid_spec(context, canvas, title)


def _pivot(
    context: Context,
    cells: _Cells,
    rows_fields: list[Column],
    cols_fields: list[Column],
    values: list[Column],
) -> _Pivot:
    props = context.props
    columns = [
        _Column(key, v, _header(key, v, values)) for key in cells.column_keys() for v in values
    ]
    if cols_fields and values and props.flag("subtotals.columns", default=True) and cells.has(0, 0):
        columns += [_Column(None, v, _header(None, v, values)) for v in values]
    rows = _rows(rows_fields, cells, totals=props.flag("subtotals.rows", default=True))
    size = props.font_size("matrix.font_size", context.theme.label.font_size + 1)
    formats = {v.key: context.number_format(v, "values") for v in values}
    longest = max(
        [len(" / ".join(c.label for c in rows_fields)), *(len(r.label) + 2 * r.level for r in rows)]
    )
    header_width = (
        min(max(longest, MIN_CHARS), MAX_ROW_HEADER) * size * 0.6 + 2 * PAD if rows_fields else 0.0
    )
    texts = {
        (r_index, c_index): cell_text(col.value, cells.value(row, col), formats[col.value.key])
        for r_index, row in enumerate(rows)
        for c_index, col in enumerate(columns)
    }
    widths = []
    for c_index, col in enumerate(columns):
        chars = max(
            MIN_CHARS,
            *(len(part) for part in col.header.split("\n")),
            *(len(texts[(r, c_index)]) for r in range(len(rows))),
        )
        # Bold (subtotal) text is wider; one character to spare.
        widths.append((min(chars, MAX_CHARS) + 1) * size * BOLD_CHAR + 2 * PAD)
    return _Pivot(
        rows_fields=rows_fields,
        columns=columns,
        rows=rows,
        texts=texts,
        widths=widths,
        header_width=header_width,
        header_lines=2 if cols_fields and len(values) > 1 else 1,
        size=size,
        row_height=round(size * ROW, 2),
    )


def _draw_header(
    context: Context, canvas: Canvas, pivot: _Pivot, lefts: list[float], right: float
) -> None:
    size, row_height = pivot.size, pivot.row_height
    if pivot.rows_fields:
        corner = " / ".join(c.label for c in pivot.rows_fields)
        canvas.texts.append(
            Text(
                PAD,
                row_height * pivot.header_lines / 2,
                fit_text(corner, pivot.header_width - PAD, size, bold=True),
                size,
                bold=True,
            )
        )
    for index, left in enumerate(lefts):
        width = pivot.widths[index]
        for number, line in enumerate(pivot.columns[index].header.split("\n")):
            canvas.texts.append(
                Text(
                    left + width - PAD,
                    row_height * (number + 0.5),
                    fit_text(line, width - 2 * PAD, size, bold=True),
                    size,
                    align="right",
                    bold=True,
                )
            )
    bottom = row_height * pivot.header_lines
    canvas.lines.append(Line(0, bottom, right, bottom, context.theme.table_accent, 2))


def _draw_row(
    context: Context,
    canvas: Canvas,
    pivot: _Pivot,
    row: tuple[int, _Row],
    place: tuple[float, list[float], float],
    *,
    colors: dict[tuple[int, int], str],
) -> None:
    (r_index, shown), (y, lefts, right) = row, place
    size, height = pivot.size, pivot.row_height
    if shown.key is None:
        canvas.lines.append(Line(0, y, right, y, context.theme.foreground))
    elif shown.group:
        canvas.boxes.append(Box(0, y, right, y + height, GROUP_FILL))
    bold = shown.key is None or shown.group
    if pivot.rows_fields:
        indent = PAD + INDENT * shown.level
        label = fit_text(shown.label, pivot.header_width - indent, size, bold=bold)
        canvas.texts.append(Text(indent, y + height / 2, label, size, bold=bold))
    for c_index, left in enumerate(lefts):
        width = pivot.widths[c_index]
        color = colors.get((r_index, c_index))
        if color is not None:
            canvas.boxes.append(Box(left, y, left + width, y + height, color))
        text = fit_text(pivot.texts[(r_index, c_index)], width - 2 * PAD, size, bold=bold)
        canvas.texts.append(
            Text(left + width - PAD, y + height / 2, text, size, align="right", bold=bold)
        )


def _header(key: Key | None, value: Column, values: Sequence[Column]) -> str:
    if key is None:
        top = TOTAL
    elif key:
        top = " / ".join(str(v) for v in key)
    else:
        return value.label
    return f"{top}\n{value.label}" if len(values) > 1 else top


class _Cells:
    """The answers by grouping level: values at (row prefix, column prefix)."""

    def __init__(self, context: Context, rows: list[Column], cols: list[Column]) -> None:
        self.rows, self.cols = rows, cols
        self.levels: dict[tuple[int, int], dict[tuple[Key, Key], Row]] = {}
        self.order: dict[tuple[int, int], list[Row]] = {}
        self._add(len(rows), len(cols), context.rows)
        for query in context.plan.totals:
            if query.name.startswith("r"):
                answer = context.totals_answer(query.name)
                if answer is not None:
                    self._add(query.rows, query.columns_grouped, answer[1])
        self.leaf = (len(rows), len(cols))

    def _add(self, i: int, j: int, rows: list[Row]) -> None:
        self.order[(i, j)] = rows
        self.levels[(i, j)] = {
            (
                tuple(row.get(c.key) for c in self.rows[:i]),
                tuple(row.get(c.key) for c in self.cols[:j]),
            ): row
            for row in rows
        }

    def has(self, i: int, j: int) -> bool:
        return (i, j) in self.levels

    def column_keys(self) -> list[Key]:
        """Combinations of column values, in the column answer's order when there is one."""
        source = self.order.get((0, len(self.cols))) or self.order[self.leaf]
        keys: dict[Key, None] = {}
        for row in source:
            keys.setdefault(tuple(row.get(c.key) for c in self.cols), None)
        return list(keys)

    def value(self, row: _Row, col: _Column) -> Any:
        i = 0 if row.key is None else len(row.key)
        j = 0 if col.key is None else len(self.cols)
        found = self.levels.get((i, j), {}).get((row.key or (), col.key or ()))
        return None if found is None else found.get(col.value.key)


def _rows(fields: list[Column], cells: _Cells, *, totals: bool) -> list[_Row]:
    """The stepped rows: each group (with its subtotal when ``totals``), then its children;
    the grand total last."""
    if not fields:
        return [_Row(label="", level=0, key=(), group=False)]
    keys = _row_keys(cells.order[cells.leaf], fields)
    result: list[_Row] = []
    depth = len(fields)

    def emit(prefix: Key, level: int) -> None:
        children: dict[Any, None] = {}
        for key in keys:
            if key[:level] == prefix:
                children.setdefault(key[level], None)
        for child in children:
            key = (*prefix, child)
            label = cell_text(fields[level], child, NumberFormat(thousands=False))
            leaf = level + 1 == depth
            if leaf or totals:
                result.append(_Row(label=label, level=level, key=key, group=not leaf))
            if not leaf:
                emit(key, level + 1)

    emit((), 0)
    if totals and (cells.has(0, len(cells.cols)) or cells.has(0, 0)):
        result.append(_Row(label=TOTAL, level=0, key=None, group=False))
    return result


def _row_keys(rows: list[Row], fields: list[Column]) -> list[Key]:
    """The combinations of row-field values, in the answer's order."""
    keys: dict[Key, None] = {}
    for row in rows:
        keys.setdefault(tuple(row.get(c.key) for c in fields), None)
    return list(keys)


def _fit(
    context: Context,
    *,
    count: int,
    widths: list[float],
    header_width: float,
    header_height: float,
    row_height: float,
) -> tuple[dict[str, Any] | None, int, int]:
    notes: list[str] = []
    title = titled(context)
    for _ in range(2):
        width, height = plot_size(context, title)
        rows = max(0, min(count, int((height - header_height) // row_height)))
        cols = 0
        used = header_width
        for w in widths:
            if used + w > width + 0.01:
                break
            used += w
            cols += 1
        notes = []
        if rows < count:
            notes.append(f"Showing {rows:,} of {count:,} rows")
        if cols < len(widths):
            notes.append(f"Showing {cols:,} of {len(widths):,} columns")
        title = titled(context, notes)
    return title, rows, cols


def _colors(
    context: Context, rows: list[_Row], cols: list[_Column], cells: _Cells
) -> dict[tuple[int, int], str]:
    """``conditional_colors`` on the first value's leaf cells."""
    spec = context.props.mapping("conditional_colors")
    if not spec or not cols:
        return {}
    first = cols[0].value
    targets = [
        (r, c)
        for r, row in enumerate(rows)
        if row.key is not None and not row.group
        for c, col in enumerate(cols)
        if col.value.key == first.key and col.key is not None
    ]
    values = [cells.value(rows[r], cols[c]) for r, c in targets]
    colors = value_colors(context, values, spec)
    return {t: color for t, color in zip(targets, colors, strict=True) if color is not None}
