"""Report themes (Power BI theme JSON): colours and text classes become the spec's config,
``visualStyles`` become default format properties, and nothing of the wrong type breaks."""

from __future__ import annotations

from typing import Any

from charts.theme import DEFAULT_THEME, parse_theme, theme_properties, vega_config
from charts.validation import schema_errors
from tests.charts.support import ChartData, visual

THEME: dict[str, Any] = {
    "name": "Harbour",
    "dataColors": ["#0B3C5D", "#328CC1", "not a colour", "#D9B310"],
    "background": "#FAFAFA",
    "foreground": "#1D2731",
    "tableAccent": "#328CC1",
    "good": {"solid": {"color": "#00AA00"}},
    "bad": "#AA0000",
    "textClasses": {
        "title": {"fontSize": 15, "fontFace": "Georgia", "color": "#111111"},
        "label": {"fontSize": "big", "color": "#444444"},
    },
    "visualStyles": {
        "*": {"*": {"title": [{"alignment": "Center"}], "legend": [{"position": "Bottom"}]}},
        "clusteredBarChart": {"*": {"categoryAxis": [{"showAxisTitle": False}]}},
        "pieChart": {"*": {"labels": [{"show": False}]}},
    },
}


def test_a_theme_is_read_from_power_bi_json() -> None:
    theme = parse_theme(THEME)
    assert theme.name == "Harbour"
    assert theme.data_colors == ("#0B3C5D", "#328CC1", "#D9B310")
    assert (theme.good, theme.bad, theme.background) == ("#00AA00", "#AA0000", "#FAFAFA")
    assert theme.title.font_size == 15
    assert theme.title.font_face == "Georgia"
    assert theme.label.font_size == DEFAULT_THEME.label.font_size, "a bad size is ignored"
    assert theme.label.color == "#444444"


def test_anything_but_a_theme_gives_the_default() -> None:
    assert parse_theme(None) is DEFAULT_THEME
    assert parse_theme(["not", "a", "theme"]) is DEFAULT_THEME
    assert parse_theme({"dataColors": "red"}).data_colors == DEFAULT_THEME.data_colors


def test_theme_colours_and_text_become_the_config() -> None:
    config = vega_config(parse_theme(THEME))
    assert config["range"]["category"] == ["#0B3C5D", "#328CC1", "#D9B310"]
    assert config["background"] == "#FAFAFA"
    assert config["title"]["fontSize"] == 20.0, "15pt is 20px"
    assert config["title"]["font"] == "Georgia"
    assert config["axis"]["labelColor"] == "#444444"


def test_visual_styles_become_default_properties_most_specific_first() -> None:
    theme = parse_theme(THEME)
    assert theme_properties(theme, "bar") == {
        "title": {"alignment": "center"},
        "legend": {"position": "bottom"},
        "y_axis": {"show_title": False},
    }
    assert theme_properties(theme, "pie")["data_labels"] == {"show": False}


def test_a_visual_follows_its_theme_unless_it_says_otherwise(chart_data: ChartData) -> None:
    wells = {"y": ["Origin"], "x": ["Cars"], "color": ["Cylinders"]}
    _, spec = chart_data.compile("cars", visual("clustered_bar", wells), theme=THEME)
    assert schema_errors(spec) == []
    assert spec["title"]["anchor"] == "middle"
    bars = spec["layer"][0]
    assert bars["encoding"]["y"]["title"] is None
    assert bars["encoding"]["color"]["scale"]["range"][:3] == ["#0B3C5D", "#328CC1", "#D9B310"]
    assert bars["encoding"]["color"]["legend"]["orient"] == "bottom"
    _, own = chart_data.compile(
        "cars", visual("clustered_bar", wells, legend={"position": "right"}), theme=THEME
    )
    assert own["layer"][0]["encoding"]["color"]["legend"]["orient"] == "right"


def test_waterfall_colours_come_from_good_and_bad(chart_data: ChartData) -> None:
    _, spec = chart_data.compile(
        "cars", visual("waterfall", {"x": ["Origin"], "y": ["Cars"]}), theme=THEME
    )
    scale = spec["layer"][0]["encoding"]["color"]["scale"]
    assert scale == {
        "domain": ["Increase", "Decrease", "Total"],
        "range": ["#00AA00", "#AA0000", "#0B3C5D"],
    }
