"""Errors that point into the expression: ``… at line 1, column 5; did you mean …?`` followed
by the offending line and a caret under the spot."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from connectors.errors import InvalidQuery
from connectors.measures.ast import Span

#: Characters of the offending line shown on each side of the spot.
EXCERPT_WIDTH = 60


def excerpt(text: str, span: Span) -> str:
    """The line of ``span`` (cut around it when long) and a caret line under it."""
    lines = text.splitlines() or [""]
    line = lines[min(span.line, len(lines)) - 1]
    start = max(0, span.column - 1 - EXCERPT_WIDTH)
    shown = line[start : span.column - 1 + EXCERPT_WIDTH]
    prefix = "…" if start else ""
    suffix = "…" if start + len(shown) < len(line) else ""
    offset = span.column - 1 - start + len(prefix)
    carets = "^" * max(1, min(span.length, len(shown) - offset + len(prefix)))
    return f"  {prefix}{shown}{suffix}\n  {' ' * offset}{carets}"


class ExpressionError(InvalidQuery):
    """An `InvalidQuery` about a place in an expression; ``message`` is the detail without
    the place (to restate it where a measure referring to this one is written)."""

    def __init__(self, message: str, detail: str, *, code: str | None, span: Span) -> None:
        super().__init__(detail, code=code, line=span.line, column=span.column)
        self.message = message


def error_at(
    text: str, span: Span, message: str, *, hint: str = "", code: str | None = None
) -> ExpressionError:
    where = f"at line {span.line}, column {span.column}"
    detail = f"{message} {where}{'; ' + hint if hint else ''}\n{excerpt(text, span)}"
    return ExpressionError(message, detail, code=code, span=span)


def suggestion(name: str, candidates: Iterable[str], *, brackets: bool = True) -> str:
    """``did you mean [Sales Amount]?`` for the closest candidates, or ``""``."""
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=3, cutoff=0.6)
    if not close:
        return ""
    shown = [f"[{by_folded[c]}]" if brackets else by_folded[c] for c in close]
    return f"did you mean {' or '.join(shown)}?"
