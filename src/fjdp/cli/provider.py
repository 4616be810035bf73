"""``fjdp provider``: the data provider's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.cli._zone import ZoneDir, actor
from fjdp.keys import load_card, open_zone
from fjdp.provider.split import SplitResult, split_extract
from fjdp.specs import load_spec
from fjdp.types import Zone

app = typer.Typer(
    help="The data provider: split an extract into File 1 and File 2.", no_args_is_help=True
)


def print_split(result: SplitResult) -> None:
    table = Table(title=f"{result.dataset}: extract {result.extract_id}")
    for col in ("table", "rows in", "accepted", "quarantined", "flagged", "File 1 rows"):
        table.add_column(col, justify="right" if col != "table" else "left")
    for name, c in result.tables.items():
        table.add_row(
            name,
            f"{c.rows_in:,}",
            f"{c.accepted:,}",
            f"{c.quarantined:,}",
            f"{c.flagged:,}",
            f"{c.file1_rows:,}",
        )
    console.print(table)
    console.print(f"File 1 (identifiers) for the TTP:   {result.to_ttp}")
    console.print(f"File 2 (content) for the databank: {result.to_databank}")
    console.print(f"Quarantine report (provider only): {result.report}")


@app.command("split")
def split(
    extract: Annotated[
        Path, typer.Argument(help="The extract: a file, or a folder with one file per table.")
    ],
    spec: Annotated[str, typer.Option("--spec", help="A dataset spec name, or a spec YAML file.")],
    to_ttp: Annotated[Path, typer.Option("--to-ttp", help="The TTP's public key card.")],
    to_databank: Annotated[
        Path, typer.Option("--to-databank", help="The databank's public key card.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the bundles to send.")],
    zone: ZoneDir,
    encoding: Annotated[
        str | None,
        typer.Option(help="CSV encoding (default: detected; UTF-8 unless a BOM says otherwise)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected).")
    ] = None,
    again: Annotated[
        bool,
        typer.Option(help="Split an extract that was split before, as a new extract."),
    ] = False,
) -> None:
    """Validate an extract against its spec and split it: File 1 (system_id + identifiers)
    sealed to the TTP, File 2 (system_id + content) sealed to the databank. An extract
    split before is refused unless --again, so the same records are not sent twice."""
    keys = open_zone(zone, Zone.PROVIDER)
    ttp, bank = load_card(to_ttp), load_card(to_databank)
    from fjdp.errors import RefusedError

    if ttp.zone is not Zone.TTP:
        raise RefusedError(
            f"--to-ttp is the card of a {ttp.zone.value} zone",
            where=str(to_ttp),
            fix="give the TTP's card",
        )
    if bank.zone is not Zone.DATABANK:
        raise RefusedError(
            f"--to-databank is the card of a {bank.zone.value} zone",
            where=str(to_databank),
            fix="give the databank's card",
        )
    result = split_extract(
        load_spec(spec),
        extract,
        zone=keys,
        ttp=ttp,
        databank=bank,
        out=out,
        actor=actor(),
        encoding=encoding,
        delimiter=delimiter,
        progress=lambda msg: console.print(f"[dim]{msg}[/dim]"),
        again=again,
    )
    print_split(result)
