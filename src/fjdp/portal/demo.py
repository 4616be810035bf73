"""The demo's governance stages, in the portal at ``demo/portal``.

:func:`govern_and_provision` (after the databank has loaded every dataset) creates the
demo accounts, one for each role a partnership needs, and takes the demo project along
the approval path as people would in the portal: the lead applies for the demo scope,
two panel members approve, each dataset's custodian approves their own dataset, and
the data manager provisions the workspace.

:func:`release_measures` (after the measures have run in that workspace) takes every
measure's release candidates (the protected table, the plot drawn from it and the
verdict that ``fjdp.analysis.measures`` wrote under ``release/``) into the project's
outputs folder, requests them, has both checkers approve every file, and writes the
bundle to ``demo/releases``.

Django is configured once per process and the demo's portal is its own database, so
each stage runs in a child process.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fjdp.portal.config import SECRET_FILE, SQLITE_FILE, PortalConfig
from fjdp.workspace.scope import Scope

T = TypeVar("T")

# Printed by the demo: these accounts exist only in the disposable demo portal.
DEMO_PASSWORD = "fjdp demo passphrase 2026"  # noqa: S105  # nosec B105  # demo portal only
RESEARCHER = "demo-researcher"
PANEL = ("demo-panel-1", "demo-panel-2")
CHECKERS = ("demo-checker-1", "demo-checker-2")
DATA_MANAGER = "demo-data-manager"
AUDITOR = "demo-auditor"
ACCOUNTS_FILE = "demo-accounts.txt"


@dataclass(frozen=True)
class DemoProject:
    project: str
    workspace: Path
    rows: dict[str, int]  # dataset.table -> rows in the workspace
    steps: tuple[str, ...]  # the approval path as it happened, one line a step
    accounts: tuple[tuple[str, str], ...]  # (username, roles)
    accounts_file: Path


@dataclass(frozen=True)
class DemoRelease:
    request: str
    bundle: Path
    files: tuple[tuple[str, str], ...]  # (name, automatic status)
    left_out: tuple[str, ...]  # plots whose table had counts under the threshold
    # The portal's own audit chain and each zone log collected into it for the auditor:
    # (name, ok, events or what is wrong).
    chains: tuple[tuple[str, bool, str], ...]
    audit_report: Path  # the auditor's report of the whole run (HTML, with its CSVs)
    alerts: tuple[str, ...]  # "section: why" of each alert in it


def _in_child(fn: Callable[..., T], *args: object) -> T:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(fn, *args).result()


def govern_and_provision(out: Path, scope: Scope) -> DemoProject:
    """The approval path of the demo project for ``scope``, ending in its workspace
    under ``out/workspaces`` (in a child process; see the module doc)."""
    return _in_child(_govern, out, scope)


def release_measures(out: Path, project: str, measures: Path) -> DemoRelease:
    """The demo's request-review-release, in a child process (see the module doc)."""
    return _in_child(_release, out, project, measures)


def _config(out: Path) -> PortalConfig:
    portal_dir = out / "portal"
    return PortalConfig(
        portal_dir=portal_dir,
        secret_key=(portal_dir / SECRET_FILE).read_text().strip(),
        databank=out / "databank",
        workspaces=out / "workspaces",
        analysis=out / "analysis",
        releases=out / "releases",
    )


def _first_word(org: str) -> str:
    return "".join(ch for ch in org.split()[0].lower() if ch.isalnum())


def _accounts(scope: Scope) -> dict[str, tuple[list[str], str]]:
    """Username -> (roles, organisation): one account per role, one custodian for each
    organisation whose datasets the demo project asks for."""
    from fjdp.governance import Role
    from fjdp.portal.bridge import custodians

    orgs = sorted({custodians()[d] for d in scope.datasets})
    return {
        RESEARCHER: ([Role.PROJECT_LEAD.value, Role.RESEARCHER.value], "demo university"),
        **{p: ([Role.PANEL_MEMBER.value], "access panel") for p in PANEL},
        **{f"demo-custodian-{_first_word(org)}": ([Role.CUSTODIAN.value], org) for org in orgs},
        DATA_MANAGER: ([Role.DATA_MANAGER.value], "databank"),
        **{c: ([Role.OUTPUT_CHECKER.value], "databank") for c in CHECKERS},
        AUDITOR: ([Role.AUDITOR.value], "audit office"),
    }


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


def _fresh_portal(out: Path) -> PortalConfig:
    """A new portal database for a new demo: no accounts, projects or stored outputs."""
    from fjdp.portal.commands import ensure_secret

    portal_dir = out / "portal"
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
    return _config(out)


