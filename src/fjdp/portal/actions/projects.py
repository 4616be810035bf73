"""Projects: apply, edit, submit, panel and custodian decisions, provisioning,
amendments, withdrawal, closure and expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction

from fjdp.audit import Action
from fjdp.errors import GovernanceError, InputError
from fjdp.governance import (
    Amend,
    Application,
    Close,
    CustodianDecide,
    Expire,
    PanelDecide,
    PanelOutcome,
    Provision,
    Request,
    Role,
    State,
    Submit,
    Withdraw,
    build_scope,
    check_can_edit,
    check_can_lead,
    step,
)
from fjdp.governance.lifecycle import Action as GovAction
from fjdp.portal.audit import SYSTEM, record_event
from fjdp.portal.bridge import (
    application,
    approved_to_json,
    context,
    context_for,
    request_to_json,
    working_request,
)
from fjdp.portal.models import (
    CustodianDecisionRecord,
    DatasetRequest,
    PanelDecisionRecord,
    Project,
    ProjectResearcher,
    User,
    today,
)

PROJECT_FIELDS = (
    "title",
    "lay_summary",
    "purpose",
    "public_benefit",
    "expected_outputs",
    "date_start",
    "date_end",
    "link_statuses",
    "end_date",
)
# Fields a caller may leave out: the statuses an analysis includes by default, or, on an
# edit, what the application asks for already.
OPTIONAL_FIELDS = frozenset({"link_statuses"})

TablesByDataset = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _next_pid() -> str:
    last = Project.objects.order_by("-pk").first()
    n = (last.pk if last else 0) + 1
    while Project.objects.filter(pid=f"P{n:04d}").exists():
        n += 1
    return f"P{n:04d}"


def _write_team(project: Project, researchers: Iterable[User]) -> None:
    wanted = {u.pk: u for u in researchers}
    project.named.exclude(user_id__in=wanted).delete()
    have = set(project.named.values_list("user_id", flat=True))
    for pk, user in wanted.items():
        if pk not in have:
            ProjectResearcher(project=project, user=user).save()


def _write_datasets(project: Project, datasets: TablesByDataset) -> None:
    project.datasets.exclude(dataset__in=list(datasets)).delete()
    for name, tables in datasets.items():
        DatasetRequest.objects.update_or_create(
            project=project,
            dataset=name,
            defaults={"tables": {t: dict(s) for t, s in tables.items()}},
        )


def _summary(project: Project) -> dict[str, Any]:
    return {
        "title": project.title,
        "researchers": sorted(project.named.values_list("user__username", flat=True)),
        "request": request_to_json(working_request(project)),
        "end_date": project.end_date.isoformat(),
    }


def create_project(
    lead: User,
    fields: Mapping[str, Any],
    researchers: Iterable[User],
    datasets: TablesByDataset,
    *,
    pid: str | None = None,
) -> Project:
    """A draft application; ``pid`` names it (the demo's project), else the next P0001."""
    check_can_lead(lead.person(), today())
    with transaction.atomic():
        given = {k: fields[k] for k in PROJECT_FIELDS if k in fields or k not in OPTIONAL_FIELDS}
        project = Project(pid=pid or _next_pid(), lead=lead, **given)
        project.save()
        _write_team(project, researchers)
        _write_datasets(project, datasets)
        record_event(
            Action.PROJECT_CREATE,
            project.pid,
            actor=lead.username,
            role=Role.PROJECT_LEAD.value,
            details=_summary(project),
        )
    return project


def edit_project(
    project: Project,
    by: User,
    fields: Mapping[str, Any],
    researchers: Iterable[User],
    datasets: TablesByDataset,
) -> Project:
    check_can_edit(by.person(), application(project))
    with transaction.atomic():
        for k in PROJECT_FIELDS:
            if k in fields or k not in OPTIONAL_FIELDS:
                setattr(project, k, fields[k])
        project.save()
        _write_team(project, researchers)
        _write_datasets(project, datasets)
        record_event(
            Action.PROJECT_EDIT,
            project.pid,
            actor=by.username,
            role=Role.PROJECT_LEAD.value,
            details=_summary(project),
        )
    return project


def _restore_working_copy(project: Project, app: Application) -> None:
    """After a withdrawn or rejected amendment: the working copy is what was approved."""
    if application(project).researchers != app.researchers:
        _write_team(project, User.objects.filter(username__in=app.researchers))
    req: Request = app.request
    if working_request(project) != req:
        _write_datasets(
            project,
            {
                d.name: {
                    t.name: {
                        "columns": t.columns if t.columns == "*" else list(t.columns),
                        "date_column": t.date_column,
                    }
                    for t in d.tables
                }
                for d in req.datasets
            },
        )
    project.date_start, project.date_end = req.date_start, req.date_end
    project.link_statuses = sorted(s.value for s in req.link_statuses)
    project.end_date = app.end_date


def _save_state(project: Project, new: Application) -> None:
    project.state = new.state.value
    project.round = new.round
    project.provisioned = new.provisioned
    project.approved = approved_to_json(new.approved) if new.approved else None
    project.conditions = "\n".join(new.approved.conditions) if new.approved else ""
    _restore_working_copy(project, new)
    project.save()


def _transition(
    project: Project,
    action: GovAction,
    *,
    actor: str,
    role: str,
    audit: Action,
    details: Mapping[str, Any] | None = None,
    day: dt.date | None = None,
) -> Application:
    """Check ``action`` against the rules and save the new state with its event."""
    before = application(project)
    new = step(before, action, context_for(project, actor, day=day))
    _save_state(project, new)
    record_event(
        audit,
        project.pid,
        actor=actor,
        role=role,
        details={"from": before.state.value, "to": new.state.value, **(details or {})},
    )
    return new


def submit(project: Project, by: User) -> Application:
    with transaction.atomic():
        return _transition(
            project,
            Submit(by.username),
            actor=by.username,
            role=Role.PROJECT_LEAD.value,
            audit=Action.PROJECT_SUBMIT,
            details={"round": project.round + 1, **_summary(project)},
        )


def panel_decide(
    project: Project, by: User, outcome: PanelOutcome, reasons: str, conditions: str = ""
) -> Application:
    with transaction.atomic():
        rnd = project.round
        new = _transition(
            project,
            PanelDecide(by.username, outcome, reasons, conditions),
            actor=by.username,
            role=Role.PANEL_MEMBER.value,
            audit=Action.PANEL_DECISION,
            details={
                "round": rnd,
                "outcome": outcome.value,
                "reasons": reasons.strip(),
                "conditions": conditions.strip(),
            },
        )
        PanelDecisionRecord(
            project=project,
            round=rnd,
            member=by,
            outcome=outcome.value,
            reasons=reasons.strip(),
            conditions=conditions.strip()
            if outcome is PanelOutcome.APPROVE_WITH_CONDITIONS
            else "",
        ).save()
        return new


def custodian_decide(
    project: Project, by: User, dataset: str, approve: bool, reasons: str
) -> Application:
    with transaction.atomic():
        rnd = project.round
        new = _transition(
            project,
            CustodianDecide(by.username, dataset, approve, reasons),
            actor=by.username,
            role=Role.CUSTODIAN.value,
            audit=Action.CUSTODIAN_DECISION,
            details={
                "round": rnd,
                "dataset": dataset,
                "approve": approve,
                "reasons": reasons.strip(),
            },
        )
        CustodianDecisionRecord(
            project=project,
            round=rnd,
            dataset=dataset,
            custodian=by,
            approve=approve,
            reasons=reasons.strip(),
        ).save()
        return new


def _paths() -> tuple[Path, Path]:
    return Path(settings.FJDP_DATABANK), Path(settings.FJDP_WORKSPACES)


def provision(project: Project, by: User) -> Application:
    """Write the approved scope to the databank's scopes/ folder, build the workspace
    with ``fjdp.workspace.provision``, then mark the project active."""
    from fjdp.databank.reference import NAMES, reference_path
    from fjdp.keys import open_zone
    from fjdp.types import Zone
    from fjdp.workspace.provision import provision as build_workspace
    from fjdp.workspace.scope import scope_path

    before = application(project)
    new = step(before, Provision(by.username), context_for(project, by.username))
    bank, workspaces = _paths()
    zone = open_zone(bank, Zone.DATABANK)
    held = tuple(n for n in NAMES if reference_path(zone.path, n).exists())
    scope = build_scope(new, title=project.title, reference=held)
    path = scope_path(zone.path, scope.project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(scope.model_dump(mode="json"), sort_keys=False))
    built = build_workspace(zone, scope, workspaces, actor=by.username)
    with transaction.atomic():
        _save_state(project, new)
        record_event(
            Action.PROVISION,
            project.pid,
            actor=by.username,
            role=Role.DATA_MANAGER.value,
            details={
                "from": before.state.value,
                "to": new.state.value,
                "scope": str(path),
                "versions": built.versions,
                "rows": built.rows,
                "key_created": built.key_created,
            },
        )
    return new


def _revoke(project: Project, actor: str, reason: str) -> bool:
    from fjdp.keys import open_zone
    from fjdp.types import Zone
    from fjdp.workspace.lifecycle import revoke

    if not project.provisioned:
        return False
    bank, workspaces = _paths()
    try:
        revoke(open_zone(bank, Zone.DATABANK), project.pid, workspaces, actor=actor, reason=reason)
    except InputError:
        return False  # never provisioned in this databank
    return True


def close(project: Project, by: User, reason: str) -> Application:
    """End a project: its workspace is revoked and its key destroyed."""
    new = step(application(project), Close(by.username, reason), context_for(project, by.username))
    revoked = _revoke(project, by.username, reason.strip())
    with transaction.atomic():
        _save_state(project, new)
        record_event(
            Action.PROJECT_CLOSE,
            project.pid,
            actor=by.username,
            role=Role.DATA_MANAGER.value,
            details={"reason": reason.strip(), "workspace_revoked": revoked},
        )
    return new


def expire_due(day: dt.date | None = None) -> list[str]:
    """Expire every project past its end date and revoke its workspace (run daily)."""
    day = day or today()
    done = []
    for project in Project.objects.exclude(
        state__in=[State.EXPIRED.value, State.CLOSED.value, State.REJECTED.value]
    ):
        app = application(project)
        try:
            new = step(app, Expire(), context([], day))
        except GovernanceError:
            continue
        revoked = _revoke(project, SYSTEM, f"past its end date ({day})")
        with transaction.atomic():
            _save_state(project, new)
            record_event(
                Action.PROJECT_EXPIRE,
                project.pid,
                actor=SYSTEM,
                role=SYSTEM,
                details={"on": day.isoformat(), "workspace_revoked": revoked},
            )
        done.append(project.pid)
    return done


def amend(project: Project, by: User) -> Application:
    with transaction.atomic():
        return _transition(
            project,
            Amend(by.username),
            actor=by.username,
            role=Role.PROJECT_LEAD.value,
            audit=Action.PROJECT_AMEND,
        )


def withdraw(project: Project, by: User) -> Application:
    with transaction.atomic():
        return _transition(
            project,
            Withdraw(by.username),
            actor=by.username,
            role=Role.PROJECT_LEAD.value,
            audit=Action.PROJECT_WITHDRAW,
        )
