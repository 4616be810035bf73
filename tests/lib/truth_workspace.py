"""A workspace built from the synthetic world's truth, for checking the measures.

It has the same schemas, tables and columns as a provisioned workspace, but every record
carries its true person (``alf_pe`` = the world's person id), its true week of birth and
sex, and its area as the TTP derives it: the person's current address on the spine,
else the record's own postcode. A person on the population spine is linked
("DET_STRONG_ID"), a person off it is not ("UNMATCHED"): the links a perfect linkage
would make. Running the same
measures on it and on the real workspace shows what the pipeline (split, linkage, load,
provisioning) changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import ibis

from fjdp.analysis.measures._workspace import Views, backend_views


def _court(con: duckdb.DuckDBPyConnection, world: Path, law: str) -> None:
    src = lambda t: f"read_parquet('{world}/{law}/{t}.parquet')"  # noqa: E731
    truth = f"read_parquet('{world}/truth/{law}_persons.parquet')"
    con.execute(f"create schema {law}")
    con.execute(
        f"""create table {law}.cases as select case_id as system_id, law_type, local_authority,
            dfj_area, circuit, issue_date, close_date from {src("cases")}"""
    )
    con.execute(
        f"""create table {law}.applications as select application_id as system_id,
            case_id as case_system_id, application_type, issue_date from {src("applications")}"""
    )
    con.execute(
        f"""create table {law}.application_persons as select application_id as
            application_system_id, person_ref as person_system_id, role, party
            from {src("application_persons")}"""
    )
    con.execute(
        f"""create table {law}.relationships as select person_ref as person_system_id,
            related_person_ref as related_person_system_id, relationship, parental_responsibility
            from {src("relationships")}"""
    )
    con.execute(
        f"""create table {law}.legal_outputs as select application_id as application_system_id,
            person_ref as person_system_id, order_type, date_ordered from {src("legal_outputs")}"""
    )
    con.execute(
        f"""create table {law}.persons as
            select p.person_ref as system_id,
                   case when t.on_spine then 'p' || t.person_id end as alf_pe,
                   null::varchar as ralf_pe, any_value(p.ethnicity) as ethnicity,
                   any_value(p.disability) as disability,
                   case when t.on_spine then 'DET_STRONG_ID' else 'UNMATCHED' end
                       as link_status,
                   1.0 as link_score,
                   date_trunc('week', any_value(coalesce(w.date_of_birth, p.date_of_birth)))::date
                       as week_of_birth,
                   any_value(coalesce(w.sex, p.sex)) as sex,
                   any_value(coalesce(cur.lsoa, pc.lsoa)) as lsoa
            from {src("persons")} p
            left join {truth} t using (person_ref)
            left join people w on w.person_id = t.person_id
            left join current_lsoa cur on cur.person_id = t.person_id and t.on_spine
            left join postcode_lsoa pc on pc.pc = upper(p.postcode)
            group by all"""
    )


def _events(con: duckdb.DuckDBPyConnection, world: Path) -> None:
    health = f"read_parquet('{world}/truth/health_records.parquet')"
    linked = """'p' || h.person_id as alf_pe, null::varchar as ralf_pe"""
    person = """'DET_STRONG_ID' as link_status, 1.0 as link_score,
        date_trunc('week', w.date_of_birth)::date as week_of_birth, w.sex as sex,
        coalesce(cur.lsoa, pc.lsoa) as lsoa"""
    con.execute("create schema hospital_admissions")
    con.execute(
        f"""create table hospital_admissions.admissions as select {linked}, a.admission_date,
            a.discharge_date, a.admission_method, a.diag_1, a.diag_2, a.diag_3, {person}
            from read_parquet('{world}/hospital/admissions.parquet') a
            join {health} h on h.source = 'admissions' and h.record_id = a.admission_id
            join people w on w.person_id = h.person_id
            left join current_lsoa cur on cur.person_id = h.person_id
            left join postcode_lsoa pc on pc.pc = upper(a.postcode)"""
    )
    con.execute("create schema emergency_attendances")
    con.execute(
        f"""create table emergency_attendances.attendances as select {linked}, a.arrival_date,
            a.diagnosis_group, a.diag_code, {person}
            from read_parquet('{world}/emergency/attendances.parquet') a
            join {health} h on h.source = 'emergency' and h.record_id = a.attendance_id
            join people w on w.person_id = h.person_id
            left join current_lsoa cur on cur.person_id = h.person_id
            left join postcode_lsoa pc on pc.pc = upper(a.postcode)"""
    )
    con.execute("create schema births")
    con.execute(
        f"""create table births.births as select 'p' || hb.person_id as baby_alf_pe,
            null::varchar as baby_ralf_pe, 'p' || hm.person_id as mother_alf_pe,
            null::varchar as mother_ralf_pe, b.mother_age, b.gestation_weeks, b.birth_weight_g,
            b.multiple_birth, b.smoking_at_booking, b.mental_health_at_booking,
            'DET_STRONG_ID' as baby_link_status, 1.0 as baby_link_score,
            date_trunc('week', wb.date_of_birth)::date as baby_week_of_birth,
            wb.sex as baby_sex, coalesce(cb.lsoa, pc.lsoa) as baby_lsoa,
            'DET_STRONG_ID' as mother_link_status, 1.0 as mother_link_score,
            date_trunc('week', wm.date_of_birth)::date as mother_week_of_birth,
            wm.sex as mother_sex, coalesce(cm.lsoa, pc.lsoa) as mother_lsoa
            from read_parquet('{world}/births/births.parquet') b
            join {health} hb on hb.source = 'births' and hb.record_id = b.birth_id
            join {health} hm on hm.source = 'births_mother' and hm.record_id = b.birth_id
            join people wb on wb.person_id = hb.person_id
            join people wm on wm.person_id = hm.person_id
            left join current_lsoa cb on cb.person_id = hb.person_id
            left join current_lsoa cm on cm.person_id = hm.person_id
            left join postcode_lsoa pc on pc.pc = upper(b.mother_postcode)"""
    )


def truth_connection(world: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the world's truth as a workspace's schemas and tables."""
    con = duckdb.connect()
    con.execute(
        f"create table people as select * from read_parquet('{world}/truth/people.parquet')"
    )
    con.execute(
        f"""create table postcode_lsoa as select upper(postcode) as pc, any_value(lsoa_code) as lsoa
            from read_parquet('{world}/spine/addresses.parquet') group by 1"""
    )
    # The spine person's current address, as the TTP's spine takes it.
    con.execute(
        f"""create table current_lsoa as select person_id, lsoa_code as lsoa
            from read_parquet('{world}/spine/addresses.parquet')
            qualify row_number() over (partition by person_id
                    order by (to_date is null) desc, from_date desc) = 1"""
    )
    for law in ("court_public", "court_private"):
        _court(con, world, law)
    _events(con, world)
    con.execute("create schema reference")
    con.execute(
        f"""create table reference.lsoa_deprivation as select lsoa_code as lsoa, lsoa_name,
            local_authority, deprivation_rank::integer as deprivation_rank,
            deprivation_decile::integer as deprivation_decile,
            deprivation_quintile::integer as deprivation_quintile, 'synthetic' as index
            from read_parquet('{world}/deprivation/lsoa.parquet')"""
    )
    return con


