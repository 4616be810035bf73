"""``fjdp databank load``: File 2 joined with its File 3 becomes a new dataset version.

For each received extract whose File 2 and File 3 are both present, every table of
File 2 is copied into a new version of the dataset; the tables that hold persons get the
linking fields of File 3 joined on system_id, with ``alf``/``ralf`` replaced by
``alf_e = HMAC(K_bank, alf)`` and ``ralf_e`` likewise (the raw alf is never written in
the databank). A table holding several persons per row (a birth: baby and mother) gets
one set of linking columns per person, prefixed with the person's name.

The version is built in a staging folder, renamed into place and only then registered
in the catalogue; see ``catalogue.py`` for why a kill at any point is harmless.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from fjdp.audit import Action, record
from fjdp.databank.catalogue import (
    Version,
    active_key_version,
    catalogue,
    datasets_dir,
    next_version,
    now,
    register,
    version_dir,
)
from fjdp.databank.engine import connect
from fjdp.errors import InputError, RefusedError
from fjdp.faults import crash_point
from fjdp.fsutil import pid_alive, staged_or_removed
from fjdp.keys import ZoneKeys
from fjdp.keys.bulk import create_map
from fjdp.keys.keystore import BankKeystore
from fjdp.specs import FILE3_COLUMNS, load_spec
from fjdp.specs.model import DatasetSpec
from fjdp.sql import PARQUET_OUT, lit, q
from fjdp.transfer.receive import received_index
from fjdp.types import LinkStatus

ROLE = "data manager"
# What a person's row gains in the databank, in this order.
LINK_COLUMNS = ("alf_e", "ralf_e", "link_status", "link_score", "week_of_birth", "sex", "lsoa")


@dataclass(frozen=True)
class Extract:
    """A received extract as the databank sees it: its File 2 and newest File 3."""

    dataset: str
    extract_id: str
    file2: Path | None
    file3: Path | None
    file3_revision: int


@dataclass(frozen=True)
class LoadPlan:
    ready: list[tuple[Extract, str]]  # with the reason for the load
    waiting: list[str]  # one line each: why an extract cannot be loaded yet


def link_columns(group: str, single: bool) -> dict[str, str]:
    """File 3 column -> the column it becomes in a table's row for person ``group``."""
    return {c: c if single else f"{group}_{c}" for c in LINK_COLUMNS}


def _extracts(zone: ZoneKeys) -> list[Extract]:
    by_id: dict[str, dict[str, object]] = {}
    for key, entry in received_index(zone).items():
        extract_id, folder = key.split("/", 1)
        kind = str(entry.get("kind"))
        if kind not in ("file2", "file3"):
            continue
        slot = by_id.setdefault(extract_id, {"dataset": entry.get("dataset")})
        path = zone.path / "received" / str(entry.get("dataset")) / extract_id / folder
        if kind == "file2":
            slot["file2"] = path
        else:
            rev = int(str(entry.get("revision", 1)))
            if rev >= int(str(slot.get("rev", 0))):
                slot["file3"], slot["rev"] = path, rev
    out = []
    for extract_id, slot in sorted(by_id.items()):
        f2, f3 = slot.get("file2"), slot.get("file3")
        out.append(
            Extract(
                dataset=str(slot["dataset"]),
                extract_id=extract_id,
                file2=f2 if isinstance(f2, Path) else None,
                file3=f3 if isinstance(f3, Path) else None,
                file3_revision=int(str(slot.get("rev", 0))),
            )
        )
    return out


def plan(zone: ZoneKeys, *, dataset: str | None = None, extract_id: str | None = None) -> LoadPlan:
    """What ``load`` would do: extracts ready to load, and why others are not."""
    with catalogue(zone.path, read_only=True) as con:
        loaded = {
            (e, int(r)): (ds, int(v))
            for e, r, ds, v in con.execute(
                "select extract_id, file3_revision, dataset, version from versions"
            ).fetchall()
        }
    ready: list[tuple[Extract, str]] = []
    waiting: list[str] = []
    for ex in _extracts(zone):
        if dataset is not None and ex.dataset != dataset:
            continue
        if extract_id is not None and ex.extract_id != extract_id:
            continue
        if ex.file3 is None:
            waiting.append(
                f"File 2 of extract {ex.extract_id} ({ex.dataset}) has no File 3: the TTP "
                "has not linked it yet; receive its File 3 with `fjdp databank receive`"
            )
            continue
        if ex.file2 is None:
            waiting.append(
                f"File 3 of extract {ex.extract_id} ({ex.dataset}) has no File 2: receive the "
                "provider's File 2 of that extract first"
            )
            continue
        done = [(r, dv) for (e, r), dv in loaded.items() if e == ex.extract_id]
        if done and max(r for r, _ in done) >= ex.file3_revision:
            r, (ds, v) = max(done)
            waiting.append(
                f"extract {ex.extract_id} with File 3 revision {r} is already loaded as "
                f"{ds} version {v}; a new load needs a new extract or a revised File 3"
            )
            continue
        reason = "first load" if not done else f"File 3 revision {ex.file3_revision}"
        ready.append((ex, reason))
    if dataset is not None and extract_id is None and len(ready) > 1:
        ready = ready[-1:]  # the newest extract of the dataset
    return LoadPlan(ready, waiting)


