"""The audit report: every query of :mod:`fjdp.audit.analytics` on a set of logs, as
sections of rows with their alerts, written as CSV (one file per section) and as one
self-contained HTML page. ``fjdp audit report`` and the portal's auditor's dashboard
both build it here, so they show the same thing.

Values that came from outside (an account name typed at the login page, a refusal's
reason) are escaped in HTML and defused in CSV: a cell starting with ``=``, ``+``,
``-``, ``@`` or a control character is prefixed with ``'`` so that a spreadsheet shows
it rather than running it as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fjdp.audit.analytics import (
    ALL_TIME,
    DEFAULTS,
    DataMovement,
    DataTotal,
    Entry,
    LoginFailures,
    OutsideWindow,
    Period,
    ProjectWindow,
    RoleConflict,
    SecondFactor,
    Thresholds,
    data_movements,
    data_totals,
    entries_of,
    failed_logins,
    outside_window,
    project_windows,
    role_conflicts,
    second_factor,
)
from fjdp.audit.log import AuditLog, Verification, verify_log
from fjdp.errors import InputError, OutputError


@dataclass(frozen=True)
class LogSource:
    """One log the report read, and whether its chain is intact."""

    log: str
    zone: str
    events: int
    first: str
    last: str
    chain: str
    alert: bool
    why: str


def log_source(name: str, entries: Sequence[Entry], check: Verification) -> LogSource:
    zones = sorted({e.zone for e in entries})
    broken = "" if check.ok else f"broken at event {check.first_bad_seq}: {check.reason}"
    return LogSource(
        log=name,
        zone=", ".join(zones),
        events=len(entries),
        first=entries[0].time if entries else "",
        last=entries[-1].time if entries else "",
        chain="intact" if check.ok else "BROKEN",
        alert=not check.ok,
        why=f"the chain is {broken}: events from there on may have been changed" if broken else "",
    )


@dataclass(frozen=True)
class Section:
    """One query's result: ``key`` names its CSV file and its address in the portal."""

    key: str
    title: str
    about: str
    columns: tuple[str, ...]
    rows: tuple[Any, ...]

    @property
    def alerts(self) -> int:
        return sum(1 for r in self.rows if is_alert(r))

    def values(self, row: Any) -> list[Any]:
        return [getattr(row, c) for c in self.columns]


def is_alert(row: Any) -> bool:
    """Whether a row of any section is an alert. A total is not one: the alerts it
    counts are already rows of the section it adds up."""
    return bool(getattr(row, "alert", False))


def _section(key: str, title: str, about: str, kind: type, rows: Iterable[Any]) -> Section:
    return Section(key, title, about, tuple(f.name for f in fields(kind)), tuple(rows))


@dataclass(frozen=True)
class Report:
    made: str
    period: Period
    limits: Thresholds
    sections: tuple[Section, ...]

    @property
    def alerts(self) -> int:
        return sum(s.alerts for s in self.sections)

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


SECTION_KEYS = (
    "logs",
    "failed-logins",
    "second-factor",
    "data-movements",
    "data-totals",
    "project-windows",
    "outside-window",
    "role-conflicts",
)
"""Every section in the order shown; each is ``KEY.csv`` in a report folder."""


def build_report(
    entries: Sequence[Entry],
    sources: Sequence[LogSource],
    *,
    period: Period = ALL_TIME,
    limits: Thresholds = DEFAULTS,
    now: dt.datetime | None = None,
) -> Report:
    """Run every query on ``entries`` (every log merged, in time order)."""
    moves = data_movements(entries, period)
    burst = f"{limits.burst} or more in {int(limits.burst_window.total_seconds() // 60)} minutes"
    sections = (
        _section(
            "logs",
            "Logs read",
            "Each log with its number of events and whether its hash chain is intact; a broken "
            "chain alerts, and nothing after the break can be trusted.",
            LogSource,
            sources,
        ),
        _section(
            "failed-logins",
            "Failed logins and lockouts",
            f"Per account tried and per address, with the busiest window. Alerts: {burst}, "
            "a lockout, a successful login right after a burst.",
            LoginFailures,
            failed_logins(entries, period, limits),
        ),
        _section(
            "second-factor",
            "Sign-ins without a verified second factor",
            "Password sign-ins that stopped at the second step, or needed several codes. "
            f"Alerts: a right password with wrong codes and no verified one; "
            f"{limits.code_failures} or more wrong codes in one sign-in.",
            SecondFactor,
            second_factor(entries, period, limits),
        ),
        _section(
            "data-movements",
            "Data in and out",
            "Every transfer (send, receive, refuse), quarantine, load, provisioning, "
            "revocation, release and download with its rows and files. Alerts: a refused "
            "bundle; a bundle the recipient's log never received or received with other "
            "row counts.",
            DataMovement,
            moves,
        ),
        _section(
            "data-totals",
            "Data in and out: totals",
            "The movements above added up per zone, action, project and dataset.",
            DataTotal,
            data_totals(moves),
        ),
        _section(
            "project-windows",
            "Project windows",
            "Each project's window as the records show it: approval, approved end date, "
            "and its end (expired, closed, withdrawn or revoked).",
            ProjectWindow,
            project_windows(entries),
        ),
        _section(
            "outside-window",
            "Activity outside a project's window",
            "Provisioning, output requests, releases and downloads before approval, after "
            "the end date or after the project ended. Every row alerts.",
            OutsideWindow,
            outside_window(entries, period),
        ),
        _section(
            "role-conflicts",
            "Conflicts of role",
            "One person in two roles that must stay apart: deciding on, provisioning or "
            "checking their own project, one person counted twice among approvers or "
            "checkers, incompatible roles held together or in turn. Every row alerts.",
            RoleConflict,
            role_conflicts(entries, period),
        ),
    )
    assert tuple(s.key for s in sections) == SECTION_KEYS
    moment = now or dt.datetime.now(dt.UTC)
    return Report(moment.strftime("%Y-%m-%dT%H:%M:%SZ"), period, limits, sections)


