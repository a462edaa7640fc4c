"""Format properties: dotted paths (``title.text``) set to JSON values.

Each (target, path) is a last-writer-wins register. The properties object is rebuilt by
applying the registers in stamp order: a set writes the value at its path (making objects on
the way), so a later set of a prefix (``title``) replaces older deeper values (``title.text``)
and a later deeper set edits inside an older prefix value; a ``null`` value removes the key.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

from domain.errors import InvalidCommand
from domain.json_values import check_json, copy_json

if TYPE_CHECKING:
    from collections.abc import Mapping

    from domain.registers import Register, Stamp

MAX_PATH_DEPTH = 6
MAX_PATH_LENGTH = 200
#: Bytes of the JSON encoding of one property value.
MAX_VALUE_BYTES = 64 * 1024

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_path(path: str) -> None:
    segments = path.split(".")
    if len(segments) > MAX_PATH_DEPTH:
        raise InvalidCommand(
            f"property path {path!r} has {len(segments)} segments, at most {MAX_PATH_DEPTH}",
            code="invalid_property",
        )
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidCommand(
            f"property path must be at most {MAX_PATH_LENGTH} characters", code="invalid_property"
        )
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise InvalidCommand(
                f"property path {path!r} must be dot-separated names "
                f"([A-Za-z_][A-Za-z0-9_]*), got segment {segment!r}",
                code="invalid_property",
            )


def check_value(path: str, value: Any) -> None:
    check_json(value, f"property {path}")
    size = len(msgspec.json.encode(value))
    if size > MAX_VALUE_BYTES:
        raise InvalidCommand(
            f"property {path} value is {size} bytes of JSON, at most {MAX_VALUE_BYTES}",
            code="invalid_property",
        )


def materialise(registers: Mapping[str, Register[Any]]) -> dict[str, Any]:
    """The properties object of one target from its registers (path → register)."""
    ordered = (
        sorted(registers.items(), key=_stamp_then_path) if len(registers) > 1 else registers.items()
    )
    result: dict[str, Any] = {}
    for path, register in ordered:
        value = register.value
        if isinstance(value, (dict, list)):
            value = copy_json(value)
        *parents, leaf = _segments(path)
        node = result
        for segment in parents:
            child = node.get(segment)
            if not isinstance(child, dict):
                if value is None:
                    break
                child = {}
                node[segment] = child
            node = child
        else:
            if value is None:
                node.pop(leaf, None)
            else:
                node[leaf] = value
    return result


@lru_cache(maxsize=4096)
def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _stamp_then_path(item: tuple[str, Register[Any]]) -> tuple[Stamp, str]:
    return item[1].stamp, item[0]
