"""Rewrite the ``[references]`` of an expression when what they name is renamed, as Power BI
rewrites DAX: ``SUM([amount])`` becomes ``SUM([Sales amount])``, and nothing else changes —
not strings (``"[amount]"``), not comments, not spacing or case elsewhere.

The text is lexed with the measure language's own terminals (connectors/measures/grammar.py),
so a ``[`` inside a string or a comment is never taken for a reference. Text that does not
lex (an expression that was stored before it became invalid) is left as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Collection

from lark import Lark, LarkError

from connectors.measures.grammar import GRAMMAR


@functools.cache
def _lexer() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic")


def bracketed(name: str) -> str:
    """``name`` as a reference: ``[name]``, a ``]`` in it doubled."""
    return "[" + name.replace("]", "]]") + "]"


def rename_references(expression: str, names: Collection[str], new: str) -> str:
    """``expression`` with every ``[reference]`` to one of ``names`` (case-insensitively) now
    naming ``new``; the same text when it has none (or does not lex)."""
    folded = {name.casefold() for name in names}
    pieces: list[str] = []
    done = 0
    try:
        for token in _lexer().lex(expression):
            if token.type != "BRACKET":
                continue
            name = str(token)[1:-1].replace("]]", "]")
            if name.casefold() not in folded:
                continue
            start, end = token.start_pos, token.end_pos
            assert start is not None
            assert end is not None
            pieces += [expression[done:start], bracketed(new)]
            done = end
    except LarkError:
        return expression
    if not pieces:
        return expression
    return "".join(pieces) + expression[done:]
