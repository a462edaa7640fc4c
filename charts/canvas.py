"""The report grid in pixels: where a visual's cells land on the page canvas.

A page is a canvas ``CANVAS_WIDTH`` = 1280 CSS pixels wide, the width of Power BI's default
16:9 page, split into ``COLUMNS`` = 24 columns of 53⅓ px. Rows have a fixed height of
``ROW_HEIGHT`` = 20 px, so a 16:9 page (1280 x 720) is 36 rows tall and the tallest visual
(``MAX_HEIGHT`` = 100 rows) is 2000 px. The designer (web/) draws the grid with the same
numbers, so a printout shows what the author saw.

A page is at least ``MIN_CANVAS_HEIGHT`` = 720 px tall, as in Power BI: a page holding one
small visual prints it at its on-screen proportion rather than blown up to fill the paper.
Pixel values are floats (columns are fractional); SVG takes them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, NamedTuple

import msgspec

from domain.report.layout import COLUMNS, clamp

CANVAS_WIDTH: Final = 1280
ROW_HEIGHT: Final = 20
COLUMN_WIDTH: Final = CANVAS_WIDTH / COLUMNS
MIN_CANVAS_HEIGHT: Final = 720


class GridLayout(msgspec.Struct, frozen=True, kw_only=True):
    """A visual's cell rectangle, as in the report document: ``{"x", "y", "w", "h"}``."""

    x: int
    y: int
    w: int
    h: int


class Box(NamedTuple):
    """A rectangle on the canvas in CSS pixels: ``(x, y, width, height)``."""

    x: float
    y: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.y + self.height


def visual_box(layout: GridLayout) -> Box:
    """Where a visual sits on the canvas, in pixels.

    An off-grid layout (which the document never holds, but an API client might send) is
    first clamped onto the grid the way the document clamps it.
    """
    x, y, w, h = clamp(layout.x, layout.y, layout.w, layout.h)
    return Box(x * COLUMN_WIDTH, y * ROW_HEIGHT, w * COLUMN_WIDTH, h * ROW_HEIGHT)


def canvas_size(layouts: Iterable[GridLayout]) -> tuple[float, float]:
    """The page canvas (width, height) in pixels: full width, tall enough for every visual."""
    bottom = max((visual_box(layout).bottom for layout in layouts), default=0.0)
    return float(CANVAS_WIDTH), max(float(MIN_CANVAS_HEIGHT), bottom)
