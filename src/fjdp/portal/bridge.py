"""Between the models and the rules: a project as a ``governance.Application``, the
``Context`` the rules need, and the application's new state written back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from typing import Any

from fjdp.governance import (
    Application,
    Approved,
    Context,
    CustodianDecision,
    DatasetRequest,
    PanelDecision,
    PanelOutcome,
    Person,
    Request,
    State,
    TableRequest,
)
from fjdp.portal.models import (
    CustodianDecisionRecord,
    PanelDecisionRecord,
    Project,
    User,
    today,
)
from fjdp.specs import all_specs
from fjdp.types import LinkStatus


@cache
def custodians() -> dict[str, str]:
    """Dataset -> its provider (the organisation whose custodians approve its use)."""
    return {s.name: s.provider for s in all_specs()}


def _request_from_json(data: dict[str, Any]) -> Request:
    return Request(
        tuple(
            DatasetRequest(
                d["name"],
                tuple(
                    TableRequest(
                        t["name"],
                        "*" if t["columns"] == "*" else tuple(t["columns"]),
                        t.get("date_column"),
                    )
                    for t in d["tables"]
                ),
            )
            for d in data["datasets"]
        ),
        dt.date.fromisoformat(data["date_start"]) if data.get("date_start") else None,
        dt.date.fromisoformat(data["date_end"]) if data.get("date_end") else None,
        link_statuses(data.get("link_statuses")),
    )


def link_statuses(values: Iterable[str] | None) -> frozenset[LinkStatus]:
    """Stored link statuses; none stored (an application from before they were asked
    for) means the statuses an analysis includes by default."""
    chosen = frozenset(LinkStatus(v) for v in values or ())
    return chosen or LinkStatus.default_included()


def request_to_json(req: Request) -> dict[str, Any]:
    return {
        "datasets": [
            {
                "name": d.name,
                "tables": [
                    {
                        "name": t.name,
                        "columns": t.columns if t.columns == "*" else list(t.columns),
                        "date_column": t.date_column,
                    }
                    for t in d.tables
                ],
            }
            for d in req.datasets
        ],
        "date_start": req.date_start.isoformat() if req.date_start else None,
        "date_end": req.date_end.isoformat() if req.date_end else None,
        "link_statuses": sorted(s.value for s in req.link_statuses),
    }


def approved_to_json(a: Approved) -> dict[str, Any]:
    return {
        "researchers": sorted(a.researchers),
        "request": request_to_json(a.request),
        "end_date": a.end_date.isoformat(),
        "conditions": list(a.conditions),
    }


def _approved_from_json(data: dict[str, Any] | None) -> Approved | None:
    if not data:
        return None
    return Approved(
        frozenset(data["researchers"]),
        _request_from_json(data["request"]),
        dt.date.fromisoformat(data["end_date"]),
        tuple(data.get("conditions", ())),
    )


def working_request(project: Project) -> Request:
    return Request(
        tuple(
            DatasetRequest(
                d.dataset,
                tuple(
                    TableRequest(
                        name,
                        "*" if spec["columns"] == "*" else tuple(spec["columns"]),
                        spec.get("date_column"),
                    )
                    for name, spec in sorted(d.tables.items())
                ),
            )
            for d in project.datasets.all()
        ),
        project.date_start,
        project.date_end,
        link_statuses(project.link_statuses),
    )


def application(project: Project) -> Application:
    """The project as the rules see it, with the decisions of its current round."""
    rnd = project.round
    return Application(
        project=project.pid,
        lead=project.lead.username,
        state=State(project.state),
        researchers=frozenset(n.user.username for n in project.named.select_related("user")),
        request=working_request(project),
        end_date=project.end_date,
        round=rnd,
        panel=tuple(
            PanelDecision(d.member.username, PanelOutcome(d.outcome), d.reasons, d.conditions)
            for d in PanelDecisionRecord.objects.filter(project=project, round=rnd)
            .select_related("member")
            .order_by("at", "pk")
        ),
        custodians=tuple(
            CustodianDecision(d.custodian.username, d.dataset, d.approve, d.reasons)
            for d in CustodianDecisionRecord.objects.filter(project=project, round=rnd)
            .select_related("custodian")
            .order_by("at", "pk")
        ),
        approved=_approved_from_json(project.approved),
        provisioned=project.provisioned,
    )


def context(usernames: Iterable[str], day: dt.date | None = None) -> Context:
    people: dict[str, Person] = {
        u.username: u.person() for u in User.objects.filter(username__in=set(usernames))
    }
    return Context(today=day or today(), people=people, custodians=custodians())


def context_for(project: Project, *extra: str, day: dt.date | None = None) -> Context:
    app = application(project)
    return context([*app.team, *extra], day)
