"""The value formats the importer recognises, each as DuckDB SQL.

A format says which text values it accepts (``accepts``: a strict test, used to choose formats)
and how to convert one (``convert``: an expression that is NULL for a value it cannot read,
used by the conversion itself). ``convert`` is cheap and guarded so that it never changes a
value silently (DuckDB's own cast reads ``'1.5'`` as the integer 2, ``'2024-01-05 10:00'`` as a
date); ``accepts`` adds a regular expression where the cast is more lenient than the format.

``locale`` says which decimal separator a number format implies (``None``: either, e.g.
``1234``); ``day_first`` whether a date format reads ``01/02/2024`` as 1 February.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from domain.dataset.schema import FieldType

Locale = Literal["dot", "comma"]

#: DuckDB's type for each Loupe type (``decimal`` is a double: Loupe's "any non-integer").
DUCKDB_TYPES: Final[dict[FieldType, str]] = {
    "integer": "BIGINT",
    "decimal": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "text": "VARCHAR",
}
#: Which type wins when several formats read every value (``1`` is an integer, not a decimal).
TYPE_PRIORITY: Final[dict[FieldType, int]] = {
    "boolean": 0,
    "integer": 1,
    "decimal": 2,
    "date": 3,
    "timestamp": 4,
    "text": 5,
}

_SPACES = "[ \u00a0\u202f]"  # space, no-break space, narrow no-break space (French groups)
#: The marker of space-grouped numbers: a space, no-break or narrow no-break space in a number.
SPACE: Final = " "
#: Separators a sample value is checked for (`ValueFormat.marker`), as SQL tests.
MARKERS: Final = {
    ",": "contains({v}, ',')",
    ".": "contains({v}, '.')",
    "'": "contains({v}, '''')",
    SPACE: "regexp_matches({v}, '[0-9][ \u00a0\u202f][0-9]')",
}
_SIGN = "[+-]?"
_PAD = " *"


@dataclass(frozen=True, kw_only=True)
class ValueFormat:
    key: str
    type: FieldType
    #: For people: "1.234,56", "31/12/2024".
    example: str
    #: A regular expression (RE2 and Python alike) the whole value must match, besides having
    #: a non-NULL ``convert``.
    pattern: str
    #: SQL with ``{v}`` for the value: the typed value, NULL where the value does not fit.
    template: str
    locale: Locale | None = None
    day_first: bool | None = None
    #: A separator (``,`` ``.`` ``'`` or `SPACE`) some value must contain for this format to
    #: be worth trying: ``123`` reads as ``1,234``-style too, but such a format adds nothing.
    marker: str | None = None

    def convert(self, value_sql: str) -> str:
        return self.template.replace("{v}", value_sql)

    def accepts(self, value_sql: str) -> str:
        converted = f"({self.convert(value_sql)}) IS NOT NULL"
        # CASE, not AND: DuckDB evaluates both sides of an AND, and strptime is slow on
        # values it rejects; CASE converts only what the pattern let through.
        test = f"regexp_full_match({value_sql}, {sql_string(self.pattern)})"
        return f"(CASE WHEN {test} THEN {converted} ELSE false END)"

    def reads(self, value_sql: str) -> str:
        """Whether the conversion reads the value: ``accepts`` without the pattern where the
        conversion is a cast (cheap, and what the conversion itself will do), with it where
        the conversion is ``strptime`` (slow on values it rejects)."""
        if "strptime" not in self.template:
            return f"({self.convert(value_sql)}) IS NOT NULL"
        return self.accepts(value_sql)


def sql_string(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _grouped(pattern: str, strip: str, *, decimal_comma: bool, target: str) -> str:
    """Convert only what matches ``pattern`` (the cast alone would take ``1,2,3`` as 123)."""
    cleaned = f"regexp_replace({{v}}, {sql_string(strip)}, '', 'g')"
    if decimal_comma:
        cleaned = f"replace({cleaned}, ',', '.')"
    return (
        f"CASE WHEN regexp_full_match({{v}}, {sql_string(pattern)}) "
        f"THEN TRY_CAST({cleaned} AS {target}) END"
    )


def _strptime(*formats: str) -> str:
    listed = ", ".join(sql_string(f) for f in formats)
    return f"try_strptime(trim({{v}}), [{listed}])"


_STRPTIME_PATTERNS: Final = {
    "%Y": "[0-9]{4}",
    "%m": "[0-9]{1,2}",
    "%d": "[0-9]{1,2}",
    "%b": "[A-Za-z]{3}",
    "%B": "[A-Za-z]{3,9}",
    "%H": "[0-9]{1,2}",
    "%M": "[0-9]{2}",
    "%S": "[0-9]{2}",
    "%f": "[0-9]{1,6}",
}


def _shape(fmt: str) -> str:
    """A regular expression for what ``strptime(fmt)`` can read: a cheap test that spares
    ``try_strptime`` (slow on values it rejects) most values of other columns."""
    parts = re.split(r"(%[A-Za-z])", fmt)
    return "".join(_STRPTIME_PATTERNS.get(part, re.escape(part)) for part in parts)


def _date_format(key: str, fmt: str, example: str, *, day_first: bool | None) -> ValueFormat:
    return ValueFormat(
        key=key,
        type="date",
        example=example,
        pattern=f"{_PAD}{_shape(fmt)}{_PAD}",
        template=f"CAST({_strptime(fmt)} AS DATE)",
        day_first=day_first,
    )


def _timestamp_format(
    key: str, date_fmt: str, example: str, *, day_first: bool | None
) -> ValueFormat:
    times = (f"{date_fmt} %H:%M:%S.%f", f"{date_fmt} %H:%M:%S", f"{date_fmt} %H:%M", date_fmt)
    time_part = "( [0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,6})?)?)?"
    return ValueFormat(
        key=key,
        type="timestamp",
        example=example,
        pattern=f"{_PAD}{_shape(date_fmt)}{time_part}{_PAD}",
        template=_strptime(*times),
        day_first=day_first,
    )


_INT_COMMA_GROUPS = f"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}}(,[0-9]{{3}})*){_PAD}"
_INT_DOT_GROUPS = rf"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}}(\.[0-9]{{3}})*){_PAD}"
_INT_SPACE_GROUPS = f"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}}({_SPACES}[0-9]{{3}})*){_PAD}"
_INT_APOSTROPHE_GROUPS = f"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}}('[0-9]{{3}})*){_PAD}"
_DEC_COMMA_GROUPS = rf"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}})(,[0-9]{{3}})*(\.[0-9]+)?{_PAD}"
_DEC_DOT_GROUPS = rf"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}})(\.[0-9]{{3}})*(,[0-9]+)?{_PAD}"
_DEC_SPACE_GROUPS = f"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}})({_SPACES}[0-9]{{3}})*(,[0-9]+)?{_PAD}"
_DEC_APOSTROPHE_GROUPS = rf"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,2}})('[0-9]{{3}})*(\.[0-9]+)?{_PAD}"

#: Every format, in the order ties are broken (after type priority and the file's locale).
FORMATS: Final[tuple[ValueFormat, ...]] = (
    ValueFormat(
        key="boolean",
        type="boolean",
        example="true/false, yes/no, y/n",
        pattern="(?i) *(true|false|yes|no|t|f|y|n) *",
        template="TRY_CAST({v} AS BOOLEAN)",
    ),
    # Integers: no leading zeros (``00123`` is a code), at most 18 digits (an id beyond that).
    ValueFormat(
        key="integer",
        type="integer",
        example="1234",
        pattern=f"{_PAD}{_SIGN}(0|[1-9][0-9]{{0,17}}){_PAD}",
        template="CASE WHEN NOT contains({v}, '.') THEN TRY_CAST({v} AS BIGINT) END",
    ),
    ValueFormat(
        key="integer_comma_groups",
        type="integer",
        example="1,234,567",
        pattern=_INT_COMMA_GROUPS,
        template=_grouped(_INT_COMMA_GROUPS, ",", decimal_comma=False, target="BIGINT"),
        locale="dot",
        marker=",",
    ),
    ValueFormat(
        key="integer_dot_groups",
        type="integer",
        example="1.234.567",
        pattern=_INT_DOT_GROUPS,
        template=_grouped(_INT_DOT_GROUPS, r"\.", decimal_comma=False, target="BIGINT"),
        locale="comma",
        marker=".",
    ),
    ValueFormat(
        key="integer_space_groups",
        type="integer",
        example="1 234 567",
        pattern=_INT_SPACE_GROUPS,
        template=_grouped(_INT_SPACE_GROUPS, _SPACES, decimal_comma=False, target="BIGINT"),
        marker=SPACE,
    ),
    ValueFormat(
        key="integer_apostrophe_groups",
        type="integer",
        example="1'234'567",
        pattern=_INT_APOSTROPHE_GROUPS,
        template=_grouped(_INT_APOSTROPHE_GROUPS, "'", decimal_comma=False, target="BIGINT"),
        locale="dot",
        marker="'",
    ),
    ValueFormat(
        key="decimal_dot",
        type="decimal",
        example="1234.56",
        pattern=rf"{_PAD}{_SIGN}((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?{_PAD}",
        template="TRY_CAST({v} AS DOUBLE)",
        locale="dot",
    ),
    ValueFormat(
        key="decimal_comma",
        type="decimal",
        example="1234,56",
        pattern=f"{_PAD}{_SIGN}((0|[1-9][0-9]*)(,[0-9]*)?|,[0-9]+)([eE][+-]?[0-9]+)?{_PAD}",
        template=(
            "CASE WHEN NOT contains({v}, '.') THEN TRY_CAST(replace({v}, ',', '.') AS DOUBLE) END"
        ),
        locale="comma",
        marker=",",
    ),
    ValueFormat(
        key="decimal_comma_groups",
        type="decimal",
        example="1,234.56",
        pattern=_DEC_COMMA_GROUPS,
        template=_grouped(_DEC_COMMA_GROUPS, ",", decimal_comma=False, target="DOUBLE"),
        locale="dot",
        marker=",",
    ),
    ValueFormat(
        key="decimal_dot_groups",
        type="decimal",
        example="1.234,56",
        pattern=_DEC_DOT_GROUPS,
        template=_grouped(_DEC_DOT_GROUPS, r"\.", decimal_comma=True, target="DOUBLE"),
        locale="comma",
        marker=".",
    ),
    ValueFormat(
        key="decimal_space_groups",
        type="decimal",
        example="1 234,56",
        pattern=_DEC_SPACE_GROUPS,
        template=_grouped(_DEC_SPACE_GROUPS, _SPACES, decimal_comma=True, target="DOUBLE"),
        locale="comma",
        marker=SPACE,
    ),
    ValueFormat(
        key="decimal_apostrophe_groups",
        type="decimal",
        example="1'234.56",
        pattern=_DEC_APOSTROPHE_GROUPS,
        template=_grouped(_DEC_APOSTROPHE_GROUPS, "'", decimal_comma=False, target="DOUBLE"),
        locale="dot",
        marker="'",
    ),
    ValueFormat(
        key="date_iso",
        type="date",
        example="2024-12-31",
        pattern=f"{_PAD}[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}{_PAD}",
        template="CASE WHEN length(trim({v})) <= 10 THEN TRY_CAST(trim({v}) AS DATE) END",
    ),
    _date_format("date_ymd_slash", "%Y/%m/%d", "2024/12/31", day_first=None),
    _date_format("date_dmy_slash", "%d/%m/%Y", "31/12/2024", day_first=True),
    _date_format("date_mdy_slash", "%m/%d/%Y", "12/31/2024", day_first=False),
    _date_format("date_dmy_dot", "%d.%m.%Y", "31.12.2024", day_first=True),
    _date_format("date_dmy_dash", "%d-%m-%Y", "31-12-2024", day_first=True),
    _date_format("date_mdy_dash", "%m-%d-%Y", "12-31-2024", day_first=False),
    _date_format("date_mon_d_y", "%b %d %Y", "Dec 31 2024", day_first=None),
    _date_format("date_mon_d_comma_y", "%b %d, %Y", "Dec 31, 2024", day_first=None),
    _date_format("date_month_d_comma_y", "%B %d, %Y", "December 31, 2024", day_first=None),
    _date_format("date_d_mon_y", "%d %b %Y", "31 Dec 2024", day_first=None),
    _date_format("date_d_month_y", "%d %B %Y", "31 December 2024", day_first=None),
    _date_format("date_d_mon_y_dash", "%d-%b-%Y", "31-Dec-2024", day_first=None),
    ValueFormat(
        key="timestamp_iso",
        type="timestamp",
        example="2024-12-31 23:59:59",
        pattern=(
            f"{_PAD}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}"
            rf"([T ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?)?{_PAD}"
        ),
        template="TRY_CAST({v} AS TIMESTAMP)",
    ),
    # With a UTC offset: converted to UTC (the ingest connection's time zone).
    ValueFormat(
        key="timestamp_iso_offset",
        type="timestamp",
        example="2024-12-31T23:59:59+01:00",
        pattern=(
            f"{_PAD}[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}"
            rf"([T ][0-9]{{2}}:[0-9]{{2}}(:[0-9]{{2}}(\.[0-9]+)?)?"
            rf"( ?(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?))?)?{_PAD}"
        ),
        template="TRY_CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)",
    ),
    _timestamp_format("timestamp_ymd_slash", "%Y/%m/%d", "2024/12/31 23:59", day_first=None),
    _timestamp_format("timestamp_dmy_slash", "%d/%m/%Y", "31/12/2024 23:59", day_first=True),
    _timestamp_format("timestamp_mdy_slash", "%m/%d/%Y", "12/31/2024 23:59", day_first=False),
    _timestamp_format("timestamp_dmy_dot", "%d.%m.%Y", "31.12.2024 23:59", day_first=True),
)

FORMATS_BY_KEY: Final[dict[str, ValueFormat]] = {f.key: f for f in FORMATS}

#: Any value: the fallback of every column.
TEXT: Final = ValueFormat(
    key="text", type="text", example="anything", pattern="(?s).*", template="{v}"
)
