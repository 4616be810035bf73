"""Benchmark the TTP's linkage: time, peak memory and accuracy against truth.

For each spine size (default 300,000 and 3,200,000 people) a world is built (seed 1),
the spine is written in the evaluation route's flat form, and the records are the
world's family-court party records topped up with birth-registration mothers to
``records`` rows (about 10% of the spine size: 300,000 at Wales scale). Then, each in
its own child process so peak memory is its own:

- ``fjdp ttp link-files`` with the cascade (the default), and
- the same with ``--splink-only`` (no deterministic steps), for comparison;

both against the register form of the spine (names and addresses over time). Accuracy
is measured against truth/ here and only here: precision = correct links / links;
recall = correct links / records whose person is on the spine.

Usage: python benchmarks/bench_linkage.py [PEOPLE ...] [--keep] [--engine duckdb|spark]
[--cascade-only]. Writes benchmarks/results/linkage.json (linkage-spark.json for Spark).
Peak memory is the child's own (``peak GiB``) and, on Linux, that of the child with its
descendants sampled every 0.5 s (``tree GiB``: Spark's JVM is a grandchild).
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

import duckdb
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import child_env

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results" / "linkage.json"
DEFAULT_SIZES = (300_000, 3_200_000)
LINKED = ("DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT")


def tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (the Spark engine's JVM is a
    grandchild), from /proc."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(fields[1])
        rss[int(d.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    keep, todo = set(), [root]
    while todo:
        pid = todo.pop()
        keep.add(pid)
        todo.extend(p for p, pp in parent.items() if pp == pid and p not in keep)
    return sum(rss.get(p, 0) for p in keep)


def run(cmd: list[str], log: Path) -> dict[str, Any]:
    with log.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        peak_tree = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if sys.platform == "linux":
                peak_tree = max(peak_tree, tree_rss(proc.pid))
            time.sleep(0.5)
        seconds = time.perf_counter() - start
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "seconds": round(seconds, 1),
        "peak_gib": round(usage.ru_maxrss / 1024**2, 2),
        # the child and its descendants together, sampled every 0.5 s (Linux only)
        "peak_tree_gib": round(peak_tree / 1024**3, 2),
    }


def prepare(world: Path, folder: Path, n_records: int) -> int:
    """Records (court parties + mothers from births) as the evaluation route's CSV-like table."""
    con = duckdb.connect()
    court = f"""select person_ref as record_id, nhs_number, concat_ws(' ', forename, middle_names) as forenames,
                surname, cast(date_of_birth as varchar) as dob, sex, postcode
                from (select * from read_parquet('{world}/court_public/persons.parquet') union all
                      select * from read_parquet('{world}/court_private/persons.parquet'))
                qualify row_number() over (partition by person_ref) = 1"""
    births = f"""select birth_id as record_id, mother_nhs_number, mother_forename, mother_surname,
                 cast(mother_date_of_birth as varchar), 'F', mother_postcode
                 from read_parquet('{world}/births/births.parquet') order by hash(birth_id)"""
    con.execute(f"create table court as {court}")
    n_court = con.execute("select count(*) from court").fetchall()[0][0]
    con.execute(
        f"copy (select * from court union all ({births} limit {max(n_records - n_court, 0)}))"
        f" to '{folder / 'records.parquet'}' (format parquet)"
    )
    truth = f"""select person_ref as record_id, cast(person_id as varchar) as person_id, on_spine, 'court' as kind
                from read_parquet('{world}/truth/court_public_persons.parquet') union all
                select person_ref, cast(person_id as varchar), on_spine, 'court'
                from read_parquet('{world}/truth/court_private_persons.parquet') union all
                select record_id, cast(person_id as varchar), true, 'mother'
                from read_parquet('{world}/truth/health_records.parquet') where source = 'births_mother'"""
    con.execute(f"copy ({truth}) to '{folder / 'truth.parquet'}' (format parquet)")
    n = con.execute(
        f"select count(*) from read_parquet('{folder / 'records.parquet'}')"
    ).fetchall()[0][0]
    con.close()
    return int(n)


