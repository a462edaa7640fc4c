"""Bound values as SQL literals, for ``COPY (query) TO STDOUT``, which takes no parameters.

Each ``$n`` outside strings, quoted identifiers, comments and dollar-quoted bodies becomes
``('<text>'::"schema"."type")``: the value's text form, quoted (single quotes doubled; the
session has ``standard_conforming_strings=on``, so a backslash is an ordinary character), and
cast to the type the server inferred for ``$n`` when it prepared the statement. That is what
binding the value does: the server reads the text with the type's input function. Values are
checked against that type first (`bind_value`, shared with the bound path), so both paths take
and refuse the same values.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from connectors.errors import InvalidQuery
from connectors.postgres.config import quote_ident


@dataclass(frozen=True)
class ParamType:
    """A parameter's type as the server inferred it (from asyncpg's ``Type``)."""

    schema: str
    name: str
    #: For an array type: its element type's name (in the same schema).
    element: str | None = None

    @classmethod
    def of(cls, typ: Any) -> ParamType:
        name = str(typ.name)
        if typ.kind == "array" and name.endswith("[]"):
            return cls(schema=str(typ.schema), name=name, element=name[:-2])
        return cls(schema=str(typ.schema), name=name)

    def sql(self) -> str:
        if self.element is not None:
            return f"{quote_ident(self.schema)}.{quote_ident(self.element)}[]"
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    def scalar(self) -> ParamType:
        return ParamType(schema=self.schema, name=self.element or self.name)


def bind_value(value: Any, typ: ParamType, zone: dt.tzinfo, index: int) -> Any:
    """``value`` checked against ``typ`` and normalized the way both paths use it: a date for a
    ``date``, a naive datetime (in the session zone) for a ``timestamp``, an aware one for a
    ``timestamptz``. `InvalidQuery` when the type cannot take it."""
    if value is None:
        return None
    if typ.element is not None:
        if not isinstance(value, list | tuple):
            _mismatch(value, typ, index)
        element = typ.scalar()
        return [bind_value(item, element, zone, index) for item in value]
    if isinstance(value, bool) and typ.name != "bool":
        _mismatch(value, typ, index)
    normalize = _NORMALIZERS.get(typ.name, _as_text)
    return normalize(value, typ, zone, index)


def _as_integer(value: Any, typ: ParamType, _zone: dt.tzinfo, index: int) -> Any:
    if not isinstance(value, int):
        _mismatch(value, typ, index)
    return value


def _as_number(value: Any, typ: ParamType, _zone: dt.tzinfo, index: int) -> Any:
    if not isinstance(value, int | float | Decimal):
        _mismatch(value, typ, index)
    if isinstance(value, Decimal) and value.is_snan():
        raise InvalidQuery(f"parameter ${index}: a signalling NaN has no SQL form")
    return value


def _as_bool(value: Any, typ: ParamType, _zone: dt.tzinfo, index: int) -> Any:
    if not isinstance(value, bool):
        _mismatch(value, typ, index)
    return value


def _as_date(value: Any, typ: ParamType, zone: dt.tzinfo, index: int) -> Any:
    if isinstance(value, dt.datetime):
        return _naive(value, zone).date()
    if not isinstance(value, dt.date):
        _mismatch(value, typ, index)
    return value


def _as_timestamp(value: Any, typ: ParamType, zone: dt.tzinfo, index: int) -> Any:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        _mismatch(value, typ, index)
    if typ.name == "timestamp":
        return _naive(moment, zone)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _as_text(value: Any, typ: ParamType, _zone: dt.tzinfo, index: int) -> Any:
    """Text, and the types read from their text form (uuid, json, enums, ...), take strings."""
    if not isinstance(value, str):
        _mismatch(value, typ, index)
    if "\x00" in value:
        raise InvalidQuery(f"parameter ${index}: text cannot contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidQuery(f"parameter ${index}: text is not valid Unicode") from None
    return value


_NORMALIZERS: Final[dict[str, Callable[[Any, ParamType, dt.tzinfo, int], Any]]] = {
    **dict.fromkeys(("int2", "int4", "int8", "oid"), _as_integer),
    **dict.fromkeys(("float4", "float8", "numeric"), _as_number),
    "bool": _as_bool,
    "date": _as_date,
    "timestamp": _as_timestamp,
    "timestamptz": _as_timestamp,
}


def sql_literal(value: Any, typ: ParamType, zone: dt.tzinfo, index: int) -> str:
    """``value`` (for parameter ``$index`` of type ``typ``) as a typed SQL literal."""
    bound = bind_value(value, typ, zone, index)
    if bound is None:
        return f"NULL::{typ.sql()}"
    if typ.element is not None:
        text = "{" + ",".join(_array_item(item) for item in bound) + "}"
    else:
        text = _text_of(bound)
    return "'" + text.replace("'", "''") + "'::" + typ.sql()


def inline_params(
    sql: str, params: Sequence[Any], types: Sequence[ParamType], zone: dt.tzinfo
) -> str:
    """``sql`` with each ``$n`` replaced by its value as a typed literal."""
    if len(params) != len(types):
        raise InvalidQuery(f"the query takes {len(types)} parameters but {len(params)} were given")
    literals = [
        "(" + sql_literal(value, typ, zone, number) + ")"
        for number, (value, typ) in enumerate(zip(params, types, strict=True), start=1)
    ]
    return substitute_params(sql, literals)


def zone_of(name: str) -> dt.tzinfo:
    return dt.UTC if name == "UTC" else ZoneInfo(name)


# -- text forms ------------------------------------------------------------------------------


def _text_of(value: Any) -> str:  # noqa: C901, PLR0911 - one arm per Python type
    """The text form PostgreSQL's input functions read back as exactly ``value``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)  # the shortest text that reads back as the same double
    if isinstance(value, Decimal):
        if value.is_nan():
            return "NaN"
        if value.is_infinite():
            return "Infinity" if value > 0 else "-Infinity"
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    assert isinstance(value, str)
    return value


