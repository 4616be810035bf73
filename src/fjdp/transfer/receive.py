"""Receive a bundle into a zone: verify, decrypt, store, and refuse replays.

The zone keeps an index of every extract it has received; a second delivery of the same
extract id is refused (a replay), and so is anything ``read_bundle`` refuses. Each
receipt and each refusal is written to the zone's audit trail.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.errors import InputError, RefusedError, UserError
from fjdp.keys import ZoneKeys
from fjdp.transfer.bundle import Manifest, read_bundle
from fjdp.types import Zone

ROLES = {
    Zone.TTP: "linkage operator",
    Zone.DATABANK: "data manager",
    Zone.PROVIDER: "data provider",
}
_SAFE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,119}")
"""Names that become folders of the zone: never ``.``, ``..``, hidden or with a line end."""


@dataclass(frozen=True)
class Received:
    manifest: Manifest
    path: Path


def _index_path(zone: ZoneKeys) -> Path:
    return zone.path / "received" / "index.json"


def received_index(zone: ZoneKeys) -> dict[str, dict[str, object]]:
    path = _index_path(zone)
    if not path.exists():
        return {}
    index: dict[str, dict[str, object]] = json.loads(path.read_text())
    return index


def _write_index(zone: ZoneKeys, index: dict[str, dict[str, object]]) -> None:
    path = _index_path(zone)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def received_key(extract_id: str, kind: str, revision: int = 1) -> str:
    """The index key of a receipt; later revisions of a File 3 have their own."""
    return f"{extract_id}/{kind}" if revision == 1 else f"{extract_id}/{kind}.r{revision}"


def _peek(bundle: Path) -> tuple[str, str, str, int]:
    """Dataset and extract id from a manifest not yet verified: used only to name folders
    and to spot replays; ``read_bundle`` verifies the signature before anything is kept."""
    try:
        raw = json.loads((bundle / "manifest.json").read_text())
        dataset, extract_id, kind = str(raw["dataset"]), str(raw["extract_id"]), str(raw["kind"])
        revision = int(raw.get("revision", 1))
    except FileNotFoundError:
        raise InputError(
            "no manifest.json: not a bundle", where=str(bundle), fix="give the bundle folder"
        ) from None
    except OSError as exc:  # a folder named manifest.json, or one we may not read
        raise InputError(
            f"cannot read manifest.json ({exc.strerror or type(exc).__name__})",
            where=str(bundle),
            fix="check the bundle folder and its permissions",
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise RefusedError(
            "the manifest is unreadable", where=str(bundle), fix="ask the sender to send it again"
        ) from None
    if not all(_SAFE.fullmatch(name) for name in (dataset, extract_id, kind)):
        raise RefusedError(
            "the manifest names an unsafe dataset, extract id or kind", where=str(bundle)
        )
    return dataset, extract_id, kind, revision


def receive(bundle: Path, zone: ZoneKeys, *, actor: str) -> Received:
    role = ROLES.get(zone.zone, zone.zone.value)
    log = zone_log(zone.path)
    try:
        if not bundle.is_dir():
            raise InputError("bundle folder not found", where=str(bundle), fix="check the path")
        dataset, extract_id, kind, revision = _peek(bundle)
        index = received_index(zone)
        key = received_key(extract_id, kind, revision)
        newer = [
            k
            for k, v in index.items()
            if k.split("/")[0] == extract_id
            and v.get("kind") == kind
            and int(str(v.get("revision", 1))) >= revision
        ]
        if newer:
            raise RefusedError(
                f"{kind} of extract {extract_id} (revision {revision}) was already received "
                f"on {index[newer[0]].get('received')}: a replay",
                where=str(bundle),
                fix="ask the provider for a new extract rather than sending this one again",
            )
        dest = zone.path / "received" / dataset / extract_id / key.split("/")[1]
        # read_bundle makes the folders above dest once the bundle is verified; a refusal
        # must not leave them behind, empty, as if something of this extract had arrived.
        made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
        try:
            manifest = read_bundle(bundle, zone, dest)
        except BaseException:
            for folder in made:  # deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
    except UserError as exc:
        log.append(
            AuditEvent(
                zone=zone.zone.value,
                actor=actor,
                role=role,
                action=Action.REFUSE,
                object=str(bundle.name),
                details={"reason": exc.what},
            )
        )
        raise
    entry: dict[str, object] = {
        "dataset": manifest.dataset,
        "kind": manifest.kind,
        "revision": manifest.revision,
        "sender_zone": manifest.sender_zone,
        "received": log_time(),
        "files": {f.table: f.rows for f in manifest.files},
    }
    index[received_key(manifest.extract_id, manifest.kind, manifest.revision)] = entry
    _write_index(zone, index)
    log.append(
        AuditEvent(
            zone=zone.zone.value,
            actor=actor,
            role=role,
            action=Action.RECEIVE,
            object=manifest.extract_id,
            details={
                "dataset": manifest.dataset,
                "kind": manifest.kind,
                "sender_fingerprint": manifest.sender_fingerprint,
                "files": [
                    {"table": f.table, "rows": f.rows, "sha256": f.plaintext_sha256}
                    for f in manifest.files
                ],
            },
        )
    )
    return Received(manifest=manifest, path=dest)


def log_time() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
