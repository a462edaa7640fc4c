"""Names people give things (reports, pages, workspaces)."""

from __future__ import annotations

from domain.errors import InvalidCommand

MAX_NAME_LENGTH = 200


def clean_name(name: str, what: str) -> str:
    """``name`` trimmed; 1 to 200 characters, no control characters."""
    trimmed = name.strip()
    if not trimmed:
        raise InvalidCommand(f"{what} name must not be empty", code="invalid_name")
    if len(trimmed) > MAX_NAME_LENGTH:
        raise InvalidCommand(
            f"{what} name must be at most {MAX_NAME_LENGTH} characters, got {len(trimmed)}",
            code="invalid_name",
        )
    if any(char < " " or char == "\x7f" for char in trimmed):
        raise InvalidCommand(
            f"{what} name must not contain control characters", code="invalid_name"
        )
    return trimmed
