"""Benchmark the provider split and the receipt of its two bundles: time and peak memory.

For each size N a child process first builds a hospital-admissions extract of N rows as
one Parquet file with DuckDB SQL (valid NHS numbers and postcodes, about 0.1% of rows
with no admission date so that quarantine is exercised); building it is timed but is
not part of the measured figures. Then two more child processes run, one after the other:

- ``split``: sets up the three zones (provider, TTP, databank) with
  ``fjdp.flow.set_up_zones`` and runs ``split_extract`` for the ``hospital_admissions``
  spec on the extract;
- ``receive``: receives the to-ttp bundle into the TTP zone and the to-databank bundle
  into the databank zone.

Each child's wall time is measured here and its peak memory is its maximum resident set
size, read from the resource usage that ``os.wait4`` returns for that one child. Each
child also samples its own resident memory (``/proc/self/status``) every 50 ms and
records the peak of each phase, to show what dominates.

Every step runs in a child, so this process stays small: on Linux a child's
``ru_maxrss`` starts from the resident size of the parent that spawned it (the
fork/vfork copy is counted at exec), so a big parent would inflate the children's peaks.

Usage: python benchmarks/bench_split.py [N ...] [--keep]
Writes benchmarks/results/split.json; deletes the scratch folders unless --keep.
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
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import child_env, memory_total_gib

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "split.json"
DEFAULT_SIZES = (1_000_000, 10_000_000)
SPEC = "hospital_admissions"
ACTOR = "bench"
NHS_POOL = 200_000
ROW_GROUP_ROWS = 250_000
LOG_TAIL_LINES = 20
STEPS = ("extract", "split", "receive")
SAMPLE_SECONDS = 0.05

# Small code lists for the content columns; all valid ICD-10.
DIAGNOSES = ("S525", "F329", "J069", "F102", "I219", "J189", "K359", "N390", "R074", "E119")
POSTCODE_AREAS = ("CF", "SA", "NP", "LL", "SY", "LD", "CH")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def _sql_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


# ---------------------------------------------------------------------------------------
# The extract


def make_extract(rows: int, dest: Path, duck_tmp: Path) -> None:
    """Write a hospital-admissions extract of ``rows`` rows to ``dest`` (one Parquet file).

    Admission ``i`` belongs to person ``p = hash(i) % NHS_POOL``; the person's NHS number,
    names, sex, date of birth and postcode all derive from ``p``, so each person has
    about ``rows / NHS_POOL`` admissions with the same identifiers. Every 1,000th row has
    no admission date (a required value), so it is quarantined.
    """
    import duckdb
    import numpy as np
    import pyarrow as pa

    from fjdp.synth import names
    from fjdp.synth.identifiers import nhs_numbers

    pool = nhs_numbers(np.random.default_rng(1), NHS_POOL)
    nhs = pa.table({"p": pa.array(np.arange(NHS_POOL), pa.int64()), "nhs": pool.astype(str)})
    male, female, surnames = names.MALE_FORENAMES, names.FEMALE_FORENAMES, names.SURNAMES

    def h(expr: str, salt: str, m: int) -> str:
        """SQL for a hash of ``expr`` salted with ``salt``: an integer in [0, m)."""
        return f"(hash({expr}, '{salt}') % {m})::bigint"

    duck_tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.execute("set memory_limit = '2GB'")
        con.execute(f"set temp_directory = '{duck_tmp}'")
        con.execute("set preserve_insertion_order = false")
        con.register("nhs_pool", nhs)
        letters = INWARD_LETTERS
        query = f"""
        with a as (
            select range as i, {h("range", "person", NHS_POOL)} as p from range({rows})
        )
        select
            'ADM' || lpad(a.i::varchar, 10, '0') as admission_id,
            n.nhs as nhs_number,
            case when a.p % 2 = 0
                then {_sql_list(male)}[1 + {h("a.p", "fore", len(male))}]
                else {_sql_list(female)}[1 + {h("a.p", "fore", len(female))}]
            end as forename,
            {_sql_list(surnames)}[1 + {h("a.p", "sur", len(surnames))}] as surname,
            date '1925-01-01' + {h("a.p", "dob", 365 * 95)}::integer as date_of_birth,
            case when a.p % 2 = 0 then 'M' else 'F' end as sex,
            {_sql_list(POSTCODE_AREAS)}[1 + {h("a.p", "area", len(POSTCODE_AREAS))}]
                || (1 + {h("a.p", "district", 48)})::varchar || ' '
                || {h("a.p", "sector", 10)}::varchar
                || substr('{letters}', 1 + {h("a.p", "unit1", len(letters))}::integer, 1)
                || substr('{letters}', 1 + {h("a.p", "unit2", len(letters))}::integer, 1)
                as postcode,
            case when a.i % 1000 = 999 then null
                else date '2000-01-01' + {h("a.i", "adm", 365 * 24)}::integer
            end as admission_date,
            case when a.i % 1000 = 999 then null
                else date '2000-01-01' + {h("a.i", "adm", 365 * 24)}::integer
                    + {h("a.i", "stay", 30)}::integer
            end as discharge_date,
            case when {h("a.i", "method", 10)} < 6 then 'emergency' else 'elective' end
                as admission_method,
            {_sql_list(DIAGNOSES)}[1 + {h("a.i", "d1", len(DIAGNOSES))}] as diag_1,
            case when {h("a.i", "has2", 2)} = 0
                then {_sql_list(DIAGNOSES)}[1 + {h("a.i", "d2", len(DIAGNOSES))}] end as diag_2,
            case when {h("a.i", "has3", 5)} = 0
                then {_sql_list(DIAGNOSES)}[1 + {h("a.i", "d3", len(DIAGNOSES))}] end as diag_3
        from a join nhs_pool n on n.p = a.p
        """
        con.execute(
            f"copy ({query}) to '{dest}' (format parquet, compression zstd,"
            f" row_group_size {ROW_GROUP_ROWS})"
        )
    finally:
        con.close()
        shutil.rmtree(duck_tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The children


class RssSampler:
    """Sample this process's resident memory; keep the peak of each named phase."""

    def __init__(self) -> None:
        self.phase = "start"
        self.t0 = time.perf_counter()
        self.peaks: dict[str, float] = {}
        self.starts: dict[str, float] = {"start": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _note(self) -> None:
        gib = self.rss_kib() / 1024**2
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), gib)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._note()

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def enter(self, phase: str) -> None:
        self._note()
        now = time.perf_counter() - self.t0
        print(f"{now:8.1f}s  rss {self.rss_kib() / 1024**2:5.2f} GiB  {phase}", flush=True)
        self.phase = phase
        self.starts.setdefault(phase, now)
        self._note()

    def stop(self) -> list[dict[str, Any]]:
        self._note()
        self._stop.set()
        self._thread.join()
        return [
            {
                "phase": name,
                "from_s": round(self.starts.get(name, 0.0), 1),
                "peak_gib": round(peak, 3),
            }
            for name, peak in self.peaks.items()
        ]


