"""``fjdp audit``: what an auditor runs to check that no zone's audit trail was changed
(``verify``) and to ask it the ready-made questions, with alerts (``report``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fjdp.audit import Verification, verify_log
from fjdp.audit.analytics import Entry, Period, Thresholds, merge
from fjdp.audit.report import LogSource, Report, build_report, is_alert, read_zone, write_report
from fjdp.cli._common import console
from fjdp.errors import InputError, IntegrityError, UsageError

HEAD_CHARS = 12
"""Hex digits of the head hash shown: enough to compare by eye with a noted-down head."""

app = typer.Typer(
    help="The audit trail: verify its hash chains, report what it shows.", no_args_is_help=True
)


@app.callback()
def _audit() -> None:
    """The audit trail: verify its hash chains, report what it shows."""


def _result_line(name: str, result: Verification) -> str:
    if result.ok:
        count = f"{result.events} event" + ("" if result.events == 1 else "s")
        head = f"head {result.head[:HEAD_CHARS]}…" if result.head else "empty"
        return f"{escape(name)}: [green]ok[/green], {count}, {head}"
    return (
        f"{escape(name)}: [bold red]BROKEN[/bold red] at event {result.first_bad_seq}: "
        f"{escape(result.reason or '')}"
    )


@app.command("verify")
def verify(
    zone_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="ZONE_DIR",
            help="Zone folders to check; each zone's log is ZONE_DIR/audit/log.jsonl.",
            show_default=False,
        ),
    ] = None,
    portal: Annotated[
        Path | None,
        typer.Option(
            "--portal",
            help="Also check the portal's chain and every zone log collected into it "
            "(the portal folder, e.g. demo/portal).",
        ),
    ] = None,
) -> None:
    """Re-compute each zone's hash chain and name the first edited, missing or moved event.

    Prints one line per zone. Exits with code 6 if any log is broken or missing,
    after checking every zone, so one run reports all the damage.
    """
    zone_dirs = zone_dirs or []
    if not zone_dirs and portal is None:
        raise UsageError(
            "nothing to verify", fix="give zone folders, --portal DIR, or both; see --help"
        )
    for zone_dir in zone_dirs:
        if not zone_dir.is_dir():
            raise InputError(
                "no such zone folder", where=str(zone_dir), fix="give the folder of a zone"
            )
    broken: list[str] = []
    for zone_dir in zone_dirs:
        name = zone_dir.resolve().name or str(zone_dir)
        log_path = zone_dir / "audit" / "log.jsonl"
        if not log_path.exists():
            # A zone writes its log from its first command on: a zone without one lost it.
            console.print(
                f"{escape(name)}: [bold red]MISSING[/bold red]: no audit log at "
                f"{escape(str(log_path))}",
                highlight=False,
                soft_wrap=True,
            )
            broken.append(name)
            continue
        result = verify_log(log_path)
        console.print(_result_line(name, result), highlight=False, soft_wrap=True)
        if not result.ok:
            broken.append(name)
    if portal is not None:
        from fjdp.portal.commands import verify as verify_portal
        from fjdp.portal.config import PortalConfig

        for name, result in verify_portal(PortalConfig.from_env(portal_dir=portal)).items():
            label = name if name == "portal" else f"{name} (collected in the portal)"
            console.print(_result_line(label, result), highlight=False, soft_wrap=True)
            if not result.ok:
                broken.append(label)
    if broken:
        what = (
            f"the audit log of {broken[0]} is broken"
            if len(broken) == 1
            else f"{len(broken)} audit logs are broken ({', '.join(broken)})"
        )
        raise IntegrityError(what, fix="restore the log from backup and investigate who changed it")


ALERT_EXIT = 1
"""``fjdp audit report --fail-on-alert`` exits with this when the report has alerts; user
errors keep their own codes (2 and up), so a monitor can tell the two apart."""


def _moment(value: str | None, option: str, *, end: bool) -> dt.datetime | None:
    """A day (``YYYY-MM-DD``, the whole day) or a time (ISO 8601; UTC unless it says)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not a day or a time",
            fix="use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _summary(report: Report) -> Table:
    table = Table(title=f"Audit report: {report.period.label()}")
    table.add_column("section")
    table.add_column("rows", justify="right")
    table.add_column("alerts", justify="right")
    for s in report.sections:
        alerts = f"[bold red]{s.alerts}[/bold red]" if s.alerts else "[green]0[/green]"
        table.add_row(s.title, f"{len(s.rows):,}", alerts)
    return table


