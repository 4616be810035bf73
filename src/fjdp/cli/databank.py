"""``fjdp databank``: receive, load, reference data, provision, revoke, expire, rotate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.cli._zone import BundleArg, ZoneDir, actor, receive_bundle
from fjdp.databank.catalogue import versions
from fjdp.databank.load import load
from fjdp.databank.quality import quality_report
from fjdp.databank.reference import NAMES, import_reference
from fjdp.databank.rotate import rotate_key
from fjdp.disclosure.protect import show
from fjdp.keys import open_zone
from fjdp.types import Zone
from fjdp.workspace.lifecycle import expire, projects, revoke
from fjdp.workspace.provision import provision
from fjdp.workspace.scope import read_scope, scope_path

app = typer.Typer(
    help="The databank: receive File 2s and File 3s, load versions, provision workspaces.",
    no_args_is_help=True,
)

WorkspacesOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspaces",
        help="The folder holding project workspaces (default: 'workspaces' beside the zone).",
    ),
]


def _workspaces(zone: Path, given: Path | None) -> Path:
    return given if given is not None else zone.resolve().parent / "workspaces"


def _say(message: str) -> None:
    console.print(f"[dim]{message}[/dim]")


@app.command("receive")
def databank_receive(bundle: BundleArg, zone: ZoneDir) -> None:
    """Verify and store a bundle: a File 2 from a provider or a File 3 from the TTP."""
    receive_bundle(bundle, zone, Zone.DATABANK)


@app.command("load")
def databank_load(
    zone: ZoneDir,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Load the newest extract of this dataset only.")
    ] = None,
    extract: Annotated[
        str | None, typer.Option("--extract", help="Load this extract id only.")
    ] = None,
) -> None:
    """Join each received File 2 with its File 3 and publish it as a new dataset version.

    ALF and RALF become ALF_E and RALF_E under the bank key; the raw values are never
    stored. Without options, every extract whose two halves have arrived is loaded."""
    keys = open_zone(zone, Zone.DATABANK)
    loaded, waiting = load(keys, dataset=dataset, extract_id=extract, actor=actor(), say=_say)
    table = Table(title="Loaded")
    for col in ("dataset", "version", "extract", "rows", "linked"):
        table.add_column(col, justify="right" if col in ("version", "rows", "linked") else "left")
    for v in loaded:
        linked = sum(
            n
            for s, n in v.link_status.items()
            if s in ("DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT")
        )
        total = sum(v.link_status.values())
        table.add_row(
            v.dataset,
            str(v.version),
            v.extract_id,
            f"{sum(v.rows.values()):,}",
            f"{linked / total:.1%}" if total else "",
        )
    console.print(table)
    for line in waiting:
        console.print(f"[yellow]not loaded:[/yellow] {line}")


@app.command("quality")
def databank_quality(zone: ZoneDir) -> None:
    """Linkage-quality checks that need content: match rate of court parties by role, law
    type and year; events after death; two persons of a case linked to one."""
    keys = open_zone(zone, Zone.DATABANK)
    report = quality_report(keys.path)
    for c in report["court"]:
        rates = ", ".join(
            f"{g['group']} {g['rate']:.1%}" for g in c["by_role"] if g["rate"] is not None
        )
        console.print(f"{c['dataset']}: match rate by role: {rates}")
    for d in report["after_death"]:
        console.print(f"{d['events']}: {show(d['after_death'])} linked events after death")
    console.print(f"Wrote {keys.path / 'quality' / 'report.html'}")


@app.command("versions")
def databank_versions(
    zone: ZoneDir,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")] = None,
) -> None:
    """List the catalogue: every version of every dataset, with counts and key version."""
    keys = open_zone(zone, Zone.DATABANK)
    table = Table(title="Dataset versions")
    for col in ("dataset", "version", "extract", "File 3 rev", "rows", "key", "loaded", "reason"):
        table.add_column(col)
    for v in versions(keys.path, dataset):
        table.add_row(
            v.dataset,
            str(v.version),
            v.extract_id,
            str(v.file3_revision),
            f"{sum(v.rows.values()):,}",
            f"v{v.key_version}",
            f"{v.loaded_at:%Y-%m-%d %H:%M}",
            v.reason,
        )
    console.print(table)


@app.command("reference")
def databank_reference(
    name: Annotated[str, typer.Argument(help=f"Which reference data: {', '.join(NAMES)}.")],
    source: Annotated[
        Path, typer.Argument(help="The published file (synthetic, WIMD 2019 or IMD 2019 format).")
    ],
    zone: ZoneDir,
) -> None:
    """Import reference data (LSOA deprivation) into the databank."""
    keys = open_zone(zone, Zone.DATABANK)
    n = import_reference(keys, name, source, actor=actor())
    console.print(f"Imported {name}: {n:,} areas from {source}")


@app.command("provision")
def databank_provision(
    zone: ZoneDir,
    project: Annotated[str, typer.Option("--project", help="The project id.")],
    scope_file: Annotated[
        Path | None,
        typer.Option(
            "--scope",
            help="The project's approved scope (YAML); default: scopes/<project>.yaml in the zone.",
        ),
    ] = None,
    workspaces: WorkspacesOpt = None,
) -> None:
    """Build (or refresh) a project's workspace holding only its approved scope.

    Linking fields become ALF_PE/RALF_PE under the project's key, created at the first
    provisioning and used again on every refresh."""
    from fjdp.errors import UsageError

    keys = open_zone(zone, Zone.DATABANK)
    scope = read_scope(scope_file or scope_path(keys.path, project))
    if project != scope.project:
        raise UsageError(
            f"--project {project} does not match the scope file's project {scope.project}",
            fix="give the scope file approved for this project",
        )
    result = provision(keys, scope, _workspaces(zone, workspaces), actor=actor(), say=_say)
    table = Table(title=f"Workspace {result.project}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in result.rows.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    key = "created" if result.key_created else "reused"
    console.print(f"Project key {key}. Workspace: {result.path}")


@app.command("revoke")
def databank_revoke(
    zone: ZoneDir,
    project: Annotated[str, typer.Option("--project", help="The project to end.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the audit trail.")] = "revoked",
    workspaces: WorkspacesOpt = None,
) -> None:
    """Delete a project's workspace and destroy its key; it can never be provisioned again."""
    keys = open_zone(zone, Zone.DATABANK)
    r = revoke(keys, project, _workspaces(zone, workspaces), actor=actor(), reason=reason)
    gone = "deleted" if r.workspace_removed else "was not present"
    console.print(f"Revoked {r.project}: workspace {gone}, project key destroyed.")


