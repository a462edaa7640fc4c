"""Column names as people see them: the header's, cleaned, unique and never blank."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

_CONTROL_OR_SPACE: Final = re.compile(r"[\s\x00-\x1f\x7f]+")
#: Longer names are cut (a header cell holding a paragraph is a mistake, not a name).
MAX_NAME_LENGTH: Final = 128


def clean_names(header: Sequence[str] | None, count: int) -> list[str]:
    """``count`` names from ``header`` (None: no header): whitespace collapsed, ``Column 3``
    for a blank third cell, ``Name (2)`` for a second ``Name`` (case-insensitively, as
    dataset field names are unique case-insensitively)."""
    raw = list(header or ())[:count]
    raw += [""] * (count - len(raw))
    names: list[str] = []
    taken: set[str] = set()
    for index, value in enumerate(raw, start=1):
        base = _CONTROL_OR_SPACE.sub(" ", value).strip()[:MAX_NAME_LENGTH] or f"Column {index}"
        name, suffix = base, 2
        while name.casefold() in taken:
            name = f"{base} ({suffix})"
            suffix += 1
        taken.add(name.casefold())
        names.append(name)
    return names
