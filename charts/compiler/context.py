"""What every visual's compiler works from: the answer as inline data rows, the columns with
their roles and types, the format properties over the theme, and the size.

Data rows are keyed by the plan's column keys (``x0``, ``y1``...), so field references in the
spec never need escaping. Values are prepared for Vega-Lite: blank text categories read
"(Blank)" (as in Power BI), booleans "True"/"False", timestamps get a ``Z`` (the answer's
timestamps have no zone; drawn as UTC they show their own wall-clock time everywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from charts.formats import DEFAULT, NumberFormat, number_format, parse_format_string
from charts.properties import Properties
from charts.query import ROW_LIMITED, PlannedColumn, QueryPlan
from charts.reduction import (
    Reduction,
    drop_lowest_category,
    first_categories,
    sample_series,
)
from charts.theme import Theme, theme_properties

BLANK: Final = "(Blank)"
NUMBER_TYPES: Final = frozenset({"integer", "decimal"})
TIME_TYPES: Final = frozenset({"date", "timestamp"})

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """A planned column with the type the answer gave it."""

    planned: PlannedColumn
    type: str

    @property
    def key(self) -> str:
        return self.planned.key

    @property
    def label(self) -> str:
        return self.planned.label

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES

    @property
    def is_time(self) -> bool:
        return self.type in TIME_TYPES

    @property
    def is_integer(self) -> bool:
        return self.type == "integer"

    @property
    def is_measure(self) -> bool:
        return self.planned.kind == "measure"


@dataclass
class Context:
    visual: Mapping[str, Any]
    plan: QueryPlan
    theme: Theme
    props: Properties
    width: float
    height: float
    columns: list[Column]
    rows: list[Row]
    reduction: Reduction | None = None
    warnings: list[str] = field(default_factory=list)
    #: The answers to ``plan.totals``, in order (``None``: not run).
    totals: Sequence[Mapping[str, Any]] | None = None
    _keys: dict[str, Column] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._keys = {c.key: c for c in self.columns}

    @property
    def visual_type(self) -> str:
        return self.plan.visual_type

    def column(self, well: str, index: int = 0) -> Column | None:
        planned = self.plan.role(well, index)
        return None if planned is None else self._keys[planned.key]

    def well(self, well: str) -> list[Column]:
        return [self._keys[p.key] for p in self.plan.well(well)]

    def totals_answer(self, name: str) -> tuple[list[Column], list[Row]] | None:
        """The columns and prepared rows of the answer to the plan's ``name`` totals query;
        ``None`` (with a warning) when it was not given."""
        for index, query in enumerate(self.plan.totals):
            if query.name != name:
                continue
            if self.totals is None or index >= len(self.totals):
                self.warnings.append(f"the {name!r} totals query was not answered")
                return None
            answer = self.totals[index]
            columns = _columns(query.columns, answer)
            return columns, prepare_rows(columns, answer.get("rows") or [])
        return None

    def number_format(
        self, column: Column, element: str | None = None, base: NumberFormat = DEFAULT
    ) -> NumberFormat:
        """The format of ``column``'s numbers: ``base``, then the dataset measure's format
        string, then the visual's ``format``, then ``formats[<column>]``, then
        ``<element>.format``."""
        fmt = base
        if column.planned.format:
            parsed = parse_format_string(column.planned.format)
            if parsed is not None:
                fmt = msgspec.structs.replace(parsed, display_units=fmt.display_units)
        fmt = self._overlay(fmt, "format", self.props.raw("format"))
        per_column = self.props.raw("formats")
        if isinstance(per_column, Mapping):
            for name in (column.planned.name, column.label, column.planned.field):
                if name in per_column:
                    fmt = self._overlay(fmt, "formats", per_column[name])
                    break
        if element is not None:
            fmt = self._overlay(fmt, f"{element}.format", self.props.raw(f"{element}.format"))
        return fmt

    def _overlay(self, fmt: NumberFormat, path: str, value: object) -> NumberFormat:
        if value is None:
            return fmt
        result, skipped = number_format(value, fmt)
        if skipped:
            self.props.note_ignored(path)
        return result


def build_context(
    visual: Mapping[str, Any],
    result: Mapping[str, Any],
    *,
    plan: QueryPlan,
    theme: Theme,
    width: float,
    height: float,
    totals: Sequence[Mapping[str, Any]] | None = None,
) -> Context:
    """The context of one visual; the answer's rows are prepared and reduced here."""
    columns = _columns(plan.columns, result)
    raw_rows = result.get("rows") or []
    props = Properties(visual.get("properties"), theme_properties(theme, plan.visual_type))
    rows = prepare_rows(columns, raw_rows)
    context = Context(
        visual=visual,
        plan=plan,
        theme=theme,
        props=props,
        width=width,
        height=height,
        columns=columns,
        rows=rows,
        warnings=list(plan.warnings),
        totals=totals,
    )
    context.rows, context.reduction = reduce_rows(context, rows)
    return context


