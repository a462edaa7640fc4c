"""Report documents encoded piece by piece: a visual's part is encoded once and kept until an
event changes it.

One edit changes one visual, yet the reports projection writes the whole document of every
report a batch touched; materialising and encoding each of a report's visuals again was most
of its cost per event. `VisualParts` keeps each visual's part encoded (``msgspec.Raw``, which
the encoder copies as it is), forgets the parts ``visual_changed_by`` names before each event
is applied, and hands ``Report.document`` the kept parts. The bytes written are exactly
those of encoding ``document()`` (tests/projections/test_report_documents.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from domain.report.document import EVERY_VISUAL, visual_changed_by
from domain.report.events import ReportEvent

_encode = msgspec.json.Encoder().encode


class VisualParts:
    """The encoded visual parts of one report's document, for the state they were made from."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: dict[str, msgspec.Raw] = {}

    def forget(self, event: ReportEvent) -> None:
        """Call before applying ``event`` to the report."""
        changed = visual_changed_by(event)
        if changed is None:
            return
        if changed == EVERY_VISUAL:
            self._parts.clear()
        else:
            self._parts.pop(changed, None)

    def render(self, visual_id: str, make: Callable[[], dict[str, Any]]) -> msgspec.Raw:
        """``render`` of ``Report.document``: the kept part, or a new one."""
        part = self._parts.get(visual_id)
        if part is None:
            part = self._parts[visual_id] = msgspec.Raw(_encode(make()))
        return part
