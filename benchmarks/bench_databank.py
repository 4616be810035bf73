"""Benchmark the databank: load (File 2 ⋈ File 3, ALF_E) and provisioning (ALF_PE) of a
hospital-admissions dataset of N rows: time, rows per second and peak memory.

A child process first prepares the zones: File 2 (N admissions) and File 3 (one row per
admission, for about N / 3 distinct people, as a national admissions extract would
have; in an order of its own, as the TTP's linkage returns it) are written with DuckDB, sealed by the provider and the TTP and received at the
databank. That is not measured. Then two children are measured, one after the other,
each after ``sync`` has flushed what the step before wrote:

- ``load``: ``fjdp.databank.load.load`` of the extract (one new version);
- ``provision``: ``fjdp.workspace.provision.provision`` of a project whose scope is the
  whole admissions table with the linked statuses.

Target (issue): at least 1,000,000 rows per second for 10,000,000 rows on 2 cores, peak
memory under 3 GiB.

Usage: python benchmarks/bench_databank.py [N ...] [--keep]
Writes benchmarks/results/databank.json; deletes the scratch folders unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, run_child, write_results

WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "databank.json"
DEFAULT_SIZES = (10_000_000,)
ACTOR = "bench"
PROJECT = "bench-project"
STATUSES = ("DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT", "PROB_POSSIBLE", "UNMATCHED")


def write_extract(rows: int, scratch: Path) -> tuple[Path, Path]:
    """File 2 (``admissions.parquet``: N admissions) and File 3 (``file3.parquet``: one row
    per admission, for about N / 3 distinct people, in an order of its own) in
    ``scratch``."""
    import duckdb

    people = max(1, rows // 3)
    scratch.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set memory_limit = '3GB'")
    con.execute(f"set temp_directory = '{scratch / 'tmp'}'")
    con.execute("set preserve_insertion_order = false")
    con.execute(
        f"""create table base as select md5('s' || range::varchar) as system_id,
               (hash(range, 'p') % {people})::bigint as p, range as i from range({rows})"""
    )
    statuses = "[" + ", ".join(f"'{s}'" for s in STATUSES) + "]"
    con.execute(
        f"""copy (select system_id,
               date '2000-01-01' + (hash(i, 'a') % 8000)::integer as admission_date,
               date '2000-01-01' + (hash(i, 'a') % 8000)::integer + (hash(i, 's') % 30)::integer
                   as discharge_date,
               case when hash(i, 'm') % 10 < 6 then 'emergency' else 'elective' end
                   as admission_method,
               'J069' as diag_1, null::varchar as diag_2, null::varchar as diag_3
             from base) to '{scratch / "admissions.parquet"}' (format parquet, compression zstd)"""
    )
    con.execute(
        f"""copy (select system_id,
               case when hash(p, 'u') % 20 = 0 then null else sha256('alf' || p::varchar) end as alf,
               case when hash(p, 'u') % 20 = 0 then null
                    else sha256('ralf' || (p // 3)::varchar) end as ralf,
               case when hash(p, 'u') % 20 = 0 then 'UNMATCHED'
                    else {statuses}[1 + (hash(i, 'st') % 3)::integer] end as link_status,
               0.99::double as link_score,
               date_trunc('week', date '1930-01-01' + (hash(p, 'd') % 30000)::integer)::date
                   as week_of_birth,
               case when p % 2 = 0 then 'M' else 'F' end as sex,
               'W01' || lpad((hash(p, 'l') % 1909)::varchar, 6, '0') as lsoa
             from base order by hash(i, 'ttp')) to '{scratch / "file3.parquet"}'
             (format parquet, compression zstd)"""
    )
    con.close()
    return scratch / "admissions.parquet", scratch / "file3.parquet"


def child_prepare(rows: int, root: Path) -> None:
    from fjdp.flow import set_up_zones
    from fjdp.transfer import write_bundle
    from fjdp.transfer.receive import receive
    from fjdp.types import Zone

    zones = set_up_zones(root, ACTOR)
    scratch = root / "scratch"
    file2, file3 = write_extract(rows, scratch)
    counts = {"rows_in": rows, "rows_accepted": rows, "rows_quarantined": 0}
    extract = f"hospital_admissions-bench-{rows}"
    b2 = write_bundle(
        root / "to-databank-f2",
        dataset="hospital_admissions",
        extract_id=extract,
        spec_version="1",
        kind="file2",
        files=[("admissions", file2, rows)],
        counts=counts,
        sender=zones.provider,
        recipient=zones.provider.trusted(Zone.DATABANK),
    )
    b3 = write_bundle(
        root / "to-databank-f3",
        dataset="hospital_admissions",
        extract_id=extract,
        spec_version="1",
        kind="file3",
        files=[("file3", file3, rows)],
        counts=counts,
        sender=zones.ttp,
        recipient=zones.ttp.trusted(Zone.DATABANK),
    )
    assert b2.extract_id == b3.extract_id
    receive(root / "to-databank-f2", zones.databank, actor=ACTOR)
    receive(root / "to-databank-f3", zones.databank, actor=ACTOR)
    shutil.rmtree(scratch)


def child_load(root: Path, out: Path) -> None:
    import time

    from fjdp.databank.load import load
    from fjdp.keys import open_zone
    from fjdp.types import Zone

    bank = open_zone(root / "databank", Zone.DATABANK)
    t = time.perf_counter()
    new, _ = load(bank, actor=ACTOR)
    seconds = time.perf_counter() - t
    out.write_text(json.dumps({"seconds_in_load": round(seconds, 2), "rows": new[0].rows}))


def child_provision(root: Path, out: Path) -> None:
    import time

    from fjdp.keys import open_zone
    from fjdp.types import Zone
    from fjdp.workspace.provision import provision
    from fjdp.workspace.scope import Scope

    bank = open_zone(root / "databank", Zone.DATABANK)
    scope = Scope.model_validate(
        {
            "project": PROJECT,
            "end_date": dt.date.today() + dt.timedelta(days=30),
            "datasets": {"hospital_admissions": {"admissions": {"columns": "*"}}},
        }
    )
    t = time.perf_counter()
    result = provision(bank, scope, root / "workspaces", actor=ACTOR)
    seconds = time.perf_counter() - t
    out.write_text(json.dumps({"seconds_in_provision": round(seconds, 2), "rows": result.rows}))


def run_size(rows: int, console: Console) -> dict[str, Any]:
    scratch = WORK / f"databank-{rows}"
    log = WORK / f"databank-{rows}.log"
    shutil.rmtree(scratch, ignore_errors=True)
    log.unlink(missing_ok=True)
    script = Path(__file__).resolve()
    run: dict[str, Any] = {"rows": rows}
    console.print(f"[bold]{rows:,} rows[/bold]: preparing File 2 and File 3 at the databank")
    run["prepare"] = run_child(
        script, ["prepare", "--rows", str(rows), "--root", str(scratch)], log
    )
    if run["prepare"]["returncode"] != 0:
        return run
    console.print(f"  prepared in {run['prepare']['seconds']:.1f} s (not measured)")
    for step in ("load", "provision"):
        out = scratch / f"{step}.json"
        # The step before wrote gigabytes the kernel may still be flushing; a measured step
        # competing with that writeback for the disk took half as long again (25 s
        # against 18 s for the load), so each starts with the disk settled.
        os.sync()
        run[step] = run_child(script, [step, "--root", str(scratch), "--out", str(out)], log)
        if run[step]["returncode"] != 0:
            return run
        run[step].update(json.loads(out.read_text()))
        run[step]["rows_per_second"] = round(rows / run[step]["seconds"])
        console.print(
            f"  {step}: {run[step]['seconds']:.1f} s, {run[step]['rows_per_second']:,} rows/s,"
            f" peak {run[step]['peak_gib']:.2f} GiB"
        )
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", action="store_true", help="keep the zones")
    parser.add_argument("--child", choices=("prepare", "load", "provision"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "prepare":
        child_prepare(args.rows, args.root)
        return 0
    if args.child == "load":
        child_load(args.root, args.out)
        return 0
    if args.child == "provision":
        child_provision(args.root, args.out)
        return 0

    console = Console()
    WORK.mkdir(parents=True, exist_ok=True)
    runs = [run_size(rows, console) for rows in args.sizes]
    table = Table(title="Databank load and provisioning (wall time in a child; peak RSS)")
    for col in ("rows", "step", "seconds", "rows/s", "peak GiB", "target"):
        table.add_column(col, justify="right")
    failed = False
    for run in runs:
        for step in ("load", "provision"):
            r = run.get(step)
            if r is None or r["returncode"] != 0:
                failed = True
                table.add_row(f"{run['rows']:,}", step, "failed", "", "", "")
                continue
            met = r["rows_per_second"] >= 1_000_000 and r["peak_gib"] < 3
            table.add_row(
                f"{run['rows']:,}",
                step,
                f"{r['seconds']:.1f}",
                f"{r['rows_per_second']:,}",
                f"{r['peak_gib']:.2f}",
                "met" if met else "not met",
            )
    console.print(table)
    write_results(RESULTS, runs)
    console.print(f"Wrote {RESULTS.relative_to(ROOT)}; logs in {WORK.relative_to(ROOT)}")
    if not args.keep:
        for rows in args.sizes:
            shutil.rmtree(WORK / f"databank-{rows}", ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
