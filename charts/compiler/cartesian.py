"""Column, bar, line, area and combo charts: one category axis, one or two value axes.

- ``column``/``clustered_column`` (and ``bar``/``clustered_bar``, horizontal): series side by
  side (``xOffset``/``yOffset``); ``stacked_*``: a ``stack`` transform (``__start``,
  ``__end``), series in legend order from the axis up; ``percent_stacked_*``: the same,
  normalised;
- ``line``: a line per series, markers with ``markers.show``; ``area``: overlapping translucent
  areas; ``stacked_area``/``percent_stacked_area``: stacked as the columns;
- ``combo`` and a line's ``secondary_y``: a second layer of lines on an independent right axis;
  one legend lists columns and lines together.

Data labels (``data_labels.show``): bars take ``data_labels.position`` ``outside_end``
(default, unstacked), ``inside_end``, ``inside_center`` (default, stacked), ``inside_base``;
lines and areas ``above`` (default) or ``below``.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.context import Column, Context
from charts.compiler.encoding import (
    category_channel,
    category_sort,
    color_channel,
    conditional_color,
    default_color,
    field_ref,
    label_mark,
    labels_shown,
    log_filter,
    series_colors,
    tooltip_entry,
    tooltip_extras,
    value_channel,
)
from charts.compiler.series import Series, label_expression, series_of
from charts.theme import HORIZONTAL

STACKING: Final = {
    "stacked_column": "zero",
    "percent_stacked_column": "normalize",
    "stacked_bar": "zero",
    "percent_stacked_bar": "normalize",
    "stacked_area": "zero",
    "percent_stacked_area": "normalize",
}
LINES: Final = frozenset({"line"})
AREAS: Final = frozenset({"area", "stacked_area", "percent_stacked_area"})
BAR_POSITIONS: Final = ("outside_end", "inside_end", "inside_center", "inside_base")
#: Labels inside a bar are white (unless ``data_labels.color`` says otherwise).
INSIDE: Final = {"color": "#FFFFFF"}


class Layout:
    """The channels of one orientation."""

    def __init__(self, visual_type: str) -> None:
        horizontal = visual_type in HORIZONTAL
        self.horizontal = horizontal
        self.category_well, self.value_well = ("y", "x") if horizontal else ("x", "y")
        self.category, self.value = ("y", "x") if horizontal else ("x", "y")
        self.value2 = self.value + "2"
        self.offset = "yOffset" if horizontal else "xOffset"
        self.category_axis = f"{self.category}_axis"
        self.value_axis = f"{self.value}_axis"


def compile_cartesian(context: Context) -> tuple[dict[str, Any], list[str]] | None:
    """The body (data, transforms, layers) of a cartesian chart and notes for its subtitle;
    ``None`` when a value or the axis is missing."""
    visual_type = context.visual_type
    layout = Layout(visual_type)
    category = context.column(layout.category_well)
    values = [c for c in context.well(layout.value_well) if c.is_measure]
    secondary = [c for c in context.well("secondary_y") if c.is_measure]
    apart = any(q.name == "secondary" for q in context.plan.totals)
    if not values and not secondary and not apart:
        return None
    color = context.column("color")
    dual = bool(secondary) or apart or visual_type == "combo"
    groups: list[dict[str, Any]] = []
    domain: list[Any] = []
    if values:
        series = series_of(context, values, color, named=dual or category is None)
        domain = list(series.domain)
        groups.append(_primary_layers(context, layout, category, series))
    lines_apart = None
    if apart:
        lines_apart = context.totals_answer("secondary")
        if lines_apart is not None:
            secondary = [c for c in lines_apart[0] if c.is_measure]
    if secondary and category is not None:
        second = series_of(context, secondary, None, suffix="2", named=True)
        group = _secondary_layers(context, category, second, offset=len(domain))
        if lines_apart is not None:
            group = {"data": {"values": lines_apart[1]}, **group}
        groups.append(group)
        _share_colors(
            context, [layer for group in groups for layer in group["layer"]], domain + second.domain
        )
    if len(groups) == 1:
        return groups[0], []
    # Each axis's marks and labels share a scale; the two axes do not.
    return {"layer": groups, "resolve": {"scale": {"y": "independent"}}}, []


def _mark(context: Context, visual_type: str) -> dict[str, Any]:
    if visual_type in LINES:
        mark: dict[str, Any] = {"type": "line", "strokeWidth": 2}
        if context.props.flag("markers.show", default=False):
            mark["point"] = True
        return mark
    if visual_type in AREAS:
        stacked = visual_type in STACKING
        return {"type": "area", "line": True, "opacity": 0.85 if stacked else 0.4}
    return {"type": "bar"}


def _primary_layers(
    context: Context,
    layout: Layout,
    category: Column | None,
    series: Series,
) -> dict[str, Any]:
    """The marks of the primary axis and their labels, over the transforms they share."""
    visual_type = context.visual_type
    stack = STACKING.get(visual_type)
    bars = visual_type not in LINES and visual_type not in AREAS
    transforms = list(series.transforms)
    transforms += log_filter(context, layout.value_axis, [series.value_field])
    value_field, start_field = series.value_field, None
    if stack is not None:
        transforms += _stacking(context, series, category, stack)
        value_field, start_field = "__end", "__start"
    encoding: dict[str, Any] = {
        layout.category: _category_encoding(context, layout, category, series, bars=bars)
    }
    first = series.first
    fmt = context.number_format(first, layout.value_axis)
    several = series.key_field is not None and len(series.values) > 1
    value = value_channel(
        context,
        value_field,
        axis=layout.value_axis,
        title=None if several else first.label,
        fmt=fmt,
        integer=first.is_integer,
        zero=bars or stack is not None or visual_type in AREAS,
        percent=stack == "normalize",
    )
    # Stacks are computed by the transform above (or not wanted): Vega-Lite must not add its own.
    value["stack"] = None
    encoding[layout.value] = value
    if start_field is not None:
        encoding[layout.value2] = {"field": start_field}
    colors = _color(context, series, value_field)
    if colors is not None:
        encoding["color"] = colors
    if bars and stack is None and series.series_field is not None and category is not None:
        encoding[layout.offset] = {
            "field": series.series_field,
            "type": "nominal",
            "scale": {"domain": series.domain},
        }
    encoding["tooltip"] = _tooltips(context, category, series)
    mark = _mark(context, visual_type)
    if colors is None:
        mark["color"] = default_color(context)
    layers = [{"mark": mark, "encoding": encoding}]
    if labels_shown(context):
        layers.append(_labels(context, layout, series, encoding, stack=stack, bars=bars))
    if transforms:
        return {"transform": transforms, "layer": layers}
    return {"layer": layers}


def _stacking(
    context: Context, series: Series, category: Column | None, offset: str
) -> list[dict[str, Any]]:
    """Stack each category's series in legend order (``__start``, ``__end``)."""
    groupby = [k for k in (category.key if category else series.series_field,) if k]
    split = context.column("small_multiples")
    if split is not None:
        groupby.append(split.key)
    transforms: list[dict[str, Any]] = []
    sort: list[dict[str, Any]] = []
    if series.series_field is not None:
        transforms.append(series.order_calculation())
        sort = [{"field": "__order", "order": "ascending"}]
    transforms.append(
        {
            "stack": series.value_field,
            "groupby": groupby,
            "sort": sort,
            "offset": offset,
            "as": ["__start", "__end"],
        }
    )
    return transforms