def accuracy(folder: Path, links: Path) -> dict[str, Any]:
    con = duckdb.connect()
    out: dict[str, Any] = {}
    for label, filt in (("all", "true"), ("court", "t.kind = 'court'")):
        p, r, n_link, n_spine, rate = con.execute(
            f"""with t as (select * from read_parquet('{folder / "truth.parquet"}')
                           qualify row_number() over (partition by record_id) = 1),
                 l as (select * from read_parquet('{links}'))
            select avg((l.person_id = t.person_id)::int) filter (where l.link_status in {LINKED}),
                   avg((l.link_status in {LINKED} and l.person_id = t.person_id)::int) filter (where t.on_spine),
                   count(*) filter (where l.link_status in {LINKED}),
                   count(*) filter (where t.on_spine),
                   avg((l.link_status in {LINKED})::int)
            from l join t using (record_id) where {filt}"""
        ).fetchall()[0]
        out[label] = {
            "precision": round(p, 5),
            "recall": round(r, 5),
            "links": n_link,
            "records_on_spine": n_spine,
            "linkage_rate": round(rate, 4),
        }
    con.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument(
        "--cascade-only", action="store_true", help="skip the --splink-only comparison run"
    )
    args = parser.parse_args(argv)
    modes = [("cascade", [])] + ([] if args.cascade_only else [("splink_only", ["--splink-only"])])
    results = (
        RESULTS if args.engine == "duckdb" else RESULTS.with_name(f"linkage-{args.engine}.json")
    )
    console = Console()
    WORK.mkdir(parents=True, exist_ok=True)
    runs = []
    for people in args.sizes:
        folder = WORK / f"linkage-{people}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        world = folder / "world"
        console.print(f"[bold]world of {people:,} people[/bold]")
        built = run(
            [
                sys.executable,
                "-m",
                "fjdp",
                "synth",
                "--people",
                str(people),
                "--seed",
                "1",
                "--out",
                str(world),
                "--no-progress",
            ],
            folder / "synth.log",
        )
        if built["returncode"] != 0:
            console.print(f"[red]world build failed; see {folder / 'synth.log'}[/red]")
            return 1
        n = prepare(world, folder, people // 10)
        entry: dict[str, Any] = {"people": people, "records": n, "world_seconds": built["seconds"]}
        for mode, extra in modes:
            console.print(f"  link-files ({mode}): {n:,} records against {people:,} people")
            out = folder / f"links-{mode}.parquet"
            res = run(
                [
                    sys.executable,
                    "-m",
                    "fjdp",
                    "ttp",
                    "link-files",
                    "--spine",
                    str(world / "spine"),
                    "--records",
                    str(folder / "records.parquet"),
                    "--out",
                    str(out),
                    "--engine",
                    args.engine,
                    *extra,
                ],
                folder / f"link-{mode}.log",
            )
            if res["returncode"] != 0:
                console.print(f"[red]failed; see {folder / f'link-{mode}.log'}[/red]")
                return 1
            entry[mode] = {**res, **accuracy(folder, out)}
        runs.append(entry)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    table = Table(title=f"fjdp ttp link-files --engine {args.engine} (register spine, seed 1)")
    for c in (
        "people",
        "records",
        "mode",
        "seconds",
        "peak GiB",
        "tree GiB",
        "precision",
        "recall",
        "court precision",
        "court recall",
        "linkage rate",
    ):
        table.add_column(c, justify="right")
    for e in runs:
        for mode, _ in modes:
            m = e[mode]
            table.add_row(
                f"{e['people']:,}",
                f"{e['records']:,}",
                mode,
                f"{m['seconds']}",
                f"{m['peak_gib']}",
                f"{m['peak_tree_gib']}",
                f"{m['all']['precision']:.4f}",
                f"{m['all']['recall']:.4f}",
                f"{m['court']['precision']:.4f}",
                f"{m['court']['recall']:.4f}",
                f"{m['all']['linkage_rate']:.3f}",
            )
    console.print(table)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(
        json.dumps(
            {
                "benchmark": "linkage",
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "engine": args.engine,
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"results written to {results.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
