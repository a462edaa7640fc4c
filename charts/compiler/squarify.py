"""The squarified treemap layout of d3-hierarchy (``treemapSquarify``, golden ratio, no padding,
no rounding), so that the web app can use d3 itself and land on the same rectangles.

A node is ``(value, children)``; the layout returns each leaf's ``(x0, y0, x1, y1)`` in input
order of the leaves. Values are summed bottom-up (from the last child, as d3 does: the float
sums then agree to the last bit), children are sorted by value,
largest first (a stable sort), as ``hierarchy.sum(...).sort((a, b) => b.value - a.value)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

PHI: Final = (1 + math.sqrt(5)) / 2


@dataclass
class Node:
    value: float = 0.0
    children: list[Node] = field(default_factory=list)
    #: Position of a leaf among the input leaves.
    leaf: int = -1
    x0: float = 0.0
    y0: float = 0.0
    x1: float = 0.0
    y1: float = 0.0


def layout(root: Node, width: float, height: float) -> list[tuple[float, float, float, float]]:
    """Place ``root``'s leaves in ``width`` by ``height``."""
    _sum_and_sort(root)
    root.x0, root.y0, root.x1, root.y1 = 0.0, 0.0, width, height
    leaves: dict[int, Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.children:
            _squarify(node, node.x0, node.y0, node.x1, node.y1)
            stack.extend(reversed(node.children))
        elif node.leaf >= 0:
            leaves[node.leaf] = node
    return [(n.x0, n.y0, n.x1, n.y1) for _, n in sorted(leaves.items())]


def _sum_and_sort(node: Node) -> None:
    if not node.children:
        return
    for child in node.children:
        _sum_and_sort(child)
    total = 0.0
    for child in reversed(node.children):  # d3's ``hierarchy.sum`` adds from the last child
        total += child.value
    node.value = total
    node.children.sort(key=lambda child: -child.value)


def _squarify(parent: Node, x0: float, y0: float, x1: float, y1: float) -> None:
    nodes = parent.children
    count = len(nodes)
    value = parent.value
    i0 = i1 = 0
    while i0 < count:
        dx, dy = x1 - x0, y1 - y0
        sum_value = nodes[i1].value
        i1 += 1
        while not sum_value and i1 < count:
            sum_value = nodes[i1].value
            i1 += 1
        min_value = max_value = sum_value
        alpha = max(dy / dx, dx / dy) / (value * PHI) if dx and dy else math.inf
        beta = sum_value * sum_value * alpha
        min_ratio = max(max_value / beta, beta / min_value) if beta and min_value else math.inf
        while i1 < count:
            node_value = nodes[i1].value
            sum_value += node_value
            min_value = min(min_value, node_value)
            max_value = max(max_value, node_value)
            beta = sum_value * sum_value * alpha
            new_ratio = max(max_value / beta, beta / min_value) if beta and min_value else math.inf
            if new_ratio > min_ratio:
                sum_value -= node_value
                break
            min_ratio = new_ratio
            i1 += 1
        row = nodes[i0:i1]
        if dx < dy:
            bottom = y0 + dy * sum_value / value if value else y1
            _dice(row, sum_value, (x0, y0, x1, bottom))
            if value:
                y0 = bottom
        else:
            right = x0 + dx * sum_value / value if value else x1
            _slice(row, sum_value, (x0, y0, right, y1))
            if value:
                x0 = right
        value -= sum_value
        i0 = i1


def _dice(row: list[Node], total: float, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    k = (x1 - x0) / total if total else 0.0
    for node in row:
        node.y0, node.y1 = y0, y1
        node.x0 = x0
        x0 += node.value * k
        node.x1 = x0


def _slice(row: list[Node], total: float, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    k = (y1 - y0) / total if total else 0.0
    for node in row:
        node.x0, node.x1 = x0, x1
        node.y0 = y0
        y0 += node.value * k
        node.y1 = y0
