"""The steps of the flow one at a time, runnable in a child process that a test kills.

``python tests/lib/faultsteps.py STEP ROOT`` runs one step on the zones under ROOT (the
court_public extract of the world under ROOT/world): split, receive_ttp, link,
receive_bank, load, provision. ``summary(step, root)`` describes what that step left
behind in a form two runs can be compared by: counts and names, not the random parts
(extract ids, times, nonces).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

STEPS = ("split", "receive_ttp", "link", "receive_bank", "load", "provision")
DATASET = "court_public"
ACTOR = "fault-tester"
PROJECT = "fault-project"


def _zones(root: Path) -> Any:
    from fjdp.flow import Zones
    from fjdp.keys import open_zone

    return Zones(*(open_zone(root / z) for z in ("provider", "ttp", "databank")))


def _bundles(root: Path, kind: str) -> list[Path]:
    out = []
    for manifest in sorted((root / "provider" / "outbox").rglob("manifest.json")):
        data = json.loads(manifest.read_text())
        if data.get("kind") == kind:
            out.append(manifest.parent)
    return out


def _receive_each(bundles: list[Path], zone: Any) -> None:
    """Receive each bundle, as an operator runs one receive command per bundle: a bundle
    already received is refused (and said so) without stopping the others."""
    from fjdp.errors import RefusedError
    from fjdp.transfer.receive import receive

    refused: RefusedError | None = None
    for bundle in bundles:
        try:
            receive(bundle, zone, actor=ACTOR)
        except RefusedError as exc:
            refused = exc
    if refused is not None:
        raise refused


def run(step: str, root: Path) -> None:
    from fjdp.databank.load import load
    from fjdp.linkage.run import link_dataset
    from fjdp.provider.split import split_extract
    from fjdp.specs import load_spec
    from fjdp.types import Zone
    from fjdp.workspace.provision import provision
    from fjdp.workspace.scope import Scope

    zones = _zones(root)
    if step == "split":
        split_extract(
            load_spec(DATASET),
            root / "world" / DATASET,
            zone=zones.provider,
            ttp=zones.provider.trusted(Zone.TTP),
            databank=zones.provider.trusted(Zone.DATABANK),
            out=root / "provider" / "outbox",
            actor=ACTOR,
        )
    elif step == "receive_ttp":
        (bundle,) = _bundles(root, "file1")
        _receive_each([bundle], zones.ttp)
    elif step == "link":
        link_dataset(zones.ttp, DATASET, databank=zones.ttp.trusted(Zone.DATABANK), actor=ACTOR)
    elif step == "receive_bank":
        f3 = [
            m.parent
            for m in sorted((root / "ttp").rglob("manifest.json"))
            if json.loads(m.read_text()).get("kind") == "file3"
        ]
        _receive_each([*_bundles(root, "file2"), *f3], zones.databank)
    elif step == "load":
        load(zones.databank, actor=ACTOR)
    elif step == "provision":
        scope = Scope.model_validate(
            {
                "project": PROJECT,
                "end_date": dt.date.today() + dt.timedelta(days=30),
                "datasets": {DATASET: {"persons": {"columns": "*"}, "cases": {"columns": "*"}}},
            }
        )
        provision(zones.databank, scope, root / "workspaces", actor=ACTOR)
    else:  # pragma: no cover
        raise SystemExit(f"unknown step {step}")


def states_before_each_step(base: Path, *, people: int) -> dict[str, Path]:
    """Under ``base``: a world of ``people``, the zones, and for each step a copy of the
    state just before it (every earlier step done). Step -> that copy."""
    import shutil

    from fjdp.flow import set_up_zones
    from fjdp.keys import open_zone
    from fjdp.linkage.run import load_spine
    from lib.world import build_small

    state = base / "state"
    build_small(state / "world", people=people)
    set_up_zones(state, ACTOR)
    snapshots: dict[str, Path] = {}
    for step in STEPS:
        if step == "link":
            load_spine(open_zone(state / "ttp"), state / "world" / "spine", actor=ACTOR)
        snapshots[step] = base / f"before-{step}"
        shutil.copytree(state, snapshots[step], symlinks=True)
        run(step, state)
    return snapshots


def _received(zone: Path) -> list[tuple[str, ...]]:
    index = zone / "received" / "index.json"
    if not index.exists():
        return []
    entries = json.loads(index.read_text()).values()
    return sorted((str(e.get("kind")), str(e.get("dataset"))) for e in entries)


def _visible_files(folder: Path) -> list[str]:
    """Files a reader would see, with the per-run parts of their paths left out."""
    if not folder.exists():
        return []
    out = []
    for p in folder.rglob("*"):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            out.append(p.suffix or p.name)
    return sorted(out)


def summary(step: str, root: Path) -> dict[str, Any]:
    import duckdb

    if step == "split":
        bundles = []
        for kind in ("file1", "file2"):
            for b in _bundles(root, kind):
                m = json.loads((b / "manifest.json").read_text())
                bundles.append((kind, json.dumps(m.get("counts"), sort_keys=True)))
        partial = [
            p.name for p in (root / "provider" / "outbox").glob("*") if p.name.startswith(".")
        ]
        return {"bundles": sorted(bundles), "partial": partial}
    if step in ("receive_ttp", "receive_bank"):
        zone = root / ("ttp" if step == "receive_ttp" else "databank")
        return {"received": _received(zone), "files": _visible_files(zone / "received")}
    if step == "link":
        # A link run again after a kill may find the killed run's File 3 complete and
        # write the next revision, which supersedes it at the databank: the newest
        # revision is what counts, and no half-written bundle may be visible.
        manifests = [
            json.loads(m.read_text())
            for m in sorted((root / "ttp").rglob("manifest.json"))
            if json.loads(m.read_text()).get("kind") == "file3"
        ]
        newest = max(manifests, key=lambda m: int(m.get("revision", 1)), default={})
        partial = [
            p.name for p in (root / "ttp").rglob("*") if p.is_dir() and p.name.endswith(".partial")
        ]
        return {
            "newest_file3": json.dumps(newest.get("counts"), sort_keys=True),
            "partial": partial,
        }
    if step == "load":
        con = duckdb.connect(str(root / "databank" / "catalogue.duckdb"), read_only=True)
        rows = con.execute(
            "select dataset, version, rows, link_status from versions order by 1, 2"
        ).fetchall()
        con.close()
        folders = sorted(
            f"{d.name}/{v.name}"
            for d in (root / "databank" / "datasets").iterdir()
            for v in d.iterdir()
        )
        return {"versions": [tuple(map(str, r)) for r in rows], "folders": folders}
    if step == "provision":
        link = root / "workspaces" / PROJECT
        meta = json.loads((link / "workspace.json").read_text())
        builds = sorted(p.name.startswith(".") for p in (root / "workspaces").iterdir())
        return {"rows": meta.get("rows"), "entries": builds}
    raise ValueError(step)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from fjdp.errors import UserError

    try:
        run(sys.argv[1], Path(sys.argv[2]))
    except UserError as exc:  # as the CLI does: one line and the error's own exit code
        print(f"error: {exc.message()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
