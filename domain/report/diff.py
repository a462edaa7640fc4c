"""What changed between two report documents (the shape of ``Report.document()``).

``diff(before, after)`` lists ``Change``s, each at a readable, stable path:

- ``name``, ``dataset_id``: report fields;
- ``pages[<page_id>]``, ``pages[<page_id>].name``;
- ``pages[<page_id>].visuals[<visual_id>].layout.x``, ``….visual_type``, ``….wells.y`` (a well
  is one value: its list of ``{field, aggregation}`` in order);
- ``….properties.title.text`` (properties are compared leaf by leaf);
- ``filters[<field>]``, ``pages[<page_id>].filters[<field>]`` (a filter is one value).

Pages, visuals and filters are matched by id (field), never by list index. An added or removed
page, visual or filter is one change carrying the whole object. A reordering is reported as
``moved`` with the before and after index, only for the items that really changed places: the
longest run of items that kept their relative order stays put, so adding a page at the front
does not "move" every other page.

Path syntax: a dict key that is an identifier is written ``.key`` (``key`` at the start); any
other key ``["key"]`` (JSON-quoted). An item of a list of pages, visuals or filters is
``[id]``, or ``["id"]`` (JSON-quoted) when the id holds brackets, quotes, backslashes, control
characters, or starts or ends with white space.

Values compare as JSON: ``1``, ``1.0`` and ``true`` differ. The order of changes is
deterministic: the keys of the report, a page, a visual and a layout in the document's order
(unknown ones after, sorted), the keys of wells and properties sorted; list items in the order
of ``after``, then the removed ones in the order of ``before``.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

import msgspec

from domain.json_values import copy_json

ChangeKind = Literal["added", "removed", "changed", "moved"]


class Change(msgspec.Struct, frozen=True):
    """One difference: ``before``/``after`` are the values (``None`` for the side where the
    thing does not exist); for ``moved``, the indices in the two lists."""

    path: str
    kind: ChangeKind
    before: Any = None
    after: Any = None


#: Lists whose items are matched by a key, and whether an item is compared field by field
#: (pages and visuals) or as one value (filters).
KEYED_LISTS: Final[dict[str, tuple[str, bool]]] = {
    "pages": ("id", True),
    "visuals": ("id", True),
    "filters": ("field", False),
}

#: The document's own key order (shared/API.md); other keys follow, sorted.
_KEY_ORDER: Final = (
    "id",
    "workspace_id",
    "name",
    "dataset_id",
    "version",
    "position",
    "visual_type",
    "layout",
    "x",
    "y",
    "w",
    "h",
    "wells",
    "properties",
    "filters",
    "pages",
    "visuals",
)
_RANK: Final = {key: rank for rank, key in enumerate(_KEY_ORDER)}
_encode: Final = msgspec.json.Encoder().encode
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_ID: Final = re.compile(
    r"[^\[\]\"\\\s\x00-\x1f\x7f](?:[^\[\]\"\\\x00-\x1f\x7f]*[^\[\]\"\\\s\x00-\x1f\x7f])?"
)


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The changes that turn document ``before`` into ``after``; ``[]`` when they are equal."""
    changes: list[Change] = []
    _diff_dict("", before, after, changes, ranked=True)
    return changes


def same(a: Any, b: Any) -> bool:
    """JSON equality: like ``==``, but ``1``, ``1.0`` and ``True`` differ (tuples are lists)."""
    if isinstance(a, (dict, list, tuple)):
        try:  # equal encodings are equal values; a C-speed answer for the common case
            if _encode(a) == _encode(b):
                return True
        except (TypeError, msgspec.EncodeError):
            pass
    return _same(a, b)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(value, b[key]) for key, value in a.items())
        )
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(b, (dict, list, tuple)):
        return False
    return type(a) is type(b) and a == b


def key_path(prefix: str, key: str) -> str:
    """The path of dict entry ``key`` below ``prefix``."""
    if _IDENTIFIER.fullmatch(key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{_encode(key).decode()}]"


