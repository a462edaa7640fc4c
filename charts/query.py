"""A visual → the query spec that fetches its data, and how the answer's columns map to wells.

``query_for(visual, filters=…, dataset_fields=…)`` returns a ``QueryPlan``: ``spec`` is a
query spec as ``connectors.query.decode_spec`` takes it (docs/query-spec.md), ``columns`` lists
the answer's columns in order (dimensions first, then measures, as the query compiler answers)
with the wells each one fills, and the rest tells the chart compiler how the data was reduced.
``None`` when the visual has nothing to fetch (no usable field bound).

How wells become query items (docs/charts.md, "Wells"):

- a dimension well (``x`` of a column chart, ``color``, ``rows``...) groups: a dimension, at
  the grain the ``grain.<well>`` property names for a date field;
- a value well aggregates: ``{"field", "agg"}`` with the binding's aggregation, or
  ``{"measure"}`` for a measure defined on the dataset. A field bound with no aggregation is
  "don't summarize" in a table, a multi-row card and a scatter chart (it groups, so each
  distinct value shows) and is summarized by default elsewhere (sum of a number; count of
  other fields, or their first value -- ``min`` -- on cards, KPIs and gauges);
- the same field in two wells is queried once and fills both.

Filters: the report's, then the page's (``filters``), then the visual's own. A slicer's query
leaves out the filters on its own field (they are its selection, ``QueryPlan.selection``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from charts.fields import DatasetField, FieldIndex
from charts.properties import Properties
from charts.reduction import MAX_SERIES, RULES, Rule, Strategy
from charts.wells import Binding, bindings
from connectors.query.spec import MAX_ITEMS, MAX_LIMIT, MAX_TOP, Filter
from domain.report.visuals import VISUAL_TYPES

Kind = Literal["dimension", "measure"]

GRAINS: Final = ("year", "quarter", "month", "week", "day")
NUMERIC_AGGREGATIONS: Final = frozenset({"sum", "avg", "median"})
AGGREGATION_LABELS: Final = {
    "sum": "Sum of {}",
    "avg": "Average of {}",
    "min": "Min of {}",
    "max": "Max of {}",
    "count": "Count of {}",
    "distinct_count": "Count (Distinct) of {}",
    "median": "Median of {}",
}
#: Visual types where a value field with no aggregation groups ("don't summarize").
DONT_SUMMARIZE: Final = frozenset({"table", "multi_row_card", "scatter"})
#: Visual types whose unsummarized non-numeric values take the first value (``min``).
FIRST_VALUE: Final = frozenset({"card", "kpi", "gauge"})
#: The well holding each visual type's categories, and the well of the value ranking them.
CATEGORY_WELLS: Final = {
    **dict.fromkeys(
        (
            "column",
            "clustered_column",
            "stacked_column",
            "percent_stacked_column",
            "line",
            "area",
            "stacked_area",
            "percent_stacked_area",
            "waterfall",
            "funnel",
            "kpi",
        ),
        ("x", "y"),
    ),
    **dict.fromkeys(("bar", "clustered_bar", "stacked_bar", "percent_stacked_bar"), ("y", "x")),
    "combo": ("x", "y"),
    "pie": ("color", "values"),
    "donut": ("color", "values"),
    "treemap": ("color", "values"),
    "matrix": ("rows", "values"),
    "slicer": ("values", ""),
}
#: Types sorted by their value (largest first) unless the ``sort`` property says otherwise.
SORTED_BY_VALUE: Final = frozenset(
    {
        "column",
        "clustered_column",
        "stacked_column",
        "percent_stacked_column",
        "bar",
        "clustered_bar",
        "stacked_bar",
        "percent_stacked_bar",
        "combo",
        "funnel",
        "pie",
        "donut",
        "treemap",
    }
)
#: Types where a legend splits one value into series (as in Power BI, a legend and several
#: values do not go together; combo's legend splits its columns only).
LEGEND_TAKES_ONE_VALUE: Final = frozenset(
    {
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
    }
)
#: The bar, column, line and area family (combo included): one category axis, value series,
#: a legend; one compiler draws them all (charts/compiler/cartesian.py).
CARTESIAN: Final = LEGEND_TAKES_ONE_VALUE
#: Types whose ``first`` reduction counts rows, not categories with their series.
ROW_LIMITED: Final = frozenset({"table", "matrix", "multi_row_card", "slicer", "kpi"})
#: Types whose ``first`` reduction counts rows even without a category.
ROWS_COUNTED: Final = frozenset({"table", "matrix", "heatmap", "histogram", "multi_row_card"})
#: Types that can be split into small multiples.
SMALL_MULTIPLES: Final = (CARTESIAN - {"combo"}) | {"scatter"}


class Role(msgspec.Struct, frozen=True):
    """A place in the visual a column fills: a well and the position in it (or a helper:
    ``count`` of a histogram, ``min``/``max`` of a range slicer, ``small_multiples``)."""

    well: str
    index: int


class PlannedColumn(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One column of the answer."""

    #: The column's name in the answer (docs/query-spec.md, "Output column names").
    name: str
    #: Its key in the spec's inline data (``x0``, ``y1``...): plain, so no escaping is needed.
    key: str
    kind: Kind
    #: The dataset field or measure.
    field: str
    #: What people read: "Sum of Price", a measure's name, a field's name.
    label: str
    roles: tuple[Role, ...]
    aggregation: str | None = None
    grain: str | None = None
    #: The Loupe type when known before the answer (a measure's comes with the answer).
    type: str | None = None
    #: The dataset measure's number format string.
    format: str | None = None


