"""Who may do what: ``check_*`` raises :class:`GovernanceError` with the reason,
``can_*`` answers with a bool. The portal, the CLI and the data plane call the same
functions, so a rule is enforced wherever the step is taken."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import ParamSpec

from fjdp.errors import GovernanceError
from fjdp.governance.application import TERMINAL, Application, State
from fjdp.governance.people import Person
from fjdp.governance.roles import INCOMPATIBLE, Role

P = ParamSpec("P")


def _can(check: Callable[P, None]) -> Callable[P, bool]:
    def can(*args: P.args, **kwargs: P.kwargs) -> bool:
        try:
            check(*args, **kwargs)
        except GovernanceError:
            return False
        return True

    can.__name__ = check.__name__.replace("check_", "can_")
    can.__doc__ = f"True when :func:`{check.__name__}` would not raise."
    return can


def check_roles_compatible(roles: Iterable[Role], *, who: str = "an account") -> None:
    """One account may not hold two roles whose duties must stay apart."""
    held = frozenset(roles)
    for pair, reason in INCOMPATIBLE.items():
        if pair <= held:
            a, b = sorted(r.value for r in pair)
            raise GovernanceError(
                f"{who} cannot be both {Role(a).label} and {Role(b).label}: {reason}",
                fix="give the roles to two different people",
            )


def check_has_role(person: Person, role: Role, *, to: str) -> None:
    if not person.has(role):
        raise GovernanceError(
            f"{person.username} is not a {role.label}, so cannot {to}",
            fix=f"ask an administrator to give the {role.label} role to the right person",
        )


def check_accredited(person: Person, day: dt.date) -> None:
    """Safe people: training, an unexpired accreditation and a signed agreement."""
    problem = person.accreditation.problem_on(day)
    if problem is not None:
        raise GovernanceError(
            f"{person.username} {problem}",
            fix="record their training, expiry and signed access agreement first",
        )


def check_can_be_named(person: Person, day: dt.date) -> None:
    """A researcher named on a project must hold the role and be accredited."""
    check_has_role(person, Role.RESEARCHER, to="be named as a researcher on a project")
    check_accredited(person, day)


def check_can_lead(person: Person, day: dt.date) -> None:
    check_has_role(person, Role.PROJECT_LEAD, to="lead a project")
    check_accredited(person, day)


def check_not_own(person: Person, app: Application) -> None:
    """Nobody reviews or approves a request they lead or are named on."""
    if person.username in app.team:
        raise GovernanceError(
            f"{person.username} is on the team of project {app.project} and cannot review it",
            fix="another panel member or custodian must take this decision",
        )


def check_panel_member_may_decide(person: Person, app: Application) -> None:
    check_has_role(person, Role.PANEL_MEMBER, to="record a panel decision")
    check_not_own(person, app)
    if any(d.member == person.username for d in app.panel):
        raise GovernanceError(
            f"{person.username} has already decided on project {app.project} in this round",
            fix="a second decision must come from a different panel member",
        )


def check_custodian_of(person: Person, dataset: str, custodians: Mapping[str, str]) -> None:
    """The provider of a dataset approves its use, and only its own datasets."""
    check_has_role(person, Role.CUSTODIAN, to="approve the use of a dataset")
    owner = custodians.get(dataset)
    if owner is None:
        raise GovernanceError(
            f"dataset {dataset!r} has no known custodian", fix="check the dataset name"
        )
    if not person.organisation or person.organisation != owner:
        raise GovernanceError(
            f"{person.username} does not speak for {owner!r}, the provider of {dataset}",
            fix=f"a custodian of {owner!r} must decide on {dataset}",
        )


def check_can_reach_workspace(person: Person, app: Application, day: dt.date) -> None:
    """A researcher reaches a workspace only while the project is live, they are named
    on what was approved, and their accreditation holds."""
    if app.state in TERMINAL or not app.provisioned or app.approved is None:
        raise GovernanceError(f"project {app.project} has no live workspace")
    if day > app.approved.end_date:
        raise GovernanceError(f"project {app.project} ended on {app.approved.end_date}")
    if person.username not in app.approved.researchers:
        raise GovernanceError(f"{person.username} is not an approved researcher on {app.project}")
    check_has_role(person, Role.RESEARCHER, to="use a workspace")
    check_accredited(person, day)


def check_can_edit(person: Person, app: Application) -> None:
    if person.username != app.lead:
        raise GovernanceError(
            f"only the lead of project {app.project} can change it", fix="ask the project lead"
        )
    if app.state not in (State.DRAFT, State.RETURNED):
        raise GovernanceError(
            f"project {app.project} is {app.state.label}; only a draft or a returned "
            "application can be changed",
            fix="start an amendment to change an active project",
        )


can_roles_compatible = _can(check_roles_compatible)
can_be_named = _can(check_can_be_named)
can_lead = _can(check_can_lead)
can_review = _can(check_panel_member_may_decide)
can_approve_dataset = _can(check_custodian_of)
can_reach_workspace = _can(check_can_reach_workspace)
can_edit = _can(check_can_edit)
