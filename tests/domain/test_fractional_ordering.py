"""Fractional indices: keys that sort between their neighbours."""

from __future__ import annotations

import pytest
from fractional_indexing import generate_key_between
from hypothesis import given
from hypothesis import strategies as st

from domain.ordering import is_key, key_between, key_for_index


def test_keys_match_the_reference_library() -> None:
    # The TypeScript client uses rocicorp's fractional-indexing: the same keys, byte for byte.
    assert key_between(None, None) == "a0"
    assert key_between("a0", None) == "a1"
    assert key_between(None, "a0") == "Zz"
    assert key_between("a0", "a1") == "a0V"
    assert key_between("a0", "a0V") == generate_key_between("a0", "a0V")


def test_key_between_refuses_neighbours_out_of_order() -> None:
    with pytest.raises(ValueError, match="no key between"):
        key_between("a1", "a0")
    with pytest.raises(ValueError, match="no key between"):
        key_between("a0", "a0")


def test_is_key_accepts_only_well_formed_keys() -> None:
    assert is_key("a0")
    assert is_key("a0V")
    assert not is_key("")
    assert not is_key("a00")  # trailing zero
    assert not is_key("a")  # integer part too short
    assert not is_key("a0-")
    assert not is_key("é0")


def test_key_for_index_inserts_at_the_position() -> None:
    keys = ["a0", "a1", "a2"]
    for index in range(4):
        key = key_for_index(keys, index)
        assert sorted([*keys, key]).index(key) == index


def test_an_index_past_the_end_means_the_end() -> None:
    assert key_for_index(["a0", "a1"], 99) > "a1"


def test_a_negative_index_is_refused() -> None:
    with pytest.raises(ValueError, match="index"):
        key_for_index(["a0"], -1)


def test_between_equal_keys_the_item_goes_to_the_nearer_edge() -> None:
    # Two items share "a1" (a concurrent-insert tie). Between them no key fits; the new item
    # goes just before the run when that is nearer, just after it otherwise.
    keys = ["a0", "a1", "a1", "a1", "a2"]
    before = key_for_index(keys, 2)
    assert "a0" < before < "a1"
    after = key_for_index(keys, 3)
    assert "a1" < after < "a2"
    assert key_for_index(["a1", "a1"], 1) < "a1"  # equally near: before the run


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_keys_always_sort_between_their_neighbours(indices: list[int]) -> None:
    # Insert items one by one at random positions: sorting by key reproduces the list.
    items: list[tuple[str, int]] = []
    for number, index in enumerate(indices):
        keys = [key for key, _ in items]
        key = key_for_index(keys, index)
        position = min(index, len(items))
        if position > 0:
            assert items[position - 1][0] < key
        if position < len(items):
            assert key < items[position][0]
        assert is_key(key)
        items.insert(position, (key, number))
    assert sorted(items) == items


@given(st.lists(st.sampled_from(["a0", "a1", "a2", "a3"]), min_size=1, max_size=8), st.data())
def test_key_for_index_with_ties_lands_next_to_the_index(
    keys: list[str], data: st.DataObject
) -> None:
    keys.sort()
    index = data.draw(st.integers(0, len(keys)))
    key = key_for_index(keys, index)
    assert key not in keys
    position = sorted([*keys, key]).index(key)
    # It lands at the index, or at the nearer edge of a run of equal keys around it.
    run = keys.count(keys[min(index, len(keys) - 1)])
    assert abs(position - index) <= run
