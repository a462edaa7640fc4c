"""Document diffs: readable paths by id, one change per added or removed thing, moves."""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.report.diff import KEYED_LISTS, Change, diff, item_path, key_path, same
from domain.report.filters import InFilter, RangeFilter
from tests.domain.report_histories import histories
from tests.domain.report_replicas import WORKSPACE_ID, Replica, Stamped, replay

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAGE = UUID("11111111-1111-4111-8111-111111111111")
PAGE_2 = UUID("22222222-2222-4222-8222-222222222222")
PAGE_3 = UUID("55555555-5555-4555-8555-555555555555")
VISUAL = UUID("33333333-3333-4333-8333-333333333333")
VISUAL_2 = UUID("44444444-4444-4444-8444-444444444444")
VISUAL_3 = UUID("66666666-6666-4666-8666-666666666666")
P, P2, V, V2 = str(PAGE), str(PAGE_2), str(VISUAL), str(VISUAL_2)


def base() -> Replica:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    replica.do(lambda r: r.add_page(PAGE_2, "Detail"))
    replica.do(lambda r: r.add_visual(VISUAL, PAGE, "column", x=0, y=0, w=6, h=4))
    replica.do(lambda r: r.add_visual(VISUAL_2, PAGE, "card", x=6, y=0, w=4, h=4))
    replica.do(lambda r: r.bind_field(VISUAL, "x", "region"))
    return replica


def changes_after(*edits: Any) -> tuple[dict[str, Any], dict[str, Any], list[Change]]:
    replica = base()
    before = replica.document()
    for edit in edits:
        replica.do(edit)
    after = replica.document()
    return before, after, diff(before, after)


# -- examples ---------------------------------------------------------------------------------


def test_equal_documents_have_no_changes() -> None:
    document = base().document()
    assert diff(document, copy.deepcopy(document)) == []


def test_a_rename_is_one_changed_leaf() -> None:
    _, _, changes = changes_after(lambda r: r.rename("Revenue"))
    assert changes == [Change("name", "changed", "Sales", "Revenue")]


def test_page_and_visual_edits_are_addressed_by_id() -> None:
    _, _, changes = changes_after(
        lambda r: r.rename_page(PAGE, "Summary"),
        lambda r: r.move_visual(VISUAL, 6, 4),
        lambda r: r.bind_field(VISUAL, "y", "sales", "sum"),
        lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "Revenue"),
    )
    visual = f"pages[{P}].visuals[{V}]"
    assert changes == [
        Change(f"pages[{P}].name", "changed", "Overview", "Summary"),
        Change(f"{visual}.layout.x", "changed", 0, 6),
        Change(f"{visual}.layout.y", "changed", 0, 4),
        Change(f"{visual}.wells.y", "changed", [], [{"field": "sales", "aggregation": "sum"}]),
        Change(f"{visual}.properties.title", "added", None, {"text": "Revenue"}),
    ]


def test_a_property_inside_an_existing_object_is_one_leaf() -> None:
    replica = base()
    replica.do(lambda r: r.set_property(f"visual:{VISUAL}", "title", {"text": "A", "size": 12}))
    before = replica.document()
    replica.do(lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "B"))
    replica.do(lambda r: r.set_property(f"visual:{VISUAL}", "title.size", None))
    prefix = f"pages[{P}].visuals[{V}].properties.title"
    assert diff(before, replica.document()) == [
        Change(f"{prefix}.size", "removed", 12, None),
        Change(f"{prefix}.text", "changed", "A", "B"),
    ]


def test_an_added_or_removed_page_is_one_change_with_the_whole_page() -> None:
    before, after, changes = changes_after(lambda r: r.remove_page(PAGE))
    assert changes == [Change(f"pages[{P}]", "removed", before["pages"][0], None)]
    assert len(changes[0].before["visuals"]) == 2
    assert diff(after, before) == [Change(f"pages[{P}]", "added", None, before["pages"][0])]


def test_adding_a_page_in_front_moves_nothing() -> None:
    _, after, changes = changes_after(lambda r: r.add_page(PAGE_3, "First", 0))
    assert changes == [Change(f"pages[{PAGE_3}]", "added", None, after["pages"][0])]


def test_a_reordering_reports_only_what_moved() -> None:
    replica = base()
    replica.do(lambda r: r.add_page(PAGE_3, "Third"))
    before = replica.document()
    replica.do(lambda r: r.move_page(PAGE_3, 0))
    assert diff(before, replica.document()) == [Change(f"pages[{PAGE_3}]", "moved", 2, 0)]
    replica.do(lambda r: r.add_visual(VISUAL_3, PAGE, "table", x=0, y=4, w=4, h=4))
    before = replica.document()
    replica.do(lambda r: r.move_visual(VISUAL, 0, 0, z_index=5))  # to the top
    assert diff(before, replica.document()) == [Change(f"pages[{P}].visuals[{V}]", "moved", 0, 2)]
    # A swap of two is ambiguous: one of them is reported, always the same one.
    before = replica.document()
    replica.do(lambda r: r.move_visual(VISUAL, 0, 0, z_index=1))
    assert diff(before, replica.document()) == [Change(f"pages[{P}].visuals[{V}]", "moved", 2, 1)]


