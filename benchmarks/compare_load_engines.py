"""The databank load's work (File 2 joined with File 3 on system_id, ALF and RALF replaced
by their HMACs, the result written to Parquet) done by different engines on the same
files, one after the other, so that their times can be compared within minutes of each
other on a machine whose speed drifts.

This is the evidence behind the load's choice of engine (benchmarks/README.md, "Other
engines"), not a target: ``make bench-databank`` measures the load itself. Variants:

- ``duckdb``: what ``fjdp databank load`` does (``fjdp.keys.bulk.create_map`` for the
  distinct ALFs and RALFs, then one DuckDB ``copy`` of the joins, ``fjdp.sql.PARQUET_OUT``);
- ``duckdb-write``: only the last part of that, DuckDB writing the finished version from a
  table already in memory: what no engine choice around DuckDB's writer can go below;
- ``datafusion-maps``: the same plan (distinct values, HMAC, joins, write) in DataFusion;
- ``datafusion-rows``: DataFusion with the HMAC computed per row instead of per distinct
  value, so File 3 needs no join to maps;
- ``polars``: Polars' streaming join and Parquet writer, HMAC by DataFusion; run only when
  Polars is installed (it is not a dependency of fjdp).

DataFusion runs with an unbounded memory pool: its hash joins cannot spill, and with a
bounded pool the join either fails or, as seen once, made no progress in ten minutes.

Usage: python benchmarks/compare_load_engines.py [--rows N] [--rounds R] [--keep]
Writes benchmarks/results/load_engines.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, run_child, write_results
from bench_databank import write_extract

WORK = ROOT / "benchmarks" / "work" / "load-engines"
RESULTS = ROOT / "benchmarks" / "results" / "load_engines.json"
VARIANTS = ("duckdb", "duckdb-write", "datafusion-maps", "datafusion-rows", "polars")
# A fixed bank key, so that every variant's output can be checked against the others'.
KEY = hashlib.sha256(b"compare_load_engines").digest()
LINK = ("link_status", "link_score", "week_of_birth", "sex", "lsoa")


class Clock:
    """Wall and CPU time from the moment a variant's measured work starts (a variant
    may first do work that is not measured)."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _duckdb(f2: Path, f3: Path, out: Path, work: Path, clock: Clock, *, write_only: bool) -> None:
    from fjdp.databank.engine import connect
    from fjdp.keys.bulk import create_map
    from fjdp.sql import PARQUET_OUT, lit

    con = connect(work)  # as the load's
    if write_only:
        # The duckdb variant's output, read back into memory; only its write is timed.
        con.execute(f"create table v as select * from read_parquet({lit(str(out))})")
        clock.start()
        con.execute(f"copy v to {lit(str(out))} ({PARQUET_OUT})")
        return
    clock.start()
    src = f"read_parquet({lit(str(f3))})"
    create_map(con, "amap", f"select alf from {src}", [KEY], value="alf", pseudonym="alf_e")
    create_map(con, "rmap", f"select ralf from {src}", [KEY], value="ralf", pseudonym="ralf_e")
    con.execute(
        f"""copy (select t.*, a.alf_e, r.ralf_e, {", ".join("f." + c for c in LINK)}
                  from read_parquet({lit(str(f2))}) t
                  left join ({src} f left join amap a using (alf) left join rmap r using (ralf))
                  on f.system_id = t.system_id) to {lit(str(out))} ({PARQUET_OUT})"""
    )


def _datafusion(f2: Path, f3: Path, out: Path, clock: Clock, *, per_row: bool) -> None:
    from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, col
    from datafusion.dataframe import ParquetWriterOptions

    from fjdp.keys.bulk import hmac_expr

    clock.start()
    ctx = SessionContext(
        SessionConfig().with_target_partitions(os.cpu_count() or 1),
        RuntimeEnvBuilder().with_disk_manager_os(),
    )
    ctx.register_parquet("f2", str(f2))
    ctx.register_parquet("f3", str(f3))
    file3 = ctx.table("f3")
    if per_row:
        alf_e, ralf_e = hmac_expr(col("alf"), [KEY]), hmac_expr(col("ralf"), [KEY])
    else:
        for value, name in (("alf", "alf_e"), ("ralf", "ralf_e")):
            distinct = (
                ctx.table("f3").filter(col(value).is_not_null()).select(col(value).alias("v"))
            ).distinct()
            mapping = distinct.select(col("v"), hmac_expr(col("v"), [KEY]).alias(name))
            file3 = file3.join(mapping, left_on=value, right_on="v", how="left").drop("v")
        alf_e, ralf_e = col("alf_e"), col("ralf_e")
    file3 = file3.select(
        col("system_id").alias("sid3"),
        alf_e.alias("alf_e"),
        ralf_e.alias("ralf_e"),
        *[col(c) for c in LINK],
    )
    joined = ctx.table("f2").join(file3, left_on="system_id", right_on="sid3", how="left")
    joined.drop("sid3").write_parquet_with_options(
        str(out), ParquetWriterOptions(compression="zstd(1)", writer_version="2.0")
    )