class SortOrder(msgspec.Struct, frozen=True, kw_only=True):
    """How the visual orders its categories: by a column, ascending or not."""

    key: str
    descending: bool


class TotalsQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A second query a visual needs, at a coarser grain than its main one: a table's total
    row (``total``), a matrix's subtotals (``r<i>c<j>``: grouped by the first ``rows`` row
    fields and the first ``columns`` column fields), the lines of a combo chart with a legend
    (``secondary``: the legend splits the columns, not the lines)."""

    name: str
    spec: dict[str, Any]
    #: The answer's columns, in order (keys as in the main query's where they are shared).
    columns: tuple[PlannedColumn, ...]
    rows: int = 0
    #: Matrix column fields grouped by.
    columns_grouped: int = 0


class QueryPlan(msgspec.Struct, frozen=True, kw_only=True):
    visual_type: str
    #: The query spec (``decode_spec`` accepts it).
    spec: dict[str, Any]
    #: The answer's columns, in order.
    columns: tuple[PlannedColumn, ...]
    rule: Rule
    #: The reduction applied (a ``top`` rule falls back to ``first`` on a date or number axis).
    strategy: Strategy
    #: The key of the column the reduction counts (categories), if any.
    category: str | None = None
    #: The key of the value ranking the categories (``top``).
    ranking: str | None = None
    order: SortOrder | None = None
    totals: tuple[TotalsQuery, ...] = ()
    #: A slicer's selection: the filters on its own field.
    selection: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()

    def role(self, well: str, index: int = 0) -> PlannedColumn | None:
        """The column filling ``well`` at ``index``."""
        wanted = Role(well, index)
        return next((c for c in self.columns if wanted in c.roles), None)

    def well(self, well: str) -> list[PlannedColumn]:
        """The columns filling ``well``, in the well's order."""
        found = [
            (role.index, column)
            for column in self.columns
            for role in column.roles
            if role.well == well
        ]
        return [column for _, column in sorted(found, key=_first)]


def _first(item: tuple[int, PlannedColumn]) -> int:
    return item[0]


@dataclass
class _Item:
    """A query item being planned (mutable while roles are added)."""

    kind: Kind
    query: str | dict[str, Any]
    name: str
    field: str
    label: str
    aggregation: str | None = None
    grain: str | None = None
    type: str | None = None
    format: str | None = None
    roles: list[Role] = dataclasses.field(default_factory=list)

    def frozen(self) -> PlannedColumn:
        first = self.roles[0]
        return PlannedColumn(
            name=self.name,
            key=f"{first.well}{first.index}",
            kind=self.kind,
            field=self.field,
            label=self.label,
            roles=tuple(self.roles),
            aggregation=self.aggregation,
            grain=self.grain,
            type=self.type,
            format=self.format,
        )


