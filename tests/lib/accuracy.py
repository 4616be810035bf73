"""Linkage accuracy of court records against the synthetic world's truth (tests only)."""

from __future__ import annotations

from pathlib import Path

import duckdb

LINKED = ("DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT")


def court_accuracy(world: Path, links: Path) -> tuple[float, float, int]:
    """(precision, recall, records on the spine) of ``link-files`` output ``links`` for
    the world's court persons."""
    con = duckdb.connect()
    try:
        row = con.execute(
            f"""with t as (select * from read_parquet('{world}/truth/court_public_persons.parquet') union all
                           select * from read_parquet('{world}/truth/court_private_persons.parquet')),
                 l as (select * from read_parquet('{links}'))
            select avg((cast(t.person_id as varchar) = l.person_id)::int) filter (where l.link_status in {LINKED}),
                   avg((l.link_status in {LINKED} and cast(t.person_id as varchar) = l.person_id)::int) filter (where t.on_spine),
                   count(*) filter (where t.on_spine)
            from l join t on t.person_ref = l.record_id"""
        ).fetchall()[0]
    finally:
        con.close()
    return float(row[0]), float(row[1]), int(row[2])
