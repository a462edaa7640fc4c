"""Where a visual sits on its page: a cell rectangle on a 24-column grid.

``x`` (column, 0..23) and ``w`` (columns, 1..24) with ``x + w <= 24``, as in the 24-column grids
of react-grid-layout and Power BI's snap grid. ``y`` (row, from 0) and ``h`` (rows, 1..100)
with ``y + h <= 1000``: rows have a fixed height chosen by the client, and 1000 rows is far
more than any page needs, so the bound only stops runaway values.

``x``/``y`` (moves) and ``w``/``h`` (resizes) are separate registers, so a concurrent move and
resize both survive; their combination can overflow the grid, so the document clamps: the
size wins and the visual is pushed left/up until it fits.
"""

from __future__ import annotations

from domain.errors import InvalidCommand

COLUMNS = 24
ROWS = 1000
MAX_HEIGHT = 100


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidCommand(
            f"{name} must be between {low} and {high}, got {value!r}", code="invalid_layout"
        )


def check_position(x: int, y: int, w: int, h: int) -> None:
    """Raise ``InvalidCommand`` unless the rectangle lies on the grid."""
    _check_int("w", w, 1, COLUMNS)
    _check_int("h", h, 1, MAX_HEIGHT)
    _check_int("x", x, 0, COLUMNS - 1)
    _check_int("y", y, 0, ROWS - 1)
    if x + w > COLUMNS:
        raise InvalidCommand(
            f"x + w must be at most {COLUMNS}, got {x} + {w} = {x + w}", code="invalid_layout"
        )
    if y + h > ROWS:
        raise InvalidCommand(
            f"y + h must be at most {ROWS}, got {y} + {h} = {y + h}", code="invalid_layout"
        )


def clamp(x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """The rectangle moved (and, if need be, shrunk) onto the grid."""
    w = min(max(w, 1), COLUMNS)
    h = min(max(h, 1), MAX_HEIGHT)
    x = min(max(x, 0), COLUMNS - w)
    y = min(max(y, 0), ROWS - h)
    return x, y, w, h