def child_split(extract: Path, root: Path, out: Path) -> None:
    sampler = RssSampler().start()
    sampler.enter("importing fjdp")
    from fjdp.flow import set_up_zones
    from fjdp.provider.split import split_extract
    from fjdp.specs import load_spec
    from fjdp.types import Zone

    sampler.enter("setting up zones")
    zones = set_up_zones(root, ACTOR)
    say: Callable[[str], None] = sampler.enter
    result = split_extract(
        load_spec(SPEC),
        extract,
        zone=zones.provider,
        ttp=zones.provider.trusted(Zone.TTP),
        databank=zones.provider.trusted(Zone.DATABANK),
        out=zones.provider.path / "outbox",
        actor=ACTOR,
        progress=say,
    )
    sampler.enter("done")
    out.write_text(
        json.dumps(
            {
                "split_extract_seconds": round(result.seconds, 2),
                "rows_in": result.rows_in,
                "rows_accepted": result.accepted,
                "rows_quarantined": result.quarantined,
                "to_ttp": str(result.to_ttp),
                "to_databank": str(result.to_databank),
                "bundle_mib": round(
                    sum(f.stat().st_size for f in result.bundle_root.rglob("*") if f.is_file())
                    / 1024**2,
                    1,
                ),
                "phases": sampler.stop(),
            },
            indent=2,
        )
        + "\n"
    )


def child_receive(root: Path, split_json: Path, out: Path) -> None:
    sampler = RssSampler().start()
    sampler.enter("importing fjdp")
    from fjdp.keys import open_zone
    from fjdp.transfer.receive import receive
    from fjdp.types import Zone

    split = json.loads(split_json.read_text())
    seconds = {}
    for kind, bundle in ((Zone.TTP, split["to_ttp"]), (Zone.DATABANK, split["to_databank"])):
        sampler.enter(f"receiving at {kind.value}")
        t = time.perf_counter()
        receive(Path(bundle), open_zone(root / kind.value, kind), actor=ACTOR)
        seconds[kind.value] = round(time.perf_counter() - t, 2)
    sampler.enter("done")
    out.write_text(
        json.dumps({"receive_seconds": seconds, "phases": sampler.stop()}, indent=2) + "\n"
    )


# ---------------------------------------------------------------------------------------
# The parent


