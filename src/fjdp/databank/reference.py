"""Reference data the databank holds beside the datasets: LSOA deprivation.

``fjdp databank reference lsoa_deprivation FILE`` accepts three shapes and stores one
(``reference/lsoa_deprivation.parquet``: lsoa, lsoa_name, local_authority,
deprivation_rank, deprivation_decile, deprivation_quintile, index):

- the synthetic world's ``deprivation/lsoa.parquet`` (lsoa_code, lsoa_name,
  local_authority, deprivation_decile, deprivation_quintile, ...);
- the Welsh Government's WIMD 2019 ranks (CSV or Parquet with ``LSOA code``,
  ``LSOA name``, ``Local Authority name`` and ``WIMD 2019`` overall rank);
- MHCLG's English IMD 2019 File 1 (``LSOA code (2011)``, ``LSOA name (2011)``,
  ``Local Authority District name (2019)``, ``Index of Multiple Deprivation (IMD) Rank``
  and ``... (IMD) Decile``).

Rank 1 is the most deprived area in every source; deciles and quintiles count from the
most deprived (1) to the least (10 or 5). Where a file gives only ranks, deciles are
computed from them. Postcode-level lookups (ONS NSPL/ONSPD) hold postcodes, which are
identifiers, so they belong to the TTP, never to the databank.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from fjdp.audit import Action, record
from fjdp.databank.catalogue import catalogue, now
from fjdp.errors import InputError, UsageError
from fjdp.keys import ZoneKeys
from fjdp.sql import lit, q

NAMES = ("lsoa_deprivation",)

# (format name, {our column: the file's column}); rank-only formats derive the decile.
FORMATS: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "synthetic",
        {
            "lsoa": "lsoa_code",
            "lsoa_name": "lsoa_name",
            "local_authority": "local_authority",
            "deprivation_decile": "deprivation_decile",
        },
    ),
    (
        "WIMD 2019",
        {
            "lsoa": "LSOA code",
            "lsoa_name": "LSOA name",
            "local_authority": "Local Authority name",
            "deprivation_rank": "WIMD 2019",
        },
    ),
    (
        "IMD 2019",
        {
            "lsoa": "LSOA code (2011)",
            "lsoa_name": "LSOA name (2011)",
            "local_authority": "Local Authority District name (2019)",
            "deprivation_rank": "Index of Multiple Deprivation (IMD) Rank",
            "deprivation_decile": "Index of Multiple Deprivation (IMD) Decile",
        },
    ),
)


def reference_path(bank: Path, name: str) -> Path:
    return bank / "reference" / f"{name}.parquet"


def _reader(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet({lit(str(path))})"
    if suffix == ".csv":
        return f"read_csv({lit(str(path))}, header = true, all_varchar = true)"
    raise InputError(
        f"reference file must be .csv or .parquet, not {suffix or 'no extension'!r}",
        where=str(path),
        fix="export the lookup as CSV",
    )


def import_reference(zone: ZoneKeys, name: str, source: Path, *, actor: str) -> int:
    if name not in NAMES:
        raise UsageError(f"unknown reference data {name!r}", fix=f"choose one of {list(NAMES)}")
    if not source.is_file():
        raise InputError("reference file not found", where=str(source), fix="check the path")
    con = duckdb.connect()
    try:
        rel = _reader(source)
        try:
            cols = [r[0] for r in con.execute(f"describe select * from {rel}").fetchall()]
        except duckdb.Error as exc:
            raise InputError(
                f"cannot read the reference file ({str(exc).splitlines()[0][:120]})",
                where=str(source),
                fix="give the published CSV or Parquet file unchanged",
            ) from None
        fmt = next(((f, m) for f, m in FORMATS if all(c in cols for c in m.values())), None)
        if fmt is None:
            raise InputError(
                "reference file matches no known deprivation format (synthetic, WIMD 2019, IMD 2019)",
                where=str(source),
                fix="see docs/databank.md for the columns each format needs",
            )
        label, m = fmt
        rank = (
            f"try_cast({q(m['deprivation_rank'])} as integer)"
            if "deprivation_rank" in m
            else "null::integer"
        )
        n_rows = "count(*) over ()"
        decile = (
            f"try_cast({q(m['deprivation_decile'])} as integer)"
            if "deprivation_decile" in m
            else f"least(10, 1 + floor(({rank} - 1) * 10 / {n_rows}))::integer"
        )
        dest = reference_path(zone.path, name)
        made = not dest.parent.exists()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        n, bad, dup = _write(con, m, rel, rank, decile, label, tmp, made, source)
    finally:
        con.close()
    if n == 0 or bad or dup:
        _discard(tmp, made)
        problem = (
            "no rows"
            if n == 0
            else f"{bad} rows without an LSOA or a decile 1-10"
            if bad
            else f"{dup} repeated LSOAs"
        )
        raise InputError(
            f"reference file has {problem}",
            where=str(source),
            fix="give the published file unchanged",
        )
    os.replace(tmp, dest)
    with catalogue(zone.path) as cat:
        cat.execute(
            "insert or replace into reference values (?, ?, ?, ?, ?)",
            [name, source.name, label, int(n), now()],
        )
    record(
        zone.path,
        zone=zone.zone.value,
        actor=actor,
        role="data manager",
        obj=name,
        events=[(Action.REFERENCE, {"source": source.name, "format": label, "rows": int(n)})],
    )
    return int(n)


def _discard(tmp: Path, made: bool) -> None:
    """Remove what a refused import wrote: its partial file, and the folder if it made it."""
    tmp.unlink(missing_ok=True)
    if made:
        with contextlib.suppress(OSError):
            tmp.parent.rmdir()


def _write(
    con: duckdb.DuckDBPyConnection,
    m: dict[str, str],
    rel: str,
    rank: str,
    decile: str,
    label: str,
    tmp: Path,
    made: bool,
    source: Path,
) -> tuple[int, int, int]:
    """Write the lookup in our shape to ``tmp``; returns rows, bad rows, repeated LSOAs.
    The file is read in full only here: a fault past the part DuckDB sniffed (a ragged
    row, a byte that is not UTF-8) is a refusal, with nothing left behind."""
    try:
        con.execute(
            f"""copy (
                  select {q(m["lsoa"])}::varchar as lsoa, {q(m["lsoa_name"])}::varchar as lsoa_name,
                         {q(m["local_authority"])}::varchar as local_authority,
                         {rank} as deprivation_rank, d as deprivation_decile,
                         ((d + 1) // 2)::integer as deprivation_quintile, {lit(label)} as "index"
                  from (select *, {decile} as d from {rel})
                ) to {lit(str(tmp))} (format parquet)"""
        )
        n, bad, dup = con.execute(
            f"""select count(*), count(*) filter (where deprivation_decile not between 1 and 10
                       or lsoa is null), count(*) - count(distinct lsoa)
                from read_parquet({lit(str(tmp))})"""
        ).fetchall()[0]
    except duckdb.Error as exc:
        _discard(tmp, made)
        raise InputError(
            f"cannot read the reference file ({str(exc).splitlines()[0][:120]})",
            where=str(source),
            fix="give the published CSV or Parquet file unchanged",
        ) from None
    except BaseException:
        _discard(tmp, made)
        raise
    return int(n), int(bad), int(dup)
