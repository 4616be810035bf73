"""Build a whole synthetic world, chunk by chunk, into one folder.

The world is written to a staging folder beside the target and renamed into place at
the end, so a failed or interrupted build never leaves a half-written world behind.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fjdp.errors import OutputError
from fjdp.synth import names as namelists
from fjdp.synth.config import WorldConfig
from fjdp.synth.court import CourtBuilder, CourtTables
from fjdp.synth.dates import MISSING, YEAR, day
from fjdp.synth.geography import build_geography
from fjdp.synth.health import HealthBuilder
from fjdp.synth.households import assign_paths, spine_addresses
from fjdp.synth.identifiers import nhs_numbers
from fjdp.synth.population import generate_chunk
from fjdp.synth.writer import TableWriter

COURT_TABLES = (
    "cases",
    "applications",
    "persons",
    "application_persons",
    "relationships",
    "legal_outputs",
    "hearings",
)
# Every source the world writes, as (folder/file) relative to the world root.
SOURCES: tuple[str, ...] = (
    "spine/people",
    "spine/addresses",
    "deprivation/lsoa",
    *(f"court_public/{t}" for t in COURT_TABLES),
    *(f"court_private/{t}" for t in COURT_TABLES),
    "births/births",
    "hospital/admissions",
    "emergency/attendances",
    "deaths/deaths",
)
TRUTH: tuple[str, ...] = (
    "truth/people",
    "truth/court_public_persons",
    "truth/court_private_persons",
    "truth/public_law_cases",
    "truth/health_records",
)


@dataclass(frozen=True)
class SourceSummary:
    name: str
    path: Path
    rows: int


@dataclass(frozen=True)
class WorldSummary:
    out: Path
    config: WorldConfig
    seconds: float
    sources: tuple[SourceSummary, ...] = field(default_factory=tuple)
    calibration_passed: int = 0
    calibration_total: int = 0


@contextmanager
def staged_output(out: Path, *, force: bool) -> Iterator[Path]:
    """Yield a staging folder that replaces ``out`` only if the body finishes."""
    out = out.resolve() if not out.is_absolute() else out
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} is a file, not a folder", fix="choose a folder path")
    if out.exists() and any(out.iterdir()) and not force:
        raise OutputError(
            f"output folder {out} already exists and is not empty",
            fix="choose another --out or add --force to replace it",
        )
    stage = out.parent / f".{out.name}.partial"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir()
    except OSError as exc:
        raise OutputError(
            f"cannot write to {out.parent}: {exc.strerror or exc}",
            fix="choose a folder you can write to with --out",
        ) from None
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old"
    if out.exists():
        out.rename(old)
    stage.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} people"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def _chunk_sizes(cfg: WorldConfig) -> list[int]:
    n = -(-cfg.people // cfg.chunk_people)
    base = cfg.people // n
    sizes = [base] * n
    for i in range(cfg.people - base * n):
        sizes[i] += 1
    return sizes


def build_world(
    config: WorldConfig, out: Path, *, force: bool = False, progress: bool = True
) -> WorldSummary:
    """Generate the world described by ``config`` into ``out``; see docs/synthetic-world.md."""
    t_start = time.perf_counter()
    with staged_output(out, force=force) as stage:
        rows = _generate(config, stage, progress)
        from fjdp.synth.calibration import write_calibration

        report = write_calibration(stage, config)
        manifest = {
            "config": config.to_json(),
            "sources": {k: v for k, v in rows.items() if not k.startswith("truth/")},
            "truth": {k: v for k, v in rows.items() if k.startswith("truth/")},
        }
        (stage / "config.json").write_text(json.dumps(config.to_json(), indent=2) + "\n")
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    final = out.resolve()
    sources = tuple(
        SourceSummary(name=k, path=final / f"{k}.parquet", rows=v) for k, v in rows.items()
    )
    return WorldSummary(
        out=final,
        config=config,
        seconds=time.perf_counter() - t_start,
        sources=sources,
        calibration_passed=sum(1 for t in report["targets"] if t["ok"]),
        calibration_total=len(report["targets"]),
    )


def _generate(cfg: WorldConfig, root: Path, show: bool) -> dict[str, int]:
    seed_seq = np.random.SeedSequence(cfg.seed)
    geo_seed, nhs_seed, court_seed, health_seed, *chunk_seeds = seed_seq.spawn(
        4 + len(_chunk_sizes(cfg))
    )
    geo = build_geography(np.random.default_rng(geo_seed), cfg.people, namelists.STREET_NAMES)
    start, end = day(cfg.start_year), day(cfg.end_year, 12, 31)
    n_years = cfg.end_year - cfg.start_year + 1
    # Off-spine people (about a twentieth) need NHS numbers too: allow a margin.
    pool = nhs_numbers(np.random.default_rng(nhs_seed), int(cfg.people * 1.25) + 20_000)
    pool_next = 0
    court = CourtBuilder(np.random.default_rng(court_seed), extract_day=end, start_day=start)
    health = HealthBuilder(np.random.default_rng(health_seed), start, end)
    writers = {name: TableWriter(root / f"{name}.parquet") for name in (*SOURCES, *TRUTH)}
    lsoa = geo.lsoas.copy()
    writers["deprivation/lsoa"].write(lsoa)
    gp_of_lsoa = np.array([f"W9{i // 2 + 1:04d}" for i in range(len(lsoa))], dtype=object)

    next_id = 1
    with _progress(show) as bar:
        task = bar.add_task("Building the synthetic world", total=cfg.people)
        for size, cseed in zip(_chunk_sizes(cfg), chunk_seeds, strict=True):
            rng = np.random.default_rng(cseed)
            chunk = generate_chunk(rng, cfg, size, next_id)
            people = chunk.people
            next_id = int(people["person_id"].max()) + 1
            n = len(people)
            if pool_next + n > len(pool):  # pragma: no cover - the margin is generous
                pool = np.concatenate([pool, nhs_numbers(rng, n)])
            people["nhs_number"] = pool[pool_next : pool_next + n]
            pool_next += n
            people["ethnicity"] = np.asarray(namelists.ETHNICITIES, dtype=object)[
                rng.choice(len(namelists.ETHNICITIES), n, p=np.asarray(namelists.ETHNICITY_SHARES))
            ]
            paths = assign_paths(rng, cfg, people, geo)
            addresses = spine_addresses(people, paths, geo)
            on = people["on_spine"].to_numpy()
            current = addresses.drop_duplicates("person_id", keep="last").set_index("person_id")
            lsoa_idx = pd.Series(np.arange(len(lsoa)), index=lsoa["lsoa_code"].to_numpy())
            cur_lsoa = current["lsoa_code"].reindex(people["person_id"].to_numpy()[on]).to_numpy()
            gp = gp_of_lsoa[lsoa_idx.reindex(cur_lsoa).fillna(0).astype(int).to_numpy()]
            sp = people[on]
            writers["spine/people"].write(
                pd.DataFrame(
                    {
                        "person_id": sp["person_id"].to_numpy(),
                        "nhs_number": sp["nhs_number"].to_numpy(),
                        "forename1": sp["forename1"].to_numpy(),
                        "forename2": sp["forename2"].to_numpy(),
                        "surname": sp["surname"].to_numpy(),
                        "birth_surname": sp["birth_surname"].to_numpy(),
                        "sex": sp["sex"].to_numpy(),
                        "date_of_birth": sp["dob"].to_numpy(),
                        "date_of_death": sp["dod"].to_numpy(),
                        "gp_practice": gp,
                    }
                )
            )
            writers["spine/addresses"].write(
                addresses.rename(columns={"from_day": "from_date", "to_day": "to_date"})
            )
            pub = court.public(people, chunk.proceedings, chunk.proceeding_children, paths, geo)
            prv = court.private(people, size, n_years, paths, geo, end)
            _write_court(writers, "court_public", pub)
            _write_court(writers, "court_private", prv)
            procs = chunk.proceedings
            writers["truth/public_law_cases"].write(
                pd.DataFrame(
                    {
                        "case_id": pub.cases["case_id"].to_numpy(),
                        "mother_id": procs["mother"].to_numpy(),
                        "sequence": procs["seq"].to_numpy(),
                        "newborn": procs["newborn"].to_numpy(),
                    }
                )
            )
            index_day, infant = _health_markers(people, pub)
            h = health.build(people, index_day, infant, paths, geo)
            writers["births/births"].write(h.births)
            writers["hospital/admissions"].write(h.admissions)
            writers["emergency/attendances"].write(h.emergency)
            writers["deaths/deaths"].write(h.deaths)
            writers["truth/health_records"].write(h.truth)
            writers["truth/people"].write(
                people[
                    [
                        "person_id",
                        "kind",
                        "sex",
                        "dob",
                        "dod",
                        "mother_id",
                        "father_id",
                        "on_spine",
                        "court_family",
                        "quintile_pref",
                        "twin",
                        "ethnicity",
                    ]
                ].rename(columns={"dob": "date_of_birth", "dod": "date_of_death"})
            )
            bar.advance(task, size)
    for w in writers.values():
        w.close()
    return {name: w.rows for name, w in writers.items()}


def _write_court(writers: dict[str, TableWriter], folder: str, t: CourtTables) -> None:
    if t.cases.empty:
        return
    for name in COURT_TABLES:
        df = getattr(t, name)
        if name == "hearings":
            df = df.rename(columns={"hearing_day": "hearing_date"})
        writers[f"{folder}/{name}"].write(df)
    writers[f"truth/{folder}_persons"].write(t.truth)


def _health_markers(people: pd.DataFrame, pub: CourtTables) -> tuple[np.ndarray, np.ndarray]:
    """First public-law day for each parent in proceedings, and infants in proceedings."""
    n = len(people)
    index_day = np.full(n, MISSING, dtype=np.int64)
    infant = np.zeros(n, dtype=bool)
    if pub.cases.empty:
        return index_day, infant
    ap = pub.application_persons.merge(pub.truth[["person_ref", "person_id"]], on="person_ref")
    ap = ap.merge(pub.applications[["application_id", "case_id"]], on="application_id")
    ap = ap.merge(pub.cases[["case_id", "issue_date"]], on="case_id")
    pos = pd.Series(np.arange(n), index=people["person_id"].to_numpy())
    parents = ap[ap["role"] == "respondent"].groupby("person_id")["issue_date"].min()
    index_day[pos[parents.index.to_numpy()].to_numpy()] = parents.to_numpy()
    subj = ap[ap["role"] == "subject"]
    rows = pos[subj["person_id"].to_numpy()].to_numpy()
    young = (subj["issue_date"].to_numpy() - people["dob"].to_numpy()[rows]) < YEAR
    infant[rows[young]] = True
    return index_day, infant
