"""What waits for each person, by role, and the researcher's workspaces."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fjdp.governance import Role, State, can_reach_workspace
from fjdp.portal.bridge import application, custodians
from fjdp.portal.models import OutputRequestRecord, Project, User, today
from fjdp.portal.tables import sorted_paged
from fjdp.portal.views._access import require_role, user_of


def workspaces_of(user: User) -> list[Project]:
    """Projects whose workspace this person may reach today."""
    person = user.person()
    day = today()
    out = []
    for p in Project.objects.filter(provisioned=True).exclude(
        state__in=[State.EXPIRED.value, State.CLOSED.value, State.REJECTED.value]
    ):
        named = p.approved and user.username in p.approved.get("researchers", [])
        if named and can_reach_workspace(person, application(p), day):
            out.append(p)
    return out


def _waiting(user: User) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    if user.has_role(Role.PROJECT_LEAD):
        out["lead"] = list(Project.objects.filter(lead=user))
    if user.has_role(Role.PANEL_MEMBER):
        pending = []
        for p in Project.objects.filter(
            state__in=[State.SUBMITTED.value, State.PANEL_REVIEW.value]
        ):
            decided = p.panel_decisions.filter(round=p.round, member=user).exists()
            if not decided and user.username not in application(p).team:
                pending.append(p)
        out["panel"] = pending
    if user.has_role(Role.CUSTODIAN):
        owned = {d for d, org in custodians().items() if org == user.organisation}
        pending = []
        for p in Project.objects.filter(state=State.CUSTODIAN_REVIEW.value):
            done = set(
                p.custodian_decisions.filter(round=p.round).values_list("dataset", flat=True)
            )
            mine = set(p.datasets.values_list("dataset", flat=True)) & owned
            if mine - done:
                pending.append(p)
        out["custodian"] = pending
    if user.has_role(Role.OUTPUT_CHECKER):
        from fjdp.portal.views.outputs import waiting_for_checker

        out["outputs"] = waiting_for_checker(user)
    if user.has_role(Role.DATA_MANAGER):
        out["provision"] = list(Project.objects.filter(state=State.APPROVED.value))
        out["past_end"] = list(
            Project.objects.filter(end_date__lt=today()).exclude(
                state__in=[State.EXPIRED.value, State.CLOSED.value, State.REJECTED.value]
            )
        )
    return out


def dashboard(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    context = {
        "waiting": _waiting(user),
        "workspaces": workspaces_of(user) if user.has_role(Role.RESEARCHER) else [],
        "roles": sorted(r.label for r in user.role_set),
        "is_auditor": user.has_role(Role.AUDITOR),
        "is_lead": user.has_role(Role.PROJECT_LEAD),
        "my_requests": OutputRequestRecord.objects.filter(requester=user).select_related("project"),
    }
    return render(request, "portal/dashboard.html", context)


def workspaces(request: HttpRequest) -> HttpResponse:
    user = require_role(request, Role.RESEARCHER)
    return render(request, "portal/workspaces.html", {"projects": workspaces_of(user)})


def projects(request: HttpRequest) -> HttpResponse:
    """Every project this person may see, sortable and paged."""
    from fjdp.portal.views._access import can_view

    user = user_of(request)
    ids = [p.pk for p in Project.objects.all() if can_view(user, p)]
    table = sorted_paged(
        request,
        Project.objects.filter(pk__in=ids).select_related("lead"),
        [
            ("pid", "Project", "pid"),
            ("title", "Title", "title"),
            ("lead", "Lead", "lead__username"),
            ("state", "Status", "state"),
            ("end", "Ends", "end_date"),
            ("updated", "Updated", "updated_at"),
        ],
        "pid",
    )
    return render(request, "portal/projects.html", {"table": table})