def _category_encoding(
    context: Context, layout: Layout, category: Column | None, series: Series, *, bars: bool
) -> dict[str, Any]:
    """The category axis; with no category, the values themselves stand on it."""
    if category is None:
        return {
            "field": series.series_field,
            "type": "nominal",
            "title": None,
            "sort": series.domain,
            "axis": {"grid": False, "domain": True},
        }
    discrete = bars or not (category.is_time or category.is_number)
    return category_channel(
        context,
        category,
        axis=layout.category_axis,
        discrete=discrete,
        sort=category_sort(context, category) if discrete else None,
    )


def _color(context: Context, series: Series, value_field: str) -> dict[str, Any] | None:
    if series.series_field is not None:
        return color_channel(context, series.series_field, series.domain, title=series.title)
    return conditional_color(context, value_field, default_color(context))


def _tooltips(context: Context, category: Column | None, series: Series) -> list[dict[str, Any]]:
    entries = []
    if category is not None:
        entries.append(tooltip_entry(context, category))
    if series.series_field is not None:
        entries.append(
            {"field": series.series_field, "type": "nominal", "title": series.title or "Series"}
        )
    first = series.first
    title = first.label if len(series.values) == 1 else "Value"
    entries.append(tooltip_entry(context, first, field=series.value_field, title=title))
    split = context.column("small_multiples")
    if split is not None:
        entries.append(tooltip_entry(context, split))
    return entries + tooltip_extras(context)