def _sha256(path: Path) -> str:
    if not path.exists():
        raise InputError(
            "the received folder has no manifest.json",
            where=str(path.parent),
            fix="receive the bundle again with `fjdp databank receive`",
        )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file3(con: duckdb.DuckDBPyConnection, ex: Extract, keys: list[bytes]) -> dict[str, int]:
    """Check File 3, and define view ``f3`` (system_id, alf_e, ralf_e, link columns).
    Returns the rows per link status. Repeated system_ids are caught by the join with
    File 2 (a person with no row, or more rows out than in)."""
    assert ex.file3 is not None
    path = ex.file3 / "file3.parquet"
    src = f"read_parquet({lit(str(path))})"
    cols = [r[0] for r in con.execute(f"describe select * from {src}").fetchall()]
    if tuple(cols) != FILE3_COLUMNS:
        raise RefusedError(
            f"File 3 has columns {cols}, expected {list(FILE3_COLUMNS)}",
            where=str(path),
            fix="ask the TTP to send File 3 again",
        )
    statuses = {
        str(s): int(c)
        for s, c in con.execute(f"select link_status, count(*) from {src} group by 1").fetchall()
    }
    bad = sorted(set(statuses) - {s.value for s in LinkStatus})
    if bad:
        raise RefusedError(
            f"File 3 has unknown link statuses {bad}",
            where=str(path),
            fix="ask the TTP to send File 3 again",
        )
    # One HMAC per distinct person and address, not per row: a person with many records
    # is hashed once (in bulk, see fjdp.keys.bulk).
    create_map(con, "amap", f"select alf from {src}", keys, value="alf", pseudonym="alf_e")
    create_map(con, "rmap", f"select ralf from {src}", keys, value="ralf", pseudonym="ralf_e")
    con.execute(
        f"""create view f3 as select f.system_id, a.alf_e, r.ralf_e, f.link_status,
               f.link_score, f.week_of_birth, f.sex, f.lsoa
           from {src} f left join amap a using (alf) left join rmap r using (ralf)"""
    )
    return statuses


def _mismatch(ex: Extract, what: str) -> RefusedError:
    return RefusedError(
        what,
        where=str(ex.file3),
        fix="the two halves do not belong together; ask the TTP to link this extract again",
    )


def _tables(
    con: duckdb.DuckDBPyConnection,
    ex: Extract,
    spec: DatasetSpec,
    staging: Path,
    f3_rows: int,
) -> dict[str, int]:
    """Write every table of File 2 into ``staging``; returns rows per table."""
    assert ex.file2 is not None
    manifest = json.loads((ex.file2 / "manifest.json").read_text())
    tables = {f["table"]: int(f["rows"]) for f in manifest["files"]}
    unknown = sorted(set(tables) - {t.name for t in spec.tables})
    if unknown:
        raise RefusedError(
            f"File 2 holds tables {unknown} that spec {spec.name} does not define",
            where=str(ex.file2),
            fix="check the provider used the same spec version",
        )
    persons = sum(tables.get(t.name, 0) * len(t.person_id_columns) for t in spec.tables)
    if persons != f3_rows:
        raise _mismatch(ex, f"File 3 has {f3_rows:,} rows but File 2 holds {persons:,} persons")
    rows: dict[str, int] = {}
    for t in spec.tables:
        if t.name not in tables:
            continue
        src = ex.file2 / f"{t.name}.parquet"
        out = staging / f"{t.name}.parquet"
        if not t.person_id_columns:
            shutil.copyfile(src, out)
            rows[t.name] = tables[t.name]
            continue
        single = len(t.person_id_columns) == 1
        selects, joins = ["t.*"], []
        for j, (group, col) in enumerate(t.person_id_columns):
            joins.append(f"left join f3 p{j} on p{j}.system_id = t.{q(col)}")
            selects += [f"p{j}.{c} as {q(a)}" for c, a in link_columns(group, single).items()]
        con.execute(
            f"copy (select {', '.join(selects)} from read_parquet({lit(str(src))}) t "
            f"{' '.join(joins)}) to {lit(str(out))} ({PARQUET_OUT})"
        )
        written = pq.ParquetFile(out).metadata.num_rows
        if written != tables[t.name]:
            raise _mismatch(
                ex, f"File 3 repeats system_ids: table {t.name} grew to {written:,} rows"
            )
        # Every File 3 row has a link status, so a person without one had no File 3 row.
        status_cols = [
            q(a)
            for g, _c in t.person_id_columns
            for c, a in link_columns(g, single).items()
            if c == "link_status"
        ]
        missing = con.execute(
            f"select {', '.join(f'count(*) filter (where {c} is null)' for c in status_cols)}"
            f" from read_parquet({lit(str(out))})"
        ).fetchall()[0]
        if any(missing):
            raise _mismatch(
                ex, f"{sum(missing):,} persons of File 2 table {t.name} have no File 3 row"
            )
        rows[t.name] = written
    return rows


