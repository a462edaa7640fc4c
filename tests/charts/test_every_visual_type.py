"""Every visual type, over each of four real datasets (vega_datasets' cars, stocks,
seattle-weather, iowa-electricity): the query plan runs for real (the query compiler, DuckDB
over Parquet), the answer compiles to a spec that the Vega-Lite schema accepts, and vl-convert
draws it: a PNG that is not blank and an SVG holding the marks the type is made of."""

from __future__ import annotations

import re
from typing import Any

import pytest
import vl_convert as vlc

from charts.validation import schema_errors
from domain.report.visuals import VISUAL_TYPES
from tests.charts.support import PALETTES, ChartData, Palette, visual
from tests.images import pixel_variance

pytestmark = pytest.mark.slow


def wells_for(visual_type: str, p: Palette) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Wells (and properties) exercising ``visual_type`` with the dataset's fields."""
    total, average = (p.number, "sum"), (p.number, "avg")
    monthly = {"grain": {"x": "month"}}
    choices: dict[str, tuple[dict[str, list[Any]], dict[str, Any]]] = {
        "column": ({"x": [p.category], "y": [average, p.measure]}, {}),
        "clustered_column": ({"x": [p.category], "y": [total], "color": [p.category2]}, {}),
        "stacked_column": ({"x": [p.category], "y": [total], "color": [p.category2]}, {}),
        "percent_stacked_column": (
            {"x": [p.category], "y": [total], "color": [p.category2]},
            {},
        ),
        "bar": ({"y": [p.category], "x": [p.measure]}, {"data_labels": {"show": True}}),
        "clustered_bar": ({"y": [p.category], "x": [total], "color": [p.category2]}, {}),
        "stacked_bar": ({"y": [p.category], "x": [total], "color": [p.category2]}, {}),
        "percent_stacked_bar": ({"y": [p.category], "x": [total], "color": [p.category2]}, {}),
        "line": ({"x": [p.date], "y": [average], "color": [p.category]}, monthly),
        "area": ({"x": [p.date], "y": [total]}, monthly),
        "stacked_area": ({"x": [p.date], "y": [total], "color": [p.category]}, monthly),
        "percent_stacked_area": (
            {"x": [p.date], "y": [total], "color": [p.category]},
            monthly,
        ),
        "combo": ({"x": [p.category], "y": [total], "secondary_y": [p.measure]}, {}),
        "waterfall": ({"x": [p.category], "y": [total]}, {}),
        "funnel": ({"x": [p.category], "y": [p.measure]}, {}),
        "pie": ({"color": [p.category], "values": [p.measure]}, {}),
        "donut": ({"color": [p.category], "values": [total]}, {}),
        "treemap": (
            {"color": [p.category], "details": [p.category2], "values": [total]},
            {},
        ),
        "scatter": (
            {
                "details": [p.detail],
                "x": [average],
                "y": [(p.number2, "avg")],
                "color": [p.category],
            },
            {},
        ),
        "table": ({"values": [p.category, p.category2, p.measure, average]}, {}),
        "matrix": (
            {"rows": [p.category], "columns": [p.category2], "values": [p.measure]},
            {},
        ),
        "card": ({"values": [p.measure]}, {}),
        "multi_row_card": ({"values": [p.category, p.measure, (p.number, "max")]}, {}),
        "kpi": ({"values": [average], "x": [p.date], "target": [(p.number2, "avg")]}, monthly),
        "gauge": ({"values": [average], "target": [(p.number2, "avg")]}, {}),
        "heatmap": ({"x": [p.category], "y": [p.category2], "color": [average]}, {}),
        "histogram": ({"x": [p.number]}, {}),
        "slicer": ({"values": [p.category]}, {}),
    }
    return choices[visual_type]


#: The Vega marks (SVG classes ``mark-<name>``) each type must draw.
MARKS = {
    **{
        key: {"rect"}
        for key in (
            "column",
            "clustered_column",
            "stacked_column",
            "percent_stacked_column",
            "bar",
            "clustered_bar",
            "stacked_bar",
            "percent_stacked_bar",
            "waterfall",
            "funnel",
            "treemap",
            "heatmap",
            "histogram",
        )
    },
    "line": {"line"},
    "area": {"area"},
    "stacked_area": {"area"},
    "percent_stacked_area": {"area"},
    "combo": {"rect", "line"},
    "pie": {"arc", "text"},
    "donut": {"arc", "text"},
    "gauge": {"arc", "text"},
    "scatter": {"symbol"},
    "table": {"text", "rule"},
    "matrix": {"text", "rule"},
    "card": {"text"},
    "multi_row_card": {"text", "rect"},
    "kpi": {"text", "area"},
    "slicer": {"text", "rect"},
}


def test_every_visual_type_has_test_wells_and_marks() -> None:
    assert set(MARKS) == set(VISUAL_TYPES)
    for visual_type in VISUAL_TYPES:
        wells, _ = wells_for(visual_type, PALETTES["cars"])
        assert set(wells) <= set(VISUAL_TYPES[visual_type].well_names), visual_type


@pytest.mark.parametrize("dataset", sorted(PALETTES))
@pytest.mark.parametrize("visual_type", sorted(VISUAL_TYPES))
def test_visual_type_draws_real_data(chart_data: ChartData, visual_type: str, dataset: str) -> None:
    wells, properties = wells_for(visual_type, PALETTES[dataset])
    plan, spec = chart_data.compile(dataset, visual(visual_type, wells, **properties))
    assert not plan.warnings, plan.warnings
    assert schema_errors(spec) == []
    assert spec["usermeta"]["loupe"]["visual_type"] == visual_type
    assert "No data" not in str(spec.get("data")), "the query found nothing to draw"
    png = vlc.vegalite_to_png(spec, scale=0.5)
    assert pixel_variance(png) > 10, "the picture is blank"
    svg = vlc.vegalite_to_svg(spec)
    drawn = set(re.findall(r'class="mark-([a-z]+) role-mark', svg))
    assert drawn >= MARKS[visual_type], f"{visual_type} drew {drawn}"
