"""``fjdp portal``: create, run and set up the governance portal (Django)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fjdp.cli._common import console
from fjdp.cli._zone import actor
from fjdp.errors import IntegrityError, UsageError

if TYPE_CHECKING:
    from fjdp.portal.config import PortalConfig

app = typer.Typer(
    help="The governance portal: people, projects, approvals, workspaces and the audit trail.",
    no_args_is_help=True,
)

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="The portal folder (database and secret key); default FJDP_PORTAL_DIR or demo/portal.",
    ),
]

ROLES = (
    "custodian, linkage_operator, data_manager, panel_member, project_lead, researcher, "
    "output_checker, auditor"
)


def _config(folder: Path | None) -> PortalConfig:
    from fjdp.portal.config import PortalConfig

    return PortalConfig.from_env(portal_dir=folder)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a date", fix="use YYYY-MM-DD") from None


@app.command("init")
def portal_init(
    folder: DirOpt = None,
    admin: Annotated[
        str | None,
        typer.Option("--admin", help="Create this administrator (or set FJDP_PORTAL_ADMIN)."),
    ] = None,
    admin_email: Annotated[str, typer.Option("--admin-email", help="Their email.")] = "",
    admin_password: Annotated[
        str | None,
        typer.Option(
            "--admin-password",
            help="Their password (or set FJDP_PORTAL_ADMIN_PASSWORD); there is no default.",
        ),
    ] = None,
) -> None:
    """Create the portal folder, its secret key and database, and apply migrations."""
    from fjdp.portal.commands import ensure_secret, init
    from fjdp.portal.config import DEFAULT_DIR

    target = folder or Path(os.environ.get("FJDP_PORTAL_DIR", str(DEFAULT_DIR)))
    ensure_secret(target)
    cfg = _config(target)
    name = admin or os.environ.get("FJDP_PORTAL_ADMIN")
    password = admin_password or os.environ.get("FJDP_PORTAL_ADMIN_PASSWORD")
    created = init(cfg, admin=name, admin_password=password, admin_email=admin_email)
    console.print(f"Portal database ready in {target}")
    if created:
        console.print(
            f"Administrator {created} created. Give them a second factor with "
            f"`fjdp portal totp-device {created} --dir {target}`."
        )


@app.command("serve")
def portal_serve(
    folder: DirOpt = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8000,
    threads: Annotated[
        int, typer.Option("--threads", help="Requests served at once (waitress' threads).")
    ] = 8,
) -> None:
    """Run the portal on http://127.0.0.1:PORT under waitress (a WSGI server).

    With FJDP_PORTAL_HTTPS=1 it expects a TLS proxy on this host in front of it."""
    from fjdp.portal.commands import serve

    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a port number", fix="use 1-65535")
    if threads < 1:
        raise UsageError(f"--threads {threads} is not a positive number", fix="use 1 or more")
    cfg = _config(folder)
    scheme = "https through the proxy in front" if cfg.https else f"http://127.0.0.1:{port}/"
    console.print(f"Portal on {scheme} (waitress on 127.0.0.1:{port}; Ctrl-C stops it)")
    serve(cfg, port, threads=threads)


@app.command("add-user")
def portal_add_user(
    username: Annotated[str, typer.Argument(help="The account name.")],
    folder: DirOpt = None,
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"A role (repeat for several): {ROLES}.")
    ] = None,
    organisation: Annotated[
        str, typer.Option("--organisation", help="For a custodian: the provider they speak for.")
    ] = "",
    email: Annotated[str, typer.Option("--email")] = "",
    trained_on: Annotated[
        str | None, typer.Option("--trained-on", help="Safe-researcher training date (YYYY-MM-DD).")
    ] = None,
    expires_on: Annotated[
        str | None, typer.Option("--accredited-until", help="Accreditation expiry (YYYY-MM-DD).")
    ] = None,
    agreement: Annotated[
        str | None,
        typer.Option("--agreement-signed-on", help="Access agreement signed on (YYYY-MM-DD)."),
    ] = None,
) -> None:
    """Create an account with roles and accreditation.

    The password is read from FJDP_PORTAL_PASSWORD, else asked for twice."""
    from fjdp.portal.commands import add_user

    password = os.environ.get("FJDP_PORTAL_PASSWORD") or typer.prompt(
        f"Password for {username}", hide_input=True, confirmation_prompt=True
    )
    add_user(
        _config(folder),
        username,
        password,
        roles=role or [],
        organisation=organisation,
        email=email,
        trained_on=_date(trained_on, "--trained-on"),
        expires_on=_date(expires_on, "--accredited-until"),
        agreement_signed_on=_date(agreement, "--agreement-signed-on"),
        by=actor(),
    )
    console.print(f"Account {username} created with roles: {', '.join(role or []) or 'none'}")


@app.command("totp-device")
def portal_totp_device(
    username: Annotated[str, typer.Argument(help="The account to give a second factor.")],
    folder: DirOpt = None,
    name: Annotated[str, typer.Option("--name", help="The device's name.")] = "authenticator",
) -> None:
    """Add a TOTP device to an account and print its otpauth:// URI for an authenticator app."""
    from fjdp.portal.commands import totp_device

    uri = totp_device(_config(folder), username, by=actor(), name=name)
    typer.echo(uri)


@app.command("unlock")
def portal_unlock(
    username: Annotated[str, typer.Argument(help="The account whose sign-in is locked.")],
    folder: DirOpt = None,
    ip: Annotated[
        str | None, typer.Option("--ip", help="Lift it for this address only (default: all).")
    ] = None,
) -> None:
    """Lift a lockout after too many wrong passwords (recorded in the audit trail)."""
    from fjdp.portal.commands import unlock

    cleared = unlock(_config(folder), username, by=actor(), ip=ip)
    where = f" from {ip}" if ip else ""
    console.print(
        f"Sign-in for {username}{where} unlocked ({cleared} locked address record(s) cleared)."
        if cleared
        else f"{username} had no failed sign-ins on record{where}; nothing to lift."
    )


@app.command("expire")
def portal_expire(
    folder: DirOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Check against this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Expire every project past its end date and revoke its workspace (run daily)."""
    from fjdp.portal.commands import expire

    done = expire(_config(folder), _date(today, "--today"))
    console.print(f"Expired: {', '.join(done)}" if done else "No project is past its end date.")


@app.command("collect")
def portal_collect(
    zones: Annotated[list[Path], typer.Argument(metavar="ZONE_DIR", help="Zone folders.")],
    folder: DirOpt = None,
) -> None:
    """Copy the zones' audit logs into the portal so one timeline covers every zone.

    Each zone's chain is checked first, and every event collected before must still be
    there unchanged."""
    from fjdp.portal.commands import collect

    for name, n in collect(_config(folder), zones, by=actor()).items():
        console.print(f"{name}: {n} new events collected")


@app.command("verify")
def portal_verify(folder: DirOpt = None) -> None:
    """Re-compute the portal's audit chain and every collected zone's chain."""
    from fjdp.portal.commands import verify

    broken = []
    for name, result in verify(_config(folder)).items():
        if result.ok:
            console.print(f"{name}: [green]ok[/green], {result.events} events")
        else:
            broken.append(name)
            console.print(
                f"{name}: [bold red]BROKEN[/bold red] at event {result.first_bad_seq}: "
                f"{result.reason}"
            )
    if broken:
        raise IntegrityError(
            f"audit chains broken: {', '.join(broken)}",
            fix="restore from backup and investigate who changed them",
        )
