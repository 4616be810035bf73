"""``fjdp zone``: create a zone with its keys; exchange public keys between zones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fjdp.cli._common import console
from fjdp.cli._zone import actor
from fjdp.keys import init_zone, load_card, open_zone
from fjdp.types import Zone

app = typer.Typer(help="Zones and their keys: init, export-key, trust, show.", no_args_is_help=True)


@app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Folder for the new zone.")],
    zone: Annotated[Zone, typer.Option("--zone", help="provider, ttp or databank.")],
    name: Annotated[
        str | None, typer.Option(help="A name for the zone (default: the folder name).")
    ] = None,
) -> None:
    """Create a zone folder with its key pairs (and HMAC secret for ttp and databank)."""
    if zone not in (Zone.PROVIDER, Zone.TTP, Zone.DATABANK):
        from fjdp.errors import UsageError

        raise UsageError(f"--zone must be provider, ttp or databank, not {zone.value}")
    keys = init_zone(path, zone, name=name, actor=actor())
    console.print(
        f"Created {zone.value} zone {keys.name!r} at {path} "
        f"(key fingerprint {keys.card.fingerprint})"
    )
    console.print(
        f"Next: `fjdp zone export-key {path} --to {zone.value}.card.json`, "
        "then send the card to the other zones."
    )


@app.command("export-key")
def export_key(
    path: Annotated[Path, typer.Argument(help="The zone folder.")],
    to: Annotated[Path, typer.Option("--to", help="Where to write the public key card.")],
) -> None:
    """Write this zone's public key card (public keys only) for the other zones."""
    keys = open_zone(path)
    written = keys.export_card(to)
    console.print(f"Wrote the public key card of {keys.zone.value} zone {keys.name!r} to {written}")


@app.command("trust")
def trust(
    path: Annotated[Path, typer.Argument(help="The zone folder.")],
    card: Annotated[Path, typer.Argument(help="A public key card exported by another zone.")],
) -> None:
    """Trust another zone's public key card: accept what it signs, encrypt to it."""
    keys = open_zone(path)
    peer = load_card(card)
    keys.trust(peer, actor=actor())
    console.print(
        f"{keys.zone.value} zone now trusts {peer.zone.value} zone {peer.name!r} "
        f"({peer.fingerprint})"
    )


@app.command("show")
def show(path: Annotated[Path, typer.Argument(help="The zone folder.")]) -> None:
    """Show a zone: its kind, fingerprint and the zones it trusts."""
    keys = open_zone(path)
    console.print(
        f"{keys.zone.value} zone {keys.name!r} at {keys.path}, fingerprint {keys.card.fingerprint}"
    )
    for z in (Zone.PROVIDER, Zone.TTP, Zone.DATABANK):
        f = keys.path / "trusted" / f"{z.value}.json"
        if f.exists():
            c = load_card(f)
            console.print(f"  trusts {z.value} {c.name!r} ({c.fingerprint})")
