"""The demo flow across zones, step by step, on a synthetic world.

Each step is the same function an operator's command calls; this module only strings
them together so that ``fjdp demo`` (and the end-to-end tests) run the whole flow.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fjdp.databank.catalogue import Version
from fjdp.databank.load import load
from fjdp.databank.quality import quality_report
from fjdp.databank.reference import import_reference
from fjdp.keys import ZoneKeys, init_zone, open_zone
from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.fields import alf
from fjdp.linkage.run import LinkRun, link_dataset, load_spine
from fjdp.provider.split import SplitResult, split_extract
from fjdp.specs import load_spec
from fjdp.transfer.receive import Received, receive
from fjdp.types import LinkStatus, Zone
from fjdp.workspace.scope import Scope

# Where each shipped spec's extract lives in a synthetic world.
WORLD_EXTRACTS: dict[str, str] = {
    "court_public": "court_public",
    "court_private": "court_private",
    "births": "births/births.parquet",
    "hospital_admissions": "hospital/admissions.parquet",
    "emergency_attendances": "emergency/attendances.parquet",
    "deaths": "deaths/deaths.parquet",
}


@dataclass(frozen=True)
class Zones:
    provider: ZoneKeys
    ttp: ZoneKeys
    databank: ZoneKeys


@dataclass(frozen=True)
class Delivery:
    split: SplitResult
    at_ttp: Received
    at_databank: Received


def set_up_zones(root: Path, actor: str) -> Zones:
    """Create the three zones under ``root`` and exchange their public key cards."""
    zones = {}
    for kind in (Zone.PROVIDER, Zone.TTP, Zone.DATABANK):
        path = root / kind.value
        if path.exists() and not any(path.iterdir()):
            path.rmdir()
        zones[kind] = init_zone(path, kind, name=f"demo {kind.value}", actor=actor)
    p, t, d = zones[Zone.PROVIDER], zones[Zone.TTP], zones[Zone.DATABANK]
    p.trust(t.card, actor=actor)
    p.trust(d.card, actor=actor)
    t.trust(p.card, actor=actor)
    t.trust(d.card, actor=actor)
    d.trust(p.card, actor=actor)
    d.trust(t.card, actor=actor)
    return Zones(open_zone(p.path), open_zone(t.path), open_zone(d.path))


def deliver(
    zones: Zones, spec_name: str, extract: Path, actor: str, say: Callable[[str], None]
) -> Delivery:
    """Split one extract at the provider and receive its two halves at the TTP and databank."""
    outbox = zones.provider.path / "outbox"
    result = split_extract(
        load_spec(spec_name),
        extract,
        zone=zones.provider,
        ttp=zones.provider.trusted(Zone.TTP),
        databank=zones.provider.trusted(Zone.DATABANK),
        out=outbox,
        actor=actor,
        progress=say,
    )
    at_ttp = receive(result.to_ttp, zones.ttp, actor=actor)
    at_bank = receive(result.to_databank, zones.databank, actor=actor)
    return Delivery(result, at_ttp, at_bank)


def ingest_world(
    world: Path, root: Path, actor: str, say: Callable[[str], None]
) -> tuple[Zones, list[Delivery]]:
    """Zones under ``root``; every source of ``world`` split and delivered."""
    for kind in (Zone.PROVIDER, Zone.TTP, Zone.DATABANK):
        shutil.rmtree(root / kind.value, ignore_errors=True)
    zones = set_up_zones(root, actor)
    return zones, [
        deliver(zones, name, world / rel, actor, say) for name, rel in WORLD_EXTRACTS.items()
    ]


@dataclass(frozen=True)
class Linked:
    run: LinkRun
    at_databank: Received


def link_all(
    zones: Zones,
    world: Path,
    actor: str,
    say: Callable[[str], None],
    cfg: LinkageConfig | None = None,
) -> list[Linked]:
    """The TTP loads the world's register as its spine, links every File 1 it holds, and
    the databank receives each File 3."""
    say("TTP: loading the population spine")
    load_spine(zones.ttp, world / "spine", actor=actor, cfg=cfg)
    out = []
    for name in WORLD_EXTRACTS:
        run = link_dataset(
            zones.ttp,
            name,
            databank=zones.ttp.trusted(Zone.DATABANK),
            actor=actor,
            cfg=cfg,
            say=say,
        )
        out.append(Linked(run, receive(run.file3_bundle, zones.databank, actor=actor)))
    return out


DEMO_PROJECT = "demo-family-pathways"


def demo_scope(end_date: dt.date) -> Scope:
    """The demo project's approved scope: both family-court datasets with births,
    hospital, emergency and deaths records and LSOA deprivation. Every link status is
    approved so the court data keep every party of a case; analyses use the linked
    statuses unless told otherwise."""
    return Scope.model_validate(
        {
            "project": DEMO_PROJECT,
            "title": "Pathways and outcomes of children in family proceedings (demo)",
            "end_date": end_date,
            "link_statuses": [s.value for s in LinkStatus],
            "datasets": {
                name: {t.name: {"columns": "*"} for t in load_spec(name).tables}
                for name in WORLD_EXTRACTS
            },
            "reference": ["lsoa_deprivation"],
        }
    )


def bank_all(zones: Zones, world: Path, actor: str, say: Callable[[str], None]) -> list[Version]:
    """The databank loads every extract and imports the deprivation lookup; workspaces
    are provisioned once a project is approved (the demo's, through the portal)."""
    say("databank: loading File 2 + File 3 into dataset versions")
    versions, _waiting = load(zones.databank, actor=actor, say=say)
    quality_report(zones.databank.path)
    import_reference(
        zones.databank, "lsoa_deprivation", world / "deprivation" / "lsoa.parquet", actor=actor
    )
    return versions


def linked_alfs(ttp: Path) -> set[str]:
    """The raw ALF of every spine person the TTP linked a record to, derived with the
    TTP's key: the values the final leak scans look for in the databank and in what a
    researcher sees (nowhere else is a raw ALF on disk unsealed)."""
    import pyarrow.parquet as pq

    key = open_zone(ttp, Zone.TTP).hmac_key
    if key is None:  # pragma: no cover - a TTP zone always has one
        return set()
    pids: set[str] = set()
    for links in sorted((ttp / "linkage").glob("*/links.parquet")):
        pids.update(p for p in pq.read_table(links, columns=["pid"]).column(0).to_pylist() if p)
    return {alf(key, p) for p in pids}
