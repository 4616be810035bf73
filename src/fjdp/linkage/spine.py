"""The population spine held by the trusted third party, standardised for linkage.

Two input shapes are accepted:

- the demographic register's export (a folder with ``people.parquet``: person_id,
  nhs_number, forename1, forename2, surname, birth_surname, sex, date_of_birth,
  date_of_death; and ``addresses.parquet``: person_id, address_id, postcode, lsoa_code,
  from_date, to_date), which keeps name and address history;
- the evaluation route's flat file (CSV or Parquet: person_id, nhs_number, forenames,
  surname, dob, sex, postcode).

Either becomes one Parquet file of standard columns (see ``standardise``) plus the
current address (``pc``, ``lsoa``, ``address_id``), every postcode the person has
lived at (``pcs``) and the birth surname (``sn_birth``).

``build_lsoa_reference`` keeps the public LSOA lookup beside it (local authority and
deprivation quintile of each LSOA), for the areas in the linkage-quality report.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from fjdp.errors import InputError
from fjdp.linkage.standardise import (
    clean_name,
    load_nicknames,
    standard_columns,
    with_canonical_forename,
)
from fjdp.sql import lit

FLAT_COLUMNS = ("person_id", "nhs_number", "forenames", "surname", "dob", "sex", "postcode")
# The public LSOA lookup (as published with a deprivation index): the columns kept.
LSOA_COLUMNS = ("lsoa_code", "local_authority", "deprivation_quintile")


def read_any(path: Path) -> str:
    """A DuckDB relation expression reading a CSV or Parquet file, all text for CSV."""
    if not path.exists():
        raise InputError("file not found", where=str(path), fix="check the path")
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({lit(str(path))})"
    return f"read_csv({lit(str(path))}, all_varchar = true, header = true)"


def require_columns(
    con: duckdb.DuckDBPyConnection, rel: str, needed: tuple[str, ...], where: Path
) -> None:
    try:
        cols = [c[0] for c in con.execute(f"select * from {rel} limit 0").description]
    except duckdb.Error as exc:
        raise InputError(f"cannot read: {str(exc).splitlines()[0]}", where=str(where)) from None
    missing = [c for c in needed if c not in cols]
    if missing:
        raise InputError(
            f"missing column {missing[0]!r} (needs {', '.join(needed)})",
            where=str(where),
            fix="rename or add the column",
        )


def build_spine(con: duckdb.DuckDBPyConnection, source: Path, dest: Path) -> int:
    """Standardise ``source`` (a register folder or a flat file) into ``dest``."""
    load_nicknames(con)
    if source.is_dir():
        people, addresses = source / "people.parquet", source / "addresses.parquet"
        for f in (people, addresses):
            if not f.exists():
                raise InputError(
                    "the register export lacks a file",
                    where=str(f),
                    fix="export people and addresses",
                )
        con.execute(
            f"""create or replace temp view sp_raw as
            select p.*, a.postcode as cur_pc, a.lsoa_code as lsoa, a.address_id
            from read_parquet({lit(str(people))}) p
            left join (select * from read_parquet({lit(str(addresses))})
                       qualify row_number() over (partition by person_id
                               order by (to_date is null) desc, from_date desc) = 1) a
              using (person_id)"""
        )
        std = standard_columns(
            uid="person_id",
            nhs="nhs_number",
            forenames="concat_ws(' ', forename1, forename2)",
            surname="surname",
            dob="date_of_birth",
            sex="sex",
            postcode="cur_pc",
        )
        con.execute(
            f"""create or replace temp table sp_std as
            select {std}, {clean_name("birth_surname")} as sn_birth, lsoa,
                   cast(address_id as varchar) as address_id, date_of_death as dod
            from sp_raw"""
        )
        con.execute(
            f"""create or replace temp table sp_pcs as
            select cast(person_id as varchar) as uid, list(distinct upper(postcode)) as pcs
            from read_parquet({lit(str(addresses))}) group by 1"""
        )
    else:
        rel = read_any(source)
        require_columns(con, rel, FLAT_COLUMNS, source)
        std = standard_columns(
            uid="person_id",
            nhs="nhs_number",
            forenames="forenames",
            surname="surname",
            dob="dob",
            sex="sex",
            postcode="postcode",
        )
        con.execute(
            f"""create or replace temp table sp_std as
            select {std}, null::varchar as sn_birth, null::varchar as lsoa,
                   null::varchar as address_id, null::date as dod from {rel}"""
        )
        con.execute(
            "create or replace temp table sp_pcs as select uid, [pc] as pcs from sp_std where pc is not null"
        )
    dupes = con.execute("select count(*) - count(distinct uid) from sp_std").fetchall()[0][0]
    if dupes:
        raise InputError(
            f"{dupes} repeated person_id values in the spine",
            where=str(source),
            fix="make person_id unique",
        )
    con.execute(
        f"""copy (select s.*, coalesce(p.pcs, []) as pcs from ({with_canonical_forename("sp_std")}) s
                 left join sp_pcs p using (uid))
            to {lit(str(dest))} (format parquet, compression zstd)"""
    )
    return int(con.execute(f"select count(*) from read_parquet({lit(str(dest))})").fetchall()[0][0])


def build_lsoa_reference(con: duckdb.DuckDBPyConnection, source: Path, dest: Path) -> int:
    """The public LSOA lookup (CSV or Parquet with lsoa_code, local_authority and
    deprivation_quintile, 1 = most deprived) as ``dest``: lsoa, la_name,
    deprivation_quintile. Public reference data, not content; the local authority is
    stored as ``la_name`` so that no file of the TTP zone has a column named like a
    content column."""
    rel = read_any(source)
    require_columns(con, rel, LSOA_COLUMNS, source)
    bad = con.execute(
        f"""select count(*) from {rel} where lsoa_code is null
            or try_cast(deprivation_quintile as integer) not between 1 and 5"""
    ).fetchall()[0][0]
    if bad:
        raise InputError(
            f"{bad} rows without an LSOA code or with a deprivation quintile outside 1-5",
            where=str(source),
            fix="give every row an lsoa_code and a quintile from 1 to 5",
        )
    dupes = con.execute(f"select count(*) - count(distinct lsoa_code) from {rel}").fetchall()[0][0]
    if dupes:
        raise InputError(
            f"{dupes} repeated lsoa_code values", where=str(source), fix="one row per LSOA"
        )
    con.execute(
        f"""copy (select cast(lsoa_code as varchar) as lsoa,
                         cast(local_authority as varchar) as la_name,
                         cast(deprivation_quintile as integer) as deprivation_quintile
                  from {rel} order by 1)
            to {lit(str(dest))} (format parquet)"""
    )
    return int(con.execute(f"select count(*) from read_parquet({lit(str(dest))})").fetchall()[0][0])
