"""Audit descriptions of workspace events, worded like the report's (``domain.report.audit``).

``describe_workspace_event(event, before, actor_name)`` reads the workspace just BEFORE the
event is applied. Members are named through ``user_names`` (user id → display name) where the
caller has them, else as "user 1a2b3c4d" (the start of their id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from domain.report.audit import AuditDescription, actor, change_of, quoted, shorten
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    WorkspaceCreated,
    WorkspaceEvent,
    WorkspaceRenamed,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

    from domain.report.audit import ObjectType
    from domain.workspace.aggregate import Workspace


def describe_workspace_event(
    event: WorkspaceEvent,
    before: Workspace,
    actor_name: str,
    *,
    user_names: Mapping[UUID, str] | None = None,
) -> AuditDescription:
    """What ``event`` did to ``before`` (the workspace just before it is applied)."""
    describer = _Describer(before, actor(actor_name), user_names or {})
    match event:
        case WorkspaceCreated():
            return describer.created(event)
        case WorkspaceRenamed():
            return describer.renamed(event)
        case MemberRoleSet():
            return describer.role_set(event)
        case MemberRemoved():
            return describer.removed(event)


class _Describer:
    def __init__(self, workspace: Workspace, who: str, names: Mapping[UUID, str]) -> None:
        self.workspace = workspace
        self.who = who
        self.names = names

    def described(
        self, object_type: ObjectType, object_id: object, summary: str, change: dict[str, Any]
    ) -> AuditDescription:
        return AuditDescription(
            object_type=object_type,
            object_id=str(object_id),
            summary=f"{self.who} {summary}",
            change=change,
        )

    def user(self, user_id: UUID) -> str:
        name = self.names.get(user_id)
        return shorten(name) if name and name.strip() else f"user {str(user_id)[:8]}"

    def created(self, event: WorkspaceCreated) -> AuditDescription:
        existed = self.workspace.exists
        suffix = " (it already existed)" if existed else ""
        change = {
            "name": change_of(self.workspace.name, event.name, had_before=existed),
            "owner": change_of(None, str(event.owner), had_before=False),
        }
        summary = f"created the workspace {quoted(event.name)}{suffix}"
        return self.described("workspace", event.workspace_id, summary, change)

    def renamed(self, event: WorkspaceRenamed) -> AuditDescription:
        old = self.workspace.name
        if old is None:
            summary = f"renamed the workspace to {quoted(event.name)}"
        else:
            summary = f"renamed the workspace from {quoted(old)} to {quoted(event.name)}"
            if old == event.name:
                summary += " (no change)"
        change = {"name": change_of(old, event.name, had_before=old is not None)}
        return self.described("workspace", self.workspace.id, summary, change)

    def role_set(self, event: MemberRoleSet) -> AuditDescription:
        role = self.workspace.role_of(event.user_id)
        member = self.user(event.user_id)
        if role is None:
            summary = f"added {member} to the workspace as {_with_article(event.role)}"
        elif role == event.role:
            summary = f"made {member} {_with_article(event.role)} (no change)"
        else:
            summary = f"changed the role of {member} from {role} to {shorten(event.role, 20)}"
        change = {"role": change_of(role, event.role, had_before=role is not None)}
        return self.described("member", event.user_id, summary, change)

    def removed(self, event: MemberRemoved) -> AuditDescription:
        role = self.workspace.role_of(event.user_id)
        member = self.user(event.user_id)
        if role is None:
            summary = f"removed {member} from the workspace (no effect: not a member)"
            return self.described("member", event.user_id, summary, {})
        summary = f"removed {member} ({role}) from the workspace"
        return self.described("member", event.user_id, summary, {"role": change_of(role, None)})


def _with_article(role: str) -> str:
    role = shorten(role, 20)
    return ("an " if role[:1] in "aeiou" else "a ") + role
