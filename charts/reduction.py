"""Data reduction: how much of an answer a visual draws, and what it says when it draws less.

As in Power BI, each visual type has a point limit (docs/charts.md has the table). The query
asks for one more than the limit (``limit + 1`` rows, or a top-N filter of ``limit + 1``
categories), so the compiler can tell "exactly the limit" from "more than the limit" without
counting; the spec then says so in a subtitle and in ``usermeta.loupe``.

Strategies:

- ``top``: the categories ranking highest by the visual's first value (a ``top`` filter on the
  category field, ranked by the query compiler); the category beyond the limit is dropped.
- ``first``: the first rows in the visual's sort order (tables, date and number axes); a
  category cut in the middle of its series is dropped whole.
- ``sample``: up to ``fetch`` rows are fetched and thinned to ``limit`` by an even stride per
  series, keeping each series' first and last point (lines, areas, scatter). The indices kept
  of ``n`` rows, ``m`` wanted: ``floor(j * (n - 1) / (m - 1) + 1/2)`` for ``j`` in ``0..m-1``.
- ``none``: the answer is always small (a card: one row).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final, Literal, TypeVar

import msgspec

Strategy = Literal["top", "first", "sample", "none"]
T = TypeVar("T")


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """The reduction of one visual type: at most ``limit`` ``unit``s drawn."""

    unit: str
    limit: int
    strategy: Strategy
    #: ``sample``: rows fetched before thinning.
    fetch: int = 0


_BARS: Final = Rule(unit="categories", limit=500, strategy="top")
_LINES: Final = Rule(unit="points", limit=3_500, strategy="sample", fetch=30_000)
#: Series a categorical chart fetches per category at most, for a ``first`` reduction.
MAX_SERIES: Final = 60

RULES: Final[dict[str, Rule]] = {
    "column": _BARS,
    "clustered_column": _BARS,
    "stacked_column": _BARS,
    "percent_stacked_column": _BARS,
    "bar": _BARS,
    "clustered_bar": _BARS,
    "stacked_bar": _BARS,
    "percent_stacked_bar": _BARS,
    "combo": _BARS,
    "line": _LINES,
    "area": _LINES,
    "stacked_area": _LINES,
    "percent_stacked_area": _LINES,
    "waterfall": Rule(unit="categories", limit=100, strategy="top"),
    "funnel": Rule(unit="stages", limit=100, strategy="top"),
    "pie": Rule(unit="slices", limit=100, strategy="top"),
    "donut": Rule(unit="slices", limit=100, strategy="top"),
    "treemap": Rule(unit="categories", limit=500, strategy="top"),
    "scatter": Rule(unit="points", limit=5_000, strategy="sample", fetch=30_000),
    "heatmap": Rule(unit="cells", limit=5_000, strategy="first"),
    "histogram": Rule(unit="values", limit=10_000, strategy="first"),
    "table": Rule(unit="rows", limit=500, strategy="first"),
    "matrix": Rule(unit="cells", limit=10_000, strategy="first"),
    "card": Rule(unit="values", limit=1, strategy="none"),
    "multi_row_card": Rule(unit="cards", limit=100, strategy="first"),
    "kpi": Rule(unit="points", limit=1_000, strategy="first"),
    "gauge": Rule(unit="values", limit=1, strategy="none"),
    "slicer": Rule(unit="values", limit=1_000, strategy="first"),
}
#: Small multiples: panels drawn at most.
MAX_PANELS: Final = 12


class Reduction(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What was drawn of an answer: ``usermeta.loupe`` of the spec."""

    reduced: bool
    limit: int
    strategy: Strategy
    unit: str
    shown: int
    #: The size of the whole answer, when known (``None``: more than the query fetched).
    total: int | None = None

    def note(self) -> str | None:
        """The subtitle saying what was left out, or ``None``."""
        if not self.reduced:
            return None
        whole = f"{self.total:,}" if self.total is not None else f"more than {self.limit:,}"
        if self.strategy == "sample":
            return f"Showing a sample of {self.shown:,} of {whole} {self.unit}"
        which = "top" if self.strategy == "top" else "first"
        return f"Showing the {which} {self.shown:,} of {whole} {self.unit}"


def sample_indices(count: int, wanted: int) -> list[int]:
    """``wanted`` indices of ``range(count)`` evenly spread, first and last included."""
    if wanted >= count:
        return list(range(count))
    if wanted <= 1:
        return [0][:wanted]
    span, steps = count - 1, wanted - 1
    return [(2 * j * span + steps) // (2 * steps) for j in range(wanted)]


def sample_series(rows: Sequence[T], limit: int, series: Callable[[T], Hashable]) -> list[T]:
    """At most about ``limit`` rows, thinned evenly within each series (rows keep their
    order). Each series keeps ``max(2, floor(limit * size / total))`` rows."""
    groups: dict[Hashable, list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(series(row), []).append(index)
    total = len(rows)
    keep: list[int] = []
    for indices in groups.values():
        wanted = max(2, limit * len(indices) // total)
        keep += [indices[i] for i in sample_indices(len(indices), wanted)]
    keep.sort()
    return [rows[i] for i in keep]


def first_categories(
    rows: Sequence[T], limit: int, category: Callable[[T], Any], *, cut: bool
) -> tuple[list[T], int, bool]:
    """The rows of the first ``limit`` categories (in order of appearance). ``cut``: the query
    stopped at its row limit, so the last category may be incomplete and is dropped too.
    Returns the rows, the categories kept and whether any were dropped."""
    order: dict[Any, int] = {}
    for row in rows:
        key = category(row)
        if key not in order:
            order[key] = len(order)
    count = len(order)
    keep = min(limit, count - 1 if cut and count > 1 else count)
    dropped = keep < count or cut
    kept = [row for row in rows if order[category(row)] < keep]
    return kept, keep, dropped


def drop_lowest_category(
    rows: Sequence[T], category: Callable[[T], Any], value: Callable[[T], Any]
) -> list[T]:
    """The rows without the category whose values sum lowest (the one a ``top`` filter of
    ``limit + 1`` let in beyond the limit; ties: the last in order of appearance)."""
    totals: dict[Any, float] = {}
    for row in rows:
        number = value(row)
        amount = float(number) if isinstance(number, int | float) else 0.0
        key = category(row)
        totals[key] = totals.get(key, 0.0) + amount
    lowest = None
    for key, amount in totals.items():
        if lowest is None or amount <= totals[lowest]:
            lowest = key
    return [row for row in rows if category(row) != lowest]