@app.command("expire")
def databank_expire(
    zone: ZoneDir,
    workspaces: WorkspacesOpt = None,
    today: Annotated[
        str | None, typer.Option("--today", help="Check against this date (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Revoke every project past its end date (run daily)."""
    from fjdp.errors import UsageError

    keys = open_zone(zone, Zone.DATABANK)
    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        raise UsageError(f"--today {today!r} is not a date", fix="use YYYY-MM-DD") from None
    done = expire(keys, _workspaces(zone, workspaces), actor=actor(), today=day)
    if not done:
        console.print("No project is past its end date.")
    for r in done:
        console.print(f"Revoked {r.project}: {r.reason}")


@app.command("projects")
def databank_projects(zone: ZoneDir) -> None:
    """List provisioned projects and their state."""
    keys = open_zone(zone, Zone.DATABANK)
    table = Table(title="Projects")
    for col in ("project", "end date", "status", "last provisioned", "revoked"):
        table.add_column(col)
    for p in projects(keys):
        table.add_row(
            str(p["project"]),
            str(p["end_date"]),
            str(p["status"]),
            f"{p['last_provisioned']:%Y-%m-%d %H:%M}",
            "" if p["revoked_at"] is None else f"{p['revoked_at']:%Y-%m-%d} ({p['reason']})",
        )
    console.print(table)


@app.command("rotate-key")
def databank_rotate_key(zone: ZoneDir) -> None:
    """Put every ALF_E under a new bank key; every project's ALF_PE stays the same."""
    keys = open_zone(zone, Zone.DATABANK)
    r = rotate_key(keys, actor=actor(), say=_say)
    console.print(
        f"Bank key v{r.old_version} -> v{r.new_version}: {len(r.datasets)} datasets re-keyed, "
        f"{len(r.projects)} projects bridged so their pseudonyms do not change."
    )
