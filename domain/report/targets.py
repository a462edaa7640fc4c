"""What a property or filter applies to: ``"report"``, ``"page:<uuid>"`` or ``"visual:<uuid>"``."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from uuid import UUID

from domain.errors import InvalidCommand

TargetKind = Literal["report", "page", "visual"]
REPORT = "report"


def page_target(page_id: UUID) -> str:
    return f"page:{page_id}"


def visual_target(visual_id: UUID) -> str:
    return f"visual:{visual_id}"


def parse_target(target: str) -> tuple[TargetKind, UUID | None]:
    """``("report", None)``, ``("page", id)`` or ``("visual", id)``; else ``InvalidCommand``."""
    if target == REPORT:
        return "report", None
    kind, _, raw_id = target.partition(":")
    if kind in ("page", "visual"):
        try:
            return ("page" if kind == "page" else "visual"), UUID(raw_id)
        except ValueError:
            pass
    raise InvalidCommand(
        f'target must be "report", "page:<uuid>" or "visual:<uuid>", got {target!r}',
        code="invalid_target",
    )


@lru_cache(maxsize=16384)
def canonical_target(target: str) -> str:
    """The one spelling of ``target`` that registers are keyed by (lowercase UUID).

    Remembered (a report's events name the same few targets over and over; parsing a UUID
    and printing it back costs more than applying most events)."""
    kind, target_id = parse_target(target)
    return REPORT if target_id is None else f"{kind}:{target_id}"
