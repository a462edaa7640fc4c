"""Hybrid logical clocks: monotonic, causal, packable."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.clock import MAX_COUNTER, MAX_MS, ZERO, Hlc, from_int, receive, tick, to_int
from domain.errors import InvalidCommand

ms = st.integers(min_value=0, max_value=2**45)
hlcs = st.builds(Hlc, ms, st.integers(0, MAX_COUNTER))


def test_hlc_encodes_as_a_two_number_array() -> None:
    assert msgspec.json.encode(Hlc(1_700_000_000_000, 3)) == b"[1700000000000,3]"
    assert msgspec.json.decode(b"[5,2]", type=Hlc) == Hlc(5, 2)


def test_hlcs_order_by_milliseconds_then_counter() -> None:
    assert Hlc(1, 9) < Hlc(2, 0) < Hlc(2, 1)
    assert sorted([Hlc(2, 1), Hlc(1, 5), Hlc(2, 0)]) == [Hlc(1, 5), Hlc(2, 0), Hlc(2, 1)]


def test_tick_takes_the_wall_clock_when_it_is_ahead() -> None:
    assert tick(Hlc(100, 7), 200) == Hlc(200, 0)


def test_tick_counts_when_the_wall_clock_stalls_or_goes_back() -> None:
    assert tick(Hlc(100, 7), 100) == Hlc(100, 8)
    assert tick(Hlc(100, 7), 50) == Hlc(100, 8)


def test_counter_overflow_moves_to_the_next_millisecond() -> None:
    assert tick(Hlc(100, MAX_COUNTER), 100) == Hlc(101, 0)
    assert receive(Hlc(100, 1), Hlc(100, MAX_COUNTER), 90) == Hlc(101, 0)
    assert to_int(tick(Hlc(100, MAX_COUNTER), 100)) > to_int(Hlc(100, MAX_COUNTER))


def test_receive_jumps_past_a_remote_clock_that_is_ahead() -> None:
    assert receive(Hlc(100, 0), Hlc(500, 4), 200) == Hlc(500, 5)


def test_receive_with_equal_milliseconds_counts_past_both() -> None:
    assert receive(Hlc(500, 9), Hlc(500, 4), 200) == Hlc(500, 10)


def test_receive_takes_the_wall_clock_when_it_is_ahead_of_both() -> None:
    assert receive(Hlc(100, 3), Hlc(90, 4), 200) == Hlc(200, 0)


def test_receive_refuses_a_clock_too_far_in_the_future() -> None:
    with pytest.raises(InvalidCommand) as caught:
        receive(ZERO, Hlc(10_000_000, 0), 1_000, max_drift_ms=60_000)
    assert caught.value.code == "clock_drift"
    assert receive(ZERO, Hlc(50_000, 0), 1_000, max_drift_ms=60_000) == Hlc(50_000, 1)


@given(hlcs, st.lists(st.tuples(st.booleans(), hlcs, ms), max_size=50))
def test_the_clock_never_goes_back(start: Hlc, steps: list[tuple[bool, Hlc, int]]) -> None:
    clock = start
    for is_receive, remote, now in steps:
        later = receive(clock, remote, now) if is_receive else tick(clock, now)
        assert later > clock
        if is_receive:
            assert later > remote
        assert later.ms >= now
        clock = later


@given(hlcs, ms)
def test_tick_stays_close_to_the_wall_clock(last: Hlc, now: int) -> None:
    assert tick(last, now).ms <= max(last.ms, now) + 1


@given(hlcs)
def test_packing_round_trips(hlc: Hlc) -> None:
    assert from_int(to_int(hlc)) == hlc


@given(hlcs, hlcs)
def test_packing_preserves_order(a: Hlc, b: Hlc) -> None:
    assert (a < b) == (to_int(a) < to_int(b))


def test_packing_fits_a_signed_64_bit_integer() -> None:
    assert to_int(Hlc(MAX_MS, MAX_COUNTER)) < 2**63
    with pytest.raises(ValueError, match="counter"):
        to_int(Hlc(1, MAX_COUNTER + 1))
    with pytest.raises(ValueError, match="ms"):
        to_int(Hlc(MAX_MS + 1, 0))
    with pytest.raises(ValueError, match="packed"):
        from_int(-1)
