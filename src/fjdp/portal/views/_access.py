"""Who may see what: a page asks here, the rules live in ``fjdp.governance``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from fjdp.governance import Role, State
from fjdp.portal.bridge import custodians
from fjdp.portal.models import Project, User


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def require_role(request: HttpRequest, role: Role) -> User:
    user = user_of(request)
    if not user.has_role(role):
        raise PermissionDenied(f"this page is for the {role.label} role")
    return user


def can_view(user: User, project: Project) -> bool:
    if project.lead_id == user.pk or project.named.filter(user=user).exists():
        return True
    if project.approved and user.username in project.approved.get("researchers", []):
        return True
    if user.has_role(Role.AUDITOR):
        return True
    if project.state == State.DRAFT.value and project.round == 0:
        return False  # a first draft is the team's own
    if user.has_role(Role.PANEL_MEMBER) or user.has_role(Role.DATA_MANAGER):
        return True
    if user.has_role(Role.CUSTODIAN):
        owned = {d for d, org in custodians().items() if org == user.organisation}
        return project.datasets.filter(dataset__in=owned).exists()
    return False


def project_for(request: HttpRequest, pid: str) -> tuple[User, Project]:
    user = user_of(request)
    project = get_object_or_404(Project, pid=pid)
    if not can_view(user, project):
        raise PermissionDenied("you are not on this project and do not review it")
    return user, project
