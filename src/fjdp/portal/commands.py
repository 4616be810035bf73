"""What ``fjdp portal`` does, as functions the CLI calls after :func:`fjdp.portal.config.setup`."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from fjdp.audit import Verification
from fjdp.errors import GovernanceError, OutputError, UsageError
from fjdp.portal.config import SECRET_FILE, PortalConfig, setup


def ensure_secret(portal_dir: Path) -> None:
    """Create the portal folder and its secret key (mode 0600) if missing."""
    try:
        portal_dir.mkdir(parents=True, exist_ok=True)
        path = portal_dir / SECRET_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50) + "\n")
    except OSError as exc:
        raise OutputError(
            f"cannot create the portal folder: {exc.strerror or exc}",
            where=str(portal_dir),
            fix="choose a folder you can write with --dir",
        ) from None


def migrate(cfg: PortalConfig) -> None:
    from django.core.management import call_command

    setup(cfg)
    call_command("migrate", interactive=False, verbosity=0)


def init(
    cfg: PortalConfig,
    *,
    admin: str | None,
    admin_password: str | None,
    admin_email: str = "",
) -> str | None:
    """Create and migrate the database; create the first administrator if asked.
    Returns the administrator's name if one was created."""
    if admin is not None and not admin_password:
        raise UsageError(
            f"no password given for the administrator {admin!r}",
            fix="pass --admin-password or set FJDP_PORTAL_ADMIN_PASSWORD; there is no default",
        )
    migrate(cfg)
    if admin is None or admin_password is None:
        return None
    from fjdp.portal.actions import create_user
    from fjdp.portal.models import User

    if User.objects.filter(username=admin).exists():
        return None
    create_user(admin, admin_password, by="fjdp portal init", email=admin_email, superuser=True)
    return admin


def add_user(
    cfg: PortalConfig,
    username: str,
    password: str,
    *,
    roles: list[str],
    organisation: str,
    email: str,
    trained_on: dt.date | None,
    expires_on: dt.date | None,
    agreement_signed_on: dt.date | None,
    by: str,
) -> None:
    setup(cfg)
    from fjdp.portal.actions import create_user

    try:
        create_user(
            username,
            password,
            by=by,
            roles=roles,
            organisation=organisation,
            email=email,
            trained_on=trained_on,
            expires_on=expires_on,
            agreement_signed_on=agreement_signed_on,
        )
    except ValueError as exc:  # an unknown role
        raise UsageError(str(exc), fix="see `fjdp portal add-user --help` for the roles") from None


def totp_device(cfg: PortalConfig, username: str, *, by: str, name: str = "authenticator") -> str:
    """Add a TOTP device to ``username`` and return its otpauth:// URI."""
    setup(cfg)
    from fjdp.portal.actions import add_totp_device
    from fjdp.portal.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise GovernanceError(
            f"no account {username!r}", fix="create it with `fjdp portal add-user`"
        )
    device = add_totp_device(user, by=by, name=name)
    return str(device.config_url)


def expire(cfg: PortalConfig, day: dt.date | None) -> list[str]:
    setup(cfg)
    from fjdp.portal.actions import expire_due

    return expire_due(day)


def collect(cfg: PortalConfig, zones: list[Path], *, by: str) -> dict[str, int]:
    setup(cfg)
    from fjdp.portal.audit import collect_zone

    return {z.resolve().name: collect_zone(z, actor=by, role="auditor") for z in zones}


def verify(cfg: PortalConfig) -> dict[str, Verification]:
    """Every chain the portal holds: its own, and each collected zone's."""
    setup(cfg)
    from fjdp.portal.audit import verify_collected, verify_portal

    return {"portal": verify_portal(), **verify_collected()}


def serve(cfg: PortalConfig, port: int) -> None:
    """Django's development server on 127.0.0.1 (fit for one machine, not deployment)."""
    from django.core.management import call_command

    setup(cfg)
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
