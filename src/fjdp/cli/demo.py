"""``fjdp demo``: run the whole flow on the embedded synthetic default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from fjdp.cli._common import console, print_world
from fjdp.cli._zone import actor
from fjdp.cli.measures import measures_table
from fjdp.cli.synth import ForceOpt, PeopleOpt, ProgressOpt, SeedOpt
from fjdp.errors import IntegrityError, OutputError
from fjdp.flow import Delivery, Linked, bank_all, demo_scope, ingest_world, link_all
from fjdp.settings import DEFAULT_DEMO_DIR, DEFAULT_DEMO_PEOPLE, DEFAULT_SEED, DEMO_LAYOUT
from fjdp.synth import WorldConfig, build_world
from fjdp.types import LinkStatus

if TYPE_CHECKING:
    from fjdp.check.sweep import CheckLine
    from fjdp.databank.catalogue import Version
    from fjdp.portal.demo import DemoProject, DemoRelease

_WHAT = {
    "world": "the synthetic sources, one folder each, and truth/",
    "provider": "the data provider's zone (split extracts, quarantine reports)",
    "ttp": "the trusted third party's zone (spine, linkage, File 3)",
    "databank": "the databank's zone (loaded datasets, catalogue)",
    "workspaces": "one folder per project workspace",
    "analysis": "each project's results inside the research environment (tables, plots, pages)",
    "portal": "the governance portal: database, demo accounts, copies of requested outputs",
    "releases": "released output bundles",
    "audit-report": "the auditor's report of the whole run (report.html and a CSV a section)",
}


def ingest_table(deliveries: list[Delivery]) -> Table:
    table = Table(title="Extracts split and delivered")
    for col in (
        "dataset",
        "rows in",
        "accepted",
        "quarantined",
        "File 1 at TTP",
        "File 2 at databank",
    ):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for d in deliveries:
        r = d.split
        f1 = sum(f.rows for f in d.at_ttp.manifest.files)
        f2 = sum(f.rows for f in d.at_databank.manifest.files)
        table.add_row(
            r.dataset,
            f"{r.rows_in:,}",
            f"{r.accepted:,}",
            f"{r.quarantined:,}",
            f"{f1:,}",
            f"{f2:,}",
        )
    return table


def linkage_table(linked: list[Linked]) -> Table:
    table = Table(title="Linkage to the population spine (File 3 at the databank)")
    statuses = list(LinkStatus)
    table.add_column("dataset")
    for st in statuses:
        table.add_column(st.value.replace("_", " "), justify="right")
    for item in linked:
        r = item.run
        table.add_row(r.dataset, *(f"{r.counts.get(st.value, 0):,}" for st in statuses))
    return table


def bank_table(versions: list[Version], ws: DemoProject) -> Table:
    table = Table(title=f"Databank versions and the workspace of {ws.project}")
    for col in ("dataset", "version", "rows loaded", "rows in workspace"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for v in versions:
        in_ws = sum(n for k, n in ws.rows.items() if k.split(".")[0] == v.dataset)
        table.add_row(v.dataset, str(v.version), f"{sum(v.rows.values()):,}", f"{in_ws:,}")
    return table


def release_table(r: DemoRelease) -> Table:
    table = Table(title=f"Output request {r.request}: approved by two checkers and released")
    table.add_column("file")
    table.add_column("automatic check")
    for name, status in r.files:
        table.add_row(name, status)
    for name in r.left_out:
        table.add_row(f"[dim]{name}[/dim]", "[dim]left out: counts under 10[/dim]")
    return table


def final_checks(
    out: Path, project: str, released: DemoRelease, say: Callable[[str], None]
) -> list[CheckLine]:
    """What an auditor checks after the flow: each zone's audit chain, the portal's (with
    the zone logs collected into it), and leak scans of the databank and of everything
    the researcher sees or takes away."""
    from fjdp.check.sweep import CheckLine, audit_chains, leak_scans  # DuckDB: when run
    from fjdp.flow import linked_alfs

    lines = audit_chains({z: out / z for z in ("provider", "ttp", "databank")})
    lines += [
        CheckLine(f"audit chain: {name}" + ("" if name == "portal" else " (in the portal)"), ok, d)
        for name, ok, d in released.chains
    ]
    lines.append(
        CheckLine(
            "audit report: alerts",
            not released.alerts,
            "none"
            if not released.alerts
            else f"{len(released.alerts)}: {'; '.join(released.alerts[:3])}",
        )
    )
    lines += leak_scans(
        world=out / "world",
        raw_alfs=linked_alfs(out / "ttp"),
        databank=out / "databank",
        researcher_folders=[
            out / "workspaces" / project,
            out / "analysis" / project,
            out / "releases",
            out / "portal" / "outputs",
        ],
        say=say,
    )
    return lines


def checks_table(lines: list[CheckLine]) -> Table:
    table = Table(title="Final checks")
    for col in ("check", "result", "detail"):
        table.add_column(col)
    for c in lines:
        table.add_row(
            c.check, "[green]ok[/green]" if c.ok else "[bold red]FAILED[/bold red]", c.detail
        )
    return table


def prepare_layout(out: Path, *, force: bool) -> None:
    """Create the demo layout; refuse a non-empty folder unless ``force``."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder", fix="choose another --out")
    if out.exists() and any(out.iterdir()) and not force:
        raise OutputError(
            f"demo folder {out} already exists and is not empty",
            fix="choose another --out or add --force to rebuild it",
        )
    try:
        for name in DEMO_LAYOUT:
            (out / name).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the demo folder {out}: {exc.strerror or exc}",
            fix="choose a folder you can write to with --out",
        ) from None


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Demo folder.")] = DEFAULT_DEMO_DIR,
    people: PeopleOpt = DEFAULT_DEMO_PEOPLE,
    seed: SeedOpt = DEFAULT_SEED,
    force: ForceOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Run the whole flow on a synthetic world, end to end.

    Builds the world, creates the provider, TTP and databank zones, splits every source,
    links each File 1 at the TTP and sends File 3, loads every dataset at the databank,
    takes a demo project through the portal's approval path (application, two panel
    members, each dataset's custodian) to its provisioned workspace, computes the
    family-justice measures in it, requests their release where two demo checkers
    approve it, writes the release bundle, then verifies every audit chain and scans the
    databank and the researcher's folders for leaks; says where everything is and which
    demo accounts exist."""
    prepare_layout(out, force=force)
    summary = build_world(
        WorldConfig(people=people, seed=seed), out / "world", force=True, progress=progress
    )
    print_world(summary)
    console.print(
        "[bold]Split-file ingest[/bold]: provider -> File 1 to the TTP, File 2 to the databank"
    )

    def say(msg: str) -> None:
        if progress:
            console.print(f"[dim]  {msg}[/dim]")

    zones, deliveries = ingest_world(out / "world", out, actor(), say)
    console.print(ingest_table(deliveries))
    console.print("[bold]Linkage[/bold]: the TTP links each File 1 to the spine and sends File 3")
    console.print(linkage_table(link_all(zones, out / "world", actor(), say)))
    console.print("[bold]Databank[/bold]: load every dataset as a version (ALF_E)")
    versions = bank_all(zones, out / "world", actor(), say)
    scope = demo_scope(dt.date.today() + dt.timedelta(days=365))
    console.print(
        f"[bold]Governance[/bold]: {scope.project} through the portal's approval path, "
        "then its workspace (ALF_PE)"
    )
    from fjdp.portal.demo import (  # Django: only when run
        DEMO_PASSWORD,
        govern_and_provision,
        release_measures,
    )

    governed = govern_and_provision(out, scope)
    for step in governed.steps:
        console.print(f"  {step}", highlight=False)
    console.print(bank_table(versions, governed))
    project = governed.project
    console.print(
        f"[bold]Analysis[/bold]: the family-justice measures in the workspace of {project}"
    )
    results = out / "analysis" / project / "measures"
    from fjdp.analysis.measures import run_measures  # Ibis, plotting: only when run

    written = run_measures(governed.workspace, results)
    console.print(measures_table(written, results))
    console.print(
        "[bold]Outputs[/bold]: an output request of the measures, two checkers, a release"
    )
    released = release_measures(out, project, results)
    console.print(release_table(released))
    console.print("[bold]Checks[/bold]: every audit chain, and a leak scan of what researchers see")
    checked = final_checks(out, project, released, say)
    console.print(checks_table(checked))
    failed = [c for c in checked if not c.ok]
    if failed:
        raise IntegrityError(
            f"{len(failed)} final check(s) failed: {failed[0].check}: {failed[0].detail}",
            fix="this is a defect of fjdp: keep the demo folder and report it",
        )
    tree = Tree(f"[bold]{out.resolve()}")
    for name in DEMO_LAYOUT:
        filled = any((out / name).iterdir())
        mark = "" if filled else " [dim](empty until a later stage fills it)[/dim]"
        tree.add(f"{name}/  {_WHAT[name]}{mark}")
    console.print(tree)
    console.print(f"Release bundle: {released.bundle}", soft_wrap=True, highlight=False)
    console.print(f"Audit report: {released.audit_report}", soft_wrap=True, highlight=False)
    console.print(
        f"Demo portal accounts (password {DEMO_PASSWORD!r}, demo only; second factors in "
        f"{governed.accounts_file}):",
        soft_wrap=True,
        highlight=False,
    )
    for name, roles in governed.accounts:
        console.print(f"  {name}: {roles}", highlight=False)
    console.print(f"Open the portal: make serve PORTAL_DIR={out / 'portal'}", soft_wrap=True)
