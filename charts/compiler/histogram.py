"""Histogram: the query counts each distinct value of the field (``Count of <field>``); the
chart bins those values (``histogram.bins``, the largest number of bins, default 20) and sums
the counts per bin. A text field gets a column per value instead, largest first; a date field
at a grain, a column per period."""

from __future__ import annotations

from typing import Any

from charts.compiler.context import Context
from charts.compiler.encoding import (
    axis_def,
    axis_title,
    category_channel,
    color_channel,
    default_color,
    distinct,
    sorted_values,
    value_channel,
)


def compile_histogram(context: Context) -> dict[str, Any] | None:
    x, count = context.column("x"), context.column("count")
    if x is None or count is None:
        return None
    color = context.column("color")
    bins = context.props.integer("histogram.bins", 20, low=1, high=200)
    encoding: dict[str, Any]
    binned = x.is_number or (x.is_time and not x.planned.grain)
    if binned:
        channel: dict[str, Any] = {
            "field": x.key,
            "type": "temporal" if x.is_time else "quantitative",
            "bin": {"maxbins": bins},
            "title": axis_title(context, "x_axis", x.label),
            "axis": axis_def(context, "x_axis", grid=False),
        }
        if x.is_time:
            channel["scale"] = {"type": "utc"}
    else:
        largest_first = {"field": count.key, "op": "sum", "order": "descending"}
        channel = category_channel(
            context, x, axis="x_axis", discrete=True, sort=None if x.is_time else largest_first
        )
    y = value_channel(
        context,
        count.key,
        axis="y_axis",
        title="Count",
        fmt=context.number_format(count, "y_axis"),
        integer=True,
    )
    y["aggregate"] = "sum"
    encoding = {"x": channel, "y": y}
    mark: dict[str, Any] = {"type": "bar"}
    if binned:
        mark["binSpacing"] = 1
    if color is not None:
        domain = sorted_values(distinct(context.rows, color.key))
        encoding["color"] = color_channel(context, color.key, domain, title=color.label)
    else:
        mark["color"] = default_color(context)
    encoding["tooltip"] = [
        {
            **{k: v for k, v in channel.items() if k in ("field", "type", "bin", "timeUnit")},
            "title": x.label,
        },
        {
            "field": count.key,
            "type": "quantitative",
            "aggregate": "sum",
            "title": "Count",
            "format": ",d",
        },
    ]
    return {"mark": mark, "encoding": encoding}
