"""Checks on JSON values that clients store in a report (property values, filter values).

Values must survive a round trip through JavaScript: integers within ±(2**53 - 1), finite
floats, string keys.
"""

from __future__ import annotations

import math
from typing import Any

from domain.errors import InvalidCommand

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 16


def is_scalar(value: object) -> bool:
    """A JSON scalar that JavaScript reads back unchanged."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if isinstance(value, float):
        return math.isfinite(value)
    return False


def check_json(value: Any, what: str, depth: int = 0) -> None:
    """Raise ``InvalidCommand`` unless ``value`` is plain JSON (dicts, lists, scalars)."""
    if depth > MAX_DEPTH:
        raise InvalidCommand(f"{what} nests deeper than {MAX_DEPTH} levels", code="invalid_value")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidCommand(f"{what} has a non-string key {key!r}", code="invalid_value")
            check_json(item, what, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_json(item, what, depth + 1)
    elif not is_scalar(value):
        raise InvalidCommand(
            f"{what} must be JSON (finite numbers, integers within ±2^53), got {value!r}",
            code="invalid_value",
        )


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (lists and dicts are fresh, scalars shared)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_json(item) for item in value]
    return value
