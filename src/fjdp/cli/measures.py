"""``fjdp analysis measures``: the family-justice measures on a project workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fjdp.analysis.engines import Engine
from fjdp.analysis.options import MEASURE_NAMES, Links
from fjdp.cli._common import console
from fjdp.errors import InputError

if TYPE_CHECKING:
    from fjdp.analysis.measures import Written


def measures_table(written: list[Written], out: Path) -> Table:
    """What ``run_measures`` wrote, one row per measure."""
    table = Table(title="Family-justice measures", caption=f"CSV, PNG and HTML under {out}")
    table.add_column("measure")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("page")
    for w in written:
        table.add_row(w.title, f"{w.rows:,}", f"{w.seconds:.1f}", w.paths["html"].name)
    return table


def measures(
    workspace: Annotated[
        Path, typer.Option("--workspace", "-w", help="The project workspace folder.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables and plots.")],
    links: Annotated[
        Links,
        typer.Option(
            help="accepted: DET_STRONG_ID, DET_DEMOG, PROB_ACCEPT; possible: also PROB_POSSIBLE."
        ),
    ] = Links.ACCEPTED,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this measure (repeatable).")
    ] = None,
    sensitivity: Annotated[
        bool, typer.Option(help="Also recompute each headline with possible matches.")
    ] = True,
    engine: Annotated[
        Engine, typer.Option(help="duckdb (the workspace's own database) or spark (local mode).")
    ] = Engine.DUCKDB,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Compute the family-justice measures on a workspace: a table (CSV), a plot (PNG) and
    a self-contained page (HTML) each with exact counts, and the same after the
    disclosure checks under release/ with each verdict (.checks.json)."""
    from fjdp.analysis.measures import run_measures  # Ibis, plotting: only when run
    from fjdp.analysis.measures._workspace import check_workspace

    unknown = sorted(set(only or []) - set(MEASURE_NAMES))
    if unknown:
        raise InputError(
            f"unknown measure {unknown[0]!r}",
            where="--only",
            fix=f"choose from {', '.join(MEASURE_NAMES)}",
        )
    check_workspace(workspace)
    total = len(only or MEASURE_NAMES) + 1 + int(sensitivity and links is Links.ACCEPTED)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("measures", total=total)

        def step(name: str) -> None:
            bar.update(task, advance=1, description=name)

        written = run_measures(
            workspace,
            out,
            links=links,
            names=only,
            sensitivity=sensitivity,
            engine=engine,
            step=step,
        )
    console.print(measures_table(written, out))
