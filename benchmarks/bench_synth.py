"""Benchmark the synthetic-world generator: wall time, peak memory, rows and disk per size.

Each size runs ``python -m fjdp synth --people N --seed 1 --out benchmarks/work/synth-N
--force --no-progress`` as its own child process. Peak memory is the child's maximum
resident set size, read from the resource usage that ``os.wait4`` returns for that one
child (it covers the child and any processes it waited for), so sizes never mix.

Usage: python benchmarks/bench_synth.py [N ...] [--keep]
Writes benchmarks/results/synth.json; deletes each generated world unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import child_env, memory_total_gib

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "synth.json"
DEFAULT_SIZES = (200_000, 3_200_000)
SEED = 1
LOG_TAIL_LINES = 20


def run_one(people: int, out: Path, log: Path) -> dict[str, Any]:
    """Run the generator once in a fresh process; return seconds, exit code and peak RSS."""
    cmd = [
        sys.executable,
        "-m",
        "fjdp",
        "synth",
        "--people",
        str(people),
        "--seed",
        str(SEED),
        "--out",
        str(out),
        "--force",
        "--no-progress",
    ]
    with log.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        # wait4 gives the resource usage of exactly this child (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "returncode": proc.returncode,
        "seconds": round(seconds, 2),
        "peak_gib": round(usage.ru_maxrss / 1024**2, 3),
    }


def world_rows_and_bytes(out: Path) -> tuple[int, int]:
    """Rows in every Parquet file under the world folder, and bytes of every file there."""
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in out.rglob("*.parquet"))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return rows, size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sizes",
        nargs="*",
        type=int,
        default=list(DEFAULT_SIZES),
        help="population sizes to generate (default: 200000 3200000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated worlds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    WORK.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    failed = False

    for people in args.sizes:
        out = WORK / f"synth-{people}"
        log = WORK / f"synth-{people}.log"
        console.print(f"[bold]fjdp synth --people {people:,}[/bold] → {out.relative_to(ROOT)}")
        run = {"people": people, **run_one(people, out, log)}
        if run["returncode"] != 0:
            failed = True
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            console.print(f"[red]failed with exit code {run['returncode']}; log {log}:[/red]")
            console.print("\n".join(tail), markup=False, highlight=False)
            run.update(rows=None, mib_on_disk=None)
        else:
            rows, size = world_rows_and_bytes(out)
            run.update(rows=rows, mib_on_disk=round(size / 1024**2, 1))
        runs.append(run)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
            if run["returncode"] == 0:
                log.unlink(missing_ok=True)

    table = Table(title=f"fjdp synth (seed {SEED})")
    for column in ("people", "seconds", "peak GiB", "rows", "MiB on disk"):
        table.add_column(column, justify="right")
    for run in runs:
        ok = run["returncode"] == 0
        table.add_row(
            f"{run['people']:,}",
            f"{run['seconds']:.1f}" if ok else "failed",
            f"{run['peak_gib']:.2f}" if ok else "-",
            f"{run['rows']:,}" if ok else "-",
            f"{run['mib_on_disk']:,.1f}" if ok else "-",
        )
    console.print(table)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "synth",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": memory_total_gib(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seed": SEED,
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
