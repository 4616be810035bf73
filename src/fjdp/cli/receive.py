"""``fjdp ttp receive`` and ``fjdp databank receive``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fjdp.cli._common import console
from fjdp.cli._zone import ZoneDir, actor
from fjdp.keys import open_zone
from fjdp.transfer.receive import receive
from fjdp.types import Zone

ttp_app = typer.Typer(help="The trusted third party: receive File 1s.", no_args_is_help=True)
databank_app = typer.Typer(help="The databank: receive File 2s.", no_args_is_help=True)

BundleArg = Annotated[
    Path, typer.Argument(help="A bundle folder (to-ttp/ or to-databank/ of a split).")
]


def _receive(bundle: Path, zone: Path, kind: Zone) -> None:
    keys = open_zone(zone, kind)
    got = receive(bundle, keys, actor=actor())
    m = got.manifest
    rows = ", ".join(f"{f.table} {f.rows:,}" for f in m.files)
    console.print(
        f"Received {m.kind} of {m.dataset} extract {m.extract_id} ({rows}) into {got.path}"
    )


@ttp_app.command("receive")
def ttp_receive(bundle: BundleArg, zone: ZoneDir) -> None:
    """Verify and store a File 1 bundle sent by a provider."""
    _receive(bundle, zone, Zone.TTP)


@databank_app.command("receive")
def databank_receive(bundle: BundleArg, zone: ZoneDir) -> None:
    """Verify and store a File 2 bundle sent by a provider."""
    _receive(bundle, zone, Zone.DATABANK)
