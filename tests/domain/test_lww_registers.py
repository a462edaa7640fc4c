"""Last-writer-wins registers: merge is commutative, associative and idempotent."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from domain.clock import Hlc
from domain.registers import Register, Stamp, merge, wins

stamps = st.builds(
    Stamp, st.builds(Hlc, st.integers(0, 5), st.integers(0, 3)), st.sampled_from(["a", "b", "c"])
)
values = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=3), st.booleans())
registers = st.builds(Register[Any], stamps, values)


def test_the_later_hlc_wins() -> None:
    old = Register(Stamp(Hlc(1, 0), "z"), "old")
    new = Register(Stamp(Hlc(2, 0), "a"), "new")
    assert merge(old, new) is new
    assert merge(new, old) is new


def test_equal_hlcs_are_broken_by_replica() -> None:
    a = Register(Stamp(Hlc(1, 0), "a"), "from a")
    b = Register(Stamp(Hlc(1, 0), "b"), "from b")
    assert merge(a, b) is b
    assert merge(b, a) is b


def test_a_register_does_not_replace_its_equal() -> None:
    a = Register(Stamp(Hlc(1, 0), "a"), "x")
    assert not wins(Register(Stamp(Hlc(1, 0), "a"), "x"), a)


def test_stamp_encodes_compactly() -> None:
    assert msgspec.json.encode(Stamp(Hlc(5, 1), "r")) == b'[[5,1],"r"]'


@given(registers, registers)
def test_merge_is_commutative(a: Register[Any], b: Register[Any]) -> None:
    assert merge(a, b) == merge(b, a)


@given(registers, registers, registers)
def test_merge_is_associative(a: Register[Any], b: Register[Any], c: Register[Any]) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@given(registers)
def test_merge_is_idempotent(a: Register[Any]) -> None:
    assert merge(a, a) == a


@given(st.lists(registers, min_size=1, max_size=8), st.randoms())
def test_any_merge_order_gives_the_greatest_stamp(writes: list[Register[Any]], random: Any) -> None:
    shuffled = list(writes)
    random.shuffle(shuffled)
    first = writes[0]
    for write in writes[1:]:
        first = merge(first, write)
    second = shuffled[0]
    for write in shuffled[1:]:
        second = merge(second, write)
    assert first == second
    assert first.stamp == max(write.stamp for write in writes)
