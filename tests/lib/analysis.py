"""Tiny hand-built workspaces for the analysis tests: tables as rows, written as a
provisioned workspace lays them out (Parquet, workspace.duckdb views, workspace.json)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.analysis.engines import Workspace, open_workspace
from fjdp.analysis.tables import namespaces

D = dt.date


def make_workspace(
    path: Path,
    tables: Mapping[str, Sequence[Mapping[str, object]] | pa.Table],
    *,
    statuses: Sequence[str] | None = None,
) -> Workspace:
    """A workspace at ``path`` holding ``tables`` (``"hospital_admissions.admissions"``:
    rows as dicts, or an Arrow table)."""
    path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path / "workspace.duckdb"))
    con.execute(f"set file_search_path = '{path}'")
    made: set[str] = set()
    for view, rows in tables.items():
        schema, name = view.split(".")
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows))
        rel = (
            f"reference/{name}.parquet"
            if schema == "reference"
            else f"data/{schema}/{name}.parquet"
        )
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path / rel)
        if schema not in made:
            con.execute(f'create schema "{schema}"')
            made.add(schema)
        con.execute(f'create view "{schema}"."{name}" as select * from read_parquet(\'{rel}\')')
    con.execute("checkpoint")
    con.close()
    scope = {"link_statuses": list(statuses)} if statuses else {}
    (path / "workspace.json").write_text(json.dumps({"project": "test", "scope": scope}))
    return open_workspace(path)


def tables_of(ws: Workspace) -> dict[str, object]:
    """The workspace's tables as a definition sees them (``t["hospital_admissions"]``)."""
    return namespaces({n: s.schema for n, s in ws.sources().items()})