# The columns printed on a terminal; the HTML and CSV have every column.
_PRINTED = (
    "log",
    "time",
    "signed_in",
    "by",
    "who",
    "account",
    "person",
    "actor",
    "action",
    "kind",
    "object",
    "project",
    "why",
)


def _alerts_table(report: Report, key: str, limit: int) -> Table | None:
    section = report.section(key)
    rows = [r for r in section.rows if is_alert(r)]
    if not rows:
        return None
    columns = [c for c in section.columns if c in _PRINTED]
    shown = rows[:limit]
    caption = f"{len(shown)} of {len(rows)} alerts" if len(rows) > len(shown) else None
    table = Table(title=f"{section.title}: alerts", caption=caption)
    for c in columns:
        table.add_column(c.replace("_", " "), overflow="fold")
    for r in shown:
        table.add_row(
            *(escape("" if v is None else str(v)) for v in (getattr(r, c) for c in columns))
        )
    return table


@app.command("report")
def report(
    zone_dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="ZONE_DIR",
            help="Zone folders to read; each zone's log is ZONE_DIR/audit/log.jsonl.",
            show_default=False,
        ),
    ] = None,
    portal: Annotated[
        Path | None,
        typer.Option(
            "--portal",
            help="Also read the portal's events and every zone log collected into it "
            "(the portal folder, e.g. demo/portal).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write report.html and one CSV per section (KEY.csv) into this folder.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only events from this day (YYYY-MM-DD) or time on."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Only events up to this day (included) or before this time."),
    ] = None,
    burst: Annotated[
        int,
        typer.Option("--burst", min=2, help="Failed logins within --burst-minutes that alert."),
    ] = Thresholds.burst,
    burst_minutes: Annotated[
        int, typer.Option("--burst-minutes", min=1, help="The window of --burst, in minutes.")
    ] = int(Thresholds.burst_window.total_seconds() // 60),
    rows: Annotated[
        int, typer.Option("--rows", min=0, help="Alerts printed per section (all are in --out).")
    ] = 20,
    fail_on_alert: Annotated[
        bool,
        typer.Option(
            "--fail-on-alert",
            help=f"Exit with code {ALERT_EXIT} if the report has any alert (for monitoring).",
        ),
    ] = False,
) -> None:
    """Run the ready-made audit queries on zone logs and/or the portal, with alerts.

    Failed logins and lockouts, sign-ins without a verified second factor, data in and
    out with row counts, activity outside a project's window and conflicts of role.
    Prints a summary and each section's alerts; --out writes the whole report as HTML
    and CSV. Exits 0 whatever the report shows, unless --fail-on-alert is given.
    """
    zone_dirs = zone_dirs or []
    if not zone_dirs and portal is None:
        raise UsageError(
            "nothing to report on", fix="give zone folders, --portal DIR, or both; see --help"
        )
    period = Period(_moment(since, "--since", end=False), _moment(until, "--until", end=True))
    if period.since and period.until and period.until <= period.since:
        raise UsageError(
            f"--until {until} is not after --since {since}", fix="swap or correct the two"
        )
    if portal is not None and not portal.is_dir():
        raise InputError(
            "no such portal folder",
            where=str(portal),
            fix="give the portal folder, e.g. demo/portal",
        )
    logs: list[list[Entry]] = []
    sources: list[LogSource] = []
    for zone_dir in zone_dirs:
        entries, source = read_zone(zone_dir)
        logs.append(entries)
        sources.append(source)
    if portal is not None:
        from fjdp.portal.commands import report_logs
        from fjdp.portal.config import PortalConfig

        entries, more = report_logs(PortalConfig.from_env(portal_dir=portal))
        logs.append(entries)
        sources.extend(more)
    limits = Thresholds(burst=burst, burst_window=dt.timedelta(minutes=burst_minutes))
    result = build_report(merge(*logs), sources, period=period, limits=limits)
    console.print(_summary(result))
    for section in result.sections:
        table = _alerts_table(result, section.key, rows) if rows else None
        if table is not None:
            console.print(table)
    if out is not None:
        written = write_report(result, out)
        console.print(f"Wrote {escape(str(written[0]))} and {len(written) - 1} CSV files")
    word = f"{result.alerts} alert" + ("" if result.alerts == 1 else "s")
    console.print(f"{'[bold red]' if result.alerts else '[green]'}{word}[/]", highlight=False)
    if fail_on_alert and result.alerts:
        raise typer.Exit(ALERT_EXIT)
