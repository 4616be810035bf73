"""The evaluation route: link a flat file of records to a flat spine, outside any zone.

``fjdp ttp link-files --spine SPINE --records RECORDS --out OUT`` runs the same cascade
and Splink model as ``fjdp ttp link``. SPINE has person_id, nhs_number, forenames,
surname, dob, sex, postcode; RECORDS has record_id and the same identifiers; any
identifier may be empty; dob is ISO YYYY-MM-DD; sex M, F or U. OUT (Parquet, or CSV by
extension) gets one row per record: record_id, person_id (empty when not linked),
link_status, link_score.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fjdp.errors import OutputError
from fjdp.linkage.cascade import run_cascade
from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.session import connect, load_records_table, load_spine_table
from fjdp.linkage.spine import build_spine, read_any, require_columns
from fjdp.sql import lit

RECORD_COLUMNS = ("record_id", "nhs_number", "forenames", "surname", "dob", "sex", "postcode")


@dataclass(frozen=True)
class LinkFilesResult:
    records: int
    counts: dict[str, int]
    seconds: float
    out: Path


def link_files(
    spine: Path,
    records: Path,
    out: Path,
    cfg: LinkageConfig,
    *,
    say: Callable[[str], None] = lambda _m: None,
    model_out: Path | None = None,
) -> LinkFilesResult:
    """Link ``records`` to ``spine`` and write ``out``; ``model_out``, if given, receives
    the trained Splink model (as ``fjdp ttp link`` keeps it)."""
    t0 = time.perf_counter()
    report = say

    def timed(message: str) -> None:
        """Every step with the time since the start."""
        report(f"[{time.perf_counter() - t0:6.1f} s] {message}")

    if out.suffix.lower() not in (".parquet", ".csv"):
        raise OutputError("--out must end in .parquet or .csv", where=str(out))
    work = Path(tempfile.mkdtemp(prefix="fjdp-link-"))
    try:
        con = connect(cfg, work / "duckdb")
        timed("standardising the spine")
        build_spine(con, spine, work / "spine.parquet")
        load_spine_table(con, work / "spine.parquet")
        rel = read_any(records)
        require_columns(con, rel, RECORD_COLUMNS, records)
        timed("standardising the records")
        n = load_records_table(
            con,
            rel,
            uid="record_id",
            nhs="nhs_number",
            forenames="forenames",
            surname="surname",
            dob="dob",
            sex="sex",
            postcode="postcode",
        )
        result = run_cascade(con, cfg, model_out=model_out, say=timed)
        fmt = "parquet" if out.suffix.lower() == ".parquet" else "csv, header"
        tmp = out.with_name(f".{out.name}.partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"""copy (select r.uid as record_id, l.pid as person_id, l.status as link_status,
                             round(l.score, 6) as link_score
                      from rec r join links l using (uid) order by record_id)
                to {lit(str(tmp))} (format {fmt})"""
        )
        tmp.replace(out)
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return LinkFilesResult(
        records=n, counts=result.counts, seconds=time.perf_counter() - t0, out=out
    )
