"""The demo's last stage: the measures go through an output request to a release.

In ``demo/portal`` the demo creates its accounts (a lead who is also the researcher, and
two output checkers), records the demo project (provisioned by the flow at the databank,
outside the portal, so it enters the portal already active), takes every measure's
release candidates (the protected table, the plot drawn from it and the verdict that
``fjdp.analysis.measures`` wrote under ``release/``) into the project's outputs folder,
requests them, has both checkers approve every file, and writes the bundle to
``demo/releases``.

Django is configured once per process and the demo's portal is its own database, so
:func:`release_measures` runs :func:`_run` in a child process.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# Printed by the demo: these accounts exist only in the disposable demo portal.
DEMO_PASSWORD = "fjdp demo passphrase 2026"  # noqa: S105  # nosec B105  # demo portal only
RESEARCHER = "demo-researcher"
CHECKERS = ("demo-checker-1", "demo-checker-2")
ACCOUNTS_FILE = "demo-accounts.txt"


@dataclass(frozen=True)
class DemoRelease:
    request: str
    bundle: Path
    files: tuple[tuple[str, str], ...]  # (name, automatic status)
    left_out: tuple[str, ...]  # plots whose table had counts under the threshold
    accounts: tuple[tuple[str, str], ...]  # (username, roles)
    accounts_file: Path


def release_measures(out: Path, project: str, measures: Path) -> DemoRelease:
    """Run the demo's request-review-release in a child process (see module doc)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_run, out, project, measures).result()


def _protect(measures: Path, folder: Path) -> list[tuple[Path, str, tuple[str, ...], str]]:
    """The measures' release candidates (``measures/release``: each protected table, the
    plot drawn from it, and the verdict of its disclosure checks) copied into the
    project's outputs folder: (path, status, reasons, justification) each."""
    release = measures / "release"
    folder.mkdir(parents=True, exist_ok=True)
    picked = []
    for checks in sorted(release.glob("*.checks.json")):
        verdict = json.loads(checks.read_text())
        name, status = verdict["measure"], verdict["status"]
        reasons = (*verdict["reasons"], *verdict["mitigations"])
        why = (
            "Small counts suppressed with their secondary cells, every count rounded to 5, "
            "rates recomputed from the rounded counts; the figure is drawn from the "
            "protected table."
            if status != "pass"
            else ""
        )
        for suffix in (".csv", ".png"):
            src = release / f"{name}{suffix}"
            if src.exists():
                shutil.copyfile(src, folder / src.name)
                picked.append((folder / src.name, status, reasons, why))
    return picked


def _run(out: Path, project_id: str, measures: Path) -> DemoRelease:
    from fjdp.portal.commands import ensure_secret, migrate
    from fjdp.portal.config import SQLITE_FILE, PortalConfig

    portal_dir = out / "portal"
    # The demo's portal is rebuilt with the demo: a new database, no stored outputs.
    for stale in (portal_dir / SQLITE_FILE, portal_dir / "outputs"):
        if stale.is_dir():
            for p in stale.rglob("*"):
                p.chmod(0o644)
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    for old in (out / "releases").glob("release-*.zip"):
        old.unlink()
    ensure_secret(portal_dir)
    cfg = PortalConfig(
        portal_dir=portal_dir,
        secret_key=(portal_dir / "secret_key").read_text().strip(),
        databank=out / "databank",
        workspaces=out / "workspaces",
        analysis=out / "analysis",
        releases=out / "releases",
    )
    migrate(cfg)

    from django.db import transaction

    from fjdp.audit import Action
    from fjdp.governance import Role
    from fjdp.portal.actions import (
        add_totp_device,
        create_request,
        create_user,
        take_request,
        vote_file,
    )
    from fjdp.portal.audit import record_event
    from fjdp.portal.models import Project, ProjectResearcher, today
    from fjdp.portal.outputs import Check, FileIn, releases_root

    day = today()
    roles = {
        RESEARCHER: [Role.PROJECT_LEAD.value, Role.RESEARCHER.value],
        **{c: [Role.OUTPUT_CHECKER.value] for c in CHECKERS},
    }
    users = {}
    uris = []
    for name, rs in roles.items():
        users[name] = create_user(
            name,
            DEMO_PASSWORD,
            by="fjdp demo",
            roles=rs,
            trained_on=day - dt.timedelta(days=30),
            expires_on=day + dt.timedelta(days=365),
            agreement_signed_on=day - dt.timedelta(days=30),
        )
        device = add_totp_device(users[name], by="fjdp demo")
        uris.append(f"{name}\t{', '.join(rs)}\t{device.config_url}")
    accounts_file = portal_dir / ACCOUNTS_FILE
    accounts_file.write_text(
        "# Demo accounts (password: " + DEMO_PASSWORD + "); add each otpauth URI to an "
        "authenticator app for the second factor.\n" + "\n".join(uris) + "\n"
    )

    meta = json.loads((out / "workspaces" / project_id / "workspace.json").read_text())
    scope = meta["scope"]
    request = {
        "datasets": [
            {
                "name": d,
                "tables": [
                    {"name": t, "columns": s["columns"], "date_column": s.get("date_column")}
                    for t, s in sorted(tables.items())
                ],
            }
            for d, tables in sorted(scope["datasets"].items())
        ],
        "date_start": None,
        "date_end": None,
    }
    end = dt.date.fromisoformat(scope["end_date"])
    with transaction.atomic():
        project = Project(
            pid=project_id,
            title=scope.get("title") or project_id,
            lay_summary="How children and families move through family proceedings (demo).",
            purpose="The family-justice measures on a synthetic world.",
            public_benefit="Shows the whole flow, from split-file ingest to a checked release.",
            expected_outputs="The measures' tables and plots, checked before release.",
            lead=users[RESEARCHER],
            end_date=end,
            state="active",
            round=1,
            provisioned=True,
            approved={
                "researchers": [RESEARCHER],
                "request": request,
                "end_date": end.isoformat(),
                "conditions": [],
            },
        )
        project.save()
        ProjectResearcher(project=project, user=users[RESEARCHER]).save()
        record_event(
            Action.PROJECT_CREATE,
            project_id,
            actor="fjdp demo",
            role="system",
            details={
                "title": project.title,
                "researchers": [RESEARCHER],
                "note": "the demo project, provisioned by the demo flow at the databank",
                "versions": meta["versions"],
            },
        )

    folder = out / "analysis" / project_id / "release-request"
    picked = _protect(measures, folder)
    left_out = tuple(
        p.name for p in sorted(measures.glob("*.png")) if not (folder / p.name).exists()
    )
    rec = create_request(
        project,
        users[RESEARCHER],
        "The family-justice measures of the demo project on the whole synthetic population "
        f"({len(picked)} files). Counts are of children, mothers, parents or applications as "
        "each table says; no model, so no degrees of freedom; the first release of this "
        "project.",
        [FileIn(p, why, check=Check(status, reasons)) for p, status, reasons, why in picked],
        submit=True,
    )
    for c in CHECKERS:
        take_request(rec, users[c])
        for p, _s, _r, _w in picked:
            vote_file(rec, users[c], p.name, "approve", "")
    rec.refresh_from_db()
    return DemoRelease(
        request=rec.rid,
        bundle=releases_root() / rec.bundle,
        files=tuple((p.name, status) for p, status, _r, _w in picked),
        left_out=left_out,
        accounts=tuple((n, ", ".join(rs)) for n, rs in roles.items()),
        accounts_file=accounts_file,
    )
