"""Engines run a compiled dataset on a workspace: DuckDB (the default) on the
workspace's own ``workspace.duckdb`` opened read-only, or Spark in local mode on its
Parquet files.

A workspace here is any folder laid out as provisioning lays one out
(``docs/databank.md``): ``data/<dataset>/<table>.parquet``,
``reference/<name>.parquet``, ``workspace.duckdb`` and ``workspace.json``. Dummy data
(:mod:`fjdp.analysis.dummy`) is written the same way, so the same code runs on both.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.analysis import model as m
from fjdp.analysis.ibis_compile import Compiler, ViewReader
from fjdp.analysis.tables import Source, sources
from fjdp.errors import InputError
from fjdp.specs import load_spec
from fjdp.sql import lit

WORKSPACE_DB = "workspace.duckdb"


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


@dataclass(frozen=True)
class Workspace:
    """What an analysis needs of a workspace: its views and their columns (no rows)."""

    path: Path
    views: dict[str, Path]  # "court_public.persons" -> its Parquet file
    columns: dict[str, set[str]]
    scope_statuses: tuple[str, ...] | None
    dummy: bool

    @property
    def datasets(self) -> list[str]:
        return sorted({v.split(".")[0] for v in self.views if not v.startswith("reference.")})

    def sources(self) -> dict[str, Source]:
        specs = [load_spec(d) for d in self.datasets]
        return sources(specs, self.columns)


def open_workspace(path: Path) -> Workspace:
    path = Path(path)
    meta_path = path / "workspace.json"
    if not meta_path.is_file():
        raise InputError(
            "not a workspace: no workspace.json",
            where=str(path),
            fix="give the folder `fjdp databank provision` made, or use --dummy",
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read workspace.json: {exc}", where=str(meta_path)) from None
    views: dict[str, Path] = {}
    for f in sorted((path / "data").glob("*/*.parquet")):
        views[f"{f.parent.name}.{f.stem}"] = f
    for f in sorted((path / "reference").glob("*.parquet")):
        views[f"reference.{f.stem}"] = f
    if not views:
        raise InputError("the workspace holds no tables", where=str(path))
    columns = {v: set(pq.ParquetFile(f).schema_arrow.names) for v, f in views.items()}
    scope = meta.get("scope") or {}
    statuses = scope.get("link_statuses")
    return Workspace(
        path,
        views,
        columns,
        tuple(statuses) if statuses else None,
        bool(meta.get("dummy", False)),
    )


def run(
    dataset: m.Dataset,
    workspace: Workspace,
    *,
    engine: Engine = Engine.DUCKDB,
    links: str | None = None,
) -> pa.Table:
    """The dataset's rows (``alf_pe`` and the columns, one row per person of the
    population) on ``engine``; ``links`` overrides the definition's choice."""
    chosen = links or dataset.links
    if chosen not in m.LINK_SETS:
        raise InputError(f"--links {chosen!r}; use one of {', '.join(m.LINK_SETS)}")
    statuses = m.LINK_SETS[chosen]
    with _backend(workspace, engine) as (view, collect):
        compiler = Compiler(
            view, workspace.sources(), statuses, scope_statuses=workspace.scope_statuses
        )
        return collect(compiler.dataset(dataset))


Collect = Callable[[ir.Table], pa.Table]


@contextmanager
def _backend(workspace: Workspace, engine: Engine) -> Iterator[tuple[ViewReader, Collect]]:
    if engine is Engine.DUCKDB:
        with duckdb_views(workspace) as view:
            yield view, lambda expr: expr.to_pyarrow()
    else:
        with spark_views(workspace) as pair:
            yield pair


@contextmanager
def duckdb_views(workspace: Workspace) -> Iterator[ViewReader]:
    """The workspace's views through its own ``workspace.duckdb``, read-only."""
    db = workspace.path / WORKSPACE_DB
    if not db.is_file():
        raise InputError("the workspace has no workspace.duckdb", where=str(workspace.path))
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"set file_search_path = {lit(str(workspace.path))}")
        backend = ibis.duckdb.from_connection(con)

        def view(name: str) -> ir.Table:
            schema, table = name.split(".", 1)
            return backend.table(table, database=schema)

        yield view
    finally:
        con.close()


@contextmanager
def spark_views(
    workspace: Workspace, *, memory: str = "2GB"
) -> Iterator[tuple[ViewReader, Collect]]:
    """The workspace's Parquet files in a local Spark session. Results are written by
    Spark as Parquet and read back, rather than collected through the driver's socket:
    that scales, and leaves no socket open."""
    from fjdp.sparkutil import check_available, local_spark

    check_available()
    with (
        tempfile.TemporaryDirectory(prefix="fjdp-analysis-spark-") as work,
        local_spark(memory=memory, work=Path(work), app="fjdp-analysis") as spark,
    ):
        backend = ibis.pyspark.connect(spark)
        cache: dict[str, ir.Table] = {}
        counter = itertools.count()

        def view(name: str) -> ir.Table:
            if name not in cache:
                safe = "v_" + name.replace(".", "__")
                cache[name] = backend.read_parquet(str(workspace.views[name]), table_name=safe)
            return cache[name]

        def collect(expr: ir.Table) -> pa.Table:
            out = Path(work) / f"result-{next(counter)}"
            spark.sql(ibis.to_sql(expr, dialect="pyspark")).write.parquet(str(out))
            table = pq.read_table(out)
            return table.sort_by("alf_pe")

        yield view, collect


def write_output(table: pa.Table, out: Path) -> None:
    """Write the dataset as CSV or Parquet, by the file's suffix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        pq.write_table(table, out)
    elif out.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, out)
    else:
        raise InputError(
            f"cannot write {out.suffix or 'a file without suffix'}",
            where=str(out),
            fix="name the output .csv or .parquet",
        )
