"""Audit descriptions of workspace events."""

from __future__ import annotations

from uuid import UUID

import msgspec

from domain.report.audit import AuditDescription
from domain.workspace import Workspace
from domain.workspace.audit import describe_workspace_event
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    WorkspaceCreated,
    WorkspaceEvent,
    WorkspaceRenamed,
)

WORKSPACE = UUID(int=1)
ANA = UUID("aaaaaaaa-0000-4000-8000-000000000001")
BOB = UUID("bbbbbbbb-0000-4000-8000-000000000002")
NAMES = {ANA: "Ana", BOB: "Bob"}


def described(workspace: Workspace, event: WorkspaceEvent) -> AuditDescription:
    description = describe_workspace_event(event, workspace, "Ana", user_names=NAMES)
    workspace.apply(event)
    msgspec.json.encode(description)
    return description


def test_creating_and_renaming_a_workspace() -> None:
    workspace = Workspace(WORKSPACE)
    created = described(
        workspace, WorkspaceCreated(workspace_id=WORKSPACE, name="Finance", owner=ANA)
    )
    assert created == AuditDescription(
        object_type="workspace",
        object_id=str(WORKSPACE),
        summary="Ana created the workspace 'Finance'",
        change={"name": {"after": "Finance"}, "owner": {"after": str(ANA)}},
    )
    renamed = described(workspace, WorkspaceRenamed(name="Finance team"))
    assert renamed.summary == "Ana renamed the workspace from 'Finance' to 'Finance team'"
    assert renamed.change == {"name": {"before": "Finance", "after": "Finance team"}}


def test_members_and_roles() -> None:
    workspace = Workspace(WORKSPACE)
    workspace.apply(WorkspaceCreated(workspace_id=WORKSPACE, name="Finance", owner=ANA))
    added = described(workspace, MemberRoleSet(user_id=BOB, role="editor"))
    assert added.object_type == "member"
    assert added.object_id == str(BOB)
    assert added.summary == "Ana added Bob to the workspace as an editor"
    assert added.change == {"role": {"after": "editor"}}
    changed = described(workspace, MemberRoleSet(user_id=BOB, role="viewer"))
    assert changed.summary == "Ana changed the role of Bob from editor to viewer"
    assert changed.change == {"role": {"before": "editor", "after": "viewer"}}
    same = described(workspace, MemberRoleSet(user_id=BOB, role="viewer"))
    assert same.summary == "Ana made Bob a viewer (no change)"
    removed = described(workspace, MemberRemoved(user_id=BOB))
    assert removed.summary == "Ana removed Bob (viewer) from the workspace"
    assert removed.change == {"role": {"before": "viewer", "after": None}}
    again = described(workspace, MemberRemoved(user_id=BOB))
    assert again.summary == "Ana removed Bob from the workspace (no effect: not a member)"


def test_a_member_without_a_known_name_is_named_by_id() -> None:
    workspace = Workspace(WORKSPACE)
    workspace.apply(WorkspaceCreated(workspace_id=WORKSPACE, name="Finance", owner=ANA))
    stranger = UUID("12345678-0000-4000-8000-000000000009")
    added = describe_workspace_event(
        MemberRoleSet(user_id=stranger, role="owner"), workspace, "Ana"
    )
    assert added.summary == "Ana added user 12345678 to the workspace as an owner"


def test_events_before_the_creation_are_described() -> None:
    workspace = Workspace(WORKSPACE)
    renamed = describe_workspace_event(WorkspaceRenamed(name="X"), workspace, "Ana")
    assert renamed.summary == "Ana renamed the workspace to 'X'"
    assert renamed.change == {"name": {"after": "X"}}