def test_filters_are_keyed_by_field_and_compared_whole() -> None:
    replica = base()
    replica.do(lambda r: r.set_filter("report", "region", InFilter(values=("EU",))))
    before = replica.document()
    replica.do(lambda r: r.set_filter("report", "year", InFilter(values=(2024, 2025))))
    replica.do(lambda r: r.set_filter("report", "region", RangeFilter(min=1)))
    replica.do(lambda r: r.set_filter(f"page:{PAGE}", "year", InFilter(values=(1,))))
    assert diff(before, replica.document()) == [
        Change(
            "filters[region]",
            "changed",
            {"field": "region", "op": "in", "values": ["EU"]},
            {"field": "region", "op": "range", "min": 1, "max": None},
        ),
        Change(
            "filters[year]", "added", None, {"field": "year", "op": "in", "values": [2024, 2025]}
        ),
        Change(
            f"pages[{P}].filters[year]",
            "added",
            None,
            {"field": "year", "op": "in", "values": [1]},
        ),
    ]


def test_a_type_change_changes_the_type_and_the_set_of_wells() -> None:
    _, _, changes = changes_after(
        lambda r: r.unbind_field(VISUAL, "x", "region"),
        lambda r: r.change_visual_type(VISUAL, "pie"),
    )
    visual = f"pages[{P}].visuals[{V}]"
    assert changes == [
        Change(f"{visual}.visual_type", "changed", "column", "pie"),
        Change(f"{visual}.wells.values", "added", None, []),
        Change(f"{visual}.wells.x", "removed", [{"field": "region", "aggregation": None}], None),
        Change(f"{visual}.wells.y", "removed", [], None),
    ]


def test_json_equality_tells_numbers_and_booleans_apart() -> None:
    assert same({"a": [1, 2.5]}, {"a": (1, 2.5)})
    assert not same(1, 1.0)
    assert not same(1, True)
    assert not same({"a": 1}, {"a": 1, "b": None})
    before = {"properties": {"show": 1}}
    assert diff(before, {"properties": {"show": True}}) == [
        Change("properties.show", "changed", 1, True)
    ]


def test_odd_keys_and_ids_are_quoted() -> None:
    assert key_path("", "name") == "name"
    assert key_path("properties", "a b") == 'properties["a b"]'
    assert key_path("properties", "x.y") == 'properties["x.y"]'
    assert item_path("filters", "Sales Amount") == "filters[Sales Amount]"
    assert item_path("filters", "a]b") == 'filters["a]b"]'
    assert item_path("filters", " padded") == 'filters[" padded"]'
    before = {"filters": [{"field": "x]", "op": "in", "values": [1]}], "properties": {}}
    after = {"filters": [], "properties": {"k": {"odd key": 1}}}
    assert diff(before, after) == [
        Change("properties.k", "added", None, {"odd key": 1}),
        Change('filters["x]"]', "removed", before["filters"][0], None),
    ]


def test_changes_do_not_share_the_documents_objects() -> None:
    before, _, changes = changes_after(lambda r: r.remove_page(PAGE))
    changes[0].before["name"] = "mutated"
    assert before["pages"][0]["name"] == "Overview"


# -- properties -------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tokens(path: str) -> list[tuple[str, str]]:
    """Parse a path into ("key", name) and ("bracket", text) tokens; fails on anything else."""
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(path):
        char = path[index]
        if char == "[":
            if path[index + 1] == '"':
                text, end = json.JSONDecoder().raw_decode(path, index + 1)
            else:
                end = path.index("]", index)
                text = path[index + 1 : end]
            assert path[end] == "]", path
            out.append(("bracket", text))
            index = end + 1
            continue
        if char == ".":
            assert out, path
            index += 1
        else:
            assert not out, path
        match = _IDENT.match(path, index)
        assert match, path
        out.append(("key", match.group()))
        index = match.end()
    return out


