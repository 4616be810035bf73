"""What ``fjdp portal`` does, as functions the CLI calls after :func:`fjdp.portal.config.setup`."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fjdp.audit import Verification
from fjdp.audit.analytics import Entry
from fjdp.audit.report import LogSource
from fjdp.errors import GovernanceError, InputError, OutputError, UsageError
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


def report_logs(cfg: PortalConfig) -> tuple[list[Entry], list[LogSource]]:
    """The portal's records and every collected zone's, for ``fjdp audit report``:
    (entries, logs) as :func:`fjdp.portal.audit.report_logs` gives them."""
    from fjdp.portal.config import SQLITE_FILE

    database = cfg.portal_dir / SQLITE_FILE
    if cfg.database_url is None and not database.is_file():
        raise InputError(
            "the portal has no database",
            where=str(database),
            fix="give the portal folder (e.g. demo/portal) or run `fjdp portal init` first",
        )
    setup(cfg)
    from fjdp.portal.audit import report_logs as read

    return read()


def unlock(cfg: PortalConfig, username: str, *, by: str, ip: str | None = None) -> int:
    """Lift the brute-force lockout of ``username``; returns the records cleared."""
    setup(cfg)
    from fjdp.portal.actions import unlock as unlock_login

    _user(username)
    return unlock_login(username, by=by, ip=ip)


# waitress: one process, a pool of threads. A TLS proxy on the same host forwards to it
# when the HTTPS switch is on; only then are its X-Forwarded-* headers believed.
SERVE_THREADS = 8


def wsgi_app(cfg: PortalConfig) -> Any:
    """The portal as a WSGI application (for waitress or another WSGI server)."""
    setup(cfg)
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def serve(cfg: PortalConfig, port: int, *, threads: int = SERVE_THREADS) -> None:
    """The portal on 127.0.0.1:``port`` under waitress, a production WSGI server. With
    ``cfg.https`` a TLS-terminating proxy on this host is expected in front: the client's
    address and scheme are then taken from its X-Forwarded-For and X-Forwarded-Proto, and
    from nobody else's."""
    from waitress import serve as waitress_serve

    app = wsgi_app(cfg)
    proxy: dict[str, Any] = (
        {
            "trusted_proxy": "127.0.0.1",
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True,
        }
        if cfg.https
        else {"clear_untrusted_proxy_headers": True}
    )
    try:
        waitress_serve(app, host="127.0.0.1", port=port, threads=threads, ident="fjdp", **proxy)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
            fix="choose another --port, or stop what is using this one",
        ) from None


def _user(username: str) -> Any:
    from fjdp.portal.models import User

    user = User.objects.filter(username=username).first()
    if user is None:
        raise GovernanceError(
            f"no account {username!r}", fix="create it with `fjdp portal add-user`"
        )
    return user


def _output_request(rid: str) -> Any:
    from fjdp.portal.models import OutputRequestRecord

    rec = OutputRequestRecord.objects.select_related("project", "requester").filter(rid=rid).first()
    if rec is None:
        raise InputError(f"no output request {rid!r}", fix="list them with `fjdp outputs status`")
    return rec


@dataclass(frozen=True)
class RequestSummary:
    rid: str
    project: str
    requester: str
    state: str
    round: int
    files: tuple[tuple[str, str, str], ...]  # (name, automatic status, decision or "")
    checkers: tuple[str, ...]
    bundle: Path | None


def _summary(rec: Any) -> RequestSummary:
    from fjdp.governance.outputs import file_outcome
    from fjdp.portal.outputs import as_request, releases_root

    req = as_request(rec)
    rnd = req.current
    record = rec.rounds.get(number=rnd.number)
    decided = req.state.value in ("decided", "returned")
    files = tuple(
        (
            f.name,
            f.status,
            (o.value if decided and (o := file_outcome(rnd, f.name)) else ""),
        )
        for f in record.files.order_by("name")
    )
    return RequestSummary(
        rec.rid,
        rec.project.pid,
        rec.requester.username,
        req.state.value,
        rnd.number,
        files,
        rnd.checkers,
        releases_root() / rec.bundle if rec.bundle else None,
    )


def request_outputs(
    cfg: PortalConfig,
    *,
    project: str,
    user: str,
    files: list[Path],
    description: str,
    justify: dict[str, str],
) -> RequestSummary:
    """Make and submit an output request as ``user``; files are copied into the portal."""
    setup(cfg)
    from fjdp.portal.actions import create_request
    from fjdp.portal.models import Project
    from fjdp.portal.outputs import FileIn

    proj = Project.objects.filter(pid=project).first()
    if proj is None:
        raise InputError(f"no project {project!r} in the portal", where=str(cfg.portal_dir))
    names = {f.name for f in files}
    unknown = sorted(set(justify) - names)
    if unknown:
        raise UsageError(
            f"--justify names {', '.join(unknown)}, which is not among the files",
            fix="use --justify FILE=REASON with a file's name",
        )
    rec = create_request(
        proj,
        _user(user),
        description,
        [FileIn(f, justify.get(f.name, "")) for f in files],
        submit=True,
    )
    return _summary(rec)


def output_status(
    cfg: PortalConfig, *, project: str | None = None, user: str | None = None
) -> list[RequestSummary]:
    setup(cfg)
    from fjdp.portal.models import OutputRequestRecord

    recs = OutputRequestRecord.objects.select_related("project", "requester").order_by("rid")
    if project:
        recs = recs.filter(project__pid=project)
    if user:
        recs = recs.filter(requester__username=user)
    return [_summary(r) for r in recs]


def review_outputs(
    cfg: PortalConfig, rid: str, *, checker: str, decisions: dict[str, tuple[str, str]]
) -> RequestSummary:
    """Take request ``rid`` as ``checker`` (unless already taken) and record a decision
    (vote, comment) per file; the bundle is written when the request is decided."""
    setup(cfg)
    from fjdp.portal.actions import take_request, vote_file
    from fjdp.portal.outputs import as_request

    rec = _output_request(rid)
    who = _user(checker)
    if checker not in as_request(rec).current.checkers:
        take_request(rec, who)
    for name, (vote, comment) in decisions.items():
        try:
            vote_file(rec, who, name, vote, comment)
        except ValueError:
            raise UsageError(
                f"{vote!r} is not a decision", fix="use approve, reject or return"
            ) from None
        rec.refresh_from_db()
    return _summary(rec)
