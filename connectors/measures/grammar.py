"""The measure language's grammar (lark, LALR(1)).

Operator precedence, loosest first: ``||``; ``&&``; ``NOT``; comparisons (``= == <> < <= > >=``
and ``IN {…}``, not chained); ``&`` (text concatenation); ``+ -``; ``* /``; unary ``- +``;
``^`` (binds tighter than a sign: ``-2^2`` is -4). Keywords and function names are
case-insensitive. Comments: ``// …``, ``-- …`` and ``/* … */``.
"""

from __future__ import annotations

from typing import Final

GRAMMAR: Final = r"""
?start: expr

?expr: or_expr

?or_expr: and_expr
    | or_expr OR and_expr -> binary

?and_expr: not_expr
    | and_expr AND not_expr -> binary

?not_expr: comparison
    | NOT not_expr -> unary

?comparison: concat
    | concat COMPARE concat -> binary
    | concat IN LBRACE [expr ("," expr)*] "}" -> in_list

?concat: additive
    | concat AMP additive -> binary

?additive: multiplicative
    | additive SIGN multiplicative -> binary

?multiplicative: unary
    | multiplicative MUL unary -> binary

?unary: power
    | SIGN unary -> unary

?power: atom
    | atom POW unary -> binary

?atom: NUMBER -> number
    | STRING -> string
    | BRACKET -> column
    | NAME BRACKET -> table_column
    | QUOTED BRACKET -> table_column
    | NAME LPAR [expr ("," expr)*] ")" -> call
    | NAME -> name
    | QUOTED -> name
    | "(" expr ")"

OR: "||"
AND: "&&"
NOT: "NOT"i
IN: "IN"i
COMPARE: "==" | "=" | "<>" | "<=" | ">=" | "<" | ">"
AMP: "&"
SIGN: "+" | "-"
MUL: "*" | "/"
POW: "^"
LPAR: "("
LBRACE: "{"

NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
STRING: /"([^"]|"")*"/
BRACKET: /\[([^\]]|\]\])*\]/
QUOTED: /'([^']|'')*'/
NAME: /[A-Za-z_][A-Za-z0-9_.]*/

COMMENT: /\/\/[^\n]*/ | /--[^\n]*/ | /\/\*(.|\n)*?\*\//
%import common.WS
%ignore WS
%ignore COMMENT
"""
