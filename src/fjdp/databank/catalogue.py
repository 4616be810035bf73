"""The databank's catalogue: every published version of every dataset.

A DuckDB database (``catalogue.duckdb`` in the databank zone). A version is visible
once, and only once, its row is committed here: loads write the version's files to a
staging folder, rename it into ``datasets/<dataset>/v<N>``, then commit the row, so a
reader that goes through the catalogue never sees a version that is half-written. A
folder without a row (a load killed after the rename) is an orphan the next load
removes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

CATALOGUE = "catalogue.duckdb"

_SCHEMA = """
create table if not exists versions (
  dataset varchar not null,
  version integer not null,
  extract_id varchar not null,
  file3_revision integer not null,
  file2_manifest_sha256 varchar not null,
  file3_manifest_sha256 varchar not null,
  rows json not null,
  link_status json not null,
  loaded_at timestamptz not null,
  key_version integer not null,
  reason varchar not null,
  retired boolean not null default false,
  primary key (dataset, version)
);
create table if not exists projects (
  project varchar primary key,
  title varchar not null,
  end_date date not null,
  status varchar not null,
  scope json not null,
  first_provisioned timestamptz not null,
  last_provisioned timestamptz not null,
  revoked_at timestamptz,
  revoke_reason varchar
);
create table if not exists provisions (
  project varchar not null,
  provisioned_at timestamptz not null,
  versions json not null,
  rows json not null
);
create table if not exists settings (
  name varchar primary key,
  value varchar not null
);
create table if not exists reference (
  name varchar primary key,
  source varchar not null,
  format varchar not null,
  rows bigint not null,
  loaded_at timestamptz not null
);
"""


@dataclass(frozen=True)
class Version:
    dataset: str
    version: int
    extract_id: str
    file3_revision: int
    file2_manifest_sha256: str
    file3_manifest_sha256: str
    rows: dict[str, int]
    link_status: dict[str, int]
    loaded_at: datetime
    key_version: int
    reason: str

    def path(self, bank: Path) -> Path:
        return version_dir(bank, self.dataset, self.version)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "version": self.version,
            "extract_id": self.extract_id,
            "file3_revision": self.file3_revision,
            "rows": self.rows,
            "link_status": self.link_status,
            "loaded_at": self.loaded_at.isoformat(),
            "key_version": self.key_version,
            "reason": self.reason,
        }


def datasets_dir(bank: Path) -> Path:
    return bank / "datasets"


def version_dir(bank: Path, dataset: str, version: int) -> Path:
    return datasets_dir(bank) / dataset / f"v{version}"


@contextmanager
def catalogue(bank: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = bank / CATALOGUE
    if read_only and not path.exists():
        con = duckdb.connect()
        con.execute(_SCHEMA)
    else:
        if not read_only and not path.exists():
            _create(path)
        con = duckdb.connect(str(path), read_only=read_only)
        if not read_only:
            con.execute(_SCHEMA)
    try:
        yield con
    finally:
        con.close()


def _create(path: Path) -> None:
    """A new, empty catalogue, created whole or not at all: built beside its place and
    renamed into it, so a full disk or a kill never leaves a half-written database that
    every later command would fail to open."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(_SCHEMA)
            con.execute("checkpoint")
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _version(row: tuple[Any, ...]) -> Version:
    return Version(
        dataset=row[0],
        version=int(row[1]),
        extract_id=row[2],
        file3_revision=int(row[3]),
        file2_manifest_sha256=row[4],
        file3_manifest_sha256=row[5],
        rows={str(k): int(v) for k, v in json.loads(row[6]).items()},
        link_status={str(k): int(v) for k, v in json.loads(row[7]).items()},
        loaded_at=row[8],
        key_version=int(row[9]),
        reason=row[10],
    )


_COLUMNS = (
    "dataset, version, extract_id, file3_revision, file2_manifest_sha256,"
    " file3_manifest_sha256, rows, link_status, loaded_at, key_version, reason"
)


def versions(bank: Path, dataset: str | None = None) -> list[Version]:
    with catalogue(bank, read_only=True) as con:
        where, params = ("where dataset = ?", [dataset]) if dataset else ("", [])
        rows = con.execute(
            f"select {_COLUMNS} from versions {where} order by dataset, version", params
        ).fetchall()
    return [_version(r) for r in rows]


def latest(bank: Path) -> dict[str, Version]:
    """The newest version of each dataset."""
    out: dict[str, Version] = {}
    for v in versions(bank):
        out[v.dataset] = v
    return out


def next_version(con: duckdb.DuckDBPyConnection, dataset: str) -> int:
    row = con.execute(
        "select coalesce(max(version), 0) from versions where dataset = ?", [dataset]
    ).fetchall()
    return int(row[0][0]) + 1


def register(con: duckdb.DuckDBPyConnection, v: Version) -> None:
    con.execute(
        f"insert into versions ({_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            v.dataset,
            v.version,
            v.extract_id,
            v.file3_revision,
            v.file2_manifest_sha256,
            v.file3_manifest_sha256,
            json.dumps(v.rows, sort_keys=True),
            json.dumps(v.link_status, sort_keys=True),
            v.loaded_at,
            v.key_version,
            v.reason,
        ],
    )


def active_key_version(con: duckdb.DuckDBPyConnection) -> int:
    """The bank key version every current dataset version is under (1 until a rotation)."""
    row = con.execute("select value from settings where name = 'bank_key_version'").fetchall()
    return int(row[0][0]) if row else 1


def set_active_key_version(con: duckdb.DuckDBPyConnection, version: int) -> None:
    con.execute("insert or replace into settings values ('bank_key_version', ?)", [str(version)])


def now() -> datetime:
    return datetime.now(UTC)
