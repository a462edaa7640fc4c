"""The squarified treemap layout (d3's algorithm): rectangles tile the plot, each as large as
its share, grouped by category."""

from __future__ import annotations

import math
import re

import vl_convert as vlc
from hypothesis import given, settings
from hypothesis import strategies as st

from charts.compiler.squarify import Node, layout


def area(box: tuple[float, float, float, float]) -> float:
    x0, y0, x1, y1 = box
    return (x1 - x0) * (y1 - y0)


@given(
    st.lists(st.floats(min_value=0.5, max_value=1e6), min_size=1, max_size=60),
    st.floats(min_value=50, max_value=2000),
    st.floats(min_value=50, max_value=2000),
)
def test_leaves_tile_the_plot_in_proportion_to_their_values(
    values: list[float], width: float, height: float
) -> None:
    root = Node(children=[Node(value=v, leaf=i) for i, v in enumerate(values)])
    boxes = layout(root, width, height)
    assert len(boxes) == len(values)
    total = sum(values)
    for value, box in zip(values, boxes, strict=True):
        assert math.isclose(area(box), width * height * value / total, rel_tol=1e-6, abs_tol=1e-6)
        x0, y0, x1, y1 = box
        assert -1e-9 <= x0 <= x1 <= width + 1e-6
        assert -1e-9 <= y0 <= y1 <= height + 1e-6
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap_x = min(a[2], b[2]) - max(a[0], b[0])
            overlap_y = min(a[3], b[3]) - max(a[1], b[1])
            assert overlap_x <= 1e-6 or overlap_y <= 1e-6, "rectangles overlap"


def test_a_categorys_details_fill_its_rectangle() -> None:
    groups = [[5.0, 3.0], [8.0], [1.0, 1.0, 1.0]]
    root, index = Node(), 0
    for values in groups:
        group = Node()
        for value in values:
            group.children.append(Node(value=value, leaf=index))
            index += 1
        root.children.append(group)
    boxes = layout(root, 400, 300)
    for members in ([0, 1], [2], [3, 4, 5]):
        inside = [boxes[i] for i in members]
        outline = (
            min(b[0] for b in inside),
            min(b[1] for b in inside),
            max(b[2] for b in inside),
            max(b[3] for b in inside),
        )
        assert math.isclose(area(outline), sum(area(b) for b in inside), rel_tol=1e-9)


def test_the_largest_comes_first_at_the_top_left() -> None:
    root = Node(children=[Node(value=v, leaf=i) for i, v in enumerate([1.0, 10.0, 3.0])])
    boxes = layout(root, 300, 200)
    assert boxes[1][:2] == (0.0, 0.0)


# -- the same rectangles as d3 (Vega's treemap transform runs d3-hierarchy) --------------------


def d3_layout(groups: list[list[float]], width: float, height: float) -> list[tuple[float, ...]]:
    """The leaves' rectangles by Vega's ``treemap`` transform, read back from vl-convert."""
    values: list[dict[str, object]] = [{"id": "root"}]
    for g, members in enumerate(groups):
        values.append({"id": f"g{g}", "parent": "root"})
        values += [
            {"id": f"l{len(values)}-{g}-{i}", "parent": f"g{g}", "value": v}
            for i, v in enumerate(members)
        ]
    spec = {
        "$schema": "https://vega.github.io/schema/vega/v5.json",
        "width": width,
        "height": height,
        "data": [
            {
                "name": "tree",
                "values": values,
                "transform": [
                    {"type": "stratify", "key": "id", "parentKey": "parent"},
                    {
                        "type": "treemap",
                        "field": "value",
                        "sort": {"field": "value", "order": "descending"},
                        "method": "squarify",
                        "size": [width, height],
                    },
                    {"type": "filter", "expr": "datum.value && !datum.children"},
                ],
            }
        ],
        "marks": [
            {
                "type": "text",
                "from": {"data": "tree"},
                "encode": {
                    "enter": {
                        "text": {
                            "signal": "datum.id + '|' + datum.x0 + '|' + datum.y0 + '|' "
                            "+ datum.x1 + '|' + datum.y1"
                        }
                    }
                },
            }
        ],
    }
    svg = vlc.vega_to_svg(spec)
    found = {}
    for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg):
        key, *numbers = text.split("|")
        _, g, i = key.split("-")
        found[(int(g), int(i))] = tuple(float(n) for n in numbers)
    return [found[(g, i)] for g, members in enumerate(groups) for i in range(len(members))]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(1, 10_000).map(float), min_size=1, max_size=6),
        min_size=1,
        max_size=8,
    ),
    st.integers(100, 900),
    st.integers(100, 600),
)
def test_the_layout_is_d3s_to_the_last_bit(
    groups: list[list[float]], width: int, height: int
) -> None:
    root, index = Node(), 0
    for members in groups:
        group = Node()
        for value in members:
            group.children.append(Node(value=value, leaf=index))
            index += 1
        root.children.append(group)
    assert layout(root, float(width), float(height)) == d3_layout(groups, width, height)
