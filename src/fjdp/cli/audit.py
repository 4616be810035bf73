"""``fjdp audit``: what an auditor runs to check that no zone's audit trail was changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from fjdp.audit import Verification, verify_log
from fjdp.cli._common import console
from fjdp.errors import InputError, IntegrityError, UsageError

HEAD_CHARS = 12
"""Hex digits of the head hash shown: enough to compare by eye with a noted-down head."""

app = typer.Typer(help="The audit trail of a zone: verify its hash chain.", no_args_is_help=True)


@app.callback()
def _audit() -> None:
    """The audit trail of a zone: verify its hash chain."""
    # A callback keeps ``verify`` a named sub-command even while it is the only one.


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
