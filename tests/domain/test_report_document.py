"""The report document: the shape shared/API.md promises, in display order, fast."""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import NotFound
from domain.report import Report
from domain.report.filters import InFilter
from tests.domain.report_histories import histories
from tests.domain.report_replicas import REPORT_ID, WORKSPACE_ID, Replica, Stamped, replay

DATASET = UUID(int=9)
PAGE = UUID(int=1)
VISUAL = UUID(int=2)


def test_the_document_has_the_api_shape() -> None:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", DATASET))
    replica.do(lambda r: r.set_filter("report", "year", InFilter(values=(2024,))))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    replica.do(lambda r: r.add_visual(VISUAL, PAGE, "pie", x=1, y=2, w=3, h=4))
    replica.do(lambda r: r.bind_field(VISUAL, "color", "region"))
    replica.do(lambda r: r.bind_field(VISUAL, "values", "sales", "sum"))
    replica.do(lambda r: r.set_property(f"visual:{VISUAL}", "title.text", "Share"))
    assert replica.document() == {
        "id": str(REPORT_ID),
        "workspace_id": str(WORKSPACE_ID),
        "name": "Sales",
        "dataset_id": str(DATASET),
        "filters": [{"field": "year", "op": "in", "values": [2024]}],
        "properties": {},
        "pages": [
            {
                "id": str(PAGE),
                "name": "Overview",
                "filters": [],
                "properties": {},
                "visuals": [
                    {
                        "id": str(VISUAL),
                        "visual_type": "pie",
                        "layout": {"x": 1, "y": 2, "w": 3, "h": 4},
                        "wells": {
                            "color": [{"field": "region", "aggregation": None}],
                            "values": [{"field": "sales", "aggregation": "sum"}],
                            "tooltip": [],
                        },
                        "properties": {"title": {"text": "Share"}},
                        "filters": [],
                    }
                ],
            }
        ],
    }


def test_the_document_encodes_to_json() -> None:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    replica.do(lambda r: r.add_page(PAGE, "Overview"))
    encoded = msgspec.json.encode(replica.document())
    assert msgspec.json.decode(encoded) == replica.document()


def test_each_call_returns_a_fresh_document() -> None:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Sales", None))
    first = replica.document()
    first["version"] = 3
    first["pages"].append({})
    assert "version" not in replica.document()
    assert replica.document()["pages"] == []


def big_report(pages: int = 50, visuals: int = 20) -> Replica:
    replica = Replica("r1")
    replica.do(lambda r: r.create(WORKSPACE_ID, "Big", None))
    for page_number in range(pages):
        page_id = UUID(int=10_000 + page_number)
        replica.do(lambda r, p=page_id: r.add_page(p, "Page"))
        for number in range(visuals):
            visual_id = UUID(int=page_number * 1_000 + number + 1)
            target = f"visual:{visual_id}"
            replica.do(
                lambda r, p=page_id, v=visual_id, n=number: r.add_visual(
                    v, p, "column", x=0, y=n * 4, w=12, h=4
                )
            )
            replica.do(lambda r, v=visual_id: r.bind_field(v, "x", "region"))
            replica.do(lambda r, v=visual_id: r.bind_field(v, "y", "sales", "sum"))
            replica.do(lambda r, t=target: r.set_property(t, "title.text", "Sales by region"))
            replica.do(lambda r, t=target: r.set_property(t, "legend.show", False))
            replica.do(lambda r, t=target: r.set_filter(t, "year", InFilter(values=(2024,))))
    return replica


def test_a_report_of_1000_visuals_materialises_every_visual_in_order() -> None:
    """Its speed is measured by bench/projections.py, never here."""
    replica = big_report()
    document = replica.document()
    assert len(document["pages"]) == 50
    assert sum(len(page["visuals"]) for page in document["pages"]) == 1000
    assert replica.document() == document  # materialising again changes nothing


def _document_or_none(report: Report) -> dict[str, Any] | None:
    try:
        return msgspec.json.decode(msgspec.json.encode(report.document()))  # a deep copy
    except NotFound:
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_a_document_read_after_every_event_equals_one_folded_without_reads(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    """Whatever order events arrive in, and whatever was read before, the document is the one
    a fresh fold gives (reading must leave nothing behind that a later read could show)."""
    _, events = history
    order = data.draw(st.permutations(events), label="order")
    report = Report(REPORT_ID)
    for index, (event, meta) in enumerate(order):
        report.apply(event, meta)
        assert _document_or_none(report) == _document_or_none(replay(order[: index + 1]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_a_rolled_back_batch_leaves_no_trace_in_the_document(
    history: tuple[list[Replica], list[Stamped]], data: st.DataObject
) -> None:
    _, events = history
    k = data.draw(st.integers(0, len(events)), label="k")
    report = replay(events[:k])
    before = _document_or_none(report)
    with contextlib.suppress(RuntimeError), report.atomic():
        for event, meta in events[k:]:
            report.apply(event, meta)
            _document_or_none(report)  # materialise inside the batch
        raise RuntimeError("roll back")
    assert _document_or_none(report) == before
