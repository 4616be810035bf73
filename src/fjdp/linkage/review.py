"""Clerical review of links: a queue, decisions, and what they tell us.

Each run queues every ``PROB_POSSIBLE`` link, a random sample of ``PROB_ACCEPT`` links
and a random sample of ``UNMATCHED`` records, each of the last with its best candidate:
the best pair Splink scored, else the spine person sharing a blocking key who agrees
on most identifiers (at least three), if any. The linkage operator works through the queue
(``fjdp ttp review``), seeing the record and the spine person side by side with the
fields that agree and disagree, and decides *match* or *non-match* (an unmatched record
with no candidate can only be judged a non-match or skipped). Decisions are kept in the
zone (``review/decisions.jsonl``, one per record and candidate, the latest wins) and:

- estimate the false-match rate: the share of sampled ``PROB_ACCEPT`` links judged
  non-matches, with a 95% Wilson interval;
- estimate the missed-match rate: the share of sampled ``UNMATCHED`` records judged to
  match their candidate, scaled to all unmatched records and set against the linked
  ones (estimated missed matches / (linked + estimated missed matches)), with the
  Wilson interval carried through;
- change statuses in the next run's File 3: a confirmed ``PROB_POSSIBLE`` becomes
  ``PROB_ACCEPT``, a rejected link of any probabilistic status becomes ``UNMATCHED``,
  and an unmatched record judged to match its candidate becomes ``PROB_ACCEPT``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from fjdp.errors import InputError
from fjdp.sql import lit
from fjdp.types import LinkStatus

SAMPLE_ACCEPTED = 0.02
SAMPLE_UNMATCHED = 0.02
MIN_SAMPLE = 20
# The order the queue is worked through: what changes File 3 first.
QUEUE_ORDER = (LinkStatus.PROB_POSSIBLE, LinkStatus.PROB_ACCEPT, LinkStatus.UNMATCHED)
FIELDS = ("nhs", "fn1", "sn", "dob", "sex", "pc")
LABELS = {
    "nhs": "NHS number",
    "fn1": "forename",
    "sn": "surname",
    "dob": "date of birth",
    "sex": "sex",
    "pc": "postcode",
}


class Decision(StrEnum):
    MATCH = "match"
    NON_MATCH = "non-match"


@dataclass(frozen=True)
class Item:
    uid: str
    pid: str | None  # None: an unmatched record for which Splink scored no candidate
    status: str
    score: float | None  # None: a candidate found by identifier search, not scored
    record: dict[str, Any]
    person: dict[str, Any]

    def agreement(self) -> dict[str, str]:
        out = {}
        for f in FIELDS:
            a, b = self.record.get(f), self.person.get(f)
            out[f] = "missing" if a is None or b is None else ("agrees" if a == b else "differs")
        return out


def decisions_path(zone_dir: Path) -> Path:
    return zone_dir / "review" / "decisions.jsonl"


def sample_size(n: int, share: float) -> int:
    return min(n, max(MIN_SAMPLE, round(n * share)))


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("select count(*) from duckdb_tables() where table_name = ?", [name]).fetchall()[
            0
        ][0]
    )


# A candidate for an unmatched record that Splink scored no pair for: spine people
# sharing the NHS number, the date of birth, surname and forename, or the postcode,
# who agree on at least this many of NHS number, forename, surname, date of birth, sex
# and postcode.
MIN_AGREEING = 3
_AGREE = " + ".join(
    f"coalesce(({cond})::int, 0)"
    for cond in (
        "r.nhs = s.nhs",
        "r.fn1 = s.fn1 or list_has_any(r.fn_alts, s.fn_alts)",
        "r.sn = s.sn or r.sn = s.sn_birth",
        "r.dob = s.dob",
        "r.sex = s.sex",
        "r.pc = s.pc or list_contains(s.pcs, r.pc)",
    )
)


def write_queue(con: duckdb.DuckDBPyConnection, run_dir: Path, seed: int) -> int:
    """From ``links``, ``rec``, ``sp``, ``sp_full`` and (if there) Splink's ``pairs`` on
    ``con``: the run's review queue. An unmatched record's candidate is its best Splink
    pair, else the spine person agreeing on most identifiers (at least three)."""
    counts = dict(con.execute("select status, count(*) from links group by 1").fetchall())
    k_acc = sample_size(int(counts.get(LinkStatus.PROB_ACCEPT, 0)), SAMPLE_ACCEPTED)
    k_unm = sample_size(int(counts.get(LinkStatus.UNMATCHED, 0)), SAMPLE_UNMATCHED)
    con.execute(
        f"""create or replace temp table unmatched_sample as
        select uid, status from links where status = '{LinkStatus.UNMATCHED}'
        order by hash(uid || 'unmatched-{seed}') limit {k_unm}"""
    )
    scored = (
        """select uid, pid, probability from pairs
           where uid in (select uid from unmatched_sample)
           qualify row_number() over (partition by uid order by weight desc, pid) = 1"""
        if _has_table(con, "pairs")
        else "select null::varchar uid, null::varchar pid, null::double probability limit 0"
    )
    con.execute(f"create or replace temp table unmatched_scored as {scored}")
    blocks = (
        "r.nhs = s.nhs",
        "r.dob = s.dob",
        "r.sn = s.sn and r.fn1 = s.fn1",
        "r.pc = s.pc",
    )
    near = " union ".join(f"select r.uid, s.uid as pid from r join sp s on {b}" for b in blocks)
    con.execute(
        f"""create or replace temp table unmatched_near as
        with r as (select * from rec where uid in (select uid from unmatched_sample)
                   and uid not in (select uid from unmatched_scored)),
             c as ({near})
        select c.uid, c.pid from c join rec r on r.uid = c.uid join sp s on s.uid = c.pid
        where {_AGREE} >= {MIN_AGREEING}
        qualify row_number() over (partition by c.uid order by {_AGREE} desc, c.pid) = 1"""
    )
    cols = ", ".join(f"r.{f} as rec_{f}, s.{f} as sp_{f}" for f in FIELDS)
    con.execute(
        f"""create or replace temp table queue as
        select l.uid, l.pid, l.status, l.score, {cols}
        from (select uid, pid, status, score from links
              where status = '{LinkStatus.PROB_POSSIBLE}' and pid is not null
              union all
              (select uid, pid, status, score from links where status = '{LinkStatus.PROB_ACCEPT}'
               order by hash(uid || '{seed}') limit {k_acc})
              union all
              select u.uid, coalesce(b.pid, n.pid), u.status, b.probability
              from unmatched_sample u left join unmatched_scored b using (uid)
              left join unmatched_near n using (uid)) l
        join rec r using (uid) left join sp_full s on s.uid = l.pid"""
    )
    con.execute(f"copy queue to {lit(str(run_dir / 'review_queue.parquet'))} (format parquet)")
    return int(con.execute("select count(*) from queue").fetchall()[0][0])


def load_decisions(zone_dir: Path) -> dict[tuple[str, str], str]:
    path = decisions_path(zone_dir)
    out: dict[tuple[str, str], str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            d = json.loads(line)
            out[(d["uid"], d["pid"])] = d["decision"]
    return out


def record_decision(
    zone_dir: Path, item: Item, decision: Decision, *, reviewer: str, extract_id: str
) -> None:
    path = decisions_path(zone_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "uid": item.uid,
        "pid": item.pid,
        "decision": decision.value,
        "status": item.status,
        "extract_id": extract_id,
        "reviewer": reviewer,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with path.open("a") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")


def pending(run_dir: Path, zone_dir: Path) -> list[Item]:
    queue = run_dir / "review_queue.parquet"
    if not queue.exists():
        raise InputError(
            "this run has no review queue", where=str(run_dir), fix="link the dataset again"
        )
    done = load_decisions(zone_dir)
    order = " ".join(f"when '{st}' then {i}" for i, st in enumerate(QUEUE_ORDER))
    con = duckdb.connect()
    rows = con.execute(
        f"select * from read_parquet({lit(str(queue))}) order by case status {order} end, score nulls last, uid"
    ).fetchall()
    names = [c[0] for c in con.description]
    con.close()
    items = []
    for row in rows:
        d = dict(zip(names, row, strict=True))
        if (d["uid"], d["pid"]) in done:
            continue
        items.append(
            Item(
                d["uid"],
                d["pid"],
                d["status"],
                None if d["score"] is None else float(d["score"]),
                {f: d[f"rec_{f}"] for f in FIELDS},
                {f: d[f"sp_{f}"] for f in FIELDS},
            )
        )
    return items


def apply_decisions(con: duckdb.DuckDBPyConnection, zone_dir: Path) -> int:
    """Change statuses in ``links`` from earlier decisions; returns how many changed."""
    decisions = load_decisions(zone_dir)
    if not decisions:
        return 0
    con.execute("create or replace temp table decided (uid varchar, pid varchar, decision varchar)")
    con.executemany(
        "insert into decided values (?, ?, ?)", [(u, p, d) for (u, p), d in decisions.items()]
    )
    # An unmatched record judged to match one spine person (still on the spine) links to it.
    con.execute(
        f"""create or replace temp table found as
        select d.uid, min(d.pid) as pid from decided d join links l using (uid)
        where d.decision = '{Decision.MATCH}' and l.status = '{LinkStatus.UNMATCHED}'
          and d.pid in (select uid from sp)
        group by d.uid having count(distinct d.pid) = 1"""
    )
    before = con.execute(
        f"""select count(*) from links l join decided d using (uid, pid)
            where l.status in ('{LinkStatus.PROB_POSSIBLE}', '{LinkStatus.PROB_ACCEPT}')"""
    ).fetchall()[0][0]
    found = con.execute("select count(*) from found").fetchall()[0][0]
    con.execute(
        f"""update links set status = case when d.decision = 'match' then '{LinkStatus.PROB_ACCEPT}'
                                              else '{LinkStatus.UNMATCHED}' end,
                             pid = case when d.decision = 'match' then links.pid end,
                             step = 'clerical'
            from decided d where d.uid = links.uid and d.pid = links.pid
              and links.status in ('{LinkStatus.PROB_POSSIBLE}', '{LinkStatus.PROB_ACCEPT}')"""
    )
    con.execute(
        f"""update links set status = '{LinkStatus.PROB_ACCEPT}', pid = f.pid, step = 'clerical'
            from found f where f.uid = links.uid"""
    )
    return int(before) + int(found)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n (95% by default)."""
    if n <= 0:
        raise ValueError("no observations")
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def _queued(run_dir: Path, status: LinkStatus) -> list[tuple[str, str | None]]:
    queue = run_dir / "review_queue.parquet"
    if not queue.exists():
        return []
    con = duckdb.connect()
    rows = con.execute(
        f"select uid, pid from read_parquet({lit(str(queue))}) where status = ?", [str(status)]
    ).fetchall()
    con.close()
    return [(str(u), None if p is None else str(p)) for u, p in rows]


