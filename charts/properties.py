"""Typed, forgiving reads of a visual's format properties (docs/charts.md lists them).

Properties arrive as nested JSON objects built from dotted paths (``title.text``); anyone with
edit rights can set any path to any JSON value, and concurrent edits can leave odd shapes. A
value of the wrong type must never break a chart: it is ignored (the default applies) and its
path is remembered in ``ignored`` so the spec can say so (``usermeta.loupe.ignored``).

Lookups fall back to ``defaults`` (the theme's ``visualStyles``, already translated to this
vocabulary) before the built-in default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, TypeGuard, TypeVar

_COLOR: Final = re.compile(
    r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
    r"|[a-zA-Z]{3,30}"
    r"|rgba?\(\s*[0-9.%\s,/]+\)"
    r"|hsla?\(\s*[0-9.%deg\s,/]+\)"
)
#: Points (Power BI's unit for font sizes) to CSS pixels.
PX_PER_PT: Final = 4 / 3

T = TypeVar("T")
_MISSING: Final = object()


def lookup(tree: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or ``_MISSING``-like ``None`` when any step is absent."""
    node: Any = tree
    for segment in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(segment)
        if node is None:
            return None
    return node


def is_color(value: object) -> bool:
    return isinstance(value, str) and _COLOR.fullmatch(value.strip()) is not None


class Properties:
    """A visual's properties over the theme's defaults."""

    def __init__(self, values: object, defaults: Mapping[str, Any] | None = None) -> None:
        self._values: Mapping[str, Any] = values if isinstance(values, Mapping) else {}
        self._defaults: Mapping[str, Any] = defaults or {}
        self.ignored: list[str] = []

    def raw(self, path: str) -> Any:
        """The visual's own value at ``path`` (``None`` when unset), unchecked."""
        return lookup(self._values, path)

    def _read(self, path: str, accept: Any) -> Any:
        for source, own in ((self._values, True), (self._defaults, False)):
            value = lookup(source, path)
            if value is None:
                continue
            if accept(value):
                return value
            if own and path not in self.ignored:
                self.ignored.append(path)
        return _MISSING

    def flag(self, path: str, default: bool) -> bool:  # noqa: FBT001 - a default, not a switch
        value = self._read(path, lambda v: isinstance(v, bool))
        return default if value is _MISSING else bool(value)

    def number(self, path: str, default: float | None = None) -> float | None:
        value = self._read(path, is_number)
        return default if value is _MISSING else value

    def integer(self, path: str, default: int, *, low: int, high: int) -> int:
        value = self._read(
            path,
            lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high,
        )
        return default if value is _MISSING else int(value)

    def text(self, path: str, default: str | None = None) -> str | None:
        value = self._read(path, lambda v: isinstance(v, str))
        return default if value is _MISSING else str(value)

    def choice(self, path: str, options: tuple[T, ...], default: T) -> T:
        value = self._read(path, lambda v: isinstance(v, str) and v in options)
        return default if value is _MISSING else value

    def color(self, path: str, default: str | None = None) -> str | None:
        value = self._read(path, is_color)
        return default if value is _MISSING else str(value).strip()

    def font_size(self, path: str, default_pt: float) -> float:
        """A font size given in points (as Power BI does), in pixels."""
        value = self._read(path, lambda v: is_number(v) and 1 <= v <= 400)  # noqa: PLR2004
        points = default_pt if value is _MISSING else float(value)
        return px(points)

    def mapping(self, path: str) -> Mapping[str, Any]:
        value = self._read(path, lambda v: isinstance(v, Mapping))
        return {} if value is _MISSING else value

    def items(self, path: str) -> list[Any]:
        value = self._read(path, lambda v: isinstance(v, list))
        return [] if value is _MISSING else list(value)

    def note_ignored(self, path: str) -> None:
        """Record a value that passed the type check but could not be used."""
        if path not in self.ignored:
            self.ignored.append(path)


def px(points: float) -> float:
    """Points to pixels, rounded half up to hundredths (``Math.round`` in JavaScript), so that
    every implementation writes the same number."""
    return math.floor(points * PX_PER_PT * 100 + 0.5) / 100


def is_number(value: object) -> TypeGuard[float]:
    """A finite JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
