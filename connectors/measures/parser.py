"""Text → syntax tree (`parse_measure`), with syntax errors that say where."""

from __future__ import annotations

import functools
from typing import Final

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import UnexpectedToken, VisitError

from connectors.errors import InvalidQuery
from connectors.measures.ast import (
    Binary,
    Call,
    ColumnRef,
    InList,
    NameRef,
    Node,
    Number,
    String,
    Unary,
)
from connectors.measures.ast import Span as _Span
from connectors.measures.errors import error_at
from connectors.measures.grammar import GRAMMAR

#: Longer expressions are refused before parsing (a measure is a formula, not a program).
MAX_EXPRESSION_LENGTH: Final = 10_000

_TOKEN_NAMES: Final = {
    "OR": "'||'",
    "AND": "'&&'",
    "NOT": "NOT",
    "IN": "IN",
    "COMPARE": "a comparison",
    "AMP": "'&'",
    "SIGN": "'+' or '-'",
    "MUL": "'*' or '/'",
    "POW": "'^'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "NUMBER": "a number",
    "STRING": "a string",
    "BRACKET": "a [column]",
    "QUOTED": "a 'table'",
    "NAME": "a name",
    "$END": "the end",
}


def _span(token: Token) -> _Span:
    return _Span(line=token.line or 1, column=token.column or 1, length=max(1, len(token)))


def _unquote(text: str, quote: str) -> str:
    return text[1:-1].replace(quote * 2, quote)


def _bracket(text: str) -> str:
    return text[1:-1].replace("]]", "]")


class _ToAst(Transformer[Token, Node]):
    def number(self, children: list[Token]) -> Number:
        (token,) = children
        text = str(token)
        is_integer = text.isdigit()
        return Number(value=int(text) if is_integer else float(text), span=_span(token))

    def string(self, children: list[Token]) -> String:
        (token,) = children
        return String(value=_unquote(str(token), '"'), span=_span(token))

    def column(self, children: list[Token]) -> ColumnRef:
        (token,) = children
        return ColumnRef(name=_bracket(str(token)), table=None, span=_span(token))

    def table_column(self, children: list[Token]) -> ColumnRef:
        table, column = children
        name = str(table)
        if table.type == "QUOTED":
            name = _unquote(name, "'")
        return ColumnRef(name=_bracket(str(column)), table=name, span=_span(column))

    def name(self, children: list[Token]) -> NameRef:
        (token,) = children
        quoted = token.type == "QUOTED"
        text = _unquote(str(token), "'") if quoted else str(token)
        return NameRef(name=text, quoted=quoted, span=_span(token))

    def call(self, children: list[Token | Node | None]) -> Call:
        name, _paren, *args = children
        assert isinstance(name, Token)
        nodes = tuple(arg for arg in args if arg is not None and not isinstance(arg, Token))
        return Call(name=str(name).upper(), args=nodes, span=_span(name))

    def unary(self, children: list[Token | Node]) -> Unary:
        op, operand = children
        assert isinstance(op, Token)
        assert not isinstance(operand, Token)
        return Unary(op=str(op).upper(), operand=operand, span=_span(op))

    def binary(self, children: list[Token | Node]) -> Binary:
        left, op, right = children
        assert isinstance(op, Token)
        assert not isinstance(left, Token)
        assert not isinstance(right, Token)
        text = "=" if str(op) == "==" else str(op)
        return Binary(op=text, left=left, right=right, span=_span(op))

    def in_list(self, children: list[Token | Node | None]) -> InList:
        operand, keyword, _brace, *items = children
        assert isinstance(keyword, Token)
        assert not isinstance(operand, Token | None)
        nodes = tuple(item for item in items if item is not None and not isinstance(item, Token))
        return InList(operand=operand, items=nodes, span=_span(keyword))


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", transformer=_ToAst(), maybe_placeholders=True)


def _expected(error: UnexpectedInput) -> str:
    names: set[str] = set(getattr(error, "expected", None) or ())
    expected = sorted(_TOKEN_NAMES.get(name, name) for name in names)
    if not expected:
        return ""
    return "expected " + (
        ", ".join(expected[:-1]) + " or " + expected[-1] if len(expected) > 1 else expected[0]
    )


def _syntax_error(text: str, error: UnexpectedInput) -> InvalidQuery:
    line = getattr(error, "line", None) or 1
    column = getattr(error, "column", None) or 1
    if (isinstance(error, UnexpectedToken) and error.token.type == "$END") or isinstance(
        error, UnexpectedEOF
    ):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "the end of the expression"
    elif isinstance(error, UnexpectedToken):
        found = repr(str(error.token))
    elif isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        found = repr(text[position]) if position < len(text) else "the end"
    else:
        found = "input"
    return error_at(
        text,
        _Span(line=line, column=column),
        f"syntax error: unexpected {found}",
        hint=_expected(error),
        code="measure_syntax",
    )


@functools.lru_cache(maxsize=1024)
def parse_measure(text: str) -> Node:
    """The syntax tree of ``text``; `InvalidQuery` (with line and column) if it is not valid."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise InvalidQuery(
            f"an expression may be at most {MAX_EXPRESSION_LENGTH} characters, got {len(text)}",
            code="measure_syntax",
        )
    if not text.strip():
        raise error_at(text, _Span(1, 1), "the expression is empty", code="measure_syntax")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    except VisitError as error:  # pragma: no cover - the transformer raises nothing itself
        raise InvalidQuery(f"cannot read the expression: {error.orig_exc}") from None
    assert not isinstance(tree, Token)
    return tree  # type: ignore[return-value]  # the transformer turns every rule into a Node
