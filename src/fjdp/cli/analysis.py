"""``fjdp analysis``: run dataset definitions on a workspace or on dummy data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fjdp.analysis.dummy import DEFAULT_PEOPLE
from fjdp.analysis.engines import Engine, open_workspace, write_output
from fjdp.analysis.model import LINK_SETS
from fjdp.analysis.runner import make_dummy, run_definition
from fjdp.analysis.tables import spec_sources
from fjdp.cli._common import console, err_console
from fjdp.errors import UsageError
from fjdp.specs import all_specs

app = typer.Typer(
    help="Dataset definitions: run one on a workspace (DuckDB or Spark) or on dummy data.",
    no_args_is_help=True,
)

DefinitionArg = Annotated[
    Path,
    typer.Argument(help="The definition file: Python that leaves a dataset in `dataset`."),
]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="The project's workspace folder (workspaces/<project>); with --dummy, "
        "the shape of the dummy data.",
    ),
]
PeopleOpt = Annotated[int, typer.Option("--people", min=1, help="Persons in the dummy data.")]


def _say(message: str) -> None:
    err_console.print(f"[dim]{message}[/dim]", highlight=False)


@app.command("run")
def analysis_run(
    definition: DefinitionArg,
    workspace: WorkspaceOpt = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="duckdb (default) or spark (local mode).")
    ] = Engine.DUCKDB,
    dummy: Annotated[
        bool,
        typer.Option("--dummy", help="Run on dummy data made from the schema, not on real rows."),
    ] = False,
    links: Annotated[
        str | None,
        typer.Option(
            "--links",
            help="Which links count: accepted (DET_STRONG_ID, DET_DEMOG, PROB_ACCEPT; the "
            "default), possible (adds PROB_POSSIBLE) or all. Overrides the definition.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the rows to a .csv or .parquet file."),
    ] = None,
    people: PeopleOpt = DEFAULT_PEOPLE,
) -> None:
    """Run a dataset definition: one row per person of its population.

    The definition runs in its own process and hands back only its query graph; the
    graph runs on the workspace's DuckDB (read-only) or on Spark."""
    if links is not None and links not in LINK_SETS:
        raise UsageError(f"--links {links!r}", fix=f"use one of {', '.join(LINK_SETS)}")
    if workspace is None and not dummy:
        raise UsageError("give the workspace to run on (--workspace) or --dummy", fix="see --help")
    result = run_definition(
        definition,
        workspace=workspace,
        dummy=dummy,
        engine=engine,
        links=links,
        people=people,
        say=_say,
    )
    rows = result.rows
    where = "dummy data" if result.dummy else str(result.workspace)
    console.print(
        f"{definition.name}: {rows.num_rows:,} persons in the population, "
        f"{rows.num_columns - 1} columns, on {where} ({engine.value}, links "
        f"{links or result.dataset.links})"
    )
    if output is not None:
        write_output(rows, output)
        console.print(f"written to {output}")
    else:
        table = Table(title="first rows")
        for c in rows.column_names:
            table.add_column(c)
        for r in rows.slice(0, 5).to_pylist():
            table.add_row(*(str(v)[:16] if v is not None else "" for v in r.values()))
        console.print(table)


@app.command("dummy")
def analysis_dummy(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the dummy workspace.")],
    workspace: WorkspaceOpt = None,
    definition: Annotated[
        Path | None,
        typer.Option(
            "--definition", "-d", help="Make the data for this definition's population and codes."
        ),
    ] = None,
    people: PeopleOpt = DEFAULT_PEOPLE,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty folder.")] = False,
) -> None:
    """Make dummy tables from a workspace's schema (no real rows), laid out as a workspace.

    Without --workspace, every shipped dataset spec with all its columns. The folder
    works with `fjdp analysis run --workspace DIR` like a real workspace."""
    rows, size = make_dummy(
        out,
        workspace=workspace,
        definition=definition,
        people=people,
        seed=seed,
        force=force,
        say=_say,
    )
    console.print(f"dummy data for {len(rows)} tables ({sum(rows.values()):,} rows) in {out}")
    if size is not None:
        console.print(f"the definition's population on it: {size:,} persons")


@app.command("tables")
def analysis_tables(workspace: WorkspaceOpt = None) -> None:
    """List the tables and columns a definition can read (a workspace's, or every spec's)."""
    srcs = open_workspace(workspace).sources() if workspace else spec_sources(all_specs())
    table = Table(title="tables for dataset definitions")
    table.add_column("table")
    table.add_column("rows per person")
    table.add_column("columns")
    for name, src in srcs.items():
        table.add_row(
            name,
            "one" if src.schema.kind.value == "person" else "many",
            ", ".join(f"{c.name} ({c.type.value})" for c in src.schema.columns),
        )
    console.print(table)
