"""Each format property (docs/charts.md, "Format properties") has its effect on the spec; and
properties of the wrong type never break a visual."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import vl_convert as vlc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charts.validation import schema_errors
from tests.charts.support import ChartData, visual

COLUMN = {"x": ["Origin"], "y": [("Horsepower", "avg")]}
SERIES = {"x": ["Origin"], "y": ["Cars"], "color": ["Cylinders"]}


def units(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every single view (mark + encoding) of a spec, through layers and facets."""
    if "mark" in spec:
        yield spec
    for layer in spec.get("layer", []):
        yield from units(layer)
    if "spec" in spec:
        yield from units(spec["spec"])


def mark_type(unit: dict[str, Any]) -> str:
    mark = unit["mark"]
    return str(mark if isinstance(mark, str) else mark["type"])


def first(spec: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(u for u in units(spec) if mark_type(u) == kind)


def transforms(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(spec.get("transform", []))
    for layer in spec.get("layer", []):
        found += transforms(layer)
    return found


def compiled(
    chart_data: ChartData,
    visual_type: str,
    wells: dict[str, Any],
    *,
    height: float = 300,
    **properties: Any,
) -> dict[str, Any]:
    _, spec = chart_data.compile("cars", visual(visual_type, wells, **properties), height=height)
    assert schema_errors(spec) == []
    return spec


# -- title -------------------------------------------------------------------------------------


def test_the_title_is_automatic_until_set(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN)
    assert spec["title"]["text"] == "Average of Horsepower by Origin"
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        title={"text": "Power", "font_size": 15, "color": "#FF0000", "alignment": "center"},
    )
    assert spec["title"] == {
        "text": "Power",
        "color": "#FF0000",
        "fontSize": 20.0,
        "anchor": "middle",
    }


def test_a_hidden_title_is_not_drawn(chart_data: ChartData) -> None:
    assert "title" not in compiled(chart_data, "column", COLUMN, title={"show": False})


def test_the_subtitle_is_drawn_under_the_title(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN, subtitle={"text": "Since 1970"})
    assert spec["title"]["subtitle"] == "Since 1970"


# -- axes --------------------------------------------------------------------------------------


def test_axis_titles_can_be_renamed_or_hidden(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        x_axis={"title": "Where"},
        y_axis={"show_title": False},
    )
    bars = first(spec, "bar")
    assert bars["encoding"]["x"]["title"] == "Where"
    assert bars["encoding"]["y"]["title"] is None


def test_a_hidden_axis_is_not_drawn(chart_data: ChartData) -> None:
    bars = first(compiled(chart_data, "column", COLUMN, x_axis={"show": False}), "bar")
    assert bars["encoding"]["x"]["axis"] is None


def test_value_axis_range_scale_and_gridlines(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        y_axis={"min": 10, "max": 200, "scale": "log", "gridlines": False},
    )
    y = first(spec, "bar")["encoding"]["y"]
    assert y["scale"] == {"domainMin": 10, "domainMax": 200, "type": "log", "zero": False}
    assert y["axis"]["grid"] is False
    assert {"filter": 'datum["y0"] > 0'} in transforms(spec), "log axes drop values <= 0"


def test_an_inverted_range_keeps_only_the_minimum(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN, y_axis={"min": 5, "max": 1})
    assert first(spec, "bar")["encoding"]["y"]["scale"] == {"domainMin": 5}
    assert spec["usermeta"]["loupe"]["ignored"] == ["y_axis.max"]


def test_the_secondary_axis_has_its_own_title_and_format(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "combo",
        {"x": ["Origin"], "y": ["Cars"], "secondary_y": [("Weight", "sum")]},
        secondary_y_axis={"title": "Weight", "format": {"display_units": "K"}},
    )
    line = first(spec, "line")
    assert line["encoding"]["y"]["title"] == "Weight"
    assert line["encoding"]["y"]["axis"]["orient"] == "right"
    assert "/ 1000" in line["encoding"]["y"]["axis"]["labelExpr"]
    assert spec["resolve"] == {"scale": {"y": "independent"}}


# -- data labels -------------------------------------------------------------------------------


def test_data_labels_add_text_in_their_format(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        data_labels={
            "show": True,
            "format": {"decimals": 0},
            "position": "inside_end",
            "color": "#333333",
            "font_size": 12,
        },
    )
    text = first(spec, "text")
    assert text["mark"]["baseline"] == "top"
    assert text["mark"]["color"] == "#333333"
    assert text["mark"]["fontSize"] == 16.0
    (label,) = [t for t in text["transform"] if t.get("as") == "__label"]
    assert '",.0f"' in label["calculate"]


def test_no_data_labels_unless_asked_on_columns_but_by_default_on_pies(
    chart_data: ChartData,
) -> None:
    assert not any(mark_type(u) == "text" for u in units(compiled(chart_data, "column", COLUMN)))
    pie = compiled(chart_data, "pie", {"color": ["Origin"], "values": ["Cars"]})
    assert any(mark_type(u) == "text" for u in units(pie))


def test_stacked_labels_sit_in_the_middle_of_their_segment(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "stacked_column", SERIES, data_labels={"show": True})
    text = first(spec, "text")
    assert text["encoding"]["y"]["field"] == "__mid"
    assert {"calculate": '(datum["__end"] + datum["__start"]) / 2', "as": "__mid"} in text[
        "transform"
    ]


def test_pie_labels_can_show_category_and_percent(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "pie",
        {"color": ["Origin"], "values": ["Cars"]},
        data_labels={"content": "category_percent"},
    )
    label = first(spec, "text")["transform"][0]["calculate"]
    assert 'datum["x0"]' not in label
    assert 'datum["color0"]' in label
    assert '",.1%"' in label


# -- legend and colours ------------------------------------------------------------------------


def test_the_legend_can_move_hide_and_be_renamed(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data, "clustered_column", SERIES, legend={"position": "bottom", "title": "Cyl."}
    )
    assert first(spec, "bar")["encoding"]["color"]["legend"] == {
        "orient": "bottom",
        "title": "Cyl.",
    }
    hidden = compiled(chart_data, "clustered_column", SERIES, legend={"show": False})
    assert first(hidden, "bar")["encoding"]["color"]["legend"] is None


def test_series_colours_override_the_theme_one_by_one(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "clustered_column", SERIES, colors={"series": {"6": "#000000"}})
    scale = first(spec, "bar")["encoding"]["color"]["scale"]
    assert scale["domain"] == [3, 4, 5, 6, 8]
    assert scale["range"] == ["#118DFF", "#12239E", "#E66C37", "#000000", "#E044A7"]


def test_a_single_series_takes_the_default_colour(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN, colors={"default": "#123456"})
    assert first(spec, "bar")["mark"]["color"] == "#123456"


def test_conditional_colour_rules_colour_by_value(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        conditional_colors={
            "rules": [{"max": 100, "color": "red"}, {"min": 100, "color": "green"}]
        },
    )
    color = first(spec, "bar")["encoding"]["color"]
    assert color["condition"] == [
        {"test": 'isValid(datum["y0"]) && datum["y0"] < 100', "value": "red"},
        {"test": 'isValid(datum["y0"]) && datum["y0"] >= 100', "value": "green"},
    ]


def test_a_conditional_gradient_runs_from_min_to_max_colour(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        conditional_colors={"gradient": {"min_color": "#FFFFFF", "max_color": "#000000"}},
    )
    color = first(spec, "bar")["encoding"]["color"]
    assert color["scale"] == {"range": ["#FFFFFF", "#000000"]}
    assert color["field"] == "y0"


def test_table_cells_take_conditional_backgrounds(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "table",
        {"values": ["Origin", "Cars"]},
        conditional_colors={"gradient": {"min_color": "#000000", "max_color": "#FFFFFF"}},
    )
    fills = {row["fill"] for row in first(spec, "rect")["data"]["values"]}
    assert {"#000000", "#FFFFFF"} <= fills, "smallest black, largest white"


# -- numbers -----------------------------------------------------------------------------------


def test_the_visual_format_applies_to_axes_and_labels(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        format={"style": "currency", "currency": "€", "decimals": 1},
        data_labels={"show": True},
    )
    axis = first(spec, "bar")["encoding"]["y"]["axis"]
    assert "\\u20ac" in axis["labelExpr"]
    assert '",.1f"' in axis["labelExpr"]


def test_a_format_per_field_wins_over_the_visual_format(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        format={"decimals": 3},
        formats={"Horsepower (avg)": {"decimals": 0}},
    )
    assert first(spec, "bar")["encoding"]["y"]["axis"]["format"] == ",.0f"


def test_cards_use_automatic_display_units(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "card", {"values": [("Weight", "sum")]})
    texts = [row["text"] for u in units(spec) for row in u.get("data", {}).get("values", [])]
    assert "1.21M" in texts
    spec = compiled(
        chart_data,
        "card",
        {"values": [("Weight", "sum")]},
        callout={"format": {"display_units": "none"}},
    )
    texts = [row["text"] for u in units(spec) for row in u.get("data", {}).get("values", [])]
    assert "1,209,642" in texts


# -- sorting, top N, small multiples, grains ---------------------------------------------------


def test_sort_orders_the_category_axis(chart_data: ChartData) -> None:
    by_value = compiled(chart_data, "column", COLUMN)
    assert first(by_value, "bar")["encoding"]["x"]["sort"] == ["USA", "Europe", "Japan"]
    by_name = compiled(chart_data, "column", COLUMN, sort={"by": "Origin", "order": "desc"})
    assert first(by_name, "bar")["encoding"]["x"]["sort"] == "descending"


def test_top_n_keeps_the_n_largest_categories(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", {"x": ["Name"], "y": ["Cars"]}, top_n={"n": 3})
    assert len(spec["data"]["values"]) >= 3
    assert len({row["x0"] for row in spec["data"]["values"]}) == 3


def test_small_multiples_split_into_panels(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        {"x": ["Cylinders"], "y": ["Cars"]},
        small_multiples={"field": "Origin", "columns": 2},
    )
    assert spec["facet"]["field"] == "small_multiples0"
    assert spec["facet"]["sort"] == ["Europe", "Japan", "USA"]
    assert spec["columns"] == 2
    assert "layer" in spec["spec"]


def test_grain_draws_dates_by_period(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", {"x": ["Year"], "y": ["Cars"]}, grain={"x": "year"})
    assert first(spec, "bar")["encoding"]["x"]["timeUnit"] == "utcyear"


def test_markers_put_points_on_lines(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "line", {"x": ["Year"], "y": ["Cars"]}, markers={"show": True})
    assert first(spec, "line")["mark"]["point"] is True


# -- other visual types' properties ------------------------------------------------------------


def test_display_names_rename_fields_in_the_visual(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN, display_names={"Horsepower (avg)": "Power"})
    assert spec["title"]["text"] == "Power by Origin"


def test_background_colour_or_none(chart_data: ChartData) -> None:
    assert (
        compiled(chart_data, "column", COLUMN, background={"color": "#EEEEEE"})["background"]
        == "#EEEEEE"
    )
    assert compiled(chart_data, "column", COLUMN, background={"show": False})["background"] == (
        "transparent"
    )


def test_donut_hole_size(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data, "donut", {"color": ["Origin"], "values": ["Cars"]}, donut={"inner_radius": 0.3}
    )
    assert first(spec, "arc")["mark"]["innerRadius"]["expr"].endswith("* 0.3")


def test_table_total_row_and_stripes(chart_data: ChartData) -> None:
    wells = {"values": ["Origin", "Cars"]}
    texts = [
        row["text"]
        for u in units(compiled(chart_data, "table", wells))
        for row in u.get("data", {}).get("values", [])
        if "text" in row
    ]
    assert "Total" in texts
    assert "406" in texts
    plain = compiled(chart_data, "table", wells, totals={"show": False}, table={"stripes": True})
    texts = [
        row["text"]
        for u in units(plain)
        for row in u.get("data", {}).get("values", [])
        if "text" in row
    ]
    assert "Total" not in texts
    assert any(row.get("fill") == "#F3F2F1" for row in first(plain, "rect")["data"]["values"])


def test_matrix_subtotals_can_be_turned_off(chart_data: ChartData) -> None:
    wells = {"rows": ["Origin", "Cylinders"], "values": ["Cars"]}
    with_totals = compiled(chart_data, "matrix", wells, height=600)
    without = compiled(chart_data, "matrix", wells, height=600, subtotals={"rows": False})

    def texts(spec: dict[str, Any]) -> list[str]:
        return [
            r["text"]
            for u in units(spec)
            for r in u.get("data", {}).get("values", [])
            if "text" in r
        ]

    assert "Total" in texts(with_totals)
    assert "Total" not in texts(without)


def test_kpi_direction_decides_good_or_bad(chart_data: ChartData) -> None:
    wells = {"values": [("MPG", "avg")], "target": [("Acceleration", "avg")]}
    assert compiled(chart_data, "kpi", wells)["usermeta"]["loupe"]["status"] == "good"
    spec = compiled(chart_data, "kpi", wells, kpi={"direction": "low_is_good"})
    assert spec["usermeta"]["loupe"]["status"] == "bad"


def test_gauge_range_comes_from_properties(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "gauge", {"values": [("MPG", "avg")]}, gauge={"min": 10, "max": 50})
    assert first(spec, "arc")["encoding"]["theta"]["scale"]["domain"] == [10, 50]


def test_histogram_bins(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "histogram", {"x": ["MPG"]}, histogram={"bins": 7})
    assert first(spec, "bar")["encoding"]["x"]["bin"] == {"maxbins": 7}


def test_waterfall_total_column_can_go(chart_data: ChartData) -> None:
    wells = {"x": ["Origin"], "y": ["Cars"]}
    assert any(r.get("__total") for r in compiled(chart_data, "waterfall", wells)["data"]["values"])
    spec = compiled(chart_data, "waterfall", wells, waterfall={"total": False})
    assert not any(r.get("__total") for r in spec["data"]["values"])


def test_slicer_shows_its_selection_ticked(chart_data: ChartData) -> None:
    _, spec = chart_data.compile(
        "cars",
        visual("slicer", {"values": ["Origin"]}),
        filters=[{"field": "Origin", "op": "in", "values": ["Japan"]}],
    )
    boxes = first(spec, "rect")["data"]["values"]
    assert [b["fill"] for b in boxes] == ["#FFFFFF", "#252423", "#FFFFFF"]


def test_callout_and_category_label_of_cards(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "card",
        {"values": ["Cars"]},
        callout={"color": "#FF0000"},
        category_label={"show": False},
    )
    rows = [r for u in units(spec) for r in u.get("data", {}).get("values", []) if "text" in r]
    assert [(r["text"], r["color"]) for r in rows] == [("406", "#FF0000")]


# -- wrong types never break a visual ----------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
PATHS = [
    "title",
    "subtitle",
    "x_axis",
    "y_axis",
    "data_labels",
    "legend",
    "colors",
    "format",
    "formats",
    "conditional_colors",
    "sort",
    "top_n",
    "small_multiples",
    "grain",
    "markers",
    "background",
    "display_names",
    "totals",
    "table",
    "callout",
    "donut",
    "gauge",
    "kpi",
    "histogram",
]
properties = st.dictionaries(
    st.sampled_from(PATHS),
    json_values
    | st.dictionaries(
        st.sampled_from(
            [
                "show",
                "text",
                "min",
                "max",
                "format",
                "position",
                "n",
                "by",
                "field",
                "series",
                "default",
                "rules",
                "gradient",
                "color",
                "font_size",
                "x",
            ]
        ),
        json_values,
        max_size=4,
    ),
    max_size=5,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    visual_type=st.sampled_from(
        ["column", "stacked_bar", "line", "pie", "table", "card", "scatter"]
    ),
    props=properties,
)
def test_properties_of_any_shape_never_break_a_visual(
    chart_data: ChartData, visual_type: str, props: dict[str, Any]
) -> None:
    wells = {
        "column": COLUMN,
        "stacked_bar": {"y": ["Origin"], "x": ["Cars"], "color": ["Cylinders"]},
        "line": {"x": ["Year"], "y": ["Cars"]},
        "pie": {"color": ["Origin"], "values": ["Cars"]},
        "table": {"values": ["Origin", "Cars"]},
        "card": {"values": ["Cars"]},
        "scatter": {"x": [("MPG", "avg")], "y": [("Weight", "avg")], "details": ["Origin"]},
    }[visual_type]
    _, spec = chart_data.compile("cars", visual(visual_type, wells, **props))
    assert schema_errors(spec) == []


def test_a_visual_with_odd_properties_still_renders(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "column",
        COLUMN,
        title={"text": 5, "font_size": "big"},
        legend="left",
        y_axis={"min": "zero"},
        data_labels={"show": "yes"},
    )
    assert set(spec["usermeta"]["loupe"]["ignored"]) == {
        "title.text",
        "title.font_size",
        "y_axis.min",
        "data_labels.show",
    }
    assert vlc.vegalite_to_svg(spec).startswith("<svg")


@pytest.mark.parametrize("visual_type", ["column", "table"])
def test_a_visual_with_nothing_bound_asks_for_fields(visual_type: str) -> None:
    from charts.compiler import compile_visual  # noqa: PLC0415

    spec = compile_visual(visual(visual_type, {}), None, plan=None, width=300, height=200)
    assert spec["data"]["values"] == [{"message": "Add fields to build this visual"}]
    assert schema_errors(spec) == []


# -- the remaining small properties ------------------------------------------------------------


def text_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for u in units(spec) for r in u.get("data", {}).get("values", []) if "text" in r]


@pytest.mark.parametrize(
    ("visual_type", "wells", "path"),
    [
        ("table", {"values": ["Origin", "Cars"]}, "table"),
        ("matrix", {"rows": ["Origin"], "values": ["Cars"]}, "matrix"),
        ("slicer", {"values": ["Origin"]}, "slicer"),
    ],
)
def test_text_visual_font_sizes_are_points(
    chart_data: ChartData, visual_type: str, wells: dict[str, Any], path: str
) -> None:
    spec = compiled(chart_data, visual_type, wells, **{path: {"font_size": 12}})
    assert {r["size"] for r in text_rows(spec)} == {16.0}


def test_callout_font_size_sizes_a_cards_value(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "card", {"values": ["Cars"]}, callout={"font_size": 9})
    assert [r["size"] for r in text_rows(spec) if r["text"] == "406"] == [12.0]


def test_legend_font_size_and_title(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data, "clustered_column", SERIES, legend={"font_size": 12, "show_title": False}
    )
    assert first(spec, "bar")["encoding"]["color"]["legend"] == {
        "orient": "top",
        "title": None,
        "labelFontSize": 16.0,
    }


def test_table_without_gridlines_keeps_header_and_total_rules(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "table", {"values": ["Origin", "Cars"]}, table={"gridlines": False})
    assert len(first(spec, "rule")["data"]["values"]) == 2


def test_a_hidden_subtitle_is_not_drawn(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "column", COLUMN, subtitle={"text": "Not shown", "show": False})
    assert "subtitle" not in spec["title"]


def test_the_x_axis_of_a_scatter_takes_its_own_format(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "scatter",
        {"x": [("Weight", "sum")], "y": [("MPG", "avg")], "details": ["Origin"]},
        x_axis={"format": {"display_units": "M"}},
    )
    assert "/ 1000000" in first(spec, "circle")["encoding"]["x"]["axis"]["labelExpr"]


def test_funnel_labels_can_show_only_the_share(chart_data: ChartData) -> None:
    spec = compiled(
        chart_data,
        "funnel",
        {"x": ["Origin"], "y": ["Cars"]},
        data_labels={"content": "percent"},
    )
    label = first(spec, "text")["transform"][0]["calculate"]
    assert label.startswith("(isValid(datum.__share)")


def test_a_number_slicer_can_be_a_list(chart_data: ChartData) -> None:
    spec = compiled(chart_data, "slicer", {"values": ["Cylinders"]}, slicer={"style": "list"})
    assert [r["text"] for r in text_rows(spec)] == ["3", "4", "5", "6", "8"]


@pytest.mark.parametrize("position", ["outside_end", "inside_end", "inside_center", "inside_base"])
@pytest.mark.parametrize("visual_type", ["column", "bar"])
def test_every_bar_label_position_draws(
    chart_data: ChartData, visual_type: str, position: str
) -> None:
    wells = COLUMN if visual_type == "column" else {"y": ["Origin"], "x": [("Horsepower", "avg")]}
    spec = compiled(
        chart_data, visual_type, wells, data_labels={"show": True, "position": position}
    )
    assert "mark-text" in vlc.vegalite_to_svg(spec)