def _polars(f2: Path, f3: Path, out: Path, clock: Clock) -> None:
    import polars as pl

    from fjdp.keys.bulk import hmac_chain

    clock.start()
    file3 = pl.scan_parquet(f3)
    maps = []
    for value, name in (("alf", "alf_e"), ("ralf", "ralf_e")):
        distinct = file3.select(pl.col(value).alias("v")).drop_nulls().unique().collect()
        hashed = hmac_chain(distinct.to_arrow(), [KEY], partitions=os.cpu_count() or 1)
        maps.append(pl.from_arrow(hashed).rename({"v": value, "pe": name}).lazy())
    linked = (
        file3.join(maps[0], on="alf", how="left")
        .join(maps[1], on="ralf", how="left")
        .select("system_id", "alf_e", "ralf_e", *LINK)
    )
    pl.scan_parquet(f2).join(linked, on="system_id", how="left").sink_parquet(
        out, compression="zstd", compression_level=1
    )


def child(variant: str, root: Path, result: Path) -> None:
    import duckdb

    f2, f3 = root / "admissions.parquet", root / "file3.parquet"
    out = root / ("duckdb.parquet" if variant == "duckdb-write" else f"{variant}.parquet")
    work = root / "tmp"
    clock = Clock()
    if variant in ("duckdb", "duckdb-write"):
        _duckdb(f2, f3, out, work, clock, write_only=variant == "duckdb-write")
    elif variant.startswith("datafusion"):
        _datafusion(f2, f3, out, clock, per_row=variant == "datafusion-rows")
    else:
        _polars(f2, f3, out, clock)
    seconds, cpu = clock.read()
    # Not timed: what was written, so that the variants can be seen to agree.
    ((rows, with_alf_e, check),) = (
        duckdb.connect()
        .execute(
            f"""select count(*), count(alf_e),
                   sum(hash(system_id, alf_e, ralf_e, link_status, lsoa))::varchar
            from read_parquet('{out}')"""
        )
        .fetchall()
    )
    result.write_text(
        json.dumps(
            {
                "step_seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 1),
                "rows": rows,
                "rows_with_alf_e": with_alf_e,
                "checksum": check,
                "megabytes": round(out.stat().st_size / 1e6),
            }
        )
    )


def sha_probe() -> float:
    """Seconds for a million SHA-256 calls in one thread: how fast the machine is now."""
    start = time.perf_counter()
    block = b"x" * 64
    for _ in range(1_000_000):
        hashlib.sha256(block).digest()
    return round(time.perf_counter() - start, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the input files")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.root, args.out)
        return 0

    console = Console()
    root = WORK / str(args.rows)
    log = WORK / f"{args.rows}.log"
    if not (root / "file3.parquet").exists():
        console.print(f"writing File 2 and File 3 of {args.rows:,} rows (not measured)")
        write_extract(args.rows, root)
    variants = [v for v in VARIANTS if v != "polars" or importlib.util.find_spec("polars")]
    runs: list[dict[str, Any]] = []
    for n in range(1, args.rounds + 1):
        probe = sha_probe()
        console.print(f"round {n}: a million SHA-256 calls took {probe} s")
        for variant in variants:
            out = root / f"{variant}.json"
            os.sync()
            run = {"round": n, "variant": variant, "sha_probe_seconds": probe}
            run |= run_child(Path(__file__), [variant, "--root", str(root), "--out", str(out)], log)
            if run["returncode"] == 0:
                run |= json.loads(out.read_text())
            runs.append(run)
            console.print(
                f"  {variant}: {run.get('step_seconds', 'failed')} s, peak {run['peak_gib']} GiB"
            )
    table = Table(
        title=f"The load's work on {args.rows:,} rows, by engine, in turn (timed inside the"
        " child; peak of the child)"
    )
    for c in ("round", "variant", "seconds", "CPU s", "rows/s", "peak GiB", "MB", "checksum"):
        table.add_column(c, justify="right")
    for r in runs:
        ok = r["returncode"] == 0
        table.add_row(
            str(r["round"]),
            r["variant"],
            f"{r['step_seconds']:.1f}" if ok else "failed",
            f"{r['cpu_seconds']:.1f}" if ok else "",
            f"{round(args.rows / r['step_seconds']):,}" if ok else "",
            f"{r['peak_gib']:.2f}",
            str(r.get("megabytes", "")),
            str(r.get("checksum", ""))[-8:],
        )
    console.print(table)
    if "polars" not in variants:
        console.print("polars is not installed: its variant was left out")
    write_results(RESULTS, runs)
    console.print(f"Wrote {RESULTS.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if all(r["returncode"] == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