def clean_orphans(bank: Path) -> list[Path]:
    """Version folders no catalogue row names (a load killed after its rename) and
    staging folders of loads that are no longer running."""
    removed: list[Path] = []
    root = datasets_dir(bank)
    if not root.is_dir():
        return removed
    with catalogue(bank, read_only=True) as con:
        known = {
            (d, int(v))
            for d, v in con.execute(
                "select dataset, version from versions where not retired"
            ).fetchall()
        }
    for ds in root.iterdir():
        if not ds.is_dir():
            continue
        for child in ds.iterdir():
            name = child.name
            if name.startswith(".staging-"):
                pid = name.split("-")[1]
                if pid.isdigit() and pid_alive(int(pid)):
                    continue
            elif (
                not (name.startswith("v") and name[1:].isdigit())
                or (ds.name, int(name[1:])) in known
            ):
                continue
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def _shred_alfs(ex: Extract) -> None:
    """Once the version is published, the received File 3 (the only file in the databank
    with raw ALF and RALF) is removed, with any earlier revision of it; its signed
    manifest stays as the record of what was loaded."""
    assert ex.file3 is not None
    for f3 in ex.file3.parent.glob("file3*/file3.parquet"):
        f3.unlink()


def load_extract(
    zone: ZoneKeys, ex: Extract, reason: str, *, actor: str, say: Callable[[str], None]
) -> Version:
    assert ex.file2 is not None and ex.file3 is not None
    store = BankKeystore.of(zone)
    with catalogue(zone.path, read_only=True) as cat:
        key_version = active_key_version(cat)
    keys = store.bank_chain(key_version)
    spec = load_spec(ex.dataset)
    f2_sha = _sha256(ex.file2 / "manifest.json")
    f3_sha = _sha256(ex.file3 / "manifest.json")
    folder = datasets_dir(zone.path) / ex.dataset
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    work = zone.path / "work" / staging.name
    with staged_or_removed(
        staging,
        what=f"load {ex.dataset}",
        where=folder,
        fix="check the databank folder is writable and has space, then load again",
    ):
        staging.mkdir()
        con = connect(work)
        try:
            say(f"{ex.dataset}: joining File 3 and computing ALF_E")
            statuses = _file3(con, ex, keys)
            say(f"{ex.dataset}: writing the new version")
            rows = _tables(con, ex, spec, staging, sum(statuses.values()))
        finally:
            con.close()
            shutil.rmtree(work, ignore_errors=True)
        crash_point("load.staged")
        with catalogue(zone.path) as cat:
            if active_key_version(cat) != key_version:
                raise RefusedError(
                    "the bank key was rotated while this load ran",
                    where=str(zone.path),
                    fix="load again",
                )
            n = next_version(cat, ex.dataset)
            dest = version_dir(zone.path, ex.dataset, n)
            if dest.exists():  # an orphan of a killed load: never registered, never seen
                shutil.rmtree(dest)
            os.rename(staging, dest)
            crash_point("load.renamed")
            version = Version(
                dataset=ex.dataset,
                version=n,
                extract_id=ex.extract_id,
                file3_revision=ex.file3_revision,
                file2_manifest_sha256=f2_sha,
                file3_manifest_sha256=f3_sha,
                rows=rows,
                link_status=statuses,
                loaded_at=now(),
                key_version=key_version,
                reason=reason,
            )
            register(cat, version)
    _shred_alfs(ex)
    record(
        zone.path,
        zone=zone.zone.value,
        actor=actor,
        role=ROLE,
        obj=f"{ex.dataset} v{version.version}",
        events=[
            (Action.KEY_USE, {"key": f"bank v{key_version}", "purpose": "alf_e and ralf_e"}),
            (
                Action.LOAD,
                {
                    **version.to_json(),
                    "file2_manifest_sha256": f2_sha,
                    "file3_manifest_sha256": f3_sha,
                },
            ),
        ],
    )
    return version


def load(
    zone: ZoneKeys,
    *,
    dataset: str | None = None,
    extract_id: str | None = None,
    actor: str,
    say: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Version], list[str]]:
    """Load what is ready; returns the new versions and why anything else was not loaded.
    Asking for a dataset or extract that cannot be loaded is refused."""
    clean_orphans(zone.path)
    p = plan(zone, dataset=dataset, extract_id=extract_id)
    if not p.ready:
        if p.waiting:
            raise RefusedError(p.waiting[0], where=str(zone.path))
        what = extract_id or dataset
        raise InputError(
            f"nothing to load{f' for {what}' if what else ''}: no extract has been received",
            where=str(zone.path / "received"),
            fix="receive File 2 and File 3 with `fjdp databank receive BUNDLE`",
        )
    return [
        load_extract(zone, ex, reason, actor=actor, say=say) for ex, reason in p.ready
    ], p.waiting
