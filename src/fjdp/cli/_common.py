"""What every command shares: consoles, and how a summary of a world is shown."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from fjdp.synth import WorldSummary

console = Console()
err_console = Console(stderr=True)


def world_table(summary: WorldSummary) -> Table:
    table = Table(
        title=f"Synthetic world: {summary.config.people:,} people on the spine",
        caption=f"one Parquet file per row, under {summary.out}",
    )
    table.add_column("source")
    table.add_column("rows", justify="right")
    for s in summary.sources:
        if s.name.startswith("truth/"):
            continue
        table.add_row(s.name, f"{s.rows:,}")
    return table


def print_world(summary: WorldSummary) -> None:
    console.print(world_table(summary))
    console.print(
        f"Calibration: {summary.calibration_passed} of {summary.calibration_total} published "
        f"targets met; see {summary.out / 'truth' / 'calibration.json'}"
    )
    console.print(f"Built in {summary.seconds:.1f} s into {summary.out}")
