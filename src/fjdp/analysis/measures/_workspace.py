"""A project workspace opened read-only as an Ibis backend, and the linkage option.

Measures read the workspace's DuckDB views through Ibis, so the same expressions can run
on another Ibis backend. A person's ``alf_pe`` is used only when the person's link
status is in the accepted set: an unaccepted link is treated as no link at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from fjdp.errors import InputError
from fjdp.workspace.paths import WORKSPACE_DB

# A workspace's tables by name ("court_public.persons"), as Ibis tables on some backend.
Views = Callable[[str], ir.Table]


def backend_views(backend: BaseBackend) -> Views:
    """Read tables by "dataset.table" from an Ibis backend whose schemas are datasets."""

    def view(name: str) -> ir.Table:
        schema, table = name.split(".", 1)
        return backend.table(table, database=schema)

    return view


def connect(workspace: Path) -> Views:
    """The workspace's views, read-only, with relative Parquet paths resolved."""
    db = workspace / WORKSPACE_DB
    if not db.is_file():
        raise InputError(
            f"no {WORKSPACE_DB} in the workspace folder",
            where=str(workspace),
            fix="give the folder of a provisioned workspace (fjdp databank provision)",
        )
    con = duckdb.connect(str(db), read_only=True)
    con.execute("set file_search_path = ?", [str(workspace.resolve())])
    return backend_views(ibis.duckdb.from_connection(con))


@contextmanager
def spark_session_views(workspace: Path) -> Iterator[Views]:
    """The workspace's tables in a local Spark session (``--engine spark``), read from its
    Parquet files; the session stops when the block ends."""
    from fjdp.analysis.engines import open_workspace, spark_views

    with spark_views(open_workspace(workspace)) as (view, _collect):
        yield view
