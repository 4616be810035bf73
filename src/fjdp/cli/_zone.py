"""Options and helpers shared by the zone commands."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from fjdp.cli._common import console
from fjdp.keys import open_zone
from fjdp.transfer.receive import receive
from fjdp.types import Zone

ZoneDir = Annotated[
    Path, typer.Option("--zone", "-z", help="The zone folder (created by `fjdp zone init`).")
]


def actor() -> str:
    """Who is acting, for the audit trail: FJDP_ACTOR, else the login name."""
    return os.environ.get("FJDP_ACTOR") or getpass.getuser()


BundleArg = Annotated[
    Path, typer.Argument(help="A bundle folder (to-ttp/ or to-databank/ of a split).")
]


def receive_bundle(bundle: Path, zone: Path, kind: Zone) -> None:
    keys = open_zone(zone, kind)
    got = receive(bundle, keys, actor=actor())
    m = got.manifest
    rows = ", ".join(f"{f.table} {f.rows:,}" for f in m.files)
    revision = f" revision {m.revision}" if m.revision > 1 else ""
    console.print(
        f"Received {m.kind}{revision} of {m.dataset} extract {m.extract_id} ({rows})"
        f" into {got.path}"
    )
