"""Visuals drawn as text in a grid (tables, matrices, cards, slicers): Vega-Lite has no table
mark, so the layout is worked out here and drawn with ``text``, ``rect`` and ``rule`` marks
on two linear scales that span the plot: ``[0, width]`` across and ``[0, height]`` downwards,
in pixels of the visual (the view is fitted to the visual, so a position is where it lands).

Text is formatted here too (``charts.formats.format_number``, which writes numbers as the
spec's Vega expressions would), so that the layout can measure it: a character of a font of
size ``s`` pixels is taken to be ``0.6 s`` wide (0.65 for bold), a line ``1.25 s`` high.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from charts.compiler.context import Column, Context
from charts.compiler.frame import PADDING, finish, title_block, title_height
from charts.formats import NumberFormat, format_number

CHAR: Final = 0.6
BOLD_CHAR: Final = 0.65
ELLIPSIS: Final = "\u2026"
MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Text:
    """A piece of text at (x, y): its anchor point, in pixels from the plot's top left."""

    x: float
    y: float
    text: str
    size: float
    align: str = "left"
    baseline: str = "middle"
    bold: bool = False
    color: str | None = None


@dataclass(frozen=True)
class Box:
    """A filled rectangle (a header band, a coloured cell, a checkbox)."""

    x0: float
    y0: float
    x1: float
    y1: float
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    color: str
    width: float = 1.0


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    return len(text) * size * (BOLD_CHAR if bold else CHAR)


def fit_text(text: str, width: float, size: float, *, bold: bool = False) -> str:
    """``text`` cut (with an ellipsis) to about ``width`` pixels."""
    if text_width(text, size, bold=bold) <= width:
        return text
    chars = int(width / (size * (BOLD_CHAR if bold else CHAR)))
    return text[: max(chars - 1, 0)] + ELLIPSIS if chars > 1 else ""


