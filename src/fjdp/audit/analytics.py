"""Ready-made audit queries: what an auditor asks of the records of every log at once.

Each query takes :class:`Entry` values (an :class:`~fjdp.audit.AuditRecord` with the
name of the log it came from and its time parsed) and returns frozen dataclass rows;
each row says whether it is an ``alert`` and ``why``. The queries know nothing of where
the records are kept, so ``fjdp audit report`` runs them on zone folders and the portal
shows them on its auditor's dashboard from its database.

- :func:`failed_logins`: failed logins and lockouts per account and per address, with
  the busiest window; alerts on a burst, a lockout, or a sign-in right after a burst.
- :func:`second_factor`: password sign-ins never followed by a verified second factor,
  and failed codes; alerts when a right password met wrong codes.
- :func:`data_movements` and :func:`data_totals`: every transfer, quarantine, load,
  provisioning, revocation, release and download with its row (or file) counts; alerts
  on a refused bundle and on a bundle whose receipt does not match what was sent.
- :func:`project_windows` and :func:`outside_window`: each project's approved window
  as the records show it, and activity on a project before its approval, after its end
  date, or after it was expired, closed, withdrawn or revoked.
- :func:`role_conflicts`: one person in two roles that must stay apart: deciding on,
  provisioning or checking outputs of a project they are on, one person counting twice
  among a project's approvers or a round's checkers, incompatible roles held.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fjdp.audit.events import Action, AuditRecord
from fjdp.governance.roles import INCOMPATIBLE, Role

PORTAL = "portal"
"""The zone of the portal's own events."""


@dataclass(frozen=True)
class Entry:
    """One record of a log, with the log's name (``portal`` or a zone folder's name)."""

    source: str
    record: AuditRecord
    at: dt.datetime

    @property
    def action(self) -> str:
        return self.record.action

    @property
    def actor(self) -> str:
        return self.record.actor

    @property
    def object(self) -> str:
        return self.record.object

    @property
    def details(self) -> Mapping[str, Any]:
        return self.record.details

    @property
    def time(self) -> str:
        return self.record.time

    @property
    def zone(self) -> str:
        return self.record.zone


def parse_time(value: str) -> dt.datetime:
    """A record's time (ISO 8601, UTC, ``...Z``) as an aware datetime.

    Raises:
        ValueError: the value is not such a time.
    """
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return moment.astimezone(dt.UTC)


def entries_of(source: str, records: Iterable[AuditRecord]) -> list[Entry]:
    """The records of one log as entries.

    Raises:
        ValueError: a record's time cannot be read; the message names its ``seq``.
    """
    out = []
    for r in records:
        try:
            at = parse_time(r.time)
        except ValueError as exc:
            raise ValueError(f"{source} event {r.seq}: {exc}") from None
        out.append(Entry(source, r, at))
    return out


def merge(*logs: Iterable[Entry]) -> list[Entry]:
    """Every entry once, in time order. A record read both from its zone's folder and
    from the portal's collected copy is the same record (same zone, seq and hash)."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for log in logs:
        for e in log:
            key = (e.zone, e.record.seq, e.record.hash)
            if key not in seen:
                seen.add(key)
                out.append(e)
    out.sort(key=lambda e: (e.at, e.source, e.record.seq))
    return out


@dataclass(frozen=True)
class Period:
    """The times a report covers: ``since`` inclusive, ``until`` exclusive; None is open."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, dt.datetime):
            return False
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until

    def label(self) -> str:
        if self.since is None and self.until is None:
            return "every event"
        start = _show(self.since) if self.since else "the first event"
        end = _show(self.until) if self.until else "the last event"
        return f"from {start} to {end}"


@dataclass(frozen=True)
class Thresholds:
    """When a count becomes an alert."""

    burst: int = 5
    """Failed logins (one account or one address) within ``burst_window`` that alert."""
    burst_window: dt.timedelta = dt.timedelta(minutes=15)
    code_failures: int = 3
    """Failed second-factor codes in one session that alert even if one finally worked."""


ALL_TIME = Period()
DEFAULTS = Thresholds()


