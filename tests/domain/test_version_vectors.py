"""Dots and version vectors."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.versions import Dot, DotRange, VersionVector

replicas = st.sampled_from(["a", "b", "c", "d"])
vectors = st.dictionaries(replicas, st.integers(0, 20)).map(VersionVector)


def test_dot_encodes_as_replica_and_counter() -> None:
    assert msgspec.json.encode(Dot("client-1", 7)) == b'["client-1",7]'
    assert msgspec.json.decode(b'["c",2]', type=Dot) == Dot("c", 2)


def test_version_vector_is_a_json_object() -> None:
    vector = VersionVector({"b": 2, "a": 5})
    assert msgspec.json.encode(vector.to_dict()) == b'{"a":5,"b":2}'
    assert VersionVector.from_dict(msgspec.json.decode(b'{"a":5,"b":2}')) == vector


def test_absent_replicas_count_zero() -> None:
    vector = VersionVector({"a": 3, "z": 0})
    assert vector["b"] == 0
    assert vector.get("a") == 3
    assert len(vector) == 1
    assert vector == VersionVector({"a": 3})


def test_version_vector_is_immutable() -> None:
    vector = VersionVector({"a": 1})
    with pytest.raises(AttributeError):
        vector._counters = {}  # type: ignore[misc]
    vector.observe(Dot("a", 5))
    assert vector["a"] == 1


def test_negative_counters_are_refused() -> None:
    with pytest.raises(ValueError, match="counter"):
        VersionVector({"a": -1})


def test_observe_raises_the_counter_only_forward() -> None:
    vector = VersionVector().observe(Dot("a", 3)).observe(Dot("a", 2))
    assert vector.to_dict() == {"a": 3}
    assert Dot("a", 2) in vector
    assert Dot("a", 4) not in vector


def test_missing_lists_the_ranges_the_other_has_seen() -> None:
    client = VersionVector({"a": 3, "b": 5})
    server = VersionVector({"a": 7, "b": 5, "c": 2})
    assert client.missing(server) == (DotRange("a", 4, 7), DotRange("c", 1, 2))
    assert server.missing(client) == ()
    assert Dot("a", 5) in DotRange("a", 4, 7)
    assert Dot("a", 8) not in DotRange("a", 4, 7)


def test_concurrent_vectors_are_neither_ahead() -> None:
    a = VersionVector({"a": 2})
    b = VersionVector({"b": 1})
    assert a.concurrent(b)
    assert not a.dominates(b)
    assert a.merge(b).dominates(a)
    assert not a.merge(b).concurrent(a)


@given(vectors, vectors)
def test_merge_is_commutative(a: VersionVector, b: VersionVector) -> None:
    assert a.merge(b) == b.merge(a)


@given(vectors, vectors, vectors)
def test_merge_is_associative(a: VersionVector, b: VersionVector, c: VersionVector) -> None:
    assert a.merge(b).merge(c) == a.merge(b.merge(c))


@given(vectors)
def test_merge_is_idempotent(a: VersionVector) -> None:
    assert a.merge(a) == a


@given(vectors, vectors)
def test_merge_is_the_least_upper_bound(a: VersionVector, b: VersionVector) -> None:
    merged = a.merge(b)
    assert merged.dominates(a)
    assert merged.dominates(b)
    for replica in merged.replicas():
        assert merged[replica] == max(a[replica], b[replica])


@given(vectors, vectors)
def test_dominance_is_a_partial_order(a: VersionVector, b: VersionVector) -> None:
    assert a.dominates(a)
    if a.dominates(b) and b.dominates(a):
        assert a == b
    assert a.concurrent(b) == (not a.dominates(b) and not b.dominates(a))


@given(vectors, vectors)
def test_receiving_the_missing_dots_catches_up(a: VersionVector, b: VersionVector) -> None:
    caught_up = a
    for dot_range in a.missing(b):
        assert dot_range.first == a[dot_range.replica] + 1
        for counter in range(dot_range.first, dot_range.last + 1):
            assert Dot(dot_range.replica, counter) not in a
            caught_up = caught_up.observe(Dot(dot_range.replica, counter))
    assert caught_up == a.merge(b)
    assert caught_up.dominates(b)


@given(vectors, vectors)
def test_equal_vectors_hash_equal(a: VersionVector, b: VersionVector) -> None:
    if a == b:
        assert hash(a) == hash(b)