def _govern(out: Path, scope: Scope) -> DemoProject:
    from fjdp.portal.commands import migrate

    cfg = _fresh_portal(out)
    migrate(cfg)

    from fjdp.governance import PanelOutcome
    from fjdp.portal import actions
    from fjdp.portal.bridge import custodians
    from fjdp.portal.models import User, today

    day = today()
    steps: list[str] = []
    uris = []
    accounts = _accounts(scope)
    for name, (roles, org) in accounts.items():
        user = actions.create_user(
            name,
            DEMO_PASSWORD,
            by="fjdp demo",
            roles=roles,
            organisation=org,
            trained_on=day - dt.timedelta(days=30),
            expires_on=day + dt.timedelta(days=365),
            agreement_signed_on=day - dt.timedelta(days=30),
        )
        device = actions.add_totp_device(user, by="fjdp demo")
        uris.append(f"{name}\t{', '.join(roles)}\t{device.config_url}")
    accounts_file = cfg.portal_dir / ACCOUNTS_FILE
    accounts_file.write_text(
        "# Demo accounts (password: " + DEMO_PASSWORD + "); add each otpauth URI to an "
        "authenticator app for the second factor.\n" + "\n".join(uris) + "\n"
    )
    users = {u.username: u for u in User.objects.all()}

    lead = users[RESEARCHER]
    project = actions.create_project(
        lead,
        {
            "title": scope.title or scope.project,
            "lay_summary": "How children and families move through family proceedings (demo).",
            "purpose": "The family-justice measures on a synthetic world.",
            "public_benefit": "Shows the whole flow, from split-file ingest to a checked release.",
            "expected_outputs": "The measures' tables and plots, checked before release.",
            "date_start": None,
            "date_end": None,
            "link_statuses": sorted(s.value for s in scope.link_statuses),
            "end_date": scope.end_date,
        },
        [lead],
        {
            d: {t: {"columns": "*", "date_column": None} for t in tables}
            for d, tables in scope.datasets.items()
        },
        pid=scope.project,
    )
    steps.append(f"{RESEARCHER} applies for {project.pid} ({len(scope.datasets)} datasets)")
    actions.submit(project, lead)
    for member in PANEL:
        project.refresh_from_db()
        actions.panel_decide(
            project,
            users[member],
            PanelOutcome.APPROVE,
            "Proportionate: synthetic data, aggregate outputs checked before release.",
        )
        steps.append(f"{member} approves for the panel")
    owners = custodians()
    for dataset in sorted(scope.datasets):
        custodian = next(u for u in users.values() if u.organisation == owners[dataset])
        project.refresh_from_db()
        actions.custodian_decide(project, custodian, dataset, True, "Within the data agreement.")
        steps.append(f"{custodian.username} approves {dataset}")
    project.refresh_from_db()
    actions.provision(project, users[DATA_MANAGER])
    steps.append(f"{DATA_MANAGER} provisions the workspace")
    workspace = out / "workspaces" / project.pid
    meta = json.loads((workspace / "workspace.json").read_text())
    return DemoProject(
        project=project.pid,
        workspace=workspace,
        rows={k: int(v) for k, v in meta["rows"].items()},
        steps=tuple(steps),
        accounts=tuple((n, ", ".join(rs)) for n, (rs, _org) in accounts.items()),
        accounts_file=accounts_file,
    )


def _release(out: Path, project_id: str, measures: Path) -> DemoRelease:
    from fjdp.portal.config import setup

    setup(_config(out))

    from fjdp.governance import Role
    from fjdp.portal.actions import create_request, take_request, vote_file
    from fjdp.portal.audit import collect_zone, verify_collected, verify_portal
    from fjdp.portal.models import Project, User
    from fjdp.portal.outputs import Check, FileIn, releases_root

    project = Project.objects.get(pid=project_id)
    researcher = User.objects.get(username=RESEARCHER)
    folder = out / "analysis" / project_id / "release-request"
    picked = _protect(measures, folder)
    left_out = tuple(
        p.name for p in sorted(measures.glob("*.png")) if not (folder / p.name).exists()
    )
    rec = create_request(
        project,
        researcher,
        "The family-justice measures of the demo project on the whole synthetic population "
        f"({len(picked)} files). Counts are of children, mothers, parents or applications as "
        "each table says; no model, so no degrees of freedom; the first release of this "
        "project.",
        [FileIn(p, why, check=Check(status, reasons)) for p, status, reasons, why in picked],
        submit=True,
    )
    for c in CHECKERS:
        checker = User.objects.get(username=c)
        take_request(rec, checker)
        for p, _s, _r, _w in picked:
            vote_file(rec, checker, p.name, "approve", "")
    rec.refresh_from_db()
    # The auditor's timeline holds every zone's log beside the portal's own events.
    for zone in ("provider", "ttp", "databank"):
        collect_zone(out / zone, actor=AUDITOR, role=Role.AUDITOR.value)
    chains = {"portal": verify_portal(), **verify_collected()}
    from fjdp.audit.analytics import merge
    from fjdp.audit.report import build_report, is_alert, write_report
    from fjdp.portal.audit import report_logs

    entries, sources = report_logs()
    report = build_report(merge(entries), sources)
    written = write_report(report, out / "audit-report")
    return DemoRelease(
        request=rec.rid,
        bundle=releases_root() / rec.bundle,
        files=tuple((p.name, status) for p, status, _r, _w in picked),
        left_out=left_out,
        chains=tuple(
            (name, v.ok, f"{v.events:,} events" if v.ok else f"broken at {v.first_bad_seq}")
            for name, v in chains.items()
        ),
        audit_report=written[0],
        alerts=tuple(
            f"{s.title}: {getattr(row, 'why', '')}"
            for s in report.sections
            for row in s.rows
            if is_alert(row)
        ),
    )