def _array_item(value: Any) -> str:
    if value is None:
        return "NULL"
    text = _text_of(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _naive(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """An aware datetime as the session zone's wall time; a naive one as it is."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(zone).replace(tzinfo=None)


def _mismatch(value: Any, typ: ParamType, index: int) -> None:
    raise InvalidQuery(
        f"parameter ${index} is a {type(value).__name__}, which a {typ.name} cannot take"
    )


# -- finding $n in SQL -----------------------------------------------------------------------

#: What can start something to skip or replace: a string, a quoted identifier, a comment, a
#: dollar sign (a parameter or a dollar-quoted body).
_SPECIAL = re.compile(r"""['"$]|--|/\*""")
_PARAM = re.compile(r"\$([0-9]+)")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*)?\$")


def substitute_params(sql: str, literals: Sequence[str]) -> str:
    """``sql`` with every parameter reference ``$n`` replaced by ``literals[n - 1]``."""
    out: list[str] = []
    done = 0
    position = 0
    while (found := _SPECIAL.search(sql, position)) is not None:
        start = found.start()
        if found.group() != "$":
            position = _skip_quoted(sql, start, found.group())
        elif start > 0 and _in_identifier(sql[start - 1]):
            position = start + 1  # "a$1" is an identifier, not a parameter
        elif param := _PARAM.match(sql, start):
            number = int(param.group(1))
            if not 1 <= number <= len(literals):
                raise InvalidQuery(f"the query names ${number} but has {len(literals)} parameters")
            out.append(sql[done:start])
            out.append(literals[number - 1])
            done = position = param.end()
        elif tag := _DOLLAR_TAG.match(sql, start):
            end = sql.find(tag.group(), tag.end())
            if end < 0:
                raise InvalidQuery("the query has an unterminated dollar-quoted string")
            position = end + len(tag.group())
        else:
            position = start + 1
    out.append(sql[done:])
    return "".join(out)


def _skip_quoted(sql: str, start: int, opening: str) -> int:
    """Where the string, quoted identifier or comment opening at ``start`` ends."""
    if opening == "'":
        return _end_of_string(sql, start)
    if opening == '"':
        return _end_of_quoted(sql, start)
    if opening == "--":
        end = sql.find("\n", start)
        return len(sql) if end < 0 else end + 1
    return _end_of_block_comment(sql, start)


def _in_identifier(char: str) -> bool:
    return char.isalnum() or char in "_$" or ord(char) >= 0x80  # noqa: PLR2004


def _end_of_string(sql: str, start: int) -> int:
    # E'...' strings treat a backslash as an escape; standard strings do not.
    prefix = sql[max(0, start - 2) : start]
    escapes = prefix[-1:] in {"e", "E"} and not (len(prefix) == 2 and _in_identifier(prefix[0]))  # noqa: PLR2004
    position = start + 1
    while position < len(sql):
        char = sql[position]
        if escapes and char == "\\":
            position += 2
            continue
        if char == "'":
            if sql.startswith("''", position):
                position += 2
                continue
            return position + 1
        position += 1
    raise InvalidQuery("the query has an unterminated string")


def _end_of_quoted(sql: str, start: int) -> int:
    position = start + 1
    while (end := sql.find('"', position)) >= 0:
        if sql.startswith('""', end):
            position = end + 2
            continue
        return end + 1
    raise InvalidQuery("the query has an unterminated quoted identifier")


def _end_of_block_comment(sql: str, start: int) -> int:
    depth = 0
    position = start
    while position < len(sql):
        if sql.startswith("/*", position):
            depth += 1
            position += 2
        elif sql.startswith("*/", position):
            depth -= 1
            position += 2
            if depth == 0:
                return position
        else:
            position += 1
    raise InvalidQuery("the query has an unterminated comment")