# --- reading zone logs ------------------------------------------------------------------


def read_zone(zone_dir: Path) -> tuple[list[Entry], LogSource]:
    """The records of the zone whose folder is ``zone_dir``, and its chain's state.

    Raises:
        InputError: no such folder, no log in it, or a record whose time is unreadable.
        IntegrityError: a line of the log is not a record at all (from ``iter_records``).
    """
    if not zone_dir.is_dir():
        raise InputError(
            "no such zone folder", where=str(zone_dir), fix="give the folder of a zone"
        )
    name = zone_dir.resolve().name or str(zone_dir)
    path = zone_dir / "audit" / "log.jsonl"
    check = verify_log(path)
    try:
        entries = entries_of(name, AuditLog(path).iter_records())
    except ValueError as exc:
        raise InputError(
            f"an audit record's time cannot be read: {exc}",
            where=str(path),
            fix="run `fjdp audit verify` on the zone",
        ) from None
    return entries, log_source(name, entries, check)


# --- writing ----------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA):
        return "'" + text
    return text


def section_csv(section: Section) -> str:
    """One section as CSV text: a header of its column names, then one line per row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(section.columns)
    for row in section.rows:
        writer.writerow([_cell(v) for v in section.values(row)])
    return out.getvalue()


_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;color:#1d2630;max-width:80rem;margin:2rem auto;
padding:0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;font-size:.9em}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d6dce1;vertical-align:top}
tr.alert td{background:#fbe9ea}
.badge{display:inline-block;border-radius:9px;padding:0 .55rem;font-size:.85em;
background:#e7f4ea;color:#217a3c}
.badge.bad{background:#a4262c;color:#fff}
.about,.note{color:#5b6770}
""".strip()


def _html_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ALERT" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def badge(count: int) -> str:
    word = f"{count} alert{'s' if count != 1 else ''}"
    return f'<span class="badge{" bad" if count else ""}">{word}</span>'


def report_html(report: Report) -> str:
    """The whole report as one HTML page with its style inline and no scripts."""
    e = html.escape
    parts = [
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>",
        "<title>Audit report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Audit report {badge(report.alerts)}</h1>",
        f"<p class=about>Made {e(report.made)}; covers {e(report.period.label())}.</p>",
        "<ul>",
    ]
    for s in report.sections:
        parts.append(
            f'<li><a href="#{e(s.key)}">{e(s.title)}</a>: {len(s.rows):,} '
            f"row{'' if len(s.rows) == 1 else 's'} {badge(s.alerts)}</li>"
        )
    parts.append("</ul>")
    for s in report.sections:
        parts.append(f'<h2 id="{e(s.key)}">{e(s.title)} {badge(s.alerts)}</h2>')
        parts.append(f"<p class=about>{e(s.about)}</p>")
        if not s.rows:
            parts.append("<p class=note>Nothing to show.</p>")
            continue
        head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in s.columns)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
        for row in s.rows:
            cls = ' class="alert"' if is_alert(row) else ""
            cells = "".join(f"<td>{_html_cell(v)}</td>" for v in s.values(row))
            parts.append(f"<tr{cls}>{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _write(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all: a temporary file renamed into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(report: Report, out: Path) -> list[Path]:
    """``report.html`` and one ``KEY.csv`` per section in ``out``; returns their paths.

    Raises:
        OutputError: the folder cannot be made or written.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "report.html"]
        _write(written[0], report_html(report))
        for s in report.sections:
            path = out / f"{s.key}.csv"
            _write(path, section_csv(s))
            written.append(path)
    except OSError as exc:
        raise OutputError(
            f"cannot write the audit report: {exc.strerror or exc}",
            where=str(out),
            fix="choose a folder you can write with --out",
        ) from None
    return written
