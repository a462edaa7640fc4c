"""A visual and its answer → a Vega-Lite spec (docs/charts.md).

``compile_visual(visual, result, plan=…, theme=…, width=…, height=…)`` builds the spec as a
plain dict (no altair objects on this path: altair validates on every ``to_dict`` and that costs
milliseconds); tests validate every spec against the Vega-Lite JSON schema that ships with
altair (``charts.validation``). Data is inlined as ``data.values``; nothing in a spec is random
or counted, so the same inputs give the same spec, in Python and in the web app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from charts.compiler.assemble import chart_spec, empty_spec, message_spec
from charts.compiler.cards import compile_card, compile_kpi, compile_multi_row_card
from charts.compiler.cartesian import compile_cartesian
from charts.compiler.context import Context, build_context
from charts.compiler.funnel import compile_funnel
from charts.compiler.gauge import compile_gauge
from charts.compiler.heatmap import compile_heatmap
from charts.compiler.histogram import compile_histogram
from charts.compiler.matrix import compile_matrix
from charts.compiler.pie import compile_pie
from charts.compiler.scatter import compile_scatter
from charts.compiler.slicer import compile_slicer
from charts.compiler.tables import compile_table
from charts.compiler.treemap import compile_treemap
from charts.compiler.waterfall import compile_waterfall
from charts.query import CARTESIAN, QueryPlan
from charts.theme import Theme, parse_theme

Result = Mapping[str, Any]
Compiler = Callable[[Context], dict[str, Any]]
ASK: Final = "Add fields to draw this chart"


def _cartesian(context: Context) -> dict[str, Any]:
    body = compile_cartesian(context)
    if body is None:
        return message_spec(context, ASK)
    return chart_spec(context, body[0], body[1])


def _chart(compile_body: Callable[[Context], dict[str, Any] | None]) -> Compiler:
    """A chart whose compiler gives its body (``None``: a field it needs is missing)."""

    def compile_chart(context: Context) -> dict[str, Any]:
        body = compile_body(context)
        if body is None:
            return message_spec(context, ASK)
        return chart_spec(context, body)

    return compile_chart


def _treemap(context: Context) -> dict[str, Any]:
    placed = compile_treemap(context)
    if placed is None:
        return message_spec(context, ASK)
    return chart_spec(context, placed[0])


def _grid(compile_grid: Callable[[Context], dict[str, Any] | None]) -> Compiler:
    def compile_visual(context: Context) -> dict[str, Any]:
        spec = compile_grid(context)
        return spec if spec is not None else message_spec(context, ASK)

    return compile_visual


COMPILERS: Final[dict[str, Compiler]] = {
    **dict.fromkeys(CARTESIAN, _cartesian),
    "waterfall": _chart(compile_waterfall),
    "funnel": _chart(compile_funnel),
    "pie": _chart(compile_pie),
    "donut": _chart(compile_pie),
    "treemap": _treemap,
    "scatter": _chart(compile_scatter),
    "heatmap": _chart(compile_heatmap),
    "histogram": _chart(compile_histogram),
    "table": _grid(compile_table),
    "matrix": _grid(compile_matrix),
    "card": compile_card,
    "multi_row_card": compile_multi_row_card,
    "kpi": compile_kpi,
    "gauge": compile_gauge,
    "slicer": compile_slicer,
}


def compile_visual(
    visual: Mapping[str, Any],
    result: Result | None,
    *,
    plan: QueryPlan | None,
    theme: Theme | Mapping[str, Any] | None = None,
    width: float,
    height: float,
    totals: Sequence[Result] | None = None,
) -> dict[str, Any]:
    """The Vega-Lite spec of ``visual`` drawing ``result`` (the answer to ``plan.spec``).

    ``totals``: the answers to ``plan.totals`` (a table's total row, a matrix's subtotals), in
    order; without them those totals are left out. ``theme``: Power BI theme JSON or a
    ``Theme`` (default: Loupe's). A visual with nothing bound (``plan`` is ``None``) gets a
    spec asking for fields.
    """
    chosen = parse_theme(theme)
    if plan is None or result is None:
        return empty_spec(visual, chosen, width, height, "Add fields to build this visual")
    context = build_context(
        visual, result, plan=plan, theme=chosen, width=width, height=height, totals=totals
    )
    return COMPILERS[plan.visual_type](context)


__all__ = ["compile_visual"]