def run_child(args: list[str], log: Path) -> dict[str, Any]:
    """Run this script as a child in a fresh process; return seconds, exit code, peak RSS."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    with log.open("ab") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        # wait4 gives the resource usage of exactly this child (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "seconds": round(seconds, 2),
        "peak_gib": round(usage.ru_maxrss / 1024**2, 3),
    }


def run_size(rows: int, console: Console) -> tuple[dict[str, Any], Path, Path]:
    scratch = WORK / f"split-{rows}"
    log = WORK / f"split-{rows}.log"
    shutil.rmtree(scratch, ignore_errors=True)
    log.unlink(missing_ok=True)
    scratch.mkdir(parents=True)
    extract = scratch / "admissions.parquet"
    zones = scratch / "zones"
    run: dict[str, Any] = {"rows": rows}

    console.print(f"[bold]{rows:,} rows[/bold]: building the extract → {extract.relative_to(ROOT)}")
    built = run_child(["extract", "--rows", str(rows), "--out", str(extract)], log)
    if built["returncode"] != 0:
        run["extract"] = built
        return run, scratch, log
    run["extract"] = {**built, "mib": round(extract.stat().st_size / 1024**2, 1)}
    console.print(f"  extract: {run['extract']['mib']:,.1f} MiB in {built['seconds']:.1f} s")

    console.print("  split (child process)")
    split_json = scratch / "split-result.json"
    run["split"] = run_child(
        ["split", "--extract", str(extract), "--root", str(zones), "--out", str(split_json)], log
    )
    if run["split"]["returncode"] != 0:
        return run, scratch, log
    run["split"].update(json.loads(split_json.read_text()))
    for key in ("to_ttp", "to_databank"):
        run["split"].pop(key)
    console.print(
        f"  split: {run['split']['seconds']:.1f} s, peak {run['split']['peak_gib']:.2f} GiB"
    )

    console.print("  receive (child process)")
    receive_json = scratch / "receive-result.json"
    run["receive"] = run_child(
        ["receive", "--root", str(zones), "--split", str(split_json), "--out", str(receive_json)],
        log,
    )
    if run["receive"]["returncode"] == 0:
        run["receive"].update(json.loads(receive_json.read_text()))
        console.print(
            f"  receive: {run['receive']['seconds']:.1f} s,"
            f" peak {run['receive']['peak_gib']:.2f} GiB"
        )
    return run, scratch, log


def ok(run: dict[str, Any], step: str) -> bool:
    return step in run and run[step]["returncode"] == 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sizes",
        nargs="*",
        type=int,
        default=list(DEFAULT_SIZES),
        help="extract sizes in rows (default: 1000000 10000000)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the extracts and zones")
    parser.add_argument("--child", choices=("extract", "split", "receive"), help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--extract", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--split", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "extract":
        make_extract(args.rows, args.out, args.out.parent / "duckdb-tmp")
        return 0
    if args.child == "split":
        child_split(args.extract, args.root, args.out)
        return 0
    if args.child == "receive":
        child_receive(args.root, args.split, args.out)
        return 0

    console = Console()
    if not console.is_terminal:  # piped to a log: do not squeeze the table to 80 columns
        console.width = 110
    WORK.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    failed = False
    for rows in args.sizes:
        run, scratch, log = run_size(rows, console)
        good = all(ok(run, step) for step in STEPS)
        if not good:
            failed = True
            step = next(step for step in STEPS if not ok(run, step))
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            console.print(
                f"[red]{step} failed with exit code {run[step]['returncode']}; log {log}:[/red]"
            )
            console.print("\n".join(tail), markup=False, highlight=False)
        runs.append(run)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
            if good:
                log.unlink(missing_ok=True)

    table = Table(title=f"fjdp split and receive ({SPEC})")
    columns = (
        "rows",
        "split s",
        "split rows/s",
        "split peak GiB",
        "receive s",
        "receive peak GiB",
        "quarantined",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for run in runs:
        s, r = run.get("split", {}), run.get("receive", {})
        split_ok, receive_ok = ok(run, "split"), ok(run, "receive")
        if split_ok:
            s["rows_per_second"] = round(run["rows"] / s["seconds"])
        table.add_row(
            f"{run['rows']:,}",
            f"{s['seconds']:.1f}" if split_ok else "failed",
            f"{s['rows_per_second']:,}" if split_ok else "-",
            f"{s['peak_gib']:.2f}" if split_ok else "-",
            f"{r['seconds']:.1f}" if receive_ok else ("failed" if r else "-"),
            f"{r['peak_gib']:.2f}" if receive_ok else "-",
            f"{s['rows_quarantined']:,}" if split_ok else "-",
        )
    console.print(table)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "split",
        "spec": SPEC,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": memory_total_gib(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"results written to {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
