"""Each project's approved window as its records show it, and activity outside it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class ProjectWindow:
    """When a project may be active, as its records show: from its first approval to
    its approved end date, or earlier if it was expired, closed, withdrawn or revoked."""

    project: str
    approved_at: str
    end_date: str
    ended_at: str
    ended_by: str
    in_portal: bool


@dataclass
class _Window:
    approved_at: dt.datetime | None = None
    approved_end: dt.date | None = None
    submitted_end: dt.date | None = None
    scope_end: dt.date | None = None
    ended_at: dt.datetime | None = None
    ended_by: str = ""
    in_portal: bool = False

    @property
    def end_date(self) -> dt.date | None:
        return self.approved_end or self.scope_end


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


_PROJECT_ACTIONS = frozenset(
    a.value
    for a in (
        Action.PROJECT_CREATE,
        Action.PROJECT_EDIT,
        Action.PROJECT_SUBMIT,
        Action.PANEL_DECISION,
        Action.CUSTODIAN_DECISION,
        Action.PROJECT_AMEND,
        Action.PROJECT_WITHDRAW,
        Action.PROJECT_EXPIRE,
        Action.PROJECT_CLOSE,
        Action.PROVISION,
    )
)


def _windows(entries: Iterable[Entry]) -> dict[str, _Window]:
    out: dict[str, _Window] = defaultdict(_Window)
    for e in entries:
        if e.action == Action.REVOKE:
            w = out[e.object]
            if w.ended_at is None:
                w.ended_at, w.ended_by = e.at, "revoked"
            continue
        if e.action not in _PROJECT_ACTIONS:
            continue
        w = out[e.object]
        if e.zone == PORTAL:
            w.in_portal = True
        d = e.details
        if e.action in (Action.PROJECT_CREATE, Action.PROJECT_EDIT) or (
            e.action == Action.PROJECT_SUBMIT
        ):
            w.submitted_end = _date(d.get("end_date")) or w.submitted_end
        if e.action == Action.PROVISION and d.get("end_date"):
            # A zone's provisioning records its scope's end date: the approved one.
            w.scope_end = _date(d["end_date"])
        went = _text(d.get("to"))
        if went == "approved":
            # Only the custodians' last approval approves: a rejected amendment also
            # leads back to active, but approves nothing new.
            w.approved_at = w.approved_at or e.at
            w.approved_end = w.submitted_end
        if w.ended_at is None:
            if e.action == Action.PROJECT_EXPIRE:
                w.ended_at, w.ended_by = e.at, "expired"
            elif e.action == Action.PROJECT_CLOSE:
                w.ended_at, w.ended_by = e.at, "closed"
            elif e.action == Action.PROJECT_WITHDRAW and went == "closed":
                w.ended_at, w.ended_by = e.at, "withdrawn"
    return out


def project_windows(entries: Iterable[Entry]) -> list[ProjectWindow]:
    """Every project the records name, with its window as far as they show it."""
    return [
        ProjectWindow(
            project=pid,
            approved_at=_show(w.approved_at) if w.approved_at else "",
            end_date=w.end_date.isoformat() if w.end_date else "",
            ended_at=_show(w.ended_at) if w.ended_at else "",
            ended_by=w.ended_by,
            in_portal=w.in_portal,
        )
        for pid, w in sorted(_windows(entries).items())
    ]


@dataclass(frozen=True)
class OutsideWindow:
    """Activity on a project outside its approved window."""

    time: str
    log: str
    actor: str
    action: str
    object: str
    project: str
    approved_at: str
    end_date: str
    ended: str
    alert: bool
    why: str


_WINDOWED = (
    Action.PROVISION,
    Action.OUTPUT_REQUEST,
    Action.OUTPUT_SUBMIT,
    Action.OUTPUT_REVISE,
    Action.OUTPUT_RELEASE,
    Action.OUTPUT_DOWNLOAD,
)


def outside_window(entries: Sequence[Entry], period: Period = ALL_TIME) -> list[OutsideWindow]:
    """Provisioning, output requests, releases and downloads of a project before its
    approval, after its approved end date, or after it ended (expired, closed,
    withdrawn, revoked). Every row is an alert.

    A project the portal's records never mention (only zone logs were given) has no
    known approval; its activity is judged on its end date and end alone."""
    ctx = _context(entries)
    windows = _windows(entries)
    portal_given = PORTAL in ctx.zones
    rows = []
    for e in _of(entries, *_WINDOWED):
        if e.at not in period:
            continue
        pid = e.object if e.action == Action.PROVISION else ctx.request_project.get(e.object)
        if not pid:
            continue
        w = windows.get(pid) or _Window()
        problems = []
        if w.approved_at is None:
            if portal_given:
                problems.append("the portal's records show no approval of this project")
        elif e.at < w.approved_at:
            problems.append(f"before the project was approved ({_show(w.approved_at)})")
        if w.end_date is not None and e.at.date() > w.end_date:
            problems.append(f"after the project's end date ({w.end_date.isoformat()})")
        if w.ended_at is not None and e.at > w.ended_at:
            problems.append(f"after the project was {w.ended_by} ({_show(w.ended_at)})")
        if not problems:
            continue
        rows.append(
            OutsideWindow(
                time=e.time,
                log=e.source,
                actor=e.actor,
                action=e.action,
                object=e.object,
                project=pid,
                approved_at=_show(w.approved_at) if w.approved_at else "",
                end_date=w.end_date.isoformat() if w.end_date else "",
                ended=f"{w.ended_by} {_show(w.ended_at)}" if w.ended_at else "",
                alert=True,
                why="; ".join(problems),
            )
        )
    return rows
