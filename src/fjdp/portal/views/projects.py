"""A project: apply, edit, submit, decide, approve, provision, amend, withdraw, close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from fjdp.errors import UserError
from fjdp.governance import (
    PanelOutcome,
    Role,
    State,
    can_edit,
    can_reach_workspace,
    can_review,
    check_can_lead,
)
from fjdp.portal import actions
from fjdp.portal.bridge import application, custodians, link_statuses
from fjdp.portal.datasets import choices_from_tables, tables_from_choices
from fjdp.portal.forms import (
    CloseForm,
    CustodianDecisionForm,
    PanelDecisionForm,
    ProjectForm,
)
from fjdp.portal.models import Project, today
from fjdp.portal.views._access import project_for, require_role


def _fields(form: ProjectForm) -> dict[str, Any]:
    return {k: form.cleaned_data[k] for k in actions.projects.PROJECT_FIELDS}


def _tables(form: ProjectForm) -> dict[str, dict[str, dict[str, object]]]:
    with_dates = form.cleaned_data.get("date_start") is not None
    return tables_from_choices(form.cleaned_data["columns"], with_dates)


def _refused(request: HttpRequest, exc: UserError) -> None:
    messages.error(request, exc.message())


def project_new(request: HttpRequest) -> HttpResponse:
    user = require_role(request, Role.PROJECT_LEAD)
    try:
        check_can_lead(user.person(), today())
    except UserError as exc:
        _refused(request, exc)
        return redirect("dashboard")
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = actions.create_project(
                user, _fields(form), form.cleaned_data["researchers"], _tables(form)
            )
        except UserError as exc:
            form.add_error(None, exc.message())
        else:
            messages.success(request, f"Project {project.pid} saved as a draft.")
            return redirect("project", pid=project.pid)
    return render(request, "portal/project_form.html", {"form": form, "project": None})


def project_edit(request: HttpRequest, pid: str) -> HttpResponse:
    user, project = project_for(request, pid)
    if not can_edit(user.person(), application(project)):
        raise PermissionDenied("only the lead can change a draft or returned application")
    initial = {
        "researchers": [n.user for n in project.named.select_related("user")],
        "columns": choices_from_tables({d.dataset: d.tables for d in project.datasets.all()}),
        "link_statuses": sorted(s.value for s in link_statuses(project.link_statuses)),
    }
    form = ProjectForm(request.POST or None, instance=project, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            actions.edit_project(
                project, user, _fields(form), form.cleaned_data["researchers"], _tables(form)
            )
        except UserError as exc:
            form.add_error(None, exc.message())
        else:
            messages.success(request, f"Project {project.pid} saved.")
            return redirect("project", pid=project.pid)
    return render(request, "portal/project_form.html", {"form": form, "project": project})


def project_detail(request: HttpRequest, pid: str) -> HttpResponse:
    user, project = project_for(request, pid)
    app = application(project)
    person = user.person()
    owned = {d for d, org in custodians().items() if org == user.organisation}
    decided = set(
        project.custodian_decisions.filter(round=project.round).values_list("dataset", flat=True)
    )
    context = {
        "project": project,
        "app": app,
        "named": project.named.select_related("user"),
        "datasets": project.datasets.all(),
        "link_statuses": sorted(s.value for s in app.request.link_statuses),
        "panel_decisions": project.panel_decisions.select_related("member").order_by("-at"),
        "custodian_decisions": project.custodian_decisions.select_related("custodian").order_by(
            "-at"
        ),
        "is_lead": user.pk == project.lead_id,
        "can_edit": can_edit(person, app),
        "can_review": app.state in (State.SUBMITTED, State.PANEL_REVIEW)
        and can_review(person, app),
        "my_datasets": sorted(
            (owned & app.request.dataset_names) - decided
            if app.state is State.CUSTODIAN_REVIEW and user.has_role(Role.CUSTODIAN)
            else set()
        ),
        "is_data_manager": user.has_role(Role.DATA_MANAGER),
        "close_form": CloseForm(),
        "can_request_outputs": user.has_role(Role.RESEARCHER)
        and can_reach_workspace(person, app, today()),
        "output_requests": project.output_requests.select_related("requester")
        if user.username in app.team or user.has_role(Role.AUDITOR)
        else [],
    }
    return render(request, "portal/project.html", context)


def _post_step(
    request: HttpRequest, pid: str, run: Callable[[Project], object], done: str
) -> HttpResponse:
    _user, project = project_for(request, pid)
    try:
        run(project)
    except UserError as exc:
        _refused(request, exc)
    else:
        messages.success(request, done)
    return redirect("project", pid=pid)


@require_POST
def project_submit(request: HttpRequest, pid: str) -> HttpResponse:
    user, _p = project_for(request, pid)
    return _post_step(
        request, pid, lambda p: actions.submit(p, user), "Submitted for panel review."
    )


@require_POST
def project_amend(request: HttpRequest, pid: str) -> HttpResponse:
    user, _p = project_for(request, pid)
    return _post_step(
        request,
        pid,
        lambda p: actions.amend(p, user),
        "Amendment started: edit the application and submit it for review. The workspace "
        "keeps its approved scope meanwhile.",
    )


@require_POST
def project_withdraw(request: HttpRequest, pid: str) -> HttpResponse:
    user, _p = project_for(request, pid)
    return _post_step(request, pid, lambda p: actions.withdraw(p, user), "Withdrawn.")


@require_POST
def project_provision(request: HttpRequest, pid: str) -> HttpResponse:
    user = require_role(request, Role.DATA_MANAGER)
    return _post_step(
        request,
        pid,
        lambda p: actions.provision(p, user),
        "Workspace provisioned with the approved scope; the project is active.",
    )


@require_POST
def project_close(request: HttpRequest, pid: str) -> HttpResponse:
    user = require_role(request, Role.DATA_MANAGER)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the reason for closing the project.")
        return redirect("project", pid=pid)
    return _post_step(
        request,
        pid,
        lambda p: actions.close(p, user, form.cleaned_data["reason"]),
        "Project closed; its workspace is revoked and its key destroyed.",
    )


def project_panel(request: HttpRequest, pid: str) -> HttpResponse:
    user = require_role(request, Role.PANEL_MEMBER)
    _u, project = project_for(request, pid)
    app = application(project)
    if app.state not in (State.SUBMITTED, State.PANEL_REVIEW) or not can_review(user.person(), app):
        raise PermissionDenied("you cannot review this project now")
    form = PanelDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.panel_decide(
                project,
                user,
                PanelOutcome(form.cleaned_data["outcome"]),
                form.cleaned_data["reasons"],
                form.cleaned_data["conditions"],
            )
        except UserError as exc:
            form.add_error(None, exc.message())
        else:
            messages.success(request, f"Decision recorded; the project is {new.state.label}.")
            return redirect("project", pid=pid)
    return render(
        request,
        "portal/decision_form.html",
        {"form": form, "project": project, "what": "Panel decision"},
    )


def project_custodian(request: HttpRequest, pid: str, dataset: str) -> HttpResponse:
    user = require_role(request, Role.CUSTODIAN)
    _u, project = project_for(request, pid)
    if dataset not in custodians():
        raise Http404("no such dataset")
    if project.state != State.CUSTODIAN_REVIEW.value or custodians()[dataset] != user.organisation:
        raise PermissionDenied("you cannot decide on this dataset for this project now")
    form = CustodianDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.custodian_decide(
                project,
                user,
                dataset,
                form.cleaned_data["decision"] == "approve",
                form.cleaned_data["reasons"],
            )
        except UserError as exc:
            form.add_error(None, exc.message())
        else:
            messages.success(
                request, f"Decision on {dataset} recorded; the project is {new.state.label}."
            )
            return redirect("project", pid=pid)
    return render(
        request,
        "portal/decision_form.html",
        {"form": form, "project": project, "what": f"Custodian decision on {dataset}"},
    )
