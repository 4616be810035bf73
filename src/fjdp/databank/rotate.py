"""``fjdp databank rotate-key``: put every ALF_E under a new bank key, keeping every
project's ALF_PE.

HMAC cannot be undone, and the databank never holds ALF, so a new key is layered on
the old values: ``ALF_E(n+1) = HMAC(K_{n+1}, ALF_E(n))``; a later load computes the same
value from ALF through every version's key in turn. Projects' pseudonyms were made from
``ALF_E(n)``, which no longer exists after the rotation, so for each project whose key
is alive the rotation writes a bridge, kept in the keystore and never in a workspace:
``ALF_E(n+1) -> ALF_PE`` for every person the databank holds. Re-provisioning looks a
person up in the bridge first; a person first loaded after the rotation gets
``HMAC(K_project, ALF_E(n+1))``, which no earlier workspace could have held.

Each dataset's current version is re-keyed into a new version; older versions (which
hold values under the old key) are retired and their files removed. Nothing becomes
visible until one catalogue transaction registers the new versions and the new key
version together; a rotation killed before that leaves the databank as it was, and
the next rotation clears what it left.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq

from fjdp.audit import Action, record
from fjdp.databank.catalogue import (
    Version,
    active_key_version,
    catalogue,
    latest,
    now,
    register,
    set_active_key_version,
    version_dir,
    versions,
)
from fjdp.databank.engine import connect
from fjdp.databank.load import clean_orphans
from fjdp.errors import InputError
from fjdp.faults import crash_point
from fjdp.fsutil import staged_or_removed
from fjdp.keys import ZoneKeys
from fjdp.keys.bulk import create_map
from fjdp.keys.keystore import BankKeystore
from fjdp.sql import PARQUET_OUT, lit, q

ROLE = "data manager"


@dataclass(frozen=True)
class Rotation:
    old_version: int
    new_version: int
    datasets: dict[str, int]  # dataset -> its new version number
    projects: list[str]


def _linking_columns(path: Path) -> list[str]:
    return [c for c in pq.ParquetFile(path).schema_arrow.names if c.endswith(("alf_e", "ralf_e"))]


def rotate_key(
    zone: ZoneKeys, *, actor: str, say: Callable[[str], None] = lambda _m: None
) -> Rotation:
    store = BankKeystore.of(zone)
    clean_orphans(zone.path)
    with catalogue(zone.path, read_only=True) as cat:
        old = active_key_version(cat)
    current = latest(zone.path)
    if not current:
        raise InputError(
            "the databank holds no dataset: there is nothing to re-key",
            where=str(zone.path),
            fix="load a dataset first; until then the key can simply be replaced",
        )
    new = old + 1
    store.new_bank_version(new)  # any unused key a killed rotation left is replaced
    k_new = store.bank_key(new)
    projects = [p for p in store.projects() if not store.is_revoked(p)]
    for p in projects:  # a bridge left by a killed rotation, under the unused key
        store.bridge_path(p, new).unlink(missing_ok=True)
    work = zone.path / "work" / f"rotate-{os.getpid()}"
    con = connect(work)
    staged: list[tuple[Path, Version]] = []
    try:
        # Every value under the old key, once, with its value under the new key.
        sources = [
            f"select {q(c)} as e from read_parquet({lit(str(f))})"
            for v in current.values()
            for f in sorted(v.path(zone.path).glob("*.parquet"))
            for c in _linking_columns(f)
        ]
        say(f"re-keying linking fields under bank key v{new}")
        create_map(
            con,
            "emap",
            " union all ".join(sources) or "select null::varchar e",
            [k_new],
            value="e",
            pseudonym="e_new",
        )
        for p in projects:
            key, _ = store.project_key(p, create=False)
            old_bridge = store.bridge_path(p, old)
            # The project's pseudonym of each person stays what it was: from the old
            # bridge where there is one, otherwise HMAC(K_project, old alf_e).
            con.execute("drop table if exists pe_now")
            create_map(con, "pe_now", "select e from emap", [key], value="e", pseudonym="pe")
            join = (
                f"left join read_parquet({lit(str(old_bridge))}) b using (e)"
                if old_bridge.exists()
                else ""
            )
            pe = "coalesce(b.pe, n.pe)" if join else "n.pe"
            dest = store.bridge_path(p, new)
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = dest.with_name(f".{dest.name}.partial")
            con.execute(
                f"copy (select m.e_new as e, {pe} as pe from emap m join pe_now n using (e) {join}) to {lit(str(tmp))} (format parquet)"
            )
            os.chmod(tmp, 0o600)
            os.replace(tmp, dest)
        for ds, v in sorted(current.items()):
            say(f"{ds}: writing version {v.version + 1} under bank key v{new}")
            folder = version_dir(zone.path, ds, v.version).parent
            staging = folder / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
            with staged_or_removed(
                staging,
                what=f"re-key {ds}",
                where=folder,
                fix="check the databank folder is writable and has space",
            ):
                staging.mkdir()
                for f in sorted(v.path(zone.path).glob("*.parquet")):
                    cols = _linking_columns(f)
                    if not cols:
                        shutil.copyfile(f, staging / f.name)
                        continue
                    joins = " ".join(
                        f"left join emap m{i} on m{i}.e = t.{q(c)}" for i, c in enumerate(cols)
                    )
                    repl = ", ".join(f"m{i}.e_new as {q(c)}" for i, c in enumerate(cols))
                    con.execute(
                        f"copy (select t.* replace ({repl}) from read_parquet({lit(str(f))}) t {joins})"
                        f" to {lit(str(staging / f.name))} ({PARQUET_OUT})"
                    )
                dest = version_dir(zone.path, ds, v.version + 1)
                os.rename(staging, dest)
            staged.append(
                (
                    dest,
                    replace(
                        v,
                        version=v.version + 1,
                        loaded_at=now(),
                        key_version=new,
                        reason=f"re-keyed under bank key v{new}",
                    ),
                )
            )
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    crash_point("rotate.staged")
    with catalogue(zone.path) as cat:
        cat.execute("begin transaction")
        for _dest, version in staged:
            register(cat, version)
        cat.execute("update versions set retired = true where key_version < ?", [new])
        set_active_key_version(cat, new)
        cat.execute("commit")
    _retire(zone.path, store, projects, old)
    _audit(zone, actor, old, new, staged, projects)
    return Rotation(old, new, {v.dataset: v.version for _d, v in staged}, projects)


def _retire(bank: Path, store: BankKeystore, projects: list[str], old: int) -> None:
    """After the commit: values under the old key are removed wherever they are."""
    for v in versions(bank):
        path = v.path(bank)
        if v.key_version <= old and path.exists():
            shutil.rmtree(path)
    for p in projects:
        for bridge in store.bridges(p):
            if bridge != store.bridge_path(p, old + 1):
                bridge.unlink(missing_ok=True)


def _audit(
    zone: ZoneKeys,
    actor: str,
    old: int,
    new: int,
    staged: list[tuple[Path, Version]],
    projects: list[str],
) -> None:
    record(
        zone.path,
        zone=zone.zone.value,
        actor=actor,
        role=ROLE,
        obj=f"bank v{old} -> v{new}",
        events=[
            (
                Action.KEY_ROTATE,
                {
                    "datasets": {v.dataset: v.version for _d, v in staged},
                    "projects_bridged": projects,
                },
            )
        ],
    )
