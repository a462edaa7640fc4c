"""The syntax tree of a measure-language expression, as written (names not yet resolved).

Every node keeps the `Span` of the token that best says where it is (a column reference's
brackets, a function's name, a binary operator), so that errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    #: 1-based, as people count.
    line: int
    column: int
    length: int = 1


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """``[Name]`` (a field, a calculated column or a measure) or ``Table[Name]``."""

    name: str
    table: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class NameRef:
    """A bare word or a quoted ``'name'``: a table (``ALL(Sales)``), ``TRUE``/``FALSE``, or a
    keyword argument such as ``MONTH`` in ``DATEADD([Date], -1, MONTH)``."""

    name: str
    quoted: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-", "+", "NOT"
    operand: Node
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / ^ & = == <> < <= > >= && ||
    left: Node
    right: Node
    span: Span


@dataclass(frozen=True, slots=True)
class InList:
    operand: Node
    items: tuple[Node, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    #: Upper-cased: function names are case-insensitive.
    name: str
    args: tuple[Node, ...]
    span: Span


Node = Number | String | ColumnRef | NameRef | Unary | Binary | InList | Call
