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

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.errors import InputError, RefusedError
from fjdp.keys import PublicKeyCard, ZoneKeys
from fjdp.linkage.cascade import run_cascade
from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.fields import alf_table
from fjdp.linkage.report import build_report
from fjdp.linkage.review import apply_decisions, false_match_estimate, write_queue
from fjdp.linkage.session import connect, load_records_table, load_spine_table
from fjdp.linkage.spine import build_spine
from fjdp.sql import lit
from fjdp.transfer import Manifest, write_bundle
from fjdp.transfer.receive import received_index

ROLE = "linkage operator"
FILE3_COLUMNS = (
    "system_id",
    "alf",
    "ralf",
    "link_status",
    "link_score",
    "week_of_birth",
    "sex",
    "lsoa",
)


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


def load_spine(
    zone: ZoneKeys, source: Path, *, actor: str, cfg: LinkageConfig | None = None
) -> int:
    """Standardise the register (or a flat spine file) into the TTP zone."""
    cfg = cfg or LinkageConfig()
    dest = spine_path(zone)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(".spine.partial.parquet")
    con = connect(cfg, zone.path / "work" / "spine")
    try:
        n = build_spine(con, source, tmp)
        if source.is_dir() and (source / "addresses.parquet").exists():
            # postcode -> LSOA, for the area of records that do not link
            con.execute(
                f"""copy (select upper(postcode) as pc, any_value(lsoa_code) as lsoa
                          from read_parquet({lit(str(source / "addresses.parquet"))}) group by 1)
                    to {lit(str(dest.with_name("postcode_lsoa.parquet")))} (format parquet)"""
            )
    finally:
        con.close()
        shutil.rmtree(zone.path / "work" / "spine", ignore_errors=True)
    tmp.replace(dest)
    zone_log(zone.path).append(
        AuditEvent(
            zone=zone.zone.value,
            actor=actor,
            role=ROLE,
            action=Action.LOAD,
            object="spine",
            details={"people": n, "source": source.name},
        )
    )
    return n


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
        changed = apply_decisions(con, zone.path)
        if changed:
            say(f"{dataset}: {changed} links changed by clerical review")
            result.counts = {
                k: int(v)
                for k, v in con.execute("select status, count(*) from links group by 1").fetchall()
            }
        queued = write_queue(con, run_dir, cfg.seed)
        pids = con.execute(
            "select distinct l.pid, s.address_id from links l join sp_full s on s.uid = l.pid where l.pid is not null"
        ).fetchall()
        con.register("alfs", alf_table(zone.hmac_key, [p for p, _ in pids], [a for _, a in pids]))
        lookup = spine_path(zone).with_name("postcode_lsoa.parquet")
        pc_lsoa = (
            f"read_parquet({lit(str(lookup))})"
            if lookup.exists()
            else "(select null::varchar pc, null::varchar lsoa)"
        )
        file3 = work / "file3.parquet"
        con.execute(
            f"""copy (
              select r.uid as system_id, a.alf, a.ralf, l.status as link_status,
                     round(l.score, 6) as link_score,
                     date_trunc('week', coalesce(s.dob, r.dob))::date as week_of_birth,
                     coalesce(s.sex, r.sex) as sex,
                     coalesce(s.lsoa, p.lsoa) as lsoa
              from rec r join links l using (uid)
              left join sp_full s on s.uid = l.pid
              left join alfs a on a.pid = l.pid
              left join {pc_lsoa} p on p.pc = r.pc
            ) to {lit(str(file3))} (format parquet, compression zstd)"""
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
        build_report(
            con,
            dataset=dataset,
            extract_id=extract_id,
            config=cfg.to_json(),
            versions=versions,
            out_dir=run_dir,
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
        "pairs_scored": result.pairs_scored,
        "review_queue": queued,
        "changed_by_review": changed,
        "false_match": false_match_estimate(run_dir, zone.path),
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    report_path = run_dir / "report.json"
    report = json.loads(report_path.read_text())
    report["clerical_review"] = summary["false_match"]  # a rate and counts of reviews, no persons
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    bundle = zone.path / "outbox" / extract_id / "file3"
    if bundle.exists():
        shutil.rmtree(bundle)
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
    )
    shutil.rmtree(work, ignore_errors=True)
    _audit(zone, actor, dataset, extract_id, result.counts, manifest)
    return LinkRun(dataset, extract_id, result.counts, run_dir, bundle, time.perf_counter() - t0)


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
            "recipient_zone": m.recipient_zone,
            "recipient_fingerprint": m.recipient_fingerprint,
            "rows": sum(f.rows for f in m.files),
        },
    )