def _show(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _in(entries: Iterable[Entry], period: Period) -> list[Entry]:
    return [e for e in entries if e.at in period]


def _of(entries: Iterable[Entry], *actions: Action) -> Iterator[Entry]:
    wanted = {a.value for a in actions}
    return (e for e in entries if e.action in wanted)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- (a) failed logins and lockouts -----------------------------------------------------


@dataclass(frozen=True)
class LoginFailures:
    """Failed logins and lockouts of one account (``by="account"``) or one address."""

    by: str
    who: str
    failures: int
    lockouts: int
    first: str
    last: str
    peak: int
    peak_start: str
    signed_in_after: str
    alert: bool
    why: str


def _peak(times: Sequence[dt.datetime], window: dt.timedelta) -> tuple[int, int]:
    """The most of ``times`` (sorted) inside any ``window``, and the index it starts at."""
    best, start, lo = 0, 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        if hi - lo + 1 > best:
            best, start = hi - lo + 1, lo
    return best, start


def failed_logins(
    entries: Iterable[Entry], period: Period = ALL_TIME, limits: Thresholds = DEFAULTS
) -> list[LoginFailures]:
    """Failed logins and lockouts per account and per address, busiest first.

    A failed login names the account tried (its object) and the address (``ip``); a
    lockout names the account and, when recorded, the address. Alerts: ``limits.burst``
    failures within ``limits.burst_window`` (guessing), any lockout, and a successful
    login within the window after a burst (a guess that worked)."""
    seen = _in(entries, period)
    fails: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    locks: dict[tuple[str, str], int] = defaultdict(int)
    logins: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for e in seen:
        ip = _text(e.details.get("ip"))
        keys = [("account", e.object)] + ([("address", ip)] if ip else [])
        if e.action == Action.LOGIN_FAILED:
            for k in keys:
                fails[k].append(e.at)
        elif e.action == Action.LOGIN_LOCKED:
            for k in keys:
                locks[k] += 1
        elif e.action == Action.LOGIN:
            for k in keys:
                logins[k].append(e.at)
    rows = []
    for key in sorted(set(fails) | set(locks)):
        times = sorted(fails.get(key, []))
        peak, start = _peak(times, limits.burst_window) if times else (0, 0)
        reasons = []
        after = ""
        if peak >= limits.burst:
            last = times[start + peak - 1]
            reasons.append(
                f"{peak} failed logins within {_minutes(limits.burst_window)} "
                f"from {_show(times[start])}"
            )
            ok = [t for t in logins.get(key, []) if last <= t <= last + limits.burst_window]
            if ok:
                after = _show(ok[0])
                reasons.append(f"then a successful login at {after}")
        if locks.get(key):
            n = locks[key]
            reasons.append(f"locked out {n} time{'s' if n != 1 else ''}")
        rows.append(
            LoginFailures(
                by=key[0],
                who=key[1],
                failures=len(times),
                lockouts=locks.get(key, 0),
                first=_show(times[0]) if times else "",
                last=_show(times[-1]) if times else "",
                peak=peak,
                peak_start=_show(times[start]) if times else "",
                signed_in_after=after,
                alert=bool(reasons),
                why="; ".join(reasons),
            )
        )
    rows.sort(key=lambda r: (not r.alert, -r.peak, -r.failures, r.by, r.who))
    return rows


def _minutes(window: dt.timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- (b) the second factor --------------------------------------------------------------


@dataclass(frozen=True)
class SecondFactor:
    """A password sign-in that did not end in a verified code, or needed several."""

    account: str
    ip: str
    signed_in: str
    failed_codes: int
    verified: str
    outcome: str
    alert: bool
    why: str


def _session_row(
    account: str, session: Entry, failed: int, verified: Entry | None, limits: Thresholds
) -> SecondFactor:
    codes = f"{failed} wrong code{'s' if failed != 1 else ''}"
    if verified is None:
        outcome = "no code entered" if failed == 0 else f"stopped after {codes}"
        alert = failed > 0
        why = (
            "the password was right but the code was not: the password may be known to someone else"
            if alert
            else ""
        )
    else:
        outcome = f"verified after {codes}"
        alert = failed >= limits.code_failures
        why = f"{codes} before the right one: guessing?" if alert else ""
    return SecondFactor(
        account=account,
        ip=_text(session.details.get("ip")),
        signed_in=session.time,
        failed_codes=failed,
        verified=verified.time if verified else "",
        outcome=outcome,
        alert=alert,
        why=why,
    )


def second_factor(
    entries: Iterable[Entry], period: Period = ALL_TIME, limits: Thresholds = DEFAULTS
) -> list[SecondFactor]:
    """Each password sign-in (``login``) is one session of its account until the
    account's next sign-in or sign-out; its codes are the ``otp.verified`` and
    ``otp.failed`` events of that account in between.

    Listed: sessions that never verified a code (stopped at the second step) and
    sessions with failed codes. Alerts: a session with a right password and wrong codes
    that never verified (someone else may know the password), and ``limits.code_failures``
    or more failed codes in one session even if a code worked at last (guessing)."""
    by_account: dict[str, list[Entry]] = defaultdict(list)
    for e in _of(
        _in(entries, period),
        Action.LOGIN,
        Action.LOGOUT,
        Action.OTP_VERIFIED,
        Action.OTP_FAILED,
    ):
        if e.zone == PORTAL:
            by_account[e.object].append(e)
    rows: list[SecondFactor] = []
    for account, events in by_account.items():
        session: Entry | None = None
        failed = 0
        verified: Entry | None = None
        ends: list[Entry | None] = [*events, None]
        for ev in ends:
            if ev is None or ev.action in (Action.LOGIN, Action.LOGOUT):
                if session is not None and (verified is None or failed):
                    rows.append(_session_row(account, session, failed, verified, limits))
                session = ev if ev is not None and ev.action == Action.LOGIN else None
                failed, verified = 0, None
            elif session is None or verified is not None:
                continue  # a code outside a session we saw begin, or after it was verified
            elif ev.action == Action.OTP_FAILED:
                failed += 1
            else:
                verified = ev
    rows.sort(key=lambda r: (not r.alert, r.signed_in, r.account))
    return rows


# --- (c) data in and out ----------------------------------------------------------------

_MOVES = (
    Action.SEND,
    Action.RECEIVE,
    Action.REFUSE,
    Action.QUARANTINE,
    Action.LOAD,
    Action.PROVISION,
    Action.REVOKE,
    Action.OUTPUT_RELEASE,
    Action.OUTPUT_DOWNLOAD,
)
# Which zone sends each kind of file (DESIGN.md section 2).
_SENDER = {"file1": "provider", "file2": "provider", "file3": "ttp"}
_RECIPIENT = {"file1": "ttp", "file2": "databank", "file3": "databank"}


@dataclass(frozen=True)
class DataMovement:
    """Data entering, leaving or moving inside the platform, with how much."""

    time: str
    log: str
    zone: str
    actor: str
    action: str
    object: str
    project: str
    dataset: str
    direction: str
    rows: int | None
    tables: int | None
    files: int | None
    alert: bool
    why: str


def _sum_rows(value: Any) -> int | None:
    """Rows from ``rows`` (a number, or a number per table) or ``files[].rows``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        parts = [_sum_rows(v) for v in value.values()]
        return sum(p for p in parts if p is not None) if parts else 0
    return None


def _rows_of(details: Mapping[str, Any]) -> int | None:
    if "rows" in details:
        return _sum_rows(details["rows"])
    files = details.get("files")
    if isinstance(files, list) and files and all(isinstance(f, Mapping) for f in files):
        parts = [_sum_rows(f.get("rows")) for f in files]
        return sum(p for p in parts if p is not None)
    return None


def _count(details: Mapping[str, Any]) -> int | None:
    """Tables of a transfer, load or provisioning; files of a release."""
    files = details.get("files")
    if isinstance(files, list):
        return len(files)
    if isinstance(details.get("rows"), Mapping):
        return len(details["rows"])
    return None


@dataclass(frozen=True)
class _Context:
    """What the queries learn from the whole history, whatever period they report."""

    request_project: Mapping[str, str]
    requester: Mapping[str, str]
    extract_dataset: Mapping[str, str]
    zones: frozenset[str]


def _context(entries: Sequence[Entry]) -> _Context:
    request_project: dict[str, str] = {}
    requester: dict[str, str] = {}
    extract_dataset: dict[str, str] = {}
    for e in entries:
        if e.action == Action.OUTPUT_REQUEST:
            request_project.setdefault(e.object, _text(e.details.get("project")))
            requester.setdefault(e.object, e.actor)
        elif e.action == Action.OUTPUT_RELEASE and e.details.get("project"):
            request_project.setdefault(e.object, _text(e.details["project"]))
        if e.details.get("dataset") and e.action in (
            Action.SPLIT,
            Action.RECEIVE,
            Action.LINK,
        ):
            extract_dataset.setdefault(e.object, _text(e.details["dataset"]))
    return _Context(request_project, requester, extract_dataset, frozenset(e.zone for e in entries))


def _direction(e: Entry) -> str:
    kind = _text(e.details.get("kind"))
    if e.action == Action.SEND:
        return f"{e.zone} → {_text(e.details.get('recipient_zone')) or _RECIPIENT.get(kind, '?')}"
    if e.action in (Action.RECEIVE, Action.REFUSE):
        return f"{_SENDER[kind]} → {e.zone}" if kind in _SENDER else f"→ {e.zone}"
    where: dict[str, str] = {
        Action.QUARANTINE: f"held back at the {e.zone}",
        Action.LOAD: f"into the {e.zone}",
        Action.PROVISION: "databank → workspace",
        Action.REVOKE: "workspace removed",
        Action.OUTPUT_RELEASE: "workspace → release",
        Action.OUTPUT_DOWNLOAD: "release → researcher",
    }
    return where.get(e.action, "")


def _receipts(entries: Sequence[Entry]) -> dict[tuple[str, str], list[Entry]]:
    out: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in _of(entries, Action.RECEIVE):
        out[(e.object, _text(e.details.get("kind")))].append(e)
    return out


def data_movements(entries: Sequence[Entry], period: Period = ALL_TIME) -> list[DataMovement]:
    """Every transfer, quarantine, load, provisioning, revocation, release and download
    in time order, with its rows (``rows`` or the sum over ``files[].rows``) and files.

    Alerts: a refused bundle (tampered, mis-addressed or replayed); a sent bundle that
    the recipient's log (when given) never received, or received with other row counts."""
    ctx = _context(entries)
    receipts = _receipts(entries)
    sends: dict[tuple[str, str], int] = defaultdict(int)
    rows = []
    for e in _of(entries, *_MOVES):
        kind = _text(e.details.get("kind"))
        alert, why = False, ""
        if e.action == Action.SEND:
            key = (e.object, kind)
            nth = sends[key]
            sends[key] += 1
            recipient = _text(e.details.get("recipient_zone")) or _RECIPIENT.get(kind, "")
            got = receipts.get(key, [])
            sent = _rows_of(e.details)
            if recipient in ctx.zones:
                if nth >= len(got):
                    alert, why = True, f"the {recipient} log records no receipt of this {kind}"
                elif _rows_of(got[nth].details) != sent:
                    alert = True
                    why = (
                        f"sent {sent} rows but the {recipient} received "
                        f"{_rows_of(got[nth].details)}"
                    )
        elif e.action == Action.REFUSE:
            alert, why = True, f"refused: {_text(e.details.get('reason'))}"
        elif e.action == Action.QUARANTINE:
            why = "rows that failed validation, kept out of the files sent"
        if e.at not in period:
            continue
        project = ""
        output = e.action.startswith("output.")
        if e.action in (Action.PROVISION, Action.REVOKE):
            project = e.object
        elif output:
            project = ctx.request_project.get(e.object, _text(e.details.get("project")))
        dataset = _text(e.details.get("dataset")) or ctx.extract_dataset.get(e.object, "")
        if e.action == Action.LOAD and not dataset:
            dataset = e.object.split(" ")[0]
        rows.append(
            DataMovement(
                time=e.time,
                log=e.source,
                zone=e.zone,
                actor=e.actor,
                action=e.action,
                object=e.object,
                project=project,
                dataset=dataset,
                direction=_direction(e),
                rows=None if output else _rows_of(e.details),
                tables=None if output else _count(e.details),
                files=_count(e.details) if output else None,
                alert=alert,
                why=why,
            )
        )
    return rows


@dataclass(frozen=True)
class DataTotal:
    """Movements of one kind in one zone for one project or dataset, added up."""

    zone: str
    action: str
    project: str
    dataset: str
    events: int
    rows: int
    tables: int
    files: int
    alerts: int


def data_totals(movements: Iterable[DataMovement]) -> list[DataTotal]:
    """:func:`data_movements` added up per zone, action, project and dataset."""
    groups: dict[tuple[str, str, str, str], list[DataMovement]] = defaultdict(list)
    for m in movements:
        groups[(m.zone, m.action, m.project, m.dataset)].append(m)
    return [
        DataTotal(
            zone=k[0],
            action=k[1],
            project=k[2],
            dataset=k[3],
            events=len(ms),
            rows=sum(m.rows or 0 for m in ms),
            tables=sum(m.tables or 0 for m in ms),
            files=sum(m.files or 0 for m in ms),
            alerts=sum(m.alert for m in ms),
        )
        for k, ms in sorted(groups.items())
    ]


# --- (d) activity outside a project's window --------------------------------------------


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


# --- (e) conflicts of role --------------------------------------------------------------


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
