"""The TTP's commands: load the spine, link a received File 1, seal File 3.

A run keeps, in the TTP zone only, the links (record → spine person, status, score),
the trained model, the settings and versions, and the linkage-quality report; File 3
(system_id, alf, ralf, link_status, link_score, week_of_birth, sex, lsoa) is sealed to
the databank.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.errors import InputError, IntegrityError, RefusedError
from fjdp.keys import PublicKeyCard, ZoneKeys
from fjdp.linkage.cascade import run_cascade
from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.fields import alf_table
from fjdp.linkage.report import build_report, review_estimates
from fjdp.linkage.review import apply_decisions, write_queue
from fjdp.linkage.session import connect, load_records_table, load_spine_table
from fjdp.linkage.spine import build_lsoa_reference, build_spine
from fjdp.specs import FILE3_COLUMNS
from fjdp.sql import lit
from fjdp.transfer import Manifest, write_bundle
from fjdp.transfer.receive import received_index

ROLE = "linkage operator"


@dataclass(frozen=True)
class LinkRun:
    dataset: str
    extract_id: str
    counts: dict[str, int]
    run_dir: Path
    file3_bundle: Path
    seconds: float


def spine_path(zone: ZoneKeys) -> Path:
    return zone.path / "spine" / "spine.parquet"


def lsoa_reference_path(zone: ZoneKeys) -> Path:
    return zone.path / "spine" / "lsoa_reference.parquet"


@dataclass(frozen=True)
class SpineLoad:
    people: int
    lsoas: int | None  # areas in the LSOA lookup loaded with it, if any


def default_deprivation(source: Path) -> Path | None:
    """A world's register folder sits beside its deprivation folder: use its lookup."""
    if source.is_dir():
        candidate = source.parent / "deprivation" / "lsoa.parquet"
        if candidate.exists():
            return candidate
    return None