class _Planner:
    """Collects a visual's dimensions and measures, each once."""

    def __init__(self, visual_type: str, props: Properties, warnings: list[str]) -> None:
        self.visual_type = visual_type
        self.props = props
        self.warnings = warnings
        self.dimensions: list[_Item] = []
        self.measures: list[_Item] = []
        self._seen: dict[tuple[str, ...], _Item] = {}
        self._names: Mapping[str, Any] = props.mapping("display_names")

    def _label(self, name: str, default: str) -> str:
        for key in (name, default):
            label = self._names.get(key)
            if isinstance(label, str) and label:
                return label
        return default

    def dimension(self, field: DatasetField, role: Role, grain: str | None = None) -> _Item:
        if not field.is_temporal:
            grain = None
        key = ("d", field.name.casefold(), grain or "")
        item = self._seen.get(key)
        if item is None:
            name = f"{field.name} ({grain})" if grain else field.name
            query: str | dict[str, Any] = (
                {"field": field.name, "grain": grain} if grain else field.name
            )
            item = _Item(
                kind="dimension",
                query=query,
                name=name,
                field=field.name,
                label=self._label(name, self._label(field.name, field.name)),
                grain=grain,
                type=field.type,
            )
            self._seen[key] = item
            self.dimensions.append(item)
        item.roles.append(role)
        return item

    def measure(self, field: DatasetField, aggregation: str | None, role: Role) -> _Item:
        key: tuple[str, ...]
        if field.is_measure:
            key = ("m", field.name.casefold())
            query: dict[str, Any] = {"measure": field.name}
            name = label = field.name
            typ = field.type
            aggregation = None
        else:
            agg = aggregation or "count"
            key = ("a", field.name.casefold(), agg)
            query = {"field": field.name, "agg": agg}
            name = f"{field.name} ({agg})"
            label = AGGREGATION_LABELS[agg].format(field.name)
            typ = _aggregate_type(field.type, agg)
            aggregation = agg
        item = self._seen.get(key)
        if item is None:
            item = _Item(
                kind="measure",
                query=query,
                name=name,
                field=field.name,
                label=self._label(name, label),
                aggregation=aggregation,
                type=typ,
                format=field.format,
            )
            self._seen[key] = item
            self.measures.append(item)
        item.roles.append(role)
        return item

    def value(self, binding: Binding) -> _Item:
        """A value well's binding: a measure, or a dimension when it is not summarized."""
        field, aggregation = binding.field, binding.aggregation
        role = Role(binding.well, binding.index)
        if field.is_measure:
            if aggregation is not None:
                self.warnings.append(
                    f"well {binding.well}: {field.name!r} is a measure; "
                    f"aggregation {aggregation!r} ignored"
                )
            return self.measure(field, None, role)
        if aggregation is None:
            if self.visual_type in DONT_SUMMARIZE:
                return self.dimension(field, role, self._grain(binding.well))
            aggregation = _default_aggregation(field, self.visual_type)
        elif aggregation in NUMERIC_AGGREGATIONS and field.type not in (None, "integer", "decimal"):
            self.warnings.append(
                f"well {binding.well}: cannot {aggregation} {field.type} field "
                f"{field.name!r}; counting it"
            )
            aggregation = "count"
        return self.measure(field, aggregation, role)

    def group(self, binding: Binding) -> _Item | None:
        """A dimension well's binding."""
        if binding.field.is_measure:
            self.warnings.append(
                f"well {binding.well}: {binding.field.name!r} is a measure and cannot group"
            )
            return None
        return self.dimension(
            binding.field, Role(binding.well, binding.index), self._grain(binding.well)
        )

    def _grain(self, well: str) -> str | None:
        return self.props.choice(f"grain.{well}", GRAINS, None)


def _aggregate_type(field_type: str | None, aggregation: str) -> str | None:
    if aggregation in {"count", "distinct_count"}:
        return "integer"
    if aggregation in {"avg", "median"}:
        return "decimal"
    return field_type


def _default_aggregation(field: DatasetField, visual_type: str) -> str:
    if field.is_numeric or field.type is None:
        return "sum"
    return "min" if visual_type in FIRST_VALUE else "count"


# -- query_for ---------------------------------------------------------------------------------


def query_for(
    visual: Mapping[str, Any],
    *,
    filters: Sequence[Mapping[str, Any]] = (),
    dataset_fields: Sequence[DatasetField | Mapping[str, Any]] | FieldIndex,
) -> QueryPlan | None:
    """The query plan of ``visual`` (its document form); ``filters``: the report's then the
    page's filters in document form (the visual's own are read from ``visual``)."""
    visual_type = visual.get("visual_type")
    spec = VISUAL_TYPES.get(visual_type) if isinstance(visual_type, str) else None
    if spec is None or not isinstance(visual_type, str):
        return None
    fields = (
        dataset_fields if isinstance(dataset_fields, FieldIndex) else FieldIndex(dataset_fields)
    )
    warnings: list[str] = []
    props = Properties(visual.get("properties"))
    bound = bindings(visual, spec, fields, warnings)
    planner = _Planner(visual_type, props, warnings)
    _collect(planner, spec.wells, bound, fields)
    if not planner.dimensions and not planner.measures:
        return None
    own = visual.get("filters")
    all_filters = [*filters, *(own if isinstance(own, list) else [])]
    slicer_field = _slicer_field(planner) if visual_type == "slicer" else None
    query_filters, selection = _filters(all_filters, fields, warnings, slicer_field)
    return _finish(planner, fields, query_filters, selection)


