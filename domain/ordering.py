"""Fractional indices: ordered collections that merge without operational transforms.

Each item of an ordered collection (the pages of a report, the visuals of a page in z-order,
the fields of a well) holds a key string in a last-writer-wins register; the collection is the
items sorted by key. Moving an item writes one new key between its new neighbours', so moves
by different people commute. Keys come from ``fractional_indexing`` (a port of rocicorp's
``fractional-indexing``), so the TypeScript client generates the very same keys; they are
ASCII, so code-point order (Python) and UTF-16 order (JavaScript) agree.

Tie-break: two replicas inserting at the same place concurrently pick the same key. Items with
equal keys are ordered by item id: the UUID's canonical lowercase string (equivalently the
``uuid.UUID`` order) for pages and visuals, the field name for fields in a well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fractional_indexing import FIError, generate_key_between, validate_order_key

if TYPE_CHECKING:
    from collections.abc import Sequence


def key_between(before: str | None, after: str | None) -> str:
    """A key strictly between ``before`` and ``after`` (``None``: the start / the end)."""
    try:
        return str(generate_key_between(before, after))
    except (FIError, ValueError, IndexError) as error:
        raise ValueError(f"no key between {before!r} and {after!r}: {error}") from error


def is_key(key: str) -> bool:
    """Whether ``key`` is a well-formed fractional index."""
    if not key or not key.isascii() or not key.isalnum():
        return False
    try:
        validate_order_key(key)
    except (FIError, ValueError, IndexError):
        return False
    return True


def key_for_index(sorted_keys: Sequence[str], index: int) -> str:
    """The key that puts a new item at position ``index`` among the items with ``sorted_keys``.

    ``sorted_keys`` are the keys of the *other* items in display order (leave out the item
    being moved). An index past the end means the end, as with ``list.insert``. When the two
    neighbours share a key (a concurrent-insert tie) no key fits strictly between them; the
    item then goes to the nearer edge of that run of equal keys.
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    count = len(sorted_keys)
    index = min(index, count)
    before = sorted_keys[index - 1] if index > 0 else None
    after = sorted_keys[index] if index < count else None
    if before is not None and after is not None and before >= after:
        first = index - 1
        while first > 0 and sorted_keys[first - 1] == before:
            first -= 1
        last = index
        while last + 1 < count and sorted_keys[last + 1] == after:
            last += 1
        if index - first <= last + 1 - index:
            before = sorted_keys[first - 1] if first > 0 else None
            after = sorted_keys[first]
        else:
            before = sorted_keys[last]
            after = sorted_keys[last + 1] if last + 1 < count else None
    return key_between(before, after)
