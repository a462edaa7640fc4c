"""A report document encoded from kept visual parts is, byte for byte, the document encoded
whole — after every event of random concurrent histories, delivered in any order."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.envelope import new_event
from commands.eventstore import RecordedEvent, StreamRef, recorded
from domain.report.aggregate import Report
from domain.report.events import encode
from projections.report_states import ReportAt
from tests.domain.report_histories import histories
from tests.domain.report_replicas import REPORT_ID, WORKSPACE_ID, Stamped

_encode = msgspec.json.encode
_AT = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


_STREAM = StreamRef(stream_id=REPORT_ID, stream_type="report", workspace_id=WORKSPACE_ID)


def _recorded(index: int, stamped: Stamped) -> RecordedEvent:
    event, meta = stamped
    new = new_event(str(event.__struct_config__.tag), encode(event), meta)
    return recorded(new, _STREAM, position=index, version=index, recorded_at=_AT)


@settings(max_examples=200, deadline=None)
@given(histories(max_steps=40), st.randoms(), st.floats(0, 1))
def test_a_document_from_kept_visual_parts_equals_the_document_encoded_whole(
    drawn, rng: random.Random, write_often: float
):
    _, events = drawn
    order = list(events[:1]) + rng.sample(events[1:], len(events) - 1)
    state = ReportAt(Report(REPORT_ID), 0, 0, None)
    for index, stamped in enumerate(order, start=1):
        state.apply(_recorded(index, stamped))
        # Documents are written after some events only (a batch), from parts kept meanwhile.
        if state.report.exists and (rng.random() < write_often or index == len(order)):
            whole = _encode(state.report.document())
            assert _encode(state.report.document(state.parts.render)) == whole
