"""The linkage cascade: a strong identifier, then exact demographics, then Splink.

1. ``DET_STRONG_ID``: a valid NHS number, date of birth and sex all agree.
2. ``DET_DEMOG``: exact standardised surname (current or birth), first forename, date of
   birth, sex and a postcode the person has lived at; one spine person only, else
   ``MULTIPLE``.
3. Splink scores the rest. A household guard then drops candidates that disagree on
   date of birth, or on forename, unless the NHS number agrees: Fellegi–Sunter treats
   fields as independent, but relatives share surname and address (and twins their
   date of birth), so without it a parent off the spine links to a son of the same name
   at the same address. ``PROB_ACCEPT`` at or above ``accept``, ``PROB_POSSIBLE`` at or
   above ``possible``, ``MULTIPLE`` when the best two spine people are within
   ``multiple_margin`` match weight, else ``UNMATCHED``.

Input tables on the connection: ``rec`` and ``sp`` with the standard columns. Output:
table ``links`` (uid, pid, status, score, step), one row per record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from fjdp.linkage.config import LinkageConfig
from fjdp.linkage.probabilistic import score
from fjdp.types import LinkStatus

# A candidate survives the household guard if the NHS number agrees, or if neither the
# date of birth nor the forename plainly disagrees (missing values do not disagree).
DOB_AGREES = """(r.dob is null or s.dob is null or r.dob = s.dob
  or (year(r.dob) = year(s.dob) and month(r.dob) = day(s.dob) and day(r.dob) = month(s.dob))
  or damerau_levenshtein(strftime(r.dob, '%Y%m%d'), strftime(s.dob, '%Y%m%d')) <= 1
  or abs(date_diff('day', r.dob, s.dob)) <= 366)"""
FORENAME_AGREES = """(r.fn1 is null or s.fn1 is null or r.fn1 = s.fn1 or list_has_any(r.fn_alts, s.fn_alts)
  or jaro_winkler_similarity(r.fn1, s.fn1) >= 0.8
  or ((length(r.fn1) = 1 or length(s.fn1) = 1) and left(r.fn1, 1) = left(s.fn1, 1)))"""
GUARD = f"(r.nhs = s.nhs) or ({DOB_AGREES} and {FORENAME_AGREES})"


@dataclass
class CascadeResult:
    counts: dict[str, int]
    model: dict[str, Any] = field(default_factory=dict)
    pairs_scored: int = 0


def run_cascade(
    con: duckdb.DuckDBPyConnection,
    cfg: LinkageConfig,
    *,
    model_out: Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> CascadeResult:
    con.execute(
        "create or replace table links (uid varchar, pid varchar, status varchar, score double, step varchar)"
    )
    if cfg.deterministic:
        say("step 1: NHS number, date of birth and sex")
        con.execute(
            f"""insert into links
            select r.uid, any_value(s.uid), '{LinkStatus.DET_STRONG_ID}', 1.0, 'deterministic'
            from rec r join sp s on r.nhs = s.nhs and r.dob = s.dob and r.sex = s.sex
            group by r.uid having count(distinct s.uid) = 1"""
        )
        say("step 2: surname, forename, date of birth, sex and postcode")
        con.execute(
            f"""insert into links
            with cand as (
              select r.uid, s.uid as pid
              from (select * from rec where uid not in (select uid from links)) r
              join sp s on r.fn1 = s.fn1 and r.dob = s.dob and r.sex = s.sex
               and (r.sn = s.sn or r.sn = s.sn_birth) and r.pc is not null
               and list_contains(s.pcs, r.pc))
            select uid, case when count(distinct pid) = 1 then any_value(pid) end,
                   case when count(distinct pid) = 1 then '{LinkStatus.DET_DEMOG}'
                        else '{LinkStatus.MULTIPLE}' end, 1.0, 'deterministic'
            from cand group by uid"""
        )
    say("step 3: Splink, trained on the whole extract")
    con.execute(
        "create or replace table rec_open as select * from rec where uid not in (select uid from links)"
    )
    run = score(con, "rec", "sp", cfg, open_table="rec_open", model_out=model_out, say=say)
    say("choosing the best candidate per record")
    # The guard, then the best two spine people per record still open.
    con.execute(
        f"""create or replace temp table ranked as
        select p.*, row_number() over (partition by p.uid order by p.weight desc, p.pid) as rk
        from pairs p join rec r on r.uid = p.uid join sp s on s.uid = p.pid
        where p.uid not in (select uid from links) and ({GUARD})"""
    )
    con.execute(
        f"""insert into links
        with top as (select * from ranked where rk = 1),
             second as (select * from ranked where rk = 2)
        select r.uid,
               case when t.probability >= {cfg.possible}
                     and (s.weight is null or t.weight - s.weight >= {cfg.multiple_margin})
                    then t.pid end,
               case when t.pid is null or t.probability < {cfg.possible} then '{LinkStatus.UNMATCHED}'
                    when s.weight is not null and t.weight - s.weight < {cfg.multiple_margin}
                    then '{LinkStatus.MULTIPLE}'
                    when t.probability >= {cfg.accept} then '{LinkStatus.PROB_ACCEPT}'
                    else '{LinkStatus.PROB_POSSIBLE}' end,
               coalesce(t.probability, 0.0),
               'probabilistic'
        from (select uid from rec where uid not in (select uid from links)) r
        left join top t using (uid) left join second s using (uid)"""
    )
    counts = dict(con.execute("select status, count(*) from links group by 1").fetchall())
    return CascadeResult(
        counts={k: int(v) for k, v in counts.items()}, model=run.model, pairs_scored=run.pairs
    )