def truth_workspace(world: Path) -> Views:
    """The world's truth as a workspace's views (for the measures)."""
    return backend_views(ibis.duckdb.from_connection(truth_connection(world)))


def write_truth_workspace(world: Path, out: Path) -> Path:
    """The truth workspace written as a provisioned workspace is laid out (Parquet per
    table under ``data/``, the deprivation lookup under ``reference/``, and a
    ``workspace.duckdb`` of views by relative path), so anything that opens a workspace
    folder can open it. Used to benchmark the measures at a scale where linking every
    record first would take most of the time being measured."""
    con = truth_connection(world)
    tables = con.execute(
        """select table_schema, table_name from information_schema.tables
           where table_schema not in ('main') order by 1, 2"""
    ).fetchall()
    out.mkdir(parents=True, exist_ok=True)
    views = []
    for schema, table in tables:
        folder = "reference" if schema == "reference" else f"data/{schema}"
        rel = f"{folder}/{table}.parquet"
        (out / folder).mkdir(parents=True, exist_ok=True)
        con.execute(f"copy {schema}.{table} to '{out / rel}' (format parquet, compression zstd)")
        views.append((schema, table, rel))
    db = duckdb.connect(str(out / "workspace.duckdb"))
    db.execute(f"set file_search_path = '{out}'")
    for schema in sorted({s for s, _, _ in views}):
        db.execute(f"create schema {schema}")
    for schema, table, rel in views:
        db.execute(f"create view {schema}.{table} as select * from read_parquet('{rel}')")
    db.execute("checkpoint")
    db.close()
    (out / "workspace.json").write_text(
        json.dumps(
            {
                "project": "truth",
                "scope": {"link_statuses": ["DET_STRONG_ID", "UNMATCHED"]},
                "rows": {f"{s}.{t}": 0 for s, t, _ in views},
            },
            indent=2,
        )
        + "\n"
    )
    return out
