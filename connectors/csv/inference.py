"""Choosing each column's type and format from counts DuckDB makes over the values.

Two passes can feed the choice, both one aggregate query (connectors/csv/scan.py):

- the sample (the first `SAMPLE_ROWS` rows): how many values every format fails to read;
  every format that reads them all is a candidate, ordered by the file's decimal separator,
  the type (boolean, integer, decimal, date, timestamp) and the file's day/month order;
- the whole file, only when the conversion meets a value the sample's choice cannot read
  (or a column is empty throughout the sample): the same counts for each column's candidates,
  and the first candidate that reads every value wins; none → text, with a warning.

Everything here is pure: counts in, decisions out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from connectors.csv.formats import FORMATS, TEXT, TYPE_PRIORITY, Locale, ValueFormat
from connectors.csv.options import CsvOptions

#: Rows the first pass looks at.
SAMPLE_ROWS: Final = 20_000

#: What a failing format may widen to in the whole-file pass (an integer column meeting 2.5).
_WIDER: Final[dict[str, tuple[str, ...]]] = {
    "integer": ("decimal_dot", "decimal_comma"),
    "integer_comma_groups": ("decimal_comma_groups",),
    "integer_dot_groups": ("decimal_dot_groups",),
    "integer_space_groups": ("decimal_space_groups",),
    "integer_apostrophe_groups": ("decimal_apostrophe_groups",),
    "date_iso": ("timestamp_iso", "timestamp_iso_offset"),
    "timestamp_iso": ("timestamp_iso_offset",),
    "date_ymd_slash": ("timestamp_ymd_slash",),
    "date_dmy_slash": ("timestamp_dmy_slash",),
    "date_mdy_slash": ("timestamp_mdy_slash",),
    "date_dmy_dot": ("timestamp_dmy_dot",),
}
_FORMATS_BY_KEY: Final = {f.key: f for f in FORMATS}
_PATTERNS: Final = {f.key: re.compile(f.pattern) for f in FORMATS}


def possible_formats(values: Iterable[str]) -> tuple[ValueFormat, ...]:
    """The formats whose pattern every non-blank value matches: a quick first cut, in Python,
    on the rows the dialect was detected on, so that DuckDB tests only these on the sample
    (DuckDB's ``try_strptime`` is slow on values it rejects). No value: every format."""
    present = [value for value in values if value.strip()]
    return tuple(f for f in FORMATS if all(_PATTERNS[f.key].fullmatch(value) for value in present))


@dataclass(frozen=True)
class ColumnCounts:
    """What one pass found about one column."""

    #: Values that are not empty or blank.
    values: int
    #: Per format key: values it cannot read.
    failures: Mapping[str, int]
    #: Per format key: one value it cannot read (whole-file pass only).
    failing_example: Mapping[str, str] = field(default_factory=dict)
    #: A value with leading zeros (``007``), if any.
    leading_zeros: str | None = None
    #: Whether every value is made of digits.
    all_digits: bool = False
    #: The number separators some value contains (`ValueFormat.marker`).
    separators: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    #: Candidates, best first; the conversion uses the first (text when empty).
    candidates: tuple[ValueFormat, ...]
    #: Empty in the whole sample, while the file goes on: only the whole file can tell.
    unknown: bool = False

    @property
    def format(self) -> ValueFormat:
        return self.candidates[0] if self.candidates else TEXT


@dataclass(frozen=True)
class Plan:
    columns: tuple[ColumnPlan, ...]
    locale: Locale
    day_first: bool
    warnings: tuple[str, ...] = ()

    @property
    def needs_whole_file(self) -> bool:
        return any(column.unknown for column in self.columns)


def decide_locale(counts: Sequence[ColumnCounts], *, delimiter: str, options: CsvOptions) -> Locale:
    """The decimal separator: named by the person, else the one the columns that tell
    (``3.14``, ``1.234,5``) mostly use, else ``,`` for ``;``-delimited files (Excel's choice
    where the comma is the decimal separator), else ``.``."""
    if options.decimal_separator is not None:
        return "comma" if options.decimal_separator == "," else "dot"
    votes = {"dot": 0, "comma": 0}
    for column in counts:
        locales = {f.locale for f in _readers(column) if f.locale and f.type != "text"}
        if len(locales) == 1:
            votes[locales.pop()] += 1
    if votes["dot"] != votes["comma"]:
        return "dot" if votes["dot"] > votes["comma"] else "comma"
    return "comma" if delimiter == ";" else "dot"


def plan_from_sample(
    names: Sequence[str],
    counts: Sequence[ColumnCounts],
    *,
    complete: bool,
    delimiter: str,
    options: CsvOptions,
) -> Plan:
    """The plan from the sample's counts (``complete``: the sample is the whole file)."""
    locale = decide_locale(counts, delimiter=delimiter, options=options)
    day_first = options.day_first if options.day_first is not None else locale == "comma"
    columns: list[ColumnPlan] = []
    warnings: list[str] = []
    for name, column in zip(names, counts, strict=True):
        if column.values == 0:
            unknown = not complete
            candidates = _ordered(FORMATS, locale, day_first=day_first) if unknown else ()
            columns.append(ColumnPlan(name, candidates, unknown=unknown))
            continue
        readers = _ordered(_readers(column), locale, day_first=day_first)
        # A format whose separator no value has adds nothing but work (123 reads as 1,234).
        worth = tuple(f for f in readers if f.marker is None or f.marker in column.separators)
        columns.append(ColumnPlan(name, _with_wider(worth, locale)))
        warnings.extend(_sample_warnings(name, column, readers, day_first=day_first))
    return Plan(tuple(columns), locale, day_first, tuple(warnings))


def plan_from_whole_file(plan: Plan, counts: Sequence[ColumnCounts]) -> Plan:
    """The final plan: each column's first candidate that reads every value of the file."""
    columns: list[ColumnPlan] = []
    warnings = list(plan.warnings)
    for column, found in zip(plan.columns, counts, strict=True):
        fits = [f for f in column.candidates if found.failures.get(f.key, 1) == 0]
        if found.values == 0 or not column.candidates:
            columns.append(ColumnPlan(column.name, ()))
            continue
        if fits:
            columns.append(ColumnPlan(column.name, (fits[0],)))
            continue
        columns.append(ColumnPlan(column.name, ()))
        if not column.unknown:
            first = column.candidates[0]
            example = found.failing_example.get(first.key, "")
            warnings.append(
                f"column {column.name!r} kept as text: {example!r} is not "
                f"{_article(first.type)} {first.type} like the values before it"
            )
    return Plan(tuple(columns), plan.locale, plan.day_first, tuple(warnings))


def _readers(column: ColumnCounts) -> list[ValueFormat]:
    return [f for f in FORMATS if column.failures.get(f.key, 1) == 0]


def _ordered(
    formats: Sequence[ValueFormat], locale: Locale, *, day_first: bool
) -> tuple[ValueFormat, ...]:
    def rank(item: tuple[int, ValueFormat]) -> tuple[int, int, int, int]:
        index, f = item
        return (
            f.locale not in (None, locale),
            TYPE_PRIORITY[f.type],
            f.day_first not in (None, day_first),
            index,
        )

    return tuple(f for _, f in sorted(enumerate(formats), key=rank))


def _with_wider(readers: tuple[ValueFormat, ...], locale: Locale) -> tuple[ValueFormat, ...]:
    if not readers:
        return ()
    wider = [
        _FORMATS_BY_KEY[key]
        for key in _WIDER.get(readers[0].key, ())
        if _FORMATS_BY_KEY[key].locale in (None, locale)
    ]
    return readers + tuple(f for f in wider if f not in readers)


def _sample_warnings(
    name: str, column: ColumnCounts, readers: Sequence[ValueFormat], *, day_first: bool
) -> list[str]:
    if not readers and column.all_digits:
        if column.leading_zeros is not None:
            return [
                (
                    f"column {name!r} kept as text: values such as {column.leading_zeros!r} "
                    "have leading zeros (codes, not numbers)"
                )
            ]
        return [f"column {name!r} kept as text: numbers of more than 18 digits are identifiers"]
    if readers and readers[0].day_first is not None:
        other = [f for f in readers if f.day_first is not None and f.day_first != day_first]
        if other:
            order = "day/month/year" if day_first else "month/day/year"
            return [
                (
                    f"column {name!r}: no day in the first {SAMPLE_ROWS:,} rows is over 12, so "
                    f"its dates are read as {order} (like {readers[0].example})"
                )
            ]
    return []


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
