"""Visual types and their wells."""

from __future__ import annotations

from typing import get_args

import pytest

from domain.report.visuals import AGGREGATIONS, VISUAL_TYPES, Aggregation, VisualType


def test_the_power_bi_names_are_there() -> None:
    for name in [
        "column", "bar", "clustered_column", "stacked_column", "stacked_bar",
        "percent_stacked_column", "line", "area", "stacked_area", "combo", "pie", "donut",
        "scatter", "table", "matrix", "card", "multi_row_card", "kpi", "heatmap", "histogram",
        "treemap",
    ]:  # fmt: skip
        assert name in VISUAL_TYPES
    assert set(VISUAL_TYPES) == set(get_args(VisualType))


def test_the_aggregations_are_the_apis() -> None:
    assert {"sum", "avg", "min", "max", "count", "distinct_count", "median"} == AGGREGATIONS
    assert set(get_args(Aggregation)) == AGGREGATIONS


@pytest.mark.parametrize("spec", VISUAL_TYPES.values(), ids=lambda s: s.visual_type)
def test_every_type_has_distinct_wells_with_labels(spec: object) -> None:
    names = spec.well_names  # type: ignore[attr-defined]
    assert names
    assert len(set(names)) == len(names)
    for well in spec.wells:  # type: ignore[attr-defined]
        assert well.label
        assert well.max_fields is None or well.max_fields >= 1


def test_a_column_chart_has_categories_on_x_and_values_on_y() -> None:
    column = VISUAL_TYPES["column"]
    x, y = column.well("x"), column.well("y")
    assert x is not None
    assert y is not None
    assert not x.takes_aggregation
    assert x.max_fields == 1
    assert y.takes_aggregation
    assert y.max_fields is None


def test_a_bar_chart_has_categories_on_y_as_in_power_bi() -> None:
    bar = VISUAL_TYPES["bar"]
    y = bar.well("y")
    assert y is not None
    assert not y.takes_aggregation
    assert bar.well("x") is not None
    assert bar.well("rows") is None


def test_a_matrix_has_rows_columns_and_values() -> None:
    assert VISUAL_TYPES["matrix"].well_names == ("rows", "columns", "values")


def test_a_heatmap_colours_by_an_aggregate() -> None:
    color = VISUAL_TYPES["heatmap"].well("color")
    assert color is not None
    assert color.takes_aggregation