def _collect(
    planner: _Planner,
    wells: Sequence[Any],
    bound: Mapping[str, list[Binding]],
    fields: FieldIndex,
) -> None:
    visual_type = planner.visual_type
    one_value = visual_type in LEGEND_TAKES_ONE_VALUE and bool(bound.get("color"))
    for well in wells:
        if visual_type == "histogram" and well.name == "tooltip":
            continue
        found = bound.get(well.name, [])
        if one_value and well.name in ("x", "y") and well.takes_aggregation and len(found) > 1:
            planner.warnings.append(
                f"well {well.name}: with a legend, only the first value is drawn"
            )
            found = found[:1]
        for binding in found:
            if visual_type == "slicer":
                _slicer_binding(planner, binding)
            elif well.takes_aggregation:
                planner.value(binding)
            else:
                planner.group(binding)
    if visual_type == "histogram":
        x = next(iter(bound.get("x", [])), None)
        if x is not None and not x.field.is_measure:
            planner.measure(x.field, "count", Role("count", 0))
    if visual_type in SMALL_MULTIPLES:
        _small_multiples(planner, fields, has_secondary=bool(bound.get("secondary_y")))


def _small_multiples(planner: _Planner, fields: FieldIndex, *, has_secondary: bool) -> None:
    """``small_multiples.field``: one more dimension, the panels' (not with a secondary axis,
    whose lines a split would break)."""
    props = planner.props
    name = props.text("small_multiples.field")
    if name is None:
        return
    split = fields.get(name)
    if split is None or split.is_measure or has_secondary:
        props.note_ignored("small_multiples.field")
        return
    grain = props.choice("grain.small_multiples", GRAINS, None)
    planner.dimension(split, Role("small_multiples", 0), grain)


def _slicer_binding(planner: _Planner, binding: Binding) -> None:
    """A list slicer groups by its field; a number or date slicer shows the field's range."""
    field = binding.field
    if field.is_measure:
        planner.warnings.append(f"a slicer cannot slice by the measure {field.name!r}")
        return
    style = planner.props.choice("slicer.style", ("list", "between"), "")
    if style == "between" or (style == "" and (field.is_numeric or field.is_temporal)):
        planner.measure(field, "min", Role("min", 0))
        planner.measure(field, "max", Role("max", 0))
        planner.measures[-2].roles.insert(0, Role("values", 0))
    else:
        planner.group(binding)


def _slicer_field(planner: _Planner) -> str | None:
    items = planner.dimensions or planner.measures
    return items[0].field if items else None


