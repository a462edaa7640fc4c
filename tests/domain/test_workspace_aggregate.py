"""The Workspace aggregate: members, roles, and the last-owner rule."""

from __future__ import annotations

from uuid import UUID

import msgspec
import pytest

from domain.errors import AlreadyExists, InvalidCommand, NotAllowed, NotFound
from domain.workspace import Workspace
from domain.workspace import events as workspace_events
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    WorkspaceCreated,
    WorkspaceEvent,
    WorkspaceRenamed,
)

WORKSPACE = UUID(int=1)
OWNER = UUID(int=10)
EDITOR = UUID(int=11)
VIEWER = UUID(int=12)
STRANGER = UUID(int=13)


def apply(workspace: Workspace, event: WorkspaceEvent) -> WorkspaceEvent:
    workspace.apply(event)
    return event


@pytest.fixture
def workspace() -> Workspace:
    workspace = Workspace(WORKSPACE)
    apply(workspace, workspace.create(" Finance ", OWNER))
    apply(workspace, workspace.set_member_role(EDITOR, "editor"))
    apply(workspace, workspace.set_member_role(VIEWER, "viewer"))
    return workspace


def test_the_creator_is_the_first_owner() -> None:
    workspace = Workspace(WORKSPACE)
    event = workspace.create(" Finance ", OWNER)
    assert event == WorkspaceCreated(workspace_id=WORKSPACE, name="Finance", owner=OWNER)
    workspace.apply(event)
    assert workspace.exists
    assert workspace.name == "Finance"
    assert workspace.role_of(OWNER) == "owner"
    assert workspace.owners == {OWNER}


def test_creating_a_workspace_twice_is_already_exists(workspace: Workspace) -> None:
    with pytest.raises(AlreadyExists):
        workspace.create("Again", OWNER)


def test_anything_before_create_is_not_found() -> None:
    with pytest.raises(NotFound):
        Workspace(WORKSPACE).rename("x")
    with pytest.raises(NotFound):
        Workspace(WORKSPACE).set_member_role(OWNER, "owner")


def test_rename(workspace: Workspace) -> None:
    apply(workspace, workspace.rename(" Treasury "))
    assert workspace.name == "Treasury"
    with pytest.raises(InvalidCommand, match="must not be empty"):
        workspace.rename(" ")


def test_roles_decide_who_may_do_what(workspace: Workspace) -> None:
    assert workspace.role_of(STRANGER) is None
    assert [workspace.can_view(u) for u in (OWNER, EDITOR, VIEWER, STRANGER)] == [
        True,
        True,
        True,
        False,
    ]
    assert [workspace.can_edit(u) for u in (OWNER, EDITOR, VIEWER, STRANGER)] == [
        True,
        True,
        False,
        False,
    ]
    assert [workspace.is_owner(u) for u in (OWNER, EDITOR, VIEWER, STRANGER)] == [
        True,
        False,
        False,
        False,
    ]


def test_require_role_names_the_missing_role(workspace: Workspace) -> None:
    workspace.require_role(EDITOR, "editor")
    workspace.require_role(OWNER, "viewer")
    with pytest.raises(NotAllowed, match=f"user {VIEWER} is a viewer .* needs editor or higher"):
        workspace.require_role(VIEWER, "editor")
    with pytest.raises(NotAllowed, match="is not a member") as caught:
        workspace.require_role(STRANGER, "viewer")
    assert caught.value.code == "not_a_member"


def test_a_member_role_can_change(workspace: Workspace) -> None:
    apply(workspace, workspace.set_member_role(VIEWER, "owner"))
    assert workspace.owners == {OWNER, VIEWER}
    apply(workspace, workspace.set_member_role(OWNER, "editor"))  # VIEWER still owns it
    assert workspace.owners == {VIEWER}


def test_an_unknown_role_is_invalid(workspace: Workspace) -> None:
    with pytest.raises(InvalidCommand, match="role must be one of owner, editor, viewer"):
        workspace.set_member_role(EDITOR, "admin")


def test_the_last_owner_cannot_step_down(workspace: Workspace) -> None:
    with pytest.raises(InvalidCommand, match="without an owner") as caught:
        workspace.set_member_role(OWNER, "editor")
    assert caught.value.code == "last_owner"


def test_the_last_owner_cannot_be_removed(workspace: Workspace) -> None:
    with pytest.raises(InvalidCommand, match="without an owner"):
        workspace.remove_member(OWNER)
    apply(workspace, workspace.set_member_role(EDITOR, "owner"))
    apply(workspace, workspace.remove_member(OWNER))
    assert workspace.owners == {EDITOR}


def test_remove_member(workspace: Workspace) -> None:
    event = apply(workspace, workspace.remove_member(VIEWER))
    assert event == MemberRemoved(user_id=VIEWER)
    assert not workspace.can_view(VIEWER)


def test_removing_a_stranger_is_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFound, match=f"user {STRANGER} is not a member"):
        workspace.remove_member(STRANGER)


def test_members_is_a_copy(workspace: Workspace) -> None:
    members = workspace.members
    assert members == {OWNER: "owner", EDITOR: "editor", VIEWER: "viewer"}
    members[STRANGER] = "owner"  # type: ignore[index]
    assert workspace.role_of(STRANGER) is None


@pytest.mark.parametrize(
    "event",
    [
        WorkspaceCreated(workspace_id=WORKSPACE, name="Finance", owner=OWNER),
        WorkspaceRenamed(name="Treasury"),
        MemberRoleSet(user_id=EDITOR, role="editor"),
        MemberRemoved(user_id=EDITOR),
    ],
    ids=lambda e: type(e).__name__,
)
def test_workspace_events_round_trip(event: WorkspaceEvent) -> None:
    encoded = workspace_events.encode(event)
    assert msgspec.json.decode(encoded)["type"] == type(event).__name__
    assert workspace_events.decode(encoded) == event
    data = workspace_events.to_data(event)
    assert workspace_events.from_data(type(event).__name__, data) == event


def test_an_event_of_another_workspace_is_refused() -> None:
    with pytest.raises(ValueError, match="applied to"):
        Workspace(WORKSPACE).apply(
            WorkspaceCreated(workspace_id=UUID(int=2), name="x", owner=OWNER)
        )
