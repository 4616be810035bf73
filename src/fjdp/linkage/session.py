"""A DuckDB session for one linkage run: the spine and records as the cascade wants them."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.standardise import load_nicknames, standard_columns, with_canonical_forename
from fjdp.sql import lit

# The columns Splink compares; both sides must have exactly these.
MODEL_COLUMNS = (
    "uid",
    "nhs",
    "fn1",
    "fn_canon",
    "fn_alts",
    "sn",
    "sn_compact",
    "sn_last",
    "sn_birth",
    "dob",
    "sex",
    "pc",
    "pcs",
)


def connect(cfg: LinkageConfig, work: Path) -> duckdb.DuckDBPyConnection:
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"set memory_limit = {lit(cfg.memory_limit)}")
    con.execute("set threads = 2")
    con.execute(f"set temp_directory = {lit(str(work))}")
    con.execute("set preserve_insertion_order = false")
    load_nicknames(con)
    return con


def load_spine_table(con: duckdb.DuckDBPyConnection, spine_parquet: Path) -> None:
    """``sp_full`` (everything) and ``sp`` (the model's columns) from a standardised spine."""
    con.execute(
        f"create or replace table sp_full as select * from read_parquet({lit(str(spine_parquet))})"
    )
    con.execute(f"create or replace table sp as select {', '.join(MODEL_COLUMNS)} from sp_full")


def load_records_table(con: duckdb.DuckDBPyConnection, relation: str, **exprs: str) -> int:
    """``rec`` from a relation, given SQL expressions for uid, nhs, forenames, surname, dob,
    sex and postcode."""
    std = standard_columns(**exprs)
    con.execute(f"create or replace temp table rec_std as select {std} from {relation}")
    con.execute(
        f"""create or replace table rec as
        select uid, nhs, fn1, fn_canon, fn_alts, sn, sn_compact, sn_last, null::varchar as sn_birth, dob, sex, pc,
               case when pc is null then []::varchar[] else [pc] end as pcs
        from ({with_canonical_forename("rec_std")})"""
    )
    dupes = con.execute("select count(*) - count(distinct uid) from rec").fetchall()[0][0]
    if dupes:
        from fjdp.errors import InputError

        raise InputError(f"{dupes} repeated record ids", fix="give every record its own id")
    return int(con.execute("select count(*) from rec").fetchall()[0][0])
