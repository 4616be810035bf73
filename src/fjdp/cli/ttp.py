"""``fjdp ttp``: receive File 1s, load the spine, link, review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.cli._zone import BundleArg, ZoneDir, actor, receive_bundle
from fjdp.errors import UsageError
from fjdp.keys import open_zone
from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.evaluate import link_files
from fjdp.linkage.report import refresh_review
from fjdp.linkage.review import (
    LABELS,
    Decision,
    Item,
    pending,
    record_decision,
)
from fjdp.linkage.run import latest_file1, link_dataset, load_spine, lsoa_reference_path
from fjdp.types import Zone

ttp_app = typer.Typer(
    help="The trusted third party: receive File 1s, load the spine, link, send File 3s.",
    no_args_is_help=True,
)


def review_table(item: Item) -> Table:
    """The record and the spine person side by side, with what agrees."""
    if item.pid is None:
        title = f"{item.status}: no spine candidate found"
    elif item.score is None:
        title = f"{item.status}: candidate found by identifier search (not scored)"
    else:
        title = f"{item.status} (match probability {item.score:.3f})"
    t = Table(title=title)
    for col in ("field", "record", "spine person", ""):
        t.add_column(col)
    marks = {
        "agrees": "[green]agrees[/green]",
        "differs": "[red]differs[/red]",
        "missing": "[dim]missing[/dim]",
    }
    for f, how in item.agreement().items():
        t.add_row(
            LABELS[f], str(item.record.get(f) or ""), str(item.person.get(f) or ""), marks[how]
        )

    return t


def read_decisions(path: Path) -> dict[str, Decision]:
    import csv

    from fjdp.errors import InputError

    out: dict[str, Decision] = {}
    try:
        with path.open(newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=1):
                try:
                    out[row["uid"]] = Decision(row["decision"].strip().lower())
                except (KeyError, ValueError):
                    raise InputError(
                        "each row needs uid and decision (match or non-match)",
                        where=f"{path}, row {n}",
                    ) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", where=str(path)) from None
    return out


@ttp_app.command("receive")
def ttp_receive(bundle: BundleArg, zone: ZoneDir) -> None:
    """Verify and store a File 1 bundle sent by a provider."""
    receive_bundle(bundle, zone, Zone.TTP)


EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where Splink runs: duckdb (default) or spark (local mode, same model; needs"
        " Java 17 and pyspark, fjdp's spark extra).",
    ),
]
AcceptOpt = Annotated[
    float, typer.Option("--accept", help="PROB_ACCEPT at or above this match probability.")
]
PossibleOpt = Annotated[float, typer.Option("--possible", help="PROB_POSSIBLE at or above this.")]
SplinkOnlyOpt = Annotated[
    bool, typer.Option("--splink-only", help="Skip the deterministic steps (for comparison).")
]


def _config(engine: str, accept: float, possible: float, splink_only: bool) -> LinkageConfig:
    if engine not in ("duckdb", "spark"):
        raise UsageError(f"--engine must be duckdb or spark, not {engine!r}")
    if engine == "spark":
        # Before any work: a missing pyspark or Java is a one-line error, not a late failure.
        from fjdp.linkage.spark_session import check_available

        check_available()
    return LinkageConfig(
        accept=accept,
        possible=possible,
        engine="spark" if engine == "spark" else "duckdb",
        deterministic=not splink_only,
    )


@ttp_app.command("load-spine")
def ttp_load_spine(
    source: Annotated[
        Path,
        typer.Argument(
            help="The register export (a folder with people.parquet and addresses.parquet)"
            " or a flat spine file."
        ),
    ],
    zone: ZoneDir,
    deprivation: Annotated[
        Path | None,
        typer.Option(
            "--deprivation",
            help="The public LSOA lookup (CSV or Parquet: lsoa_code, local_authority,"
            " deprivation_quintile) for the report's area subgroups. Default: a register"
            " folder's ../deprivation/lsoa.parquet when it exists.",
        ),
    ] = None,
) -> None:
    """Load the population spine (the demographic register) into the TTP
    zone, with the LSOA lookup the linkage-quality report uses for local
    authority and deprivation quintile."""
    keys = open_zone(zone, Zone.TTP)
    loaded = load_spine(keys, source, actor=actor(), deprivation=deprivation)
    console.print(f"Loaded a spine of {loaded.people:,} people into {keys.path / 'spine'}")
    if loaded.lsoas is not None:
        console.print(f"Loaded an LSOA lookup of {loaded.lsoas:,} areas")
    elif lsoa_reference_path(keys).exists():
        console.print("Kept the LSOA lookup loaded earlier")
    else:
        console.print(
            "[dim]No LSOA lookup given: the report shows no local authority or deprivation"
            " subgroups (see --deprivation)[/dim]"
        )


@ttp_app.command("link")
def ttp_link(
    dataset: Annotated[
        str, typer.Option("--dataset", help="The dataset whose latest File 1 to link.")
    ],
    zone: ZoneDir,
    engine: EngineOpt = "duckdb",
    accept: AcceptOpt = 0.90,
    possible: PossibleOpt = 0.50,
    splink_only: SplinkOnlyOpt = False,
) -> None:
    """Link the latest File 1 of a dataset to the spine; seal File 3 to the databank."""
    keys = open_zone(zone, Zone.TTP)
    run = link_dataset(
        keys,
        dataset,
        databank=keys.trusted(Zone.DATABANK),
        actor=actor(),
        cfg=_config(engine, accept, possible, splink_only),
        say=lambda m: console.print(f"[dim]{m}[/dim]"),
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(run.counts.items()))
    console.print(f"Linked {dataset} extract {run.extract_id}: {counts} ({run.seconds:.1f} s)")
    console.print(f"Report: {run.run_dir / 'report.html'}")
    console.print(f"File 3 for the databank: {run.file3_bundle}")


@ttp_app.command("link-files")
def ttp_link_files(
    spine: Annotated[
        Path,
        typer.Option(
            "--spine",
            help="CSV or Parquet: person_id, nhs_number, forenames, surname, dob, sex, postcode.",
        ),
    ],
    records: Annotated[
        Path,
        typer.Option(
            "--records",
            help="CSV or Parquet: record_id, nhs_number, forenames, surname, dob, sex, postcode.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Output .parquet or .csv: record_id, person_id, link_status, link_score."
        ),
    ],
    engine: EngineOpt = "duckdb",
    accept: AcceptOpt = 0.90,
    possible: PossibleOpt = 0.50,
    splink_only: SplinkOnlyOpt = False,
) -> None:
    """The evaluation route: link flat records to a flat spine with the same cascade and model."""
    result = link_files(
        spine,
        records,
        out,
        _config(engine, accept, possible, splink_only),
        say=lambda m: console.print(f"[dim]{m}[/dim]"),
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items()))
    console.print(f"Linked {result.records:,} records in {result.seconds:.1f} s: {counts}")
    console.print(f"Wrote {result.out}")


@ttp_app.command("review")
def ttp_review(
    dataset: Annotated[
        str, typer.Option("--dataset", help="The dataset whose latest run to review.")
    ],
    zone: ZoneDir,
    decisions: Annotated[
        Path | None,
        typer.Option(
            "--decisions",
            help="CSV of uid,decision (match or non-match) instead of asking; an unmatched"
            " record with no candidate takes only non-match.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Review at most this many now.")] = 20,
) -> None:
    """Clerical review: see each queued record and its spine candidate side
    by side and decide match or non-match.

    The queue holds every PROB_POSSIBLE link, a random sample of PROB_ACCEPT
    links and a random sample of UNMATCHED records with their best candidate
    (if any), in that order. Decisions update the run's estimated false-match
    and missed-match rates (summary.json, report.json, report.html) at once,
    and change statuses in the next `fjdp ttp link` of the dataset."""
    keys = open_zone(zone, Zone.TTP)
    extract_id, _ = latest_file1(keys, dataset)
    run_dir = keys.path / "linkage" / extract_id
    items = pending(run_dir, keys.path)
    given: dict[str, Decision] = {}
    if decisions is not None:
        given = read_decisions(decisions)
        for item in items:
            if item.pid is None and given.get(item.uid) is Decision.MATCH:
                raise UsageError(
                    f"record {item.uid} has no spine candidate, so it cannot be a match",
                    where=str(decisions),
                    fix="decide non-match or leave it out",
                )
    done = 0
    for item in items:
        if done >= limit:
            break
        if decisions is not None:
            if item.uid not in given:
                continue
            choice: Decision | None = given[item.uid]
        else:
            console.print(review_table(item))
            if item.pid is None:
                prompt = "no spine candidate: [n]on-match, [s]kip, [q]uit"
            else:
                prompt = "[m]atch, [n]on-match, [s]kip, [q]uit"
            answer = typer.prompt(prompt, default="s").strip().lower()
            if answer.startswith("q"):
                break
            choice = {"m": Decision.MATCH, "n": Decision.NON_MATCH}.get(answer[:1])
            if choice is Decision.MATCH and item.pid is None:
                console.print("[yellow]No candidate to match: skipped[/yellow]")
                choice = None
        if choice is None:
            continue
        record_decision(keys.path, item, choice, reviewer=actor(), extract_id=extract_id)
        done += 1
    left = len(pending(run_dir, keys.path))
    est = refresh_review(run_dir, keys.path)
    fm, mm = est["false_match"], est["missed_match"]

    def pct(value: float | None, interval: list[float] | None) -> str:
        if value is None:
            return "not yet estimated"
        ci = f", 95% CI {interval[0]:.1%} to {interval[1]:.1%}" if interval else ""
        return f"{value:.1%}{ci}"

    console.print(f"Recorded {done} decisions; {left} left in the queue.")
    console.print(
        f"Estimated false-match rate among accepted links: "
        f"{pct(fm['false_match_rate'], fm['interval'])} ({fm['reviewed']} reviewed)."
    )
    console.print(
        f"Estimated missed-match rate: {pct(mm['missed_match_rate'], mm['interval'])} "
        f"({mm['reviewed']} unmatched records reviewed, {mm['matches']} judged matches)."
    )
    console.print(
        f"Report updated: {run_dir / 'report.html'}. Re-run `fjdp ttp link` to apply the decisions."
    )