def cell_text(column: Column, value: Any, fmt: NumberFormat) -> str:
    """A value as a table shows it: numbers in ``fmt``, dates at their grain, blanks empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return format_number(value, fmt, integer=column.is_integer)
    if column.is_time and isinstance(value, str):
        return date_text(value, column.planned.grain if not column.is_measure else None)
    return str(value)


def date_text(value: str, grain: str | None) -> str:
    """``2009-08-01`` at a grain: ``2009``, ``2009 Q3``, ``Aug 2009``; a timestamp without its
    zone (``2009-08-01 09:30:00``)."""
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
    if grain == "year":
        return f"{day.year}"
    if grain == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    if grain == "month":
        return f"{MONTHS[day.month - 1]} {day.year}"
    if len(value) > 10 and grain is None:  # noqa: PLR2004 - a timestamp
        return value[:19].replace("T", " ")
    return value[:10]


class Canvas:
    """The plot area of a text visual: what is drawn on it, and the spec that draws it."""

    def __init__(self, width: float, height: float) -> None:
        self.width = max(width, 10.0)
        self.height = max(height, 10.0)
        self.texts: list[Text] = []
        self.boxes: list[Box] = []
        self.lines: list[Line] = []

    def x_channel(self, field: str) -> dict[str, Any]:
        return {
            "field": field,
            "type": "quantitative",
            "scale": {"domain": [0, self.width], "nice": False, "zero": False},
            "axis": None,
        }

    def y_channel(self, field: str) -> dict[str, Any]:
        return {
            "field": field,
            "type": "quantitative",
            "scale": {"domain": [0, self.height], "nice": False, "zero": False, "reverse": True},
            "axis": None,
        }

    def layers(self, default_color: str) -> list[dict[str, Any]]:
        """One layer for the boxes, one for the lines, one per kind of text (alignment,
        baseline and weight are mark properties in Vega-Lite, not channels)."""
        layers: list[dict[str, Any]] = []
        if self.boxes:
            layers.append(
                {
                    "data": {"values": [_box_row(b) for b in self.boxes]},
                    "mark": {"type": "rect"},
                    "encoding": {
                        "x": self.x_channel("x0"),
                        "x2": {"field": "x1"},
                        "y": self.y_channel("y0"),
                        "y2": {"field": "y1"},
                        "fill": {"field": "fill", "type": "nominal", "scale": None},
                        "stroke": {"field": "stroke", "type": "nominal", "scale": None},
                    },
                }
            )
        if self.lines:
            layers.append(
                {
                    "data": {"values": [_line_row(line) for line in self.lines]},
                    "mark": {"type": "rule"},
                    "encoding": {
                        "x": self.x_channel("x0"),
                        "x2": {"field": "x1"},
                        "y": self.y_channel("y0"),
                        "y2": {"field": "y1"},
                        "color": {"field": "color", "type": "nominal", "scale": None},
                        "strokeWidth": {"field": "width", "type": "quantitative", "scale": None},
                    },
                }
            )
        kinds: dict[tuple[str, str, bool], list[Text]] = {}
        for text in self.texts:
            kinds.setdefault((text.align, text.baseline, text.bold), []).append(text)
        for (align, baseline, bold), texts in kinds.items():
            mark: dict[str, Any] = {"type": "text", "align": align, "baseline": baseline}
            if bold:
                mark["fontWeight"] = "bold"
            layers.append(
                {
                    "data": {"values": [_text_row(t, default_color) for t in texts]},
                    "mark": mark,
                    "encoding": {
                        "x": self.x_channel("x"),
                        "y": self.y_channel("y"),
                        "text": {"field": "text", "type": "nominal"},
                        "size": {"field": "size", "type": "quantitative", "scale": None},
                        "color": {"field": "color", "type": "nominal", "scale": None},
                    },
                }
            )
        return layers


def _box_row(box: Box) -> dict[str, Any]:
    return {
        "x0": box.x0,
        "y0": box.y0,
        "x1": box.x1,
        "y1": box.y1,
        "fill": box.fill,
        "stroke": box.stroke or box.fill,
    }


def _line_row(line: Line) -> dict[str, Any]:
    return {
        "x0": line.x0,
        "y0": line.y0,
        "x1": line.x1,
        "y1": line.y1,
        "color": line.color,
        "width": line.width,
    }


def _text_row(text: Text, default_color: str) -> dict[str, Any]:
    return {
        "x": text.x,
        "y": text.y,
        "text": text.text,
        "size": text.size,
        "color": text.color or default_color,
    }


def plot_size(context: Context, title: dict[str, Any] | None) -> tuple[float, float]:
    """The plot's size under ``title``."""
    return (
        context.width - 2 * PADDING,
        context.height - 2 * PADDING - title_height(context, title),
    )


def grid_spec(context: Context, canvas: Canvas, title: dict[str, Any] | None) -> dict[str, Any]:
    """The spec drawing ``canvas``."""
    layers = canvas.layers(context.theme.foreground)
    if not layers:
        layers = [
            {
                "data": {"values": [{"x": 0, "y": 0}]},
                "mark": {"type": "point", "opacity": 0},
                "encoding": {"x": canvas.x_channel("x"), "y": canvas.y_channel("y")},
            }
        ]
    return finish(context, {"layer": layers}, title=title)


def titled(
    context: Context, notes: Sequence[str] = (), *, reduction_note: bool = True
) -> dict[str, Any] | None:
    return title_block(context, notes=list(notes), reduction_note=reduction_note)


def rows_note(context: Context, shown: int, count: int, unit: str = "rows") -> str | None:
    """ "Showing 15 of 200 rows" when the plot holds fewer rows than the answer (and the answer
    may itself be cut: "of more than 500")."""
    reduction = context.reduction
    if shown >= count and reduction is None:
        return None
    if reduction is not None and reduction.total is None:
        whole = f"more than {reduction.limit:,}"
    else:
        whole = (
            f"{count:,}"
            if reduction is None or reduction.total is None
            else (f"{reduction.total:,}")
        )
    if shown >= count and reduction is not None:
        return reduction.note()
    return f"Showing {shown:,} of {whole} {unit}"