_ABSENT = object()


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document`` (``_ABSENT`` if there is none)."""
    value = document
    list_key = None
    for kind, text in tokens(path):
        if kind == "bracket" and isinstance(value, list):
            assert list_key in KEYED_LISTS, path
            id_key = KEYED_LISTS[list_key][0]
            value = next((item for item in value if item[id_key] == text), _ABSENT)
        elif isinstance(value, dict):
            value = value.get(text, _ABSENT)
        else:
            return _ABSENT
        if value is _ABSENT:
            return _ABSENT
        list_key = text if kind == "key" else None
    return value


def flatten(
    value: Any, path: str, key: str | None, leaves: dict[str, Any], orders: dict[str, Any]
) -> None:
    """Every leaf by path (empty objects are leaves too), and each keyed list's id order."""
    if isinstance(value, dict):
        if not value:
            leaves[path] = {}
        for child_key, child in value.items():
            flatten(child, key_path(path, child_key), child_key, leaves, orders)
        return
    keyed = KEYED_LISTS.get(key or "")
    if keyed and isinstance(value, list) and all(isinstance(item, dict) for item in value):
        id_key, itemwise = keyed
        ids = [item.get(id_key) for item in value]
        if all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids):
            orders[path] = ids
            for item_id, item in zip(ids, value, strict=True):
                child = item_path(path, item_id)
                if itemwise:
                    flatten(item, child, None, leaves, orders)
                else:
                    leaves[child] = item
            return
    leaves[path] = value


def under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith((prefix + ".", prefix + "["))


def check_diff(a: dict[str, Any], b: dict[str, Any]) -> None:
    changes = diff(a, b)
    assert diff(a, b) == changes  # deterministic
    a_leaves: dict[str, Any] = {}
    b_leaves: dict[str, Any] = {}
    a_orders: dict[str, Any] = {}
    b_orders: dict[str, Any] = {}
    flatten(a, "", None, a_leaves, a_orders)
    flatten(b, "", None, b_leaves, b_orders)
    edits = [change for change in changes if change.kind != "moved"]
    # Every change is real, and its values are what the documents hold at its path.
    for change in edits:
        old, new = lookup(a, change.path), lookup(b, change.path)
        if change.kind == "added":
            assert old is _ABSENT
            assert same(new, change.after)
            assert change.before is None
        elif change.kind == "removed":
            assert new is _ABSENT
            assert same(old, change.before)
            assert change.after is None
        else:
            assert same(old, change.before)
            assert same(new, change.after)
            assert not same(old, new)
        # ...and no change is inside another (one change per added or removed thing).
        assert not any(other is not change and under(change.path, other.path) for other in edits), (
            change
        )
    # Nothing that differs is missed.
    differing = {
        path
        for path in a_leaves.keys() | b_leaves.keys()
        if path not in a_leaves or path not in b_leaves or not same(a_leaves[path], b_leaves[path])
    }
    for path in differing:
        # (an empty object that got content, or lost it, is explained by a change inside it)
        empty = same(a_leaves.get(path), {}) or same(b_leaves.get(path), {})
        assert any(
            under(path, change.path) or (empty and under(change.path, path)) for change in edits
        ), path
    # Moves: the items reported as moved carry their indices, and the rest kept their order.
    moves = {change.path: change for change in changes if change.kind == "moved"}
    for list_path in a_orders.keys() & b_orders.keys():
        old_ids, new_ids = a_orders[list_path], b_orders[list_path]
        common = [i for i in new_ids if i in old_ids]
        moved = {i for i in common if item_path(list_path, i) in moves}
        for i in moved:
            move = moves[item_path(list_path, i)]
            assert (move.before, move.after) == (old_ids.index(i), new_ids.index(i))
        kept_old = [i for i in old_ids if i in common and i not in moved]
        kept_new = [i for i in common if i not in moved]
        assert kept_old == kept_new
    for path in moves:
        assert lookup(a, path) is not _ABSENT
        assert lookup(b, path) is not _ABSENT


def documents_at(events: list[Stamped], k: int) -> dict[str, Any] | None:
    report = replay(events[:k])
    return report.document() if report.exists else None


@EXAMPLES
@given(histories(), st.data())
def test_diffs_of_two_versions_are_complete_and_exact(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    replicas, events = history
    k1 = data.draw(st.integers(1, len(events)))
    k2 = data.draw(st.integers(1, len(events)))
    versions = [documents_at(events, k1), documents_at(events, k2)]
    versions += [replica.document() for replica in replicas if replica.report.exists]
    documents = [document for document in versions if document is not None]
    for a in documents:
        assert diff(a, a) == []
        assert diff(a, copy.deepcopy(a)) == []
        for b in documents:
            check_diff(a, b)


json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from([0.5, 1.0, "x"])
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c d", "x.y", "[", '"']), children, max_size=3)
    ),
    max_leaves=8,
)


@EXAMPLES
@given(
    st.dictionaries(st.sampled_from(["name", "properties", "extra", "p q"]), json_values),
    st.dictionaries(st.sampled_from(["name", "properties", "extra", "p q"]), json_values),
)
def test_diffs_of_arbitrary_json_objects_are_complete_and_exact(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    assert diff(a, a) == []
    check_diff(a, b)
