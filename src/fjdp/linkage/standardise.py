"""Standardise identifiers on both sides of a linkage, as DuckDB SQL.

Upper case; punctuation and titles removed; forenames split into the first and the
rest, with the first mapped to a canonical form through the nickname table; surnames
without apostrophes, hyphens read as spaces, double-barrelled parts kept; postcodes
normalised to "AREA DISTRICT SECTOR+UNIT"; NHS numbers kept only when their check digit
is valid. The same expressions serve the spine and the records.
"""

from __future__ import annotations

from importlib import resources

import duckdb

from fjdp.sql import nhs_digits, nhs_valid, postcode_norm, postcode_valid

TITLES = ("MR", "MRS", "MS", "MISS", "MX", "DR", "MASTER", "PROF", "REV", "SIR", "LADY")


def clean_name(expr: str) -> str:
    """Letters and single spaces only, upper case, titles dropped."""
    up = f"upper(strip_accents(coalesce({expr}, '')))"
    letters = f"regexp_replace(regexp_replace({up}, '''', '', 'g'), '[^A-Z]+', ' ', 'g')"
    spaced = f"trim({letters})"
    titles = "|".join(TITLES)
    # the trailing space lets a title standing alone ("MR") go too
    return f"nullif(trim(regexp_replace({spaced} || ' ', '^(({titles}) )+', '')), '')"


def first_token(expr: str) -> str:
    return f"nullif(split_part({expr}, ' ', 1), '')"


def rest_tokens(expr: str) -> str:
    return f"nullif(trim(substr({expr}, length(split_part({expr}, ' ', 1)) + 1)), '')"


def std_nhs(expr: str) -> str:
    return f"case when {nhs_valid(expr)} then {nhs_digits(expr)} end"


def std_postcode(expr: str) -> str:
    return f"case when {postcode_valid(expr)} then {postcode_norm(expr)} end"


def std_sex(expr: str) -> str:
    return f"case when upper(trim({expr})) in ('M', 'F') then upper(trim({expr})) end"


def load_nicknames(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``nick(variant, canonical)``: every name maps to itself via coalesce."""
    text = resources.files("fjdp.linkage").joinpath("data/nicknames.csv").read_text()
    rows = [line.split(",") for line in text.strip().splitlines()[1:]]
    con.execute("create or replace temp table nick (variant varchar, canonical varchar)")
    con.executemany("insert into nick values (?, ?)", rows)
    # A variant of several names (NELL: ELEANOR, HELEN) keeps them all in ``alts``;
    # ``canonical`` (the first) serves blocking only.
    con.execute(
        "create or replace temp table nick1 as select variant, min(canonical) as canonical,"
        " list(canonical order by canonical) as alts from nick group by variant"
    )


def standard_columns(
    *,
    uid: str,
    nhs: str,
    forenames: str,
    surname: str,
    dob: str,
    sex: str,
    postcode: str,
) -> str:
    """SELECT list of the standard columns from raw expressions (before nickname join)."""
    fn = clean_name(forenames)
    sn = clean_name(surname)
    return ", ".join(
        [
            f"cast({uid} as varchar) as uid",
            f"{std_nhs(nhs)} as nhs",
            f"{first_token(fn)} as fn1",
            f"{rest_tokens(fn)} as fn_rest",
            f"{sn} as sn",
            f"replace({sn}, ' ', '') as sn_compact",
            f"case when {sn} like '% %' then split_part({sn}, ' ', -1) end as sn_last",
            f"try_cast({dob} as date) as dob",
            f"{std_sex(sex)} as sex",
            f"{std_postcode(postcode)} as pc",
        ]
    )


def with_canonical_forename(table: str) -> str:
    """SQL adding ``fn_canon`` (the nickname's first canonical form, else the name itself)
    and ``fn_alts`` (the name and every name it is a nickname of): two forenames agree
    as nicknames when their ``fn_alts`` share a name."""
    return (
        f"select t.*, coalesce(n.canonical, t.fn1) as fn_canon,"
        f" case when t.fn1 is null then []::varchar[]"
        f" else list_distinct(list_concat([t.fn1], coalesce(n.alts, []::varchar[]))) end as fn_alts"
        f" from {table} t left join nick1 n on n.variant = t.fn1"
    )
