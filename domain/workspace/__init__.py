"""The Workspace aggregate: members and their roles."""

from domain.workspace.aggregate import ROLES, Workspace
from domain.workspace.events import Role

__all__ = ["ROLES", "Role", "Workspace"]