def false_match_estimate(run_dir: Path, zone_dir: Path) -> dict[str, Any]:
    """Share of reviewed PROB_ACCEPT links of this run judged non-matches, with a 95%
    Wilson interval."""
    rows = _queued(run_dir, LinkStatus.PROB_ACCEPT)
    decisions = load_decisions(zone_dir)
    judged = [decisions[r] for r in rows if r in decisions]
    out: dict[str, Any] = {
        "sampled": len(rows),
        "reviewed": len(judged),
        "non_matches": sum(d == Decision.NON_MATCH for d in judged),
        "false_match_rate": None,
        "interval": None,
    }
    if judged:
        out["false_match_rate"] = out["non_matches"] / len(judged)
        out["interval"] = list(wilson(out["non_matches"], len(judged)))
    return out


def missed_match_estimate(
    run_dir: Path, zone_dir: Path, *, linked: int, unmatched: int
) -> dict[str, Any]:
    """From decisions on this run's sample of UNMATCHED records: the share of unmatched
    records that match their best candidate, and the missed-match rate, estimated
    missed matches among all true matches: ``p * unmatched / (linked + p * unmatched)``
    (taking the links as true), each with a 95% Wilson interval (the rate's carried
    through from the share's, as the rate rises with it)."""
    rows = _queued(run_dir, LinkStatus.UNMATCHED)
    decisions = load_decisions(zone_dir)
    judged = [decisions[r] for r in rows if r in decisions]
    out: dict[str, Any] = {
        "sampled": len(rows),
        "reviewed": len(judged),
        "matches": sum(d == Decision.MATCH for d in judged),
        "linked": linked,
        "unmatched": unmatched,
        "unmatched_match_share": None,
        "share_interval": None,
        "missed_match_rate": None,
        "interval": None,
    }
    if judged:
        share = out["matches"] / len(judged)
        lo, hi = wilson(out["matches"], len(judged))
        out["unmatched_match_share"] = share
        out["share_interval"] = [lo, hi]
        out["missed_match_rate"] = missed_rate(share, linked, unmatched)
        out["interval"] = [missed_rate(lo, linked, unmatched), missed_rate(hi, linked, unmatched)]
    return out


def missed_rate(share: float, linked: int, unmatched: int) -> float | None:
    """Estimated missed matches / (linked + estimated missed matches)."""
    missed = share * unmatched
    if linked + missed <= 0:
        return None
    return missed / (linked + missed)
