"""Benchmark the disclosure checks against ACRO on the same tables: time, peak memory,
and whether the two agree on the verdict.

Two tables, each checked by fjdp and by ACRO (``acro``, the UK's researcher-side
checker) in its own child process, so that every peak is that tool's alone:

- ``crosstab``: a local authority x year frequency table with margins over N rows
  (default 10,000,000), with one rare local authority so that some cells are small.
  fjdp checks it, suppresses (primary and secondary) and rounds to base 5; ACRO
  checks it with suppression on. fjdp is also timed with a ``unit`` column (distinct
  children counted per cell), which ACRO does not offer.
- ``secondary``: a 50 x 20 table with margins in which about 10% of cells are small.
  fjdp's secondary suppression is timed on the table of counts alone, and then end to
  end from microdata like ACRO.

Each child builds its data (not timed), then times only the check. The child's wall
time and peak resident memory (``ru_maxrss`` of that child, from ``os.wait4``) are
reported alongside the check's own seconds. Targets (issue 9): the 10M-row crosstab
checked and mitigated in under 3 s; secondary suppression of a 50 x 20 table in under
1 s.

Usage: python benchmarks/bench_disclosure.py [--rows N] [--steps STEP ...]
Writes benchmarks/results/disclosure.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import ROOT, run_child, write_results

WORK = ROOT / "benchmarks" / "work" / "disclosure"
RESULTS = ROOT / "benchmarks" / "results" / "disclosure.json"
DEFAULT_ROWS = 10_000_000
STEPS = ("crosstab-fjdp", "crosstab-fjdp-unit", "crosstab-acro", "secondary-fjdp", "secondary-acro")


def _crosstab_data(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(9)
    las = np.array([f"W060000{i:02d}" for i in range(22)] + ["W06000099"], dtype=object)
    weights = np.r_[np.full(22, 1.0), 60 / rows * 22]
    la = las[rng.choice(len(las), rows, p=weights / weights.sum())]
    return pd.DataFrame(
        {
            "local_authority": la,
            "year": rng.integers(2011, 2024, rows),
            "child": rng.integers(0, rows // 3, rows),
        }
    )


def _secondary_data() -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    counts = rng.integers(10, 80, (50, 20))
    small = rng.random((50, 20)) < 0.10
    counts[small] = rng.integers(0, 10, small.sum())
    a, b = np.nonzero(counts)
    reps = counts[a, b]
    return counts, pd.DataFrame({"row": np.repeat(a, reps), "col": np.repeat(b, reps)})


def _acro(suppress: bool) -> Any:
    import logging
    import os
    import warnings

    warnings.simplefilter("ignore")
    os.chdir(WORK)  # ACRO writes its own artefacts in the working folder
    from acro import ACRO

    logging.disable(logging.INFO)
    return ACRO(suppress=suppress)


def child(step: str, rows: int, out: Path) -> None:
    result: dict[str, Any] = {"step": step}
    if step.startswith("crosstab"):
        df = _crosstab_data(rows)
    else:
        counts, df = _secondary_data()
    if step in ("crosstab-fjdp", "crosstab-fjdp-unit", "secondary-fjdp"):
        from fjdp.disclosure import Session

        session = Session(mitigate="suppress_round")
        start = time.perf_counter()
        if step == "secondary-fjdp":
            checked = session.crosstab(df, ["row"], ["col"], margins=True, command="bench")
        else:
            unit = "child" if step.endswith("unit") else None
            checked = session.crosstab(
                df, ["local_authority"], ["year"], margins=True, unit=unit, command="bench"
            )
        result["check_seconds"] = round(time.perf_counter() - start, 3)
        result["status"] = checked.status.value
        result["status_before"] = checked.status_before.value
        result["suppressed"] = sum(v is None for row in checked.table.data for v in row)
        if step == "secondary-fjdp":
            import numpy as np

            from fjdp.disclosure.suppression import exposed_cells, secondary_suppression

            grid = np.zeros((51, 21))
            grid[:50, :20] = counts
            grid[:50, 20] = counts.sum(1)
            grid[50, :20] = counts.sum(0)
            grid[50, 20] = counts.sum()
            start = time.perf_counter()
            mask = secondary_suppression(grid, grid < 10, minimum=10)
            result["suppression_only_seconds"] = round(time.perf_counter() - start, 3)
            result["exposed_after"] = len(exposed_cells(mask))
    else:
        acro = _acro(suppress=True)
        start = time.perf_counter()
        if step == "secondary-acro":
            table = acro.crosstab(df["row"], df["col"], margins=True)
        else:
            table = acro.crosstab(df["local_authority"], df["year"], margins=True)
        result["check_seconds"] = round(time.perf_counter() - start, 3)
        record = acro.results.get_index(-1)
        result["status"] = record.status
        result["suppressed"] = int(table.isna().sum().sum())
        # ACRO's verdict before mitigation: its check statuses, suppression aside.
        result["status_before"] = "fail" if "fail" in record.summary else record.status
    out.write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--child", nargs=3, metavar=("STEP", "ROWS", "OUT"))
    parser.add_argument(
        "--steps", nargs="+", default=STEPS, choices=STEPS, help="run only these steps"
    )
    args = parser.parse_args()
    if args.child:
        step, rows, out = args.child
        child(step, int(rows), Path(out))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console()
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench.log"
    log.write_text("")
    steps = list(args.steps)
    runs: list[dict[str, Any]] = []
    for step in steps:
        out = WORK / f"{step}.json"
        out.unlink(missing_ok=True)
        measured = run_child(Path(__file__), [step, str(args.rows), str(out)], log)
        record = json.loads(out.read_text()) if out.exists() else {"step": step}
        runs.append({**record, **{f"child_{k}": v for k, v in measured.items()}})
        console.print(f"{step}: {runs[-1]}")

    by = {r["step"]: r for r in runs}
    agree = {
        name: by[f"{name}-fjdp"].get("status") == by[f"{name}-acro"].get("status")
        for name in ("crosstab", "secondary")
        if f"{name}-fjdp" in by and f"{name}-acro" in by
    }
    table = Table(title=f"Disclosure checks: fjdp and ACRO ({args.rows:,} rows)")
    for col in ("step", "check s", "child s", "peak GiB", "before", "after", "suppressed"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r["step"],
            str(r.get("check_seconds")),
            str(r.get("child_seconds")),
            str(r.get("child_peak_gib")),
            str(r.get("status_before")),
            str(r.get("status")),
            str(r.get("suppressed")),
        )
    console.print(table)
    if "secondary-fjdp" in by:
        console.print(
            f"secondary suppression alone (50 x 20): "
            f"{by['secondary-fjdp'].get('suppression_only_seconds')} s, "
            f"cells exposed after: {by['secondary-fjdp'].get('exposed_after')}"
        )
    console.print(f"verdicts agree: {agree}")
    if set(steps) != set(STEPS):
        console.print(f"only some steps ran: {RESULTS} left as it was")
        return
    write_results(RESULTS, runs, rows=args.rows, verdicts_agree=agree)
    console.print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
