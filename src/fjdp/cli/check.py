"""``fjdp check leaks``: scan zones for identifiers and linking values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.errors import InputError, UsageError

app = typer.Typer(help="Checks an auditor runs over the zones.", no_args_is_help=True)


@app.command("leaks")
def leaks(
    zone: Annotated[
        list[Path],
        typer.Option(
            "--zone",
            "-z",
            help="A databank zone, workspace, analysis or release folder (repeatable).",
        ),
    ],
    identifiers: Annotated[
        list[Path],
        typer.Option(
            "--identifiers",
            "-i",
            help="File 1s, a spine or provider extracts: Parquet files or folders (repeatable).",
        ),
    ],
    linking_values: Annotated[
        list[Path] | None,
        typer.Option(
            "--linking-values",
            help="Where raw ALFs (a File 3) or ALF_Es (the databank zone) are: they must not "
            "appear in the scanned folders (repeatable).",
        ),
    ] = None,
    min_name: Annotated[int, typer.Option(help="Shortest name compared.")] = 6,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the report here.")
    ] = None,
) -> None:
    """Report every identifier (NHS number, postcode, name, address line, a column of
    dates of birth) and every raw ALF or ALF_E found in the scanned folders. Exit 0 when
    clean, 1 when anything is found."""
    from fjdp.check.leaks import load_identifiers, load_pseudonyms, report_json, scan

    for path in [*zone, *identifiers, *(linking_values or [])]:
        if not path.exists():
            raise InputError("no such file or folder", where=str(path))
    for source in linking_values or []:
        for z in zone:
            if z.resolve() == source.resolve() or z.resolve() in source.resolve().parents:
                raise UsageError(
                    f"{source} is inside the scanned folder {z}: it holds those linking "
                    "values by design",
                    fix="scan the databank for raw ALFs only, and workspaces for ALF_Es",
                )
    ids = load_identifiers(identifiers, min_name=min_name)
    ids = load_pseudonyms(linking_values or [], ids)
    if not ids.kinds:
        raise InputError(
            "no identifier found in the --identifiers sources",
            fix="give File 1s, a spine folder or a world's provider extracts",
        )
    found = 0
    for folder in zone:
        result = scan(folder, ids)
        table = Table(title=f"Leak scan of {folder} ({result.files} files)")
        for col in ("file", "where", "kind", "value (masked)"):
            table.add_column(col)
        for f in result.findings:
            table.add_row(f.file, f.where, f.kind, f.example)
        if result.findings:
            console.print(table)
        else:
            console.print(
                f"[green]clean[/green]: {folder} ({result.files} files; compared "
                f"{', '.join(ids.kinds)})"
            )
        if result.unreadable:
            console.print(
                f"[yellow]not read[/yellow] ({len(result.unreadable)}): "
                + ", ".join(result.unreadable[:5])
                + (" …" if len(result.unreadable) > 5 else "")
            )
        if json_out is not None:
            target = (
                json_out
                if len(zone) == 1
                else json_out.with_name(f"{json_out.stem}-{folder.name}{json_out.suffix}")
            )
            target.write_text(report_json(result) + "\n")
        found += len(result.findings)
    if found:
        raise typer.Exit(1)
