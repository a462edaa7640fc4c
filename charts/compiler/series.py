"""Series of a chart: the legend field splitting one value, or several values side by side.

As in Power BI, a chart draws one series per legend value (``color`` well, one value), or --
with no legend -- one series per value in the value well ("Sum of Sales", "Sum of Profit").
The second case is a ``fold`` transform: each row becomes one row per value, with the value's
key in ``__key`` and its label in ``__series``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from charts.compiler.context import Column, Context
from charts.compiler.encoding import distinct, field_ref, sorted_values
from charts.formats import js_string, vega_expression


@dataclass
class Series:
    values: list[Column]
    #: Where each row's value is (a value's key, or the fold's value field).
    value_field: str
    #: Where each row's series name is (``None``: one series).
    series_field: str | None = None
    domain: list[Any] = field(default_factory=list)
    #: The legend's title.
    title: str | None = None
    transforms: list[dict[str, Any]] = field(default_factory=list)
    #: The fold's key field (which value a folded row holds).
    key_field: str | None = None

    @property
    def first(self) -> Column:
        return self.values[0]

    def order_calculation(self, as_: str = "__order") -> dict[str, Any]:
        """A numeric series order (the legend's), for stacking in the same order."""
        assert self.series_field is not None
        domain = json.dumps(self.domain, ensure_ascii=True)
        return {"calculate": f"indexof({domain}, {field_ref(self.series_field)})", "as": as_}


def series_of(
    context: Context,
    values: Sequence[Column],
    color: Column | None,
    *,
    suffix: str = "",
    named: bool = False,
) -> Series:
    """The series of ``values`` split by ``color``; ``named``: fold even a single value, so
    the legend names it (combo charts list columns and lines together)."""
    values = list(values)
    if color is not None:
        return Series(
            values=values[:1],
            value_field=values[0].key,
            series_field=color.key,
            domain=sorted_values(distinct(context.rows, color.key)),
            title=color.label,
        )
    if len(values) == 1 and not named:
        return Series(values=values, value_field=values[0].key)
    key, value, name = f"__key{suffix}", f"__value{suffix}", f"__series{suffix}"
    return Series(
        values=values,
        value_field=value,
        series_field=name,
        domain=[v.label for v in values],
        title=None,
        transforms=[
            {"fold": [v.key for v in values], "as": [key, value]},
            {"calculate": _by_key(key, [(v.key, js_string(v.label)) for v in values]), "as": name},
        ],
        key_field=key,
    )


def _by_key(key_field: str, choices: Sequence[tuple[str, str]]) -> str:
    """A nested conditional choosing an expression by the fold key."""
    *init, (_, last) = choices
    expression = last
    for key, chosen in reversed(init):
        expression = f"({field_ref(key_field)} === {js_string(key)} ? {chosen} : {expression})"
    return expression


def label_expression(context: Context, series: Series, element: str = "data_labels") -> str:
    """The text of a row's value, in its own value's number format."""
    choices = [
        (
            v.key,
            vega_expression(
                context.number_format(v, element),
                field_ref(series.value_field),
                integer=v.is_integer,
            ),
        )
        for v in series.values
    ]
    if series.key_field is None or len(choices) == 1:
        return choices[0][1]
    return _by_key(series.key_field, choices)
