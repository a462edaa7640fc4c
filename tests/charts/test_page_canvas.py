"""The report grid in pixels: visual boxes and the page canvas."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charts.canvas import (
    CANVAS_WIDTH,
    COLUMN_WIDTH,
    MIN_CANVAS_HEIGHT,
    ROW_HEIGHT,
    Box,
    GridLayout,
    canvas_size,
    visual_box,
)
from domain.report.layout import COLUMNS, MAX_HEIGHT, ROWS


@st.composite
def layouts(draw) -> GridLayout:
    w = draw(st.integers(1, COLUMNS))
    h = draw(st.integers(1, MAX_HEIGHT))
    return GridLayout(
        x=draw(st.integers(0, COLUMNS - w)), y=draw(st.integers(0, ROWS - h)), w=w, h=h
    )


def test_a_column_is_a_twenty_fourth_of_the_1280_pixel_canvas():
    assert pytest.approx(1280 / 24) == COLUMN_WIDTH
    assert ROW_HEIGHT == 20


def test_a_full_width_visual_spans_the_canvas():
    assert visual_box(GridLayout(x=0, y=0, w=24, h=36)) == (0, 0, 1280, 720)


def test_a_visual_box_is_a_tuple_of_pixels():
    x, y, width, height = visual_box(GridLayout(x=6, y=2, w=12, h=10))
    assert (x, y, width, height) == pytest.approx((320, 40, 640, 200))


@given(layouts())
def test_every_visual_on_the_grid_lies_on_the_canvas(layout):
    box = visual_box(layout)
    assert box.x >= 0
    assert box.x + box.width <= CANVAS_WIDTH + 1e-9
    assert box.width == pytest.approx(layout.w * COLUMN_WIDTH)
    assert box.height == layout.h * ROW_HEIGHT
    assert canvas_size([layout])[1] >= box.bottom


@given(st.integers(1, COLUMNS - 1), st.integers(0, ROWS - MAX_HEIGHT))
def test_side_by_side_visuals_touch_without_overlap(split, y):
    left = visual_box(GridLayout(x=0, y=y, w=split, h=5))
    right = visual_box(GridLayout(x=split, y=y, w=COLUMNS - split, h=5))
    assert left.x + left.width == pytest.approx(right.x)
    assert right.x + right.width == pytest.approx(CANVAS_WIDTH)


def test_an_off_grid_layout_is_clamped_onto_the_grid_like_the_document_does():
    assert visual_box(GridLayout(x=20, y=-3, w=10, h=500)) == visual_box(
        GridLayout(x=14, y=0, w=10, h=MAX_HEIGHT)
    )


def test_a_page_is_at_least_sixteen_by_nine():
    assert canvas_size([]) == (1280, MIN_CANVAS_HEIGHT)
    assert canvas_size([GridLayout(x=0, y=0, w=4, h=4)]) == (1280, 720)


def test_a_page_grows_to_hold_its_lowest_visual():
    assert canvas_size([GridLayout(x=0, y=50, w=4, h=10)]) == (1280, 60 * ROW_HEIGHT)


def test_box_names_its_sides():
    box = Box(1, 2, 3, 4)
    assert (box.x, box.y, box.width, box.height, box.bottom) == (1, 2, 3, 4, 6)