def _columns(planned: Sequence[PlannedColumn], answer: Mapping[str, Any]) -> list[Column]:
    raw_columns = answer.get("columns") or []
    if len(raw_columns) != len(planned):
        raise ValueError(
            f"the answer has {len(raw_columns)} columns; the plan expects {len(planned)}"
        )
    return [Column(p, _type_of(raw, p)) for p, raw in zip(planned, raw_columns, strict=True)]


def _type_of(raw: object, planned: PlannedColumn) -> str:
    if isinstance(raw, Mapping) and isinstance(raw.get("type"), str):
        return str(raw["type"])
    return planned.type or "decimal"


def prepare_rows(columns: Sequence[Column], raw: Sequence[Sequence[Any]]) -> list[Row]:
    """The answer's rows as data rows (a column at a time: most need no change)."""
    keys = [c.key for c in columns]
    rows = [dict(zip(keys, values, strict=False)) for values in raw]
    for column in columns:
        if _needs_preparing(column):
            key = column.key
            for row in rows:
                row[key] = prepare_value(column, row.get(key))
    return rows


def _needs_preparing(column: Column) -> bool:
    return (column.type in ("text", "boolean") and not column.is_measure) or (
        column.type == "timestamp"
    )


def prepare_value(column: Column, value: Any) -> Any:
    if column.type in ("text", "boolean") and not column.is_measure:
        if value is None:
            return BLANK
        if isinstance(value, bool):
            return "True" if value else "False"
        return value
    if column.type == "timestamp" and isinstance(value, str) and not _has_zone(value):
        return value + "Z"
    return value


def _has_zone(text: str) -> bool:
    tail = text[10:]
    return tail.endswith("Z") or "+" in tail or "-" in tail


# -- reduction ---------------------------------------------------------------------------------


def reduce_rows(context: Context, rows: list[Row]) -> tuple[list[Row], Reduction | None]:
    """Apply the plan's reduction to the prepared rows (charts/reduction.py)."""
    strategy = context.plan.strategy
    if strategy == "top":
        return _reduce_top(context.plan, rows)
    if strategy == "first":
        return _reduce_first(context.plan, rows)
    if strategy == "sample":
        return _reduce_sample(context, rows)
    return rows, None


def _reduce_top(plan: QueryPlan, rows: list[Row]) -> tuple[list[Row], Reduction | None]:
    category, ranking, rule = plan.category, plan.ranking, plan.rule
    if category is None or ranking is None:
        return rows, None
    count = len({_hashable(row.get(category)) for row in rows})
    if count <= rule.limit:
        return rows, None
    kept = drop_lowest_category(
        rows, lambda r: _hashable(r.get(category)), lambda r: r.get(ranking)
    )
    return kept, Reduction(
        reduced=True, limit=rule.limit, strategy="top", unit=rule.unit, shown=rule.limit
    )


def _reduce_first(plan: QueryPlan, rows: list[Row]) -> tuple[list[Row], Reduction | None]:
    rule = plan.rule
    query_limit = plan.spec.get("limit")
    cut = isinstance(query_limit, int) and len(rows) >= query_limit
    category = plan.category
    if category is not None and plan.visual_type not in ROW_LIMITED:
        kept, shown, dropped = first_categories(
            rows, rule.limit, lambda r: _hashable(r.get(category)), cut=cut
        )
        if not dropped:
            return rows, None
        return kept, Reduction(
            reduced=True, limit=rule.limit, strategy="first", unit=rule.unit, shown=shown
        )
    if len(rows) <= rule.limit:
        return rows, None
    return rows[: rule.limit], Reduction(
        reduced=True,
        limit=rule.limit,
        strategy="first",
        unit=rule.unit,
        shown=rule.limit,
        total=None if cut else len(rows),
    )


def _reduce_sample(context: Context, rows: list[Row]) -> tuple[list[Row], Reduction | None]:
    rule = context.plan.rule
    if len(rows) <= rule.limit:
        return rows, None
    series_keys = [
        c.key for c in context.columns if c.planned.roles[0].well in ("color", "small_multiples")
    ]
    kept = sample_series(
        rows, rule.limit, lambda r: tuple(_hashable(r.get(k)) for k in series_keys)
    )
    return kept, Reduction(
        reduced=True,
        limit=rule.limit,
        strategy="sample",
        unit=rule.unit,
        shown=len(kept),
        total=None if len(rows) > rule.fetch else len(rows),
    )


def _hashable(value: Any) -> Any:
    return value if not isinstance(value, list | dict) else repr(value)
