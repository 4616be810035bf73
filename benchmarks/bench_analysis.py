"""Benchmark the family-justice measures on a Wales-scale workspace: time and peak
memory of each measure, on DuckDB (and on Spark local mode with --engine spark).

A child process builds the synthetic world (3.2M people by default, every source) and
writes a workspace from the world's truth, laid out exactly as provisioning lays one out
(same schemas, tables, columns; tests/lib/truth_workspace.py). Linking every one of the
~17 million records of a 3.2M world first would take far longer than the measures being
measured, and the measures read the same tables either way. That is not measured.

Then each measure runs in its own child, after the person-level views it starts from
are built (timed separately as ``frames``), and its wall time and peak memory are
recorded.

Target (issue): every measure under 20 seconds on DuckDB on 2 cores.

Usage: python benchmarks/bench_analysis.py [--people N] [--keep] [--reuse]
Writes benchmarks/results/analysis.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, machine, run_child

WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "analysis.json"
RESULTS_SPARK = ROOT / "benchmarks" / "results" / "analysis-spark.json"
TARGET_SECONDS = 20.0


def child_prepare(people: int, root: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fjdp.synth import WorldConfig, build_world
    from lib.truth_workspace import write_truth_workspace

    build_world(
        WorldConfig(people=people, seed=20240601), root / "world", force=True, progress=False
    )
    write_truth_workspace(root / "world", root / "workspace")


def child_measure(root: Path, name: str, out: Path, engine: str) -> None:
    import time
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    from fjdp.analysis.engines import Engine
    from fjdp.analysis.measures import workspace_views

    t = time.perf_counter()
    with workspace_views(root / "workspace", Engine(engine)) as con:
        start_s = time.perf_counter() - t
        _measure(con, name, root, out, start_s)


def _measure(con: Any, name: str, root: Path, out: Path, start_s: float) -> None:
    import time

    from fjdp.analysis.measures import MEASURES, build_frames, write_result
    from fjdp.analysis.measures.sensitivity import linkage_sensitivity
    from fjdp.analysis.options import Links

    t = time.perf_counter()
    frames = build_frames(con)
    frames_s = time.perf_counter() - t
    t = time.perf_counter()
    if name == "frames":
        result = None
    elif name == "linkage_sensitivity":
        result = linkage_sensitivity(con, frames, build_frames(con, Links.POSSIBLE))
    else:
        result = MEASURES[name](con, frames)
    seconds = time.perf_counter() - t
    if result is not None:
        write_result(result, root / "results")
    out.write_text(
        json.dumps(
            {
                "engine_start_seconds": round(start_s, 2),
                "frames_seconds": round(frames_s, 2),
                "measure_seconds": round(seconds, 2),
                "rows": 0 if result is None else len(result.table),
            }
        )
    )


def workspace_rows(root: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(root / "workspace" / "workspace.duckdb"), read_only=True)
    con.execute(f"set file_search_path = '{root / 'workspace'}'")
    names = con.execute(
        "select table_schema, table_name from information_schema.tables order by 1, 2"
    ).fetchall()
    return {
        f"{s}.{t}": int(con.execute(f"select count(*) from {s}.{t}").fetchall()[0][0])
        for s, t in names
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--people", type=int, default=3_200_000)
    parser.add_argument("--keep", action="store_true", help="keep the world and workspace")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept workspace")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--child", choices=("prepare", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "prepare":
        child_prepare(args.people, args.root)
        return 0
    if args.child == "measure":
        child_measure(args.root, args.name, args.out, args.engine)
        return 0

    from fjdp.analysis.measures import MEASURES

    console = Console()
    root = WORK / f"analysis-{args.people}"
    log = WORK / f"analysis-{args.people}.log"
    script = Path(__file__).resolve()
    run: dict[str, Any] = {"people": args.people, "engine": args.engine}
    if not (args.reuse and (root / "workspace" / "workspace.duckdb").exists()):
        shutil.rmtree(root, ignore_errors=True)
        log.unlink(missing_ok=True)
        console.print(f"[bold]{args.people:,} people[/bold]: building the world and its workspace")
        run["prepare"] = run_child(
            script, ["prepare", "--people", str(args.people), "--root", str(root)], log
        )
        if run["prepare"]["returncode"] != 0:
            console.print(f"prepare failed; see {log}")
            return 1
        console.print(f"  prepared in {run['prepare']['seconds']:.0f} s (not measured)")
    run["workspace_rows"] = workspace_rows(root)
    names = ["frames", *MEASURES, "linkage_sensitivity"]
    run["measures"] = {}
    for name in names:
        out = root / f"{name}.json"
        child_args = ["measure", "--root", str(root), "--name", name, "--out", str(out)]
        r = run_child(script, [*child_args, "--engine", args.engine], log)
        if r["returncode"] == 0:
            r.update(json.loads(out.read_text()))
        run["measures"][name] = r
        console.print(f"  {name}: {r.get('measure_seconds', 'failed')} s")
    table = Table(
        title=f"Measures on a {args.people:,}-person workspace ({args.engine}, 2 cores)",
        caption="start = opening the workspace (a Spark session on Spark); measure = the measure alone; "
        "child = the whole child process (start-up, views, measure, writing)",
    )
    for col in ("measure", "start s", "views s", "measure s", "child s", "peak GiB", "target"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    failed = False
    for name, r in run["measures"].items():
        if r["returncode"] != 0:
            failed = True
            table.add_row(name, "failed", "", "", "", "", "")
            continue
        total = r["frames_seconds"] + r["measure_seconds"]
        table.add_row(
            name,
            f"{r['engine_start_seconds']:.1f}",
            f"{r['frames_seconds']:.1f}",
            f"{r['measure_seconds']:.1f}",
            f"{r['seconds']:.1f}",
            f"{r['peak_gib']:.2f}",
            "met" if total < TARGET_SECONDS else "not met",
        )
    console.print(table)
    results = RESULTS_SPARK if args.engine == "spark" else RESULTS
    results.write_text(
        json.dumps(
            {"measured": dt.datetime.now(dt.UTC).isoformat(), "machine": machine(), "runs": [run]},
            indent=2,
        )
        + "\n"
    )
    console.print(f"Wrote {results.relative_to(ROOT)}; log in {log.relative_to(ROOT)}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