def _labels(
    context: Context,
    layout: Layout,
    series: Series,
    encoding: dict[str, Any],
    *,
    stack: str | None,
    bars: bool,
) -> dict[str, Any]:
    """A text layer over the marks, each label in its value's number format."""
    transforms: list[dict[str, Any]] = [
        {"calculate": label_expression(context, series), "as": "__label"}
    ]
    label_encoding = {
        key: value for key, value in encoding.items() if key in (layout.category, layout.offset)
    }
    label_encoding["text"] = {"field": "__label", "type": "nominal"}
    value = dict(encoding[layout.value])
    value.pop("axis", None)
    value.pop("title", None)
    extra: dict[str, Any] = {}
    if bars:
        default = "inside_center" if stack else "outside_end"
        position = context.props.choice("data_labels.position", BAR_POSITIONS, default)
        if stack:
            position = "inside_end" if position == "inside_end" else "inside_center"
        value, extra = _bar_label_position(layout, value, position)
        if value.get("field") == "__mid":
            start = "__start" if stack else None
            end = "__end" if stack else series.value_field
            low = field_ref(start) if start else "0"
            transforms.append({"calculate": f"({field_ref(end)} + {low}) / 2", "as": "__mid"})
    else:
        below = context.props.choice("data_labels.position", ("above", "below"), "above")
        extra = {"dy": 12 if below == "below" else -8}
    label_encoding[layout.value] = value
    if context.props.color("data_labels.color") is not None:
        extra.pop("color", None)
    return {
        "mark": label_mark(context, **extra),
        "encoding": label_encoding,
        "transform": transforms,
    }


def _bar_label_position(
    layout: Layout, value: dict[str, Any], position: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The label's position channel and mark offsets for a bar label position."""
    horizontal = layout.horizontal
    shift = "dx" if horizontal else "dy"
    sign = 1 if horizontal else -1
    if position == "inside_center":
        centre = dict(value, field="__mid")
        return centre, {"baseline": "middle", "align": "center", **INSIDE}
    if position == "inside_base":
        base = {k: v for k, v in value.items() if k != "field"}
        base["datum"] = 0
        align = {"align": "left"} if horizontal else {"baseline": "bottom"}
        return base, {shift: 4 * sign, **align, **INSIDE}
    if position == "inside_end":
        align = {"align": "right"} if horizontal else {"baseline": "top"}
        return value, {shift: -4 * sign, **align, **INSIDE}
    align = {"align": "left"} if horizontal else {"baseline": "bottom"}
    return value, {shift: 4 * sign, **align}


def _secondary_layers(
    context: Context, category: Column, series: Series, *, offset: int
) -> dict[str, Any]:
    """Lines on the right axis (``secondary_y_axis``)."""
    discrete = context.visual_type == "combo" or not (category.is_time or category.is_number)
    first = series.first
    fmt = context.number_format(first, "secondary_y_axis")
    encoding: dict[str, Any] = {
        "x": category_channel(
            context,
            category,
            axis="x_axis",
            discrete=discrete,
            sort=category_sort(context, category) if discrete else None,
        ),
        "y": value_channel(
            context,
            series.value_field,
            axis="secondary_y_axis",
            title=first.label if len(series.values) == 1 else None,
            fmt=fmt,
            integer=first.is_integer,
            zero=False,
            orient="right",
        ),
        "color": color_channel(
            context,
            series.series_field or "",
            series.domain,
            title=None,
            colors=series_colors(context, series.domain, offset=offset),
        ),
        "tooltip": _tooltips(context, category, series),
    }
    encoding["y"]["axis"] = (
        None if encoding["y"]["axis"] is None else dict(encoding["y"]["axis"], grid=False)
    )
    layers: list[dict[str, Any]] = [
        {"mark": {"type": "line", "strokeWidth": 2, "point": True}, "encoding": encoding}
    ]
    if labels_shown(context):
        layers.append(
            {
                "mark": label_mark(context, dy=-8),
                "encoding": {
                    "x": encoding["x"],
                    "y": {k: v for k, v in encoding["y"].items() if k not in ("axis", "title")},
                    "text": {"field": "__label", "type": "nominal"},
                },
                "transform": [{"calculate": label_expression(context, series), "as": "__label"}],
            }
        )
    return {"transform": list(series.transforms), "layer": layers}


def _share_colors(context: Context, layers: list[dict[str, Any]], domain: list[Any]) -> None:
    """One legend for both axes: every colour channel gets the whole domain."""
    colors = series_colors(context, domain)
    channels = [
        layer["encoding"]["color"]
        for layer in layers
        if "scale" in layer["encoding"].get("color", {})
    ]
    for channel in channels:
        channel["scale"] = {"domain": domain, "range": colors}
        channel["legend"] = channels[0]["legend"]
        channel["title"] = channels[0]["title"]
