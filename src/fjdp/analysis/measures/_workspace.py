"""A project workspace's tables as Ibis tables, for the measures.

Measures read a workspace through the analysis engines (:mod:`fjdp.analysis.engines`),
so the same expressions run on DuckDB and on Spark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from fjdp.analysis.engines import Engine, duckdb_views, open_workspace, spark_views
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


def check_workspace(workspace: Path) -> None:
    """A clear error before any work when the folder is not a provisioned workspace."""
    if not (workspace / WORKSPACE_DB).is_file():
        raise InputError(
            f"no {WORKSPACE_DB} in the workspace folder",
            where=str(workspace),
            fix="give the folder of a provisioned workspace (fjdp databank provision)",
        )


@contextmanager
def workspace_views(workspace: Path, engine: Engine = Engine.DUCKDB) -> Iterator[Views]:
    """The workspace's tables, read-only, on the analysis engines' own connections: its
    ``workspace.duckdb``, or its Parquet files in a local Spark session. The connection
    or session ends with the block."""
    check_workspace(workspace)
    ws = open_workspace(workspace)
    if engine is Engine.SPARK:
        with spark_views(ws) as (view, _collect):
            yield view
    else:
        with duckdb_views(ws) as view:
            yield view
