"""Options and helpers shared by the zone commands."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

ZoneDir = Annotated[
    Path, typer.Option("--zone", "-z", help="The zone folder (created by `fjdp zone init`).")
]


def actor() -> str:
    """Who is acting, for the audit trail: FJDP_ACTOR, else the login name."""
    return os.environ.get("FJDP_ACTOR") or getpass.getuser()
