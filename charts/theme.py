"""Report themes: Power BI's theme JSON, read forgivingly, as Vega-Lite config and as default
format properties.

A theme (``{"name", "dataColors", "background", "foreground", "tableAccent", "good",
"neutral", "bad", "minimum", "center", "maximum", "textClasses", "visualStyles"}``) applies to
every visual of a report. Colours and text classes become the spec's ``config``; the
``visualStyles`` subset Loupe understands (title, legend, labels, categoryAxis, valueAxis,
background, for ``"*"`` or one visual type) becomes default *properties*, which a visual's own
properties override. Values of the wrong type are ignored, as in format properties.

Font sizes in ``textClasses`` and ``visualStyles`` are points, as in Power BI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from charts.properties import is_color, px

#: Power BI's default palette (the 2023 "Default" theme), first twelve colours.
DEFAULT_COLORS: Final = (
    "#118DFF",
    "#12239E",
    "#E66C37",
    "#6B007B",
    "#E044A7",
    "#744EC2",
    "#D9B300",
    "#D64550",
    "#197278",
    "#1AAB40",
    "#15C6F4",
    "#4092FF",
)


class TextClass(msgspec.Struct, frozen=True, kw_only=True):
    """A Power BI text class: size in points, font family (``None``: the renderer's default)."""

    font_size: float
    color: str
    font_face: str | None = None


class Theme(msgspec.Struct, frozen=True, kw_only=True):
    name: str = "Loupe"
    data_colors: tuple[str, ...] = DEFAULT_COLORS
    background: str = "#FFFFFF"
    foreground: str = "#252423"
    #: Secondary text: axis labels, data labels, legend entries.
    secondary: str = "#605E5C"
    table_accent: str = "#118DFF"
    good: str = "#1AAB40"
    neutral: str = "#D9B300"
    bad: str = "#D64554"
    minimum: str = "#DEEFFF"
    center: str = "#D9B300"
    maximum: str = "#118DFF"
    gridlines: str = "#E1DFDD"
    callout: TextClass = TextClass(font_size=32, color="#252423")
    title: TextClass = TextClass(font_size=12, color="#252423")
    header: TextClass = TextClass(font_size=11, color="#252423")
    label: TextClass = TextClass(font_size=9, color="#605E5C")
    #: The raw ``visualStyles`` object (see ``theme_properties``).
    visual_styles: Mapping[str, Any] = msgspec.field(default_factory=dict)

    def color(self, index: int) -> str:
        return self.data_colors[index % len(self.data_colors)]


DEFAULT_THEME: Final = Theme()

#: Power BI's visual names, for ``visualStyles`` keys.
POWER_BI_NAMES: Final = {
    "column": "clusteredColumnChart",
    "clustered_column": "clusteredColumnChart",
    "stacked_column": "columnChart",
    "percent_stacked_column": "hundredPercentStackedColumnChart",
    "bar": "clusteredBarChart",
    "clustered_bar": "clusteredBarChart",
    "stacked_bar": "barChart",
    "percent_stacked_bar": "hundredPercentStackedBarChart",
    "line": "lineChart",
    "area": "areaChart",
    "stacked_area": "stackedAreaChart",
    "percent_stacked_area": "hundredPercentStackedAreaChart",
    "combo": "lineClusteredColumnComboChart",
    "waterfall": "waterfallChart",
    "funnel": "funnel",
    "pie": "pieChart",
    "donut": "donutChart",
    "treemap": "treemap",
    "scatter": "scatterChart",
    "table": "tableEx",
    "matrix": "pivotTable",
    "card": "card",
    "multi_row_card": "multiRowCard",
    "kpi": "kpi",
    "gauge": "gauge",
    "heatmap": "heatmap",
    "histogram": "histogram",
    "slicer": "slicer",
}
#: Visual types whose category axis is vertical (Power BI's bar charts).
HORIZONTAL: Final = frozenset({"bar", "clustered_bar", "stacked_bar", "percent_stacked_bar"})


def parse_theme(value: object) -> Theme:
    """A theme from Power BI theme JSON; anything missing or mistyped keeps the default."""
    if isinstance(value, Theme):
        return value
    if not isinstance(value, Mapping):
        return DEFAULT_THEME
    base = DEFAULT_THEME
    changes: dict[str, Any] = {}
    name = value.get("name")
    if isinstance(name, str):
        changes["name"] = name
    colors = _colors(value.get("dataColors"))
    if colors:
        changes["data_colors"] = colors
    for key, attribute in (
        ("background", "background"),
        ("foreground", "foreground"),
        ("foregroundNeutralSecondary", "secondary"),
        ("secondaryForeground", "secondary"),
        ("tableAccent", "table_accent"),
        ("good", "good"),
        ("neutral", "neutral"),
        ("bad", "bad"),
        ("minimum", "minimum"),
        ("center", "center"),
        ("maximum", "maximum"),
    ):
        color = _solid(value.get(key))
        if color is not None:
            changes[attribute] = color
    classes = value.get("textClasses")
    if isinstance(classes, Mapping):
        for key in ("callout", "title", "header", "label"):
            changes[key] = _text_class(classes.get(key), getattr(base, key))
    styles = value.get("visualStyles")
    if isinstance(styles, Mapping):
        changes["visual_styles"] = styles
    return msgspec.structs.replace(base, **changes)


def theme_from(value: object) -> Theme:
    """The theme a report's ``theme`` property holds (Power BI theme JSON); the default theme
    when it holds none."""
    return parse_theme(value)


def _colors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(c.strip() for c in value if is_color(c))


def _solid(value: object) -> str | None:
    """A colour given as ``"#hex"`` or as Power BI's ``{"solid": {"color": "#hex"}}``."""
    if isinstance(value, Mapping):
        solid = value.get("solid")
        value = solid.get("color") if isinstance(solid, Mapping) else None
    return value.strip() if isinstance(value, str) and is_color(value) else None


def _text_class(value: object, base: TextClass) -> TextClass:
    if not isinstance(value, Mapping):
        return base
    changes: dict[str, Any] = {}
    size = value.get("fontSize")
    if isinstance(size, int | float) and not isinstance(size, bool) and 1 <= size <= 400:  # noqa: PLR2004
        changes["font_size"] = float(size)
    color = _solid(value.get("color"))
    if color is not None:
        changes["color"] = color
    face = value.get("fontFace")
    if isinstance(face, str) and face.strip():
        changes["font_face"] = face.strip()
    return msgspec.structs.replace(base, **changes)


# -- visualStyles → format properties ----------------------------------------------------------


def theme_properties(theme: Theme, visual_type: str) -> dict[str, Any]:
    """The format properties a theme's ``visualStyles`` set for ``visual_type`` (from ``"*"``,
    then Power BI's name of the type, then Loupe's; the more specific wins)."""
    styles = theme.visual_styles
    result: dict[str, Any] = {}
    for key in ("*", POWER_BI_NAMES.get(visual_type), visual_type):
        entry = styles.get(key) if key else None
        if isinstance(entry, Mapping):
            groups = entry.get("*")
            if isinstance(groups, Mapping):
                _translate(groups, visual_type, result)
    return result


def _first(card: object) -> Mapping[str, Any]:
    """Power BI wraps each property card in a one-element list."""
    if isinstance(card, list) and card and isinstance(card[0], Mapping):
        return card[0]
    return card if isinstance(card, Mapping) else {}


def _translate(groups: Mapping[str, Any], visual_type: str, out: dict[str, Any]) -> None:
    category_axis, value_axis = (
        ("y_axis", "x_axis") if visual_type in HORIZONTAL else ("x_axis", "y_axis")
    )
    title = _first(groups.get("title"))
    _put(out, "title.show", title.get("show"), bool)
    _put(out, "title.color", _solid(title.get("fontColor")), str)
    _put(out, "title.font_size", title.get("fontSize"), float)
    alignment = title.get("alignment")
    _put(out, "title.alignment", alignment.lower() if isinstance(alignment, str) else None, str)
    legend = _first(groups.get("legend"))
    _put(out, "legend.show", legend.get("show"), bool)
    position = legend.get("position")
    if isinstance(position, str):
        _put(out, "legend.position", _legend_position(position), str)
    _put(out, "legend.font_size", legend.get("fontSize"), float)
    labels = _first(groups.get("labels"))
    _put(out, "data_labels.show", labels.get("show"), bool)
    _put(out, "data_labels.color", _solid(labels.get("color")), str)
    _put(out, "data_labels.font_size", labels.get("fontSize"), float)
    for group, axis in (("categoryAxis", category_axis), ("valueAxis", value_axis)):
        card = _first(groups.get(group))
        _put(out, f"{axis}.show", card.get("show"), bool)
        _put(out, f"{axis}.show_title", card.get("showAxisTitle"), bool)
        _put(out, f"{axis}.gridlines", card.get("gridlineShow"), bool)
    background = _first(groups.get("background"))
    _put(out, "background.show", background.get("show"), bool)
    _put(out, "background.color", _solid(background.get("color")), str)


def _legend_position(position: str) -> str | None:
    lowered = position.lower()
    for side in ("top", "bottom", "left", "right"):
        if lowered.startswith(side):
            return side
    return None


def _put(out: dict[str, Any], path: str, value: object, kind: type) -> None:
    if value is None or isinstance(value, bool) != (kind is bool):
        return
    if kind is float and not isinstance(value, int | float):
        return
    if kind is str and not isinstance(value, str):
        return
    *parents, leaf = path.split(".")
    node = out
    for segment in parents:
        node = node.setdefault(segment, {})
    node[leaf] = value


# -- Vega-Lite config --------------------------------------------------------------------------


def vega_config(theme: Theme) -> dict[str, Any]:
    """The theme as a Vega-Lite ``config`` object."""
    label = theme.label
    config: dict[str, Any] = {
        "background": theme.background,
        "view": {"stroke": None},
        "range": {
            "category": list(theme.data_colors),
            "ramp": [theme.minimum, theme.maximum],
            "heatmap": [theme.minimum, theme.maximum],
            "diverging": [theme.minimum, theme.center, theme.maximum],
        },
        "axis": {
            "labelColor": label.color,
            "titleColor": label.color,
            "labelFontSize": px(label.font_size),
            "titleFontSize": px(label.font_size),
            "titleFontWeight": "normal",
            "domainColor": theme.gridlines,
            "tickColor": theme.gridlines,
            "gridColor": theme.gridlines,
        },
        "legend": {
            "labelColor": label.color,
            "titleColor": label.color,
            "labelFontSize": px(label.font_size),
            "titleFontSize": px(label.font_size),
            "titleFontWeight": "normal",
            "symbolType": "circle",
        },
        "title": {
            "color": theme.title.color,
            "fontSize": px(theme.title.font_size),
            "fontWeight": "normal",
            "subtitleColor": theme.secondary,
            "subtitleFontSize": px(label.font_size),
            "anchor": "start",
        },
        "text": {"color": theme.foreground},
        "header": {
            "labelColor": theme.header.color,
            "titleColor": theme.header.color,
            "labelFontSize": px(theme.header.font_size),
        },
    }
    if label.font_face:
        config["font"] = label.font_face
    if theme.title.font_face:
        config["title"]["font"] = theme.title.font_face
    return config
