"""The project lifecycle as a transition table, and :func:`step`, the one function that
moves an application from state to state after checking every guard.

::

    draft ─submit→ submitted ─panel→ panel review ─(2 approve)→ custodian review
      ▲                                   │ (2 return) → returned ─submit→ submitted
      │                                   │ (2 reject) → rejected
      │                      custodian review ─(every dataset approved)→ approved
      │                                   │ (a custodian refuses) → returned
      │                      approved ─provision→ active ─expire→ expired
      └──────────── amend ──────────────────────┘ active ─close→ closed

An amendment (adding a researcher or a dataset) takes an active project back to draft
for a new review round; its workspace keeps what was approved before until the
amendment is approved and provisioned. A rejected or withdrawn amendment returns the
project to active, unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import ClassVar

from fjdp.errors import GovernanceError
from fjdp.governance.application import (
    PANEL_QUORUM,
    Application,
    Approved,
    CustodianDecision,
    PanelDecision,
    PanelOutcome,
    State,
)
from fjdp.governance.people import Person
from fjdp.governance.permissions import (
    check_can_be_named,
    check_can_lead,
    check_custodian_of,
    check_has_role,
    check_not_own,
    check_panel_member_may_decide,
)
from fjdp.governance.roles import Role


class Event(StrEnum):
    SUBMIT = "submit"
    PANEL_DECIDE = "panel_decide"
    CUSTODIAN_DECIDE = "custodian_decide"
    PROVISION = "provision"
    AMEND = "amend"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    CLOSE = "close"


_OPEN = (State.DRAFT, State.RETURNED, State.SUBMITTED, State.PANEL_REVIEW, State.CUSTODIAN_REVIEW)
_ENDINGS: dict[Event, frozenset[State]] = {
    Event.EXPIRE: frozenset({State.EXPIRED}),
    Event.CLOSE: frozenset({State.CLOSED}),
}

TRANSITIONS: dict[State, dict[Event, frozenset[State]]] = {
    State.DRAFT: {Event.SUBMIT: frozenset({State.SUBMITTED})},
    State.RETURNED: {Event.SUBMIT: frozenset({State.SUBMITTED})},
    State.SUBMITTED: {Event.PANEL_DECIDE: frozenset({State.PANEL_REVIEW})},
    State.PANEL_REVIEW: {
        Event.PANEL_DECIDE: frozenset(
            {
                State.PANEL_REVIEW,
                State.CUSTODIAN_REVIEW,
                State.RETURNED,
                State.REJECTED,
                State.ACTIVE,  # an amendment rejected: the project goes on as approved
            }
        )
    },
    State.CUSTODIAN_REVIEW: {
        Event.CUSTODIAN_DECIDE: frozenset({State.CUSTODIAN_REVIEW, State.APPROVED, State.RETURNED})
    },
    State.APPROVED: {Event.PROVISION: frozenset({State.ACTIVE}), **_ENDINGS},
    State.ACTIVE: {
        Event.PROVISION: frozenset({State.ACTIVE}),
        Event.AMEND: frozenset({State.DRAFT}),
        **_ENDINGS,
    },
    State.REJECTED: {},
    State.EXPIRED: {},
    State.CLOSED: {},
}
"""State -> event -> the states it can lead to. :func:`step` never leaves this table."""

for _s in _OPEN:
    TRANSITIONS[_s][Event.WITHDRAW] = frozenset({State.CLOSED, State.ACTIVE})
    TRANSITIONS[_s].update(_ENDINGS)


@dataclass(frozen=True)
class Context:
    """What the rules need to know beyond the application: the day, the people, and the
    provider (custodian organisation) of every dataset."""

    today: dt.date
    people: Mapping[str, Person]
    custodians: Mapping[str, str] = field(default_factory=dict)

    def person(self, username: str) -> Person:
        try:
            return self.people[username]
        except KeyError:
            raise GovernanceError(f"no account {username!r}") from None


@dataclass(frozen=True)
class Submit:
    event: ClassVar[Event] = Event.SUBMIT
    actor: str


@dataclass(frozen=True)
class PanelDecide:
    event: ClassVar[Event] = Event.PANEL_DECIDE
    actor: str
    outcome: PanelOutcome
    reasons: str
    conditions: str = ""


@dataclass(frozen=True)
class CustodianDecide:
    event: ClassVar[Event] = Event.CUSTODIAN_DECIDE
    actor: str
    dataset: str
    approve: bool
    reasons: str


@dataclass(frozen=True)
class Provision:
    event: ClassVar[Event] = Event.PROVISION
    actor: str


@dataclass(frozen=True)
class Amend:
    event: ClassVar[Event] = Event.AMEND
    actor: str


@dataclass(frozen=True)
class Withdraw:
    event: ClassVar[Event] = Event.WITHDRAW
    actor: str


@dataclass(frozen=True)
class Expire:
    """Taken by the system, not a person, once the end date has passed."""

    event: ClassVar[Event] = Event.EXPIRE


@dataclass(frozen=True)
class Close:
    event: ClassVar[Event] = Event.CLOSE
    actor: str
    reason: str


Action = Submit | PanelDecide | CustodianDecide | Provision | Amend | Withdraw | Expire | Close


def allowed_events(state: State) -> frozenset[Event]:
    return frozenset(TRANSITIONS[state])


def _refuse_state(app: Application, event: Event) -> GovernanceError:
    possible = ", ".join(sorted(e.value for e in TRANSITIONS[app.state])) or "nothing"
    return GovernanceError(
        f"project {app.project} is {app.state.label}: {event.value.replace('_', ' ')} is not "
        f"possible now (possible: {possible})"
    )


def _reasons(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise GovernanceError(f"{what} needs recorded reasons", fix="write the reasons")
    return text


def step(app: Application, action: Action, ctx: Context) -> Application:
    """The application after ``action``, or :class:`GovernanceError` saying why not."""
    if action.event not in TRANSITIONS[app.state]:
        raise _refuse_state(app, action.event)
    new = _apply(app, action, ctx)
    if new.state not in TRANSITIONS[app.state][action.event]:  # pragma: no cover - a bug
        raise AssertionError(f"{app.state} --{action.event}--> {new.state} is not in the table")
    return new


def _back_to_approved(app: Application) -> Application:
    """End an amendment: the working copy becomes what was approved again."""
    assert app.approved is not None
    return replace(
        app,
        state=State.ACTIVE,
        researchers=app.approved.researchers,
        request=app.approved.request,
        end_date=app.approved.end_date,
        panel=(),
        custodians=(),
    )


def _apply(app: Application, action: Action, ctx: Context) -> Application:
    today = ctx.today
    match action:
        case Submit(actor=actor):
            person = ctx.person(actor)
            if actor != app.lead:
                raise GovernanceError(
                    f"only the lead of project {app.project} can submit it",
                    fix="ask the project lead",
                )
            check_can_lead(person, today)
            if not app.researchers:
                raise GovernanceError(
                    f"project {app.project} names no researcher", fix="name at least one"
                )
            for name in sorted(app.researchers):
                check_can_be_named(ctx.person(name), today)
            if not app.request.datasets:
                raise GovernanceError(
                    f"project {app.project} requests no dataset", fix="request at least one"
                )
            unknown = sorted(app.request.dataset_names - set(ctx.custodians))
            if unknown:
                raise GovernanceError(f"project {app.project} requests unknown datasets {unknown}")
            if app.end_date <= today:
                raise GovernanceError(
                    f"project {app.project} ends on {app.end_date}, which is not in the future",
                    fix="give a later end date",
                )
            return replace(app, state=State.SUBMITTED, round=app.round + 1, panel=(), custodians=())
        case PanelDecide(actor=actor, outcome=outcome, reasons=reasons, conditions=conditions):
            person = ctx.person(actor)
            check_panel_member_may_decide(person, app)
            reasons = _reasons(reasons, "a panel decision")
            conditions = conditions.strip()
            if outcome is PanelOutcome.APPROVE_WITH_CONDITIONS and not conditions:
                raise GovernanceError(
                    "an approval with conditions needs the conditions", fix="write them"
                )
            if outcome is not PanelOutcome.APPROVE_WITH_CONDITIONS:
                conditions = ""
            panel = (*app.panel, PanelDecision(actor, outcome, reasons, conditions))
            state = _panel_state(app, panel)
            if state is State.ACTIVE:
                return _back_to_approved(app)
            return replace(app, panel=panel, state=state)
        case CustodianDecide(actor=actor, dataset=dataset, approve=approve, reasons=reasons):
            person = ctx.person(actor)
            if dataset not in app.request.dataset_names:
                raise GovernanceError(f"project {app.project} does not request {dataset}")
            check_custodian_of(person, dataset, ctx.custodians)
            check_not_own(person, app)
            if any(d.dataset == dataset for d in app.custodians):
                raise GovernanceError(
                    f"{dataset} has already been decided on for project {app.project}"
                )
            reasons = _reasons(reasons, "a custodian decision")
            decisions = (*app.custodians, CustodianDecision(actor, dataset, approve, reasons))
            if not approve:
                return replace(app, custodians=decisions, state=State.RETURNED)
            if {d.dataset for d in decisions if d.approve} >= app.request.dataset_names:
                agreed = tuple(d.conditions for d in app.panel if d.conditions)
                approved = Approved(app.researchers, app.request, app.end_date, agreed)
                return replace(app, custodians=decisions, state=State.APPROVED, approved=approved)
            return replace(app, custodians=decisions)
        case Provision(actor=actor):
            check_has_role(ctx.person(actor), Role.DATA_MANAGER, to="provision a workspace")
            assert app.approved is not None
            if app.approved.end_date < today:
                raise GovernanceError(
                    f"project {app.project} ended on {app.approved.end_date}; it cannot be "
                    "provisioned"
                )
            return replace(app, state=State.ACTIVE, provisioned=True)
        case Amend(actor=actor):
            if actor != app.lead:
                raise GovernanceError(f"only the lead of project {app.project} can amend it")
            check_can_lead(ctx.person(actor), today)
            return replace(app, state=State.DRAFT, panel=(), custodians=())
        case Withdraw(actor=actor):
            if actor != app.lead:
                raise GovernanceError(f"only the lead of project {app.project} can withdraw it")
            if app.provisioned and app.approved is not None:
                return _back_to_approved(app)
            return replace(app, state=State.CLOSED)
        case Expire():
            end = app.approved.end_date if app.approved is not None else app.end_date
            if end >= today:
                raise GovernanceError(f"project {app.project} runs until {end}; it has not expired")
            return replace(app, state=State.EXPIRED)
        case Close(actor=actor, reason=reason):
            check_has_role(ctx.person(actor), Role.DATA_MANAGER, to="close a project")
            _reasons(reason, "closing a project")
            return replace(app, state=State.CLOSED)
    raise AssertionError(f"unknown action {action!r}")  # pragma: no cover


def _panel_state(app: Application, panel: tuple[PanelDecision, ...]) -> State:
    """Two distinct members agreeing settle the round; until then it stays in review."""
    votes = Counter("approve" if d.outcome.approves else d.outcome.value for d in panel)
    if votes[PanelOutcome.REJECT.value] >= PANEL_QUORUM:
        if app.provisioned and app.approved is not None:
            return State.ACTIVE
        return State.REJECTED
    if votes[PanelOutcome.RETURN.value] >= PANEL_QUORUM:
        return State.RETURNED
    if votes["approve"] >= PANEL_QUORUM:
        return State.CUSTODIAN_REVIEW
    return State.PANEL_REVIEW
