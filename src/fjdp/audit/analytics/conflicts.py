"""Conflicts of role: one person acting in two roles that must stay apart."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fjdp.audit.analytics._base import (
    ALL_TIME,
    PORTAL,
    Entry,
    Period,
    _context,
    _of,
    _show,
    _text,
)
from fjdp.audit.events import Action
from fjdp.governance.roles import INCOMPATIBLE, Role


@dataclass(frozen=True)
class RoleConflict:
    """One person acting in two roles that must stay apart."""

    time: str
    person: str
    kind: str
    project: str
    object: str
    alert: bool
    why: str


@dataclass
class _Team:
    lead: str = ""
    named: dict[str, dt.datetime] = field(default_factory=dict)

    def joined(self, person: str) -> dt.datetime | None:
        return self.named.get(person)

    def role_of(self, person: str) -> str:
        return "the lead" if person == self.lead else "a researcher"


def _teams(entries: Iterable[Entry]) -> dict[str, _Team]:
    """Everyone ever on each project (its lead and named researchers), with when the
    records first show them on it."""
    teams: dict[str, _Team] = defaultdict(_Team)
    for e in entries:
        if e.zone != PORTAL or e.action not in (
            Action.PROJECT_CREATE,
            Action.PROJECT_EDIT,
            Action.PROJECT_SUBMIT,
        ):
            continue
        team = teams[e.object]
        if e.action == Action.PROJECT_CREATE and e.record.role == Role.PROJECT_LEAD.value:
            team.lead = e.actor
            team.named.setdefault(e.actor, e.at)
        researchers = e.details.get("researchers")
        if isinstance(researchers, list):
            for name in researchers:
                team.named.setdefault(str(name), e.at)
    return teams


def _on_team(team: _Team, person: str, acted: dt.datetime) -> str | None:
    joined = team.joined(person)
    if joined is None:
        return None
    when = "already" if joined <= acted else f"later ({_show(joined)})"
    return f"{person} is {team.role_of(person)} on the project ({when})"


def _role_history(entries: Iterable[Entry]) -> dict[str, list[tuple[Entry, frozenset[Role]]]]:
    out: dict[str, list[tuple[Entry, frozenset[Role]]]] = defaultdict(list)
    for e in _of(entries, Action.USER_CREATE, Action.USER_UPDATE):
        values = e.details.get("roles")
        if not isinstance(values, list):
            continue
        held = frozenset(Role(v) for v in values if v in Role._value2member_map_)
        out[e.object].append((e, held))
    return out


def role_conflicts(entries: Sequence[Entry], period: Period = ALL_TIME) -> list[RoleConflict]:
    """Separation of duties as the records show it, whatever the order of events.

    The portal refuses most of these when the step is taken (a decision on one's own
    project, a checker on the project or twice in a round, a checker downloading,
    incompatible roles on one account); they still show in the records when a team
    changes after the decision (an amendment names a panel member or checker), and for
    steps the portal does not forbid: one person deciding as both panel member and
    custodian, a data manager provisioning a project they are on, incompatible roles
    held one after the other. Every row is an alert."""
    ctx = _context(entries)
    teams = _teams(entries)
    found: dict[tuple[str, str, str], RoleConflict] = {}

    def add(e: Entry, person: str, kind: str, project: str, why: str, obj: str = "") -> None:
        obj = obj or e.object
        if e.at in period:
            found.setdefault(
                (kind, person, obj), RoleConflict(e.time, person, kind, project, obj, True, why)
            )

    deciders: dict[tuple[str, str], dict[str, Entry]] = defaultdict(dict)
    checkers: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    checked_by: dict[str, set[str]] = defaultdict(set)  # every round of a request
    for e in entries:
        if e.zone != PORTAL:
            continue
        a = e.action
        if a in (Action.PANEL_DECISION, Action.CUSTODIAN_DECISION):
            as_ = "panel member" if a == Action.PANEL_DECISION else "custodian"
            on = _on_team(teams[e.object], e.actor, e.at)
            if on:
                add(e, e.actor, f"decided on own project as {as_}", e.object, on)
            rnd = _text(e.details.get("round"))
            before = deciders[(e.object, rnd)].get(e.actor)
            if before is not None and before.action != a:
                add(
                    e,
                    e.actor,
                    "approver twice",
                    e.object,
                    f"{e.actor} decided on round {rnd} both as panel member and as custodian; "
                    "the approvals must come from different people",
                )
            elif before is not None and a == Action.PANEL_DECISION:
                add(
                    e,
                    e.actor,
                    "approver twice",
                    e.object,
                    f"{e.actor} recorded two panel decisions in round {rnd}",
                )
            deciders[(e.object, rnd)].setdefault(e.actor, e)
        elif a == Action.PROVISION:
            on = _on_team(teams[e.object], e.actor, e.at)
            if on:
                add(e, e.actor, "provisioned own project", e.object, on)
        elif a in (Action.OUTPUT_TAKE, Action.OUTPUT_VOTE):
            pid = ctx.request_project.get(e.object, "")
            if ctx.requester.get(e.object) == e.actor:
                add(e, e.actor, "checked own request", pid, f"{e.actor} made request {e.object}")
            else:
                on = _on_team(teams[pid], e.actor, e.at) if pid else None
                if on:
                    add(e, e.actor, "checked own project's output", pid, on)
            if a == Action.OUTPUT_TAKE:
                rnd = _text(e.details.get("round"))
                taken = checkers[(e.object, rnd)]
                if any(t.actor == e.actor for t in taken):
                    add(
                        e,
                        e.actor,
                        "same checker twice",
                        pid,
                        f"{e.actor} took round {rnd} of {e.object} twice: the two checks must "
                        "come from two people",
                    )
                taken.append(e)
                checked_by[e.object].add(e.actor)
        elif a == Action.OUTPUT_DOWNLOAD:
            pid = ctx.request_project.get(e.object, "")
            if e.actor in checked_by[e.object]:
                add(
                    e,
                    e.actor,
                    "checker downloaded",
                    pid,
                    f"{e.actor} checked {e.object} and downloaded its release",
                )
    for person, history in _role_history(entries).items():
        union: set[Role] = set()
        for e, held in history:
            for pair, reason in INCOMPATIBLE.items():
                if not pair <= held | union:
                    continue
                a_, b_ = sorted(r.label for r in pair)
                together = pair <= held
                add(
                    e,
                    person,
                    "incompatible roles" if together else "incompatible roles in turn",
                    "",
                    f"{person} {'holds' if together else 'has held'} both {a_} and {b_}: {reason}",
                    obj=f"{a_} + {b_}",
                )
            union |= held
    return sorted(found.values(), key=lambda r: (r.time, r.person, r.kind))
