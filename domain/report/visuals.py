"""Visual types, their field wells, and the aggregations a well accepts.

Names follow Power BI (``column`` is vertical bars, ``bar`` horizontal). A well is a role a
field plays in a visual: ``x``, ``y``, ``color``, ``values``... A *value* well takes an
aggregation (or none, for a field that already is a measure); a *dimension* well takes none.
``max_fields`` bounds how many fields a well holds (``None``: any number). Concurrent edits can
leave more fields in a well than it takes; the document shows them all, in order, and the
spec compiler uses the first ``max_fields``.

As in Power BI, a horizontal ``bar`` has its categories on ``y`` and its values on ``x``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, get_args

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping

Aggregation = Literal["sum", "avg", "min", "max", "count", "distinct_count", "median"]
AGGREGATIONS: Final[frozenset[str]] = frozenset(get_args(Aggregation))

VisualType = Literal[
    "column",
    "clustered_column",
    "stacked_column",
    "percent_stacked_column",
    "bar",
    "clustered_bar",
    "stacked_bar",
    "percent_stacked_bar",
    "line",
    "area",
    "stacked_area",
    "percent_stacked_area",
    "combo",
    "waterfall",
    "funnel",
    "pie",
    "donut",
    "treemap",
    "scatter",
    "table",
    "matrix",
    "card",
    "multi_row_card",
    "kpi",
    "gauge",
    "heatmap",
    "histogram",
    "slicer",
]

WellName = Literal[
    "x",
    "y",
    "secondary_y",
    "color",
    "size",
    "details",
    "tooltip",
    "rows",
    "columns",
    "values",
    "target",
]


class Well(msgspec.Struct, frozen=True):
    """One field well of a visual type."""

    name: str
    #: What Power BI calls it in the field pane.
    label: str
    takes_aggregation: bool
    max_fields: int | None = None


class VisualSpec(msgspec.Struct, frozen=True):
    """A visual type and its wells, in field-pane order."""

    visual_type: str
    label: str
    wells: tuple[Well, ...]

    def well(self, name: str) -> Well | None:
        for well in self.wells:
            if well.name == name:
                return well
        return None

    @property
    def well_names(self) -> tuple[str, ...]:
        return tuple(well.name for well in self.wells)


def _dimension(name: str, label: str, max_fields: int | None = 1) -> Well:
    return Well(name, label, takes_aggregation=False, max_fields=max_fields)


def _values(name: str, label: str, max_fields: int | None = None) -> Well:
    return Well(name, label, takes_aggregation=True, max_fields=max_fields)


_TOOLTIP = _values("tooltip", "Tooltips")


def _columns(axis: str, value_axis: str) -> tuple[Well, ...]:
    """Bar-like charts: one category axis, any number of value series, a legend."""
    return (
        _dimension(axis, "X-axis" if axis == "x" else "Y-axis"),
        _values(value_axis, "Y-axis" if value_axis == "y" else "X-axis"),
        _dimension("color", "Legend"),
        _TOOLTIP,
    )


_LINE_LIKE = (
    _dimension("x", "X-axis"),
    _values("y", "Y-axis"),
    _dimension("color", "Legend"),
    _TOOLTIP,
)

_SPECS: tuple[VisualSpec, ...] = (
    VisualSpec("column", "Column chart", _columns("x", "y")),
    VisualSpec("clustered_column", "Clustered column chart", _columns("x", "y")),
    VisualSpec("stacked_column", "Stacked column chart", _columns("x", "y")),
    VisualSpec("percent_stacked_column", "100% stacked column chart", _columns("x", "y")),
    VisualSpec("bar", "Bar chart", _columns("y", "x")),
    VisualSpec("clustered_bar", "Clustered bar chart", _columns("y", "x")),
    VisualSpec("stacked_bar", "Stacked bar chart", _columns("y", "x")),
    VisualSpec("percent_stacked_bar", "100% stacked bar chart", _columns("y", "x")),
    VisualSpec(
        "line",
        "Line chart",
        (*_LINE_LIKE[:2], _values("secondary_y", "Secondary y-axis"), *_LINE_LIKE[2:]),
    ),
    VisualSpec("area", "Area chart", _LINE_LIKE),
    VisualSpec("stacked_area", "Stacked area chart", _LINE_LIKE),
    VisualSpec("percent_stacked_area", "100% stacked area chart", _LINE_LIKE),
    VisualSpec(
        "combo",
        "Line and clustered column chart",
        (
            _dimension("x", "X-axis"),
            _values("y", "Column y-axis"),
            _values("secondary_y", "Line y-axis"),
            _dimension("color", "Column legend"),
            _TOOLTIP,
        ),
    ),
    VisualSpec(
        "waterfall",
        "Waterfall chart",
        (_dimension("x", "Category"), _values("y", "Y-axis", 1), _TOOLTIP),
    ),
    VisualSpec(
        "funnel",
        "Funnel",
        (_dimension("x", "Category"), _values("y", "Values", 1), _TOOLTIP),
    ),
    VisualSpec(
        "pie",
        "Pie chart",
        (_dimension("color", "Legend"), _values("values", "Values", 1), _TOOLTIP),
    ),
    VisualSpec(
        "donut",
        "Donut chart",
        (_dimension("color", "Legend"), _values("values", "Values", 1), _TOOLTIP),
    ),
    VisualSpec(
        "treemap",
        "Treemap",
        (
            _dimension("color", "Category"),
            _dimension("details", "Details"),
            _values("values", "Values", 1),
            _TOOLTIP,
        ),
    ),
    VisualSpec(
        "scatter",
        "Scatter chart",
        (
            _dimension("details", "Values"),
            _values("x", "X-axis", 1),
            _values("y", "Y-axis", 1),
            _dimension("color", "Legend"),
            _values("size", "Size", 1),
            _TOOLTIP,
        ),
    ),
    VisualSpec("table", "Table", (_values("values", "Columns"),)),
    VisualSpec(
        "matrix",
        "Matrix",
        (
            _dimension("rows", "Rows", None),
            _dimension("columns", "Columns", None),
            _values("values", "Values"),
        ),
    ),
    VisualSpec("card", "Card", (_values("values", "Fields", 1),)),
    VisualSpec("multi_row_card", "Multi-row card", (_values("values", "Fields"),)),
    VisualSpec(
        "kpi",
        "KPI",
        (
            _values("values", "Value", 1),
            _dimension("x", "Trend axis"),
            _values("target", "Target", 1),
        ),
    ),
    VisualSpec(
        "gauge",
        "Gauge",
        (_values("values", "Value", 1), _values("target", "Target value", 1), _TOOLTIP),
    ),
    VisualSpec(
        "heatmap",
        "Heatmap",
        (
            _dimension("x", "X-axis"),
            _dimension("y", "Y-axis"),
            _values("color", "Color saturation", 1),
            _TOOLTIP,
        ),
    ),
    VisualSpec(
        "histogram",
        "Histogram",
        (_dimension("x", "Values (binned)"), _dimension("color", "Legend"), _TOOLTIP),
    ),
    VisualSpec("slicer", "Slicer", (_dimension("values", "Field"),)),
)

VISUAL_TYPES: Final[Mapping[str, VisualSpec]] = {spec.visual_type: spec for spec in _SPECS}

assert set(VISUAL_TYPES) == set(get_args(VisualType)), "VisualType and VISUAL_TYPES differ"
assert {w.name for s in _SPECS for w in s.wells} <= set(get_args(WellName)), "unknown well"