def item_path(prefix: str, item_id: str) -> str:
    """The path of the item with id (or field) ``item_id`` of the keyed list at ``prefix``."""
    if _PLAIN_ID.fullmatch(item_id):
        return f"{prefix}[{item_id}]"
    return f"{prefix}[{_encode(item_id).decode()}]"


def _diff_dict(
    path: str, before: dict[str, Any], after: dict[str, Any], out: list[Change], *, ranked: bool
) -> None:
    """``ranked``: a dict of the document's structure (report, page, visual, layout), whose
    keys come in the document's order; other dicts (wells, properties) in sorted order."""
    keys = before.keys() | after.keys()
    ordered = sorted(keys, key=lambda key: (_RANK.get(key, len(_RANK)), key)) if ranked else None
    for key in ordered or sorted(keys):
        child = key_path(path, key)
        if key not in after:
            out.append(Change(child, "removed", copy_json(before[key]), None))
        elif key not in before:
            out.append(Change(child, "added", None, copy_json(after[key])))
        else:
            _diff_value(child, key, before[key], after[key], out, ranked=ranked)


def _diff_value(
    path: str, key: str, before: Any, after: Any, out: list[Change], *, ranked: bool
) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        _diff_dict(path, before, after, out, ranked=ranked and key == "layout")
        return
    keyed = KEYED_LISTS.get(key)
    if keyed is not None:
        id_key, itemwise = keyed
        before_ids = _ids(before, id_key)
        after_ids = _ids(after, id_key)
        if before_ids is not None and after_ids is not None:
            _diff_keyed(path, before, before_ids, after, after_ids, itemwise=itemwise, out=out)
            return
    if not same(before, after):
        out.append(Change(path, "changed", copy_json(before), copy_json(after)))


def _ids(items: Any, id_key: str) -> list[str] | None:
    """The items' ids, if ``items`` is a list of objects with distinct string ids."""
    if not isinstance(items, list):
        return None
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get(id_key), str):
            return None
        ids.append(item[id_key])
    return ids if len(set(ids)) == len(ids) else None


def _diff_keyed(
    path: str,
    before: list[dict[str, Any]],
    before_ids: list[str],
    after: list[dict[str, Any]],
    after_ids: list[str],
    *,
    itemwise: bool,
    out: list[Change],
) -> None:
    before_index = {item_id: index for index, item_id in enumerate(before_ids)}
    common = [item_id for item_id in after_ids if item_id in before_index]
    moved = set(common) - set(stable_subsequence([before_index[i] for i in common], common))
    for index, (item_id, item) in enumerate(zip(after_ids, after, strict=True)):
        child = item_path(path, item_id)
        old_index = before_index.get(item_id)
        if old_index is None:
            out.append(Change(child, "added", None, copy_json(item)))
            continue
        if item_id in moved:
            out.append(Change(child, "moved", old_index, index))
        old = before[old_index]
        if itemwise:
            if not same(old, item):
                _diff_dict(child, old, item, out, ranked=True)
        elif not same(old, item):
            out.append(Change(child, "changed", copy_json(old), copy_json(item)))
    after_set = set(after_ids)
    for item_id, item in zip(before_ids, before, strict=True):
        if item_id not in after_set:
            out.append(Change(item_path(path, item_id), "removed", copy_json(item), None))


def stable_subsequence(positions: list[int], items: list[str]) -> list[str]:
    """The items of a longest increasing run of ``positions`` (``items[i]`` is at old position
    ``positions[i]``): the most items that can stay put while the others move. Deterministic:
    among runs of equal length, the one that ends on the smallest positions."""
    tails: list[int] = []  # tails[k]: index (into positions) ending the best run of length k+1
    previous: list[int] = [-1] * len(positions)
    for index, position in enumerate(positions):
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if positions[tails[middle]] < position:
                low = middle + 1
            else:
                high = middle
        if low:
            previous[index] = tails[low - 1]
        if low == len(tails):
            tails.append(index)
        else:
            tails[low] = index
    run: list[str] = []
    index = tails[-1] if tails else -1
    while index >= 0:
        run.append(items[index])
        index = previous[index]
    run.reverse()
    return run
