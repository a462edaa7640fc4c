"""PostgreSQL names that end up inside SQL text.

Schema names are interpolated into DDL and queries (identifiers cannot be bind parameters),
so they are checked against a deliberately narrow pattern instead of being escaped: lower
case, so that quoted and unquoted spellings mean the same object; at most 63 bytes, so that
PostgreSQL never silently truncates one into another.
"""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_identifier(name: str) -> str:
    """Return ``name`` unchanged if it is a safe lower-case identifier, else raise ValueError."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a valid schema name: use 1-63 characters of a-z, 0-9 and _, "
            "not starting with a digit"
        )
    return name


def quote_identifier(name: str) -> str:
    """The checked identifier in double quotes (also safe for reserved words)."""
    return f'"{check_identifier(name)}"'