def _filters(
    items: Sequence[object],
    fields: FieldIndex,
    warnings: list[str],
    exclude: str | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The usable filters (checked against the query spec's filter shapes and the dataset),
    and those on ``exclude`` (a slicer's own field) set apart."""
    kept: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            warnings.append("a filter is not an object")
            continue
        target = fields.get(item.get("field"))
        if target is None or target.is_measure:
            warnings.append(f"filter on {item.get('field')!r}: the dataset has no such field")
            continue
        try:
            msgspec.convert(item, Filter)
        except msgspec.ValidationError as error:
            warnings.append(f"filter on {target.name!r} ignored: {error}")
            continue
        entry = {**item, "field": target.name}
        if exclude is not None and target.name == exclude:
            excluded.append(entry)
        else:
            kept.append(entry)
    return kept[:MAX_ITEMS], excluded


# -- reduction, sort, totals -------------------------------------------------------------------


def _finish(
    planner: _Planner,
    fields: FieldIndex,
    filters: list[dict[str, Any]],
    selection: list[dict[str, Any]],
) -> QueryPlan:
    visual_type = planner.visual_type
    rule = RULES[visual_type]
    category, ranking = _category_and_ranking(planner)
    strategy = _strategy(planner, rule, category, ranking)
    filters = list(filters)
    limit: int | None = None
    top_n = _top_n(planner, fields, category, ranking)
    if top_n is not None:
        n = top_n["n"]
        if n <= rule.limit:
            strategy = "none"
        else:
            top_n["n"] = rule.limit + 1
        filters.append(top_n)
    elif strategy == "top" and category is not None and ranking is not None:
        filters.append(
            {
                "field": category.field,
                "op": "top",
                "n": min(rule.limit + 1, MAX_TOP),
                "by": ranking.query,
            }
        )
    if strategy == "first":
        series = (
            len(planner.dimensions) > 1 and category is not None and visual_type not in ROW_LIMITED
        )
        wanted = (rule.limit + 1) * (MAX_SERIES if series else 1)
        limit = min(wanted, MAX_LIMIT)
    elif strategy == "sample":
        limit = rule.fetch + 1
    order = _order(planner, category, ranking)
    if visual_type == "kpi" and category is not None:
        order = (category, True)
    lines = _split_lines(planner, filters, limit)
    if order is not None and order[0] not in (*planner.dimensions, *planner.measures):
        order = None
    columns = tuple(item.frozen() for item in (*planner.dimensions, *planner.measures))
    spec = _spec(planner.dimensions, planner.measures, filters, order, limit)
    totals = (*lines, *_totals(planner, filters, limit))
    return QueryPlan(
        visual_type=visual_type,
        spec=spec,
        columns=columns,
        rule=rule,
        strategy=strategy,
        category=_key(category) if strategy in ("top", "first") and category else None,
        ranking=_key(ranking) if strategy == "top" and ranking else None,
        order=None if order is None else SortOrder(key=_key(order[0]), descending=order[1]),
        totals=totals,
        selection=tuple(selection),
        warnings=tuple(planner.warnings),
    )


def _strategy(
    planner: _Planner, rule: Rule, category: _Item | None, ranking: _Item | None
) -> Strategy:
    """The type's reduction, where it applies: ``top`` needs text categories and a value to
    rank them by (dates and numbers keep their first categories instead); ``first`` needs
    categories or rows to count."""
    strategy: Strategy = rule.strategy
    if strategy == "top" and (
        category is None or ranking is None or category.type not in ("text", "boolean")
    ):
        strategy = "first"
    if planner.visual_type == "slicer" and not planner.dimensions:
        return "none"
    if strategy == "first" and category is None and planner.visual_type not in ROWS_COUNTED:
        return "none"
    return strategy


def _key(item: _Item) -> str:
    return f"{item.roles[0].well}{item.roles[0].index}"


def _category_and_ranking(planner: _Planner) -> tuple[_Item | None, _Item | None]:
    wells = CATEGORY_WELLS.get(planner.visual_type)
    visual_type = planner.visual_type
    if wells is None:
        if visual_type in ("table", "multi_row_card") and planner.dimensions:
            first = planner.dimensions[0]
            ranking = planner.measures[0] if planner.measures else None
            return first, ranking
        return None, None
    category_well, value_well = wells
    category = _with_role(planner.dimensions, category_well)
    ranking = _with_role(planner.measures, value_well)
    if ranking is None and visual_type == "combo":
        ranking = _with_role(planner.measures, "secondary_y")
    return category, ranking


def _with_role(items: Sequence[_Item], well: str) -> _Item | None:
    found = [(role.index, item) for item in items for role in item.roles if role.well == well]
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _top_n(
    planner: _Planner,
    fields: FieldIndex,
    category: _Item | None,
    ranking: _Item | None,
) -> dict[str, Any] | None:
    """The ``top_n`` property as a query filter on the visual's categories."""
    props = planner.props
    if not props.raw("top_n"):
        return None
    n = props.integer("top_n.n", 0, low=1, high=MAX_TOP)
    if not n or category is None:
        props.note_ignored("top_n")
        return None
    by = ranking.query if ranking is not None else None
    name = props.text("top_n.by")
    if name is not None:
        named = _ranking_item(planner, fields, name)
        if named is None:
            props.note_ignored("top_n.by")
        else:
            by = named
    if by is None:
        props.note_ignored("top_n")
        return None
    entry: dict[str, Any] = {"field": category.field, "op": "top", "n": n, "by": by}
    if props.flag("top_n.bottom", default=False):
        entry["bottom"] = True
    return entry


def _ranking_item(planner: _Planner, fields: FieldIndex, name: str) -> dict[str, Any] | None:
    """``top_n.by``: a value of the visual (by its column name, label or field), else a
    dataset measure, else the sum of a number field."""
    folded = name.casefold()
    for item in planner.measures:
        if folded in (item.name.casefold(), item.label.casefold(), item.field.casefold()):
            return item.query  # type: ignore[return-value]
    field = fields.get(name)
    if field is None:
        return None
    if field.is_measure:
        return {"measure": field.name}
    if field.is_numeric:
        return {"field": field.name, "agg": "sum"}
    return None


def _order(
    planner: _Planner, category: _Item | None, ranking: _Item | None
) -> tuple[_Item, bool] | None:
    """The ``sort`` property (``{"by": a bound field, "order": "asc"|"desc"}``), else the
    type's default: by value, largest first, for bars, pies, funnels and treemaps over text
    categories."""
    props = planner.props
    name = props.text("sort.by")
    order = props.choice("sort.order", ("asc", "desc"), "")
    if name is not None:
        folded = name.casefold()
        for item in (*planner.dimensions, *planner.measures):
            if folded in (item.name.casefold(), item.label.casefold(), item.field.casefold()):
                descending = order == "desc" if order else item.kind == "measure"
                return item, descending
        props.note_ignored("sort.by")
    if order and category is not None and name is None:
        return category, order == "desc"
    if (
        planner.visual_type in SORTED_BY_VALUE
        and ranking is not None
        and category is not None
        and category.type in ("text", "boolean")
    ):
        return ranking, True
    return None


def _spec(
    dimensions: Sequence[_Item],
    measures: Sequence[_Item],
    filters: Sequence[dict[str, Any]],
    order: tuple[_Item, bool] | None,
    limit: int | None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if dimensions:
        spec["dimensions"] = [item.query for item in dimensions[:MAX_ITEMS]]
    if measures:
        spec["measures"] = [item.query for item in measures[:MAX_ITEMS]]
    if filters:
        spec["filters"] = list(filters)
    if order is not None:
        spec["sort"] = [{"by": order[0].name, "desc": order[1]}]
    if limit is not None:
        spec["limit"] = limit
    return spec


def _split_lines(
    planner: _Planner, filters: Sequence[dict[str, Any]], limit: int | None
) -> tuple[TotalsQuery, ...]:
    """With a legend, a combo chart's (or a line chart's) secondary-axis lines are queried by
    the axis alone: grouped by the legend too, each line value would be split by it."""
    secondary = [m for m in planner.measures if all(r.well == "secondary_y" for r in m.roles)]
    colored = any(r.well == "color" for d in planner.dimensions for r in d.roles)
    if not secondary or not colored:
        return ()
    axis = [d for d in planner.dimensions if d.roles[0].well == "x"]
    planner.measures = [m for m in planner.measures if m not in secondary]
    spec = _spec(axis, secondary, filters, None, limit)
    columns = tuple(item.frozen() for item in (*axis, *secondary))
    return (TotalsQuery(name="secondary", spec=spec, columns=columns),)


def _totals(
    planner: _Planner, filters: Sequence[dict[str, Any]], limit: int | None
) -> tuple[TotalsQuery, ...]:
    """A table's total row; a matrix's row and column subtotals and grand totals: each a
    query of its own, so every aggregation and measure totals correctly (an average of
    averages would not)."""
    visual_type, props = planner.visual_type, planner.props
    measures = [m for m in planner.measures if any(r.well == "values" for r in m.roles)]
    if not measures:
        return ()
    if visual_type == "table":
        if not planner.dimensions or not props.flag("totals.show", default=True):
            return ()
        spec = _spec((), measures, filters, None, None)
        return (TotalsQuery(name="total", spec=spec, columns=tuple(m.frozen() for m in measures)),)
    if visual_type != "matrix":
        return ()
    rows = [d for d in planner.dimensions if d.roles[0].well == "rows"]
    cols = [d for d in planner.dimensions if d.roles[0].well == "columns"]
    row_levels = (
        range(len(rows) + 1) if props.flag("subtotals.rows", default=True) else ([len(rows)])
    )
    col_levels = (
        sorted({0, len(cols)}) if props.flag("subtotals.columns", default=True) else ([len(cols)])
    )
    queries = []
    for i in row_levels:
        for j in col_levels:
            if (i, j) == (len(rows), len(cols)):
                continue
            grouped = [*rows[:i], *cols[:j]]
            queries.append(
                TotalsQuery(
                    name=f"r{i}c{j}",
                    spec=_spec(grouped, measures, filters, None, limit),
                    columns=tuple(item.frozen() for item in (*grouped, *measures)),
                    rows=i,
                    columns_grouped=j,
                )
            )
    return tuple(queries)
