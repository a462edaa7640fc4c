"""The Workspace aggregate: a named group of reports and datasets, and who may use them.

Roles, strongest first: owner (manages members and the workspace), editor (edits reports and
datasets), viewer (reads). A workspace always keeps at least one owner.

Workspace events are applied in stream order (membership is not co-edited offline), so this
aggregate needs no merge rules; the command handler serialises its writes with the stream
version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, get_args

from domain.errors import AlreadyExists, InvalidCommand, NotAllowed, NotFound
from domain.names import clean_name
from domain.workspace.events import (
    MemberRemoved,
    MemberRoleSet,
    Role,
    WorkspaceCreated,
    WorkspaceEvent,
    WorkspaceRenamed,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from uuid import UUID

ROLES: Final[tuple[Role, ...]] = get_args(Role)
_RANK: Final[dict[str, int]] = {"viewer": 1, "editor": 2, "owner": 3}


class Workspace:
    """One workspace: its name and members."""

    def __init__(self, workspace_id: UUID) -> None:
        self.id: Final = workspace_id
        self.name: str | None = None
        self.exists = False
        self._members: dict[UUID, Role] = {}

    # -- state -------------------------------------------------------------------------------

    def apply(self, event: WorkspaceEvent) -> None:
        match event:
            case WorkspaceCreated():
                if event.workspace_id != self.id:
                    raise ValueError(
                        f"event of workspace {event.workspace_id} applied to {self.id}"
                    )
                self.exists = True
                self.name = event.name
                self._members[event.owner] = "owner"
            case WorkspaceRenamed():
                self.name = event.name
            case MemberRoleSet():
                self._members[event.user_id] = _role(event.role)
            case MemberRemoved():
                self._members.pop(event.user_id, None)

    @property
    def members(self) -> Mapping[UUID, Role]:
        """user id → role (a copy)."""
        return dict(self._members)

    @property
    def owners(self) -> frozenset[UUID]:
        return frozenset(user for user, role in self._members.items() if role == "owner")

    def role_of(self, user_id: UUID) -> Role | None:
        return self._members.get(user_id)

    def can_view(self, user_id: UUID) -> bool:
        return user_id in self._members

    def can_edit(self, user_id: UUID) -> bool:
        return self._members.get(user_id) in ("owner", "editor")

    def is_owner(self, user_id: UUID) -> bool:
        return self._members.get(user_id) == "owner"

    def require_role(self, user_id: UUID, at_least: Role) -> None:
        """Raise ``NotAllowed`` unless the user's role is ``at_least`` or stronger."""
        role = self._members.get(user_id)
        if role is None:
            raise NotAllowed(
                f"user {user_id} is not a member of workspace {self.id}", code="not_a_member"
            )
        if _RANK[role] < _RANK[at_least]:
            raise NotAllowed(
                f"user {user_id} is a {role} of workspace {self.id}; this needs {at_least}"
                + ("" if at_least == "owner" else " or higher"),
                code="role_too_weak",
            )

    # -- decisions ---------------------------------------------------------------------------

    def _require_workspace(self) -> None:
        if not self.exists:
            raise NotFound(f"workspace {self.id} does not exist", code="workspace_not_found")

    def create(self, name: str, owner: UUID) -> WorkspaceCreated:
        if self.exists:
            raise AlreadyExists(f"workspace {self.id} already exists", code="workspace_exists")
        return WorkspaceCreated(
            workspace_id=self.id, name=clean_name(name, "workspace"), owner=owner
        )

    def rename(self, name: str) -> WorkspaceRenamed:
        self._require_workspace()
        return WorkspaceRenamed(name=clean_name(name, "workspace"))

    def set_member_role(self, user_id: UUID, role: str) -> MemberRoleSet:
        """Add a member with ``role``, or change a member's role."""
        self._require_workspace()
        checked = _role(role)
        if checked != "owner":
            self._keep_an_owner(user_id, f"making user {user_id} a {checked}")
        return MemberRoleSet(user_id=user_id, role=checked)

    def remove_member(self, user_id: UUID) -> MemberRemoved:
        self._require_workspace()
        if user_id not in self._members:
            raise NotFound(
                f"user {user_id} is not a member of workspace {self.id}", code="member_not_found"
            )
        self._keep_an_owner(user_id, f"removing user {user_id}")
        return MemberRemoved(user_id=user_id)

    def _keep_an_owner(self, user_id: UUID, change: str) -> None:
        if self.owners == {user_id}:
            raise InvalidCommand(
                f"{change} would leave workspace {self.id} without an owner; "
                "make someone else an owner first",
                code="last_owner",
            )


def _role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise InvalidCommand(
        f"role must be one of owner, editor, viewer, got {role!r}", code="invalid_role"
    )
