"""Deciding one report command: the event it produces on the report as it stands.

Pure (no I/O): the command handler, the revert planner and tests all decide through here.
"""

from __future__ import annotations

from commands.report import (
    AddPage,
    AddVisual,
    BindField,
    ChangeVisualType,
    ClearFilter,
    MovePage,
    MoveVisual,
    RemovePage,
    RemoveVisual,
    RenamePage,
    RenameReport,
    ReportCommand,
    ResizeVisual,
    SetFilter,
    SetProperty,
    UnbindField,
)
from domain.report.aggregate import Report
from domain.report.events import ReportEvent


def decide(report: Report, command: ReportCommand) -> ReportEvent:  # noqa: C901, PLR0911, PLR0912 - one arm per command
    """The event one command produces on `report` as it stands (raises DomainError)."""
    match command:
        case RenameReport():
            return report.rename(command.name)
        case AddPage():
            return report.add_page(command.page_id, command.name, command.index)
        case RenamePage():
            return report.rename_page(command.page_id, command.name)
        case MovePage():
            return report.move_page(command.page_id, command.index)
        case RemovePage():
            return report.remove_page(command.page_id)
        case AddVisual():
            return report.add_visual(
                command.visual_id,
                command.page_id,
                command.visual_type,
                x=command.x,
                y=command.y,
                w=command.w,
                h=command.h,
            )
        case MoveVisual():
            return report.move_visual(
                command.visual_id, command.x, command.y, z_index=command.z_index
            )
        case ResizeVisual():
            return report.resize_visual(command.visual_id, command.w, command.h)
        case ChangeVisualType():
            return report.change_visual_type(command.visual_id, command.visual_type)
        case RemoveVisual():
            return report.remove_visual(command.visual_id)
        case BindField():
            return report.bind_field(
                command.visual_id, command.well, command.field, command.aggregation, command.index
            )
        case UnbindField():
            return report.unbind_field(command.visual_id, command.well, command.field)
        case SetProperty():
            return report.set_property(command.target, command.path, command.value)
        case SetFilter():
            return report.set_filter(command.target, command.field, command.filter)
        case ClearFilter():
            return report.clear_filter(command.target, command.field)