def load_spine(
    zone: ZoneKeys,
    source: Path,
    *,
    actor: str,
    cfg: LinkageConfig | None = None,
    deprivation: Path | None = None,
) -> SpineLoad:
    """Standardise the register (or a flat spine file) into the TTP zone, with the public
    LSOA lookup (local authority and deprivation quintile) when one is given or lies
    beside a register folder (``../deprivation/lsoa.parquet``)."""
    cfg = cfg or LinkageConfig()
    deprivation = deprivation or default_deprivation(source)
    dest = spine_path(zone)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(".spine.partial.parquet")
    ref = lsoa_reference_path(zone)
    ref_tmp = ref.with_name(".lsoa_reference.partial.parquet")
    lsoas = None
    con = connect(cfg, zone.path / "work" / "spine")
    try:
        if deprivation is not None:
            lsoas = build_lsoa_reference(con, deprivation, ref_tmp)
        n = build_spine(con, source, tmp)
        if source.is_dir() and (source / "addresses.parquet").exists():
            # postcode -> LSOA, for the area of records that do not link
            con.execute(
                f"""copy (select upper(postcode) as pc, any_value(lsoa_code) as lsoa
                          from read_parquet({lit(str(source / "addresses.parquet"))}) group by 1)
                    to {lit(str(dest.with_name("postcode_lsoa.parquet")))} (format parquet)"""
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        ref_tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
        shutil.rmtree(zone.path / "work" / "spine", ignore_errors=True)
    tmp.replace(dest)
    if lsoas is not None:
        ref_tmp.replace(ref)
    details: dict[str, object] = {"people": n, "source": source.name}
    if deprivation is not None:
        details |= {"lsoa_reference": deprivation.name, "lsoas": lsoas}
    zone_log(zone.path).append(
        AuditEvent(
            zone=zone.zone.value,
            actor=actor,
            role=ROLE,
            action=Action.LOAD,
            object="spine",
            details=details,
        )
    )
    return SpineLoad(n, lsoas)


def load_areas(con: duckdb.DuckDBPyConnection, zone: ZoneKeys) -> None:
    """Table ``rec_area`` (uid, lsoa, la_name, deprivation_quintile) of every record in
    ``links``: the linked spine person's LSOA, else the LSOA of the record's postcode;
    the local authority and quintile from the LSOA lookup, when one was loaded."""
    lookup = spine_path(zone).with_name("postcode_lsoa.parquet")
    pc_lsoa = (
        f"read_parquet({lit(str(lookup))})"
        if lookup.exists()
        else "(select null::varchar pc, null::varchar lsoa)"
    )
    ref = lsoa_reference_path(zone)
    lsoa_ref = (
        f"read_parquet({lit(str(ref))})"
        if ref.exists()
        else "(select null::varchar lsoa, null::varchar la_name, null::integer deprivation_quintile)"
    )
    con.execute(
        f"""create or replace table rec_area as
        select a.uid, a.lsoa, x.la_name, x.deprivation_quintile
        from (select r.uid, coalesce(s.lsoa, p.lsoa) as lsoa
              from rec r join links l using (uid)
              left join sp_full s on s.uid = l.pid
              left join {pc_lsoa} p on p.pc = r.pc) a
        left join {lsoa_ref} x using (lsoa)"""
    )


def latest_file1(zone: ZoneKeys, dataset: str) -> tuple[str, Path]:
    entries = [
        (v.get("received", ""), k.split("/")[0])
        for k, v in received_index(zone).items()
        if v.get("dataset") == dataset and v.get("kind") == "file1"
    ]
    if not entries:
        raise InputError(
            f"no File 1 of {dataset!r} has been received",
            where=str(zone.path),
            fix="receive one with `fjdp ttp receive BUNDLE --zone DIR`",
        )
    extract_id = max(entries)[1]
    return extract_id, zone.path / "received" / dataset / extract_id / "file1" / "file1.parquet"


def link_dataset(
    zone: ZoneKeys,
    dataset: str,
    *,
    databank: PublicKeyCard,
    actor: str,
    cfg: LinkageConfig | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> LinkRun:
    t0 = time.perf_counter()
    cfg = cfg or LinkageConfig()
    if zone.hmac_key is None:  # pragma: no cover - TTP zones always have one
        raise RefusedError("this zone has no HMAC key", where=str(zone.path))
    if not spine_path(zone).exists():
        raise InputError(
            "no spine loaded", where=str(zone.path), fix="run `fjdp ttp load-spine` first"
        )
    extract_id, file1 = latest_file1(zone, dataset)
    run_dir = zone.path / "linkage" / extract_id
    work = zone.path / "work" / f"link-{extract_id}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    con = connect(cfg, work)
    try:
        load_spine_table(con, spine_path(zone))
        say(f"{dataset}: standardising {file1.name}")
        load_records_table(
            con,
            f"read_parquet({lit(str(file1))})",
            uid="system_id",
            nhs="nhs_number",
            forenames="concat_ws(' ', forename, middle_names)",
            surname="surname",
            dob="date_of_birth",
            sex="sex",
            postcode="postcode",
        )
        result = run_cascade(
            con, cfg, model_out=run_dir / "model.json", say=lambda m: say(f"{dataset}: {m}")
        )
        # The queue samples the cascade's own statuses, so the clerical estimates
        # describe the cascade; earlier decisions then change statuses.
        cascade_counts = dict(result.counts)
        queued = write_queue(con, run_dir, cfg.seed)
        changed = apply_decisions(con, zone.path)
        if changed:
            say(f"{dataset}: {changed} links changed by clerical review")
            result.counts = {
                k: int(v)
                for k, v in con.execute("select status, count(*) from links group by 1").fetchall()
            }
        pids = con.execute(
            "select distinct l.pid, s.address_id from links l join sp_full s on s.uid = l.pid where l.pid is not null"
        ).fetchall()
        con.register("alfs", alf_table(zone.hmac_key, [p for p, _ in pids], [a for _, a in pids]))
        load_areas(con, zone)
        con.execute(
            f"""create or replace table rec_src as
            select cast(system_id as varchar) as uid, source_table, person
            from read_parquet({lit(str(file1))})"""
        )
        file3 = work / "file3.parquet"
        con.execute(
            f"""copy (
              select r.uid as system_id, a.alf, a.ralf, l.status as link_status,
                     round(l.score, 6) as link_score,
                     date_trunc('week', coalesce(s.dob, r.dob))::date as week_of_birth,
                     coalesce(s.sex, r.sex) as sex,
                     ar.lsoa
              from rec r join links l using (uid)
              left join sp_full s on s.uid = l.pid
              left join alfs a on a.pid = l.pid
              left join rec_area ar using (uid)
            ) to {lit(str(file3))} (format parquet, compression zstd)"""
        )
        written = tuple(pq.ParquetFile(file3).schema_arrow.names)
        if written != FILE3_COLUMNS:  # pragma: no cover - the query above is the contract
            raise IntegrityError(f"File 3 would have columns {written}, not {FILE3_COLUMNS}")
        con.execute(
            f"create or replace view file3 as select * from read_parquet({lit(str(file3))})"
        )
        con.execute(
            f"copy (select * from links) to {lit(str(run_dir / 'links.parquet'))} (format parquet)"
        )
        versions = {
            "fjdp": version("fjdp"),
            "splink": version("splink"),
            "duckdb": version("duckdb"),
            **({"pyspark": version("pyspark")} if cfg.engine == "spark" else {}),
        }
        review = review_estimates(run_dir, zone.path, cascade_counts)
        report = build_report(
            con,
            dataset=dataset,
            extract_id=extract_id,
            config=cfg.to_json(),
            versions=versions,
            out_dir=run_dir,
            spine_people=int(con.execute("select count(*) from sp_full").fetchall()[0][0]),
            review=review,
        )
        if report["implausible"]["system_ids_with_several_alfs"]["found"]:
            raise RefusedError(  # pragma: no cover - one row per record by construction
                "a system_id would carry several alfs; File 3 not sent",
                where=str(run_dir / "report.json"),
                fix="report this as a bug",
            )
        n = int(con.execute("select count(*) from links").fetchall()[0][0])
    finally:
        con.close()
    (run_dir / "config.json").write_text(
        json.dumps({"config": cfg.to_json(), "versions": versions}, indent=2) + "\n"
    )
    summary = {
        "dataset": dataset,
        "extract_id": extract_id,
        "records": n,
        "by_status": result.counts,
        "by_status_cascade": cascade_counts,
        "pairs_scored": result.pairs_scored,
        "review_queue": queued,
        "changed_by_review": changed,
        **review,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    # A run after the first (clerical decisions applied, new thresholds) sends its File 3
    # as the next revision, which the databank loads as a new version; a revision is
    # never overwritten once sealed.
    revision = _next_revision(zone.path / "outbox" / extract_id)
    bundle = (
        zone.path / "outbox" / extract_id / ("file3" if revision == 1 else f"file3.r{revision}")
    )
    counts = {
        "rows_in": n,
        "rows_accepted": n,
        "rows_quarantined": 0,
        **{f"status.{k}": v for k, v in result.counts.items()},
    }
    manifest = write_bundle(
        bundle,
        dataset=dataset,
        extract_id=extract_id,
        spec_version="1",
        kind="file3",
        files=[("file3", file3, n)],
        counts=counts,
        sender=zone,
        recipient=databank,
        revision=revision,
    )
    shutil.rmtree(work, ignore_errors=True)
    _audit(zone, actor, dataset, extract_id, result.counts, manifest)
    return LinkRun(dataset, extract_id, result.counts, run_dir, bundle, time.perf_counter() - t0)


def _next_revision(outbox: Path) -> int:
    sent = [1 for _ in outbox.glob("file3")] + [
        int(p.name.split(".r")[1])
        for p in outbox.glob("file3.r*")
        if p.name.split(".r")[1].isdigit()
    ]
    return max(sent, default=0) + 1


def _audit(
    zone: ZoneKeys, actor: str, dataset: str, extract_id: str, counts: dict[str, int], m: Manifest
) -> None:
    log = zone_log(zone.path)

    def event(action: Action, details: dict[str, object]) -> None:
        log.append(
            AuditEvent(
                zone=zone.zone.value,
                actor=actor,
                role=ROLE,
                action=action,
                object=extract_id,
                details=details,
            )
        )

    event(Action.LINK, {"dataset": dataset, **counts})
    event(Action.KEY_USE, {"key": "hmac", "purpose": "alf and ralf"})
    event(
        Action.SEND,
        {
            "kind": "file3",
            "revision": m.revision,
            "recipient_zone": m.recipient_zone,
            "recipient_fingerprint": m.recipient_fingerprint,
            "rows": sum(f.rows for f in m.files),
        },
    )
