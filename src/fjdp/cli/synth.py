"""``fjdp synth``: build a synthetic world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fjdp.cli._common import print_world
from fjdp.settings import DEFAULT_DEMO_PEOPLE, DEFAULT_SEED
from fjdp.synth import WorldConfig, build_world

PeopleOpt = Annotated[int, typer.Option("--people", "-n", help="People on the population spine.")]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed: the same seed gives the same world.")
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="Replace the output folder if it is not empty.")
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]


def synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the world into.")],
    people: PeopleOpt = DEFAULT_DEMO_PEOPLE,
    seed: SeedOpt = DEFAULT_SEED,
    force: ForceOpt = False,
    progress: ProgressOpt = True,
) -> None:
    """Build a synthetic world: spine, families, family-court, health and deprivation data.

    Writes Parquet, one folder per source, plus truth/ (ground truth and
    truth/calibration.json) which only evaluation code may read.
    """
    summary = build_world(
        WorldConfig(people=people, seed=seed), out, force=force, progress=progress
    )
    print_world(summary)
