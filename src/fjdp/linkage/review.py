"""Clerical review of links: a queue, decisions, and what they tell us.

Each run queues every ``PROB_POSSIBLE`` link and a random sample of ``PROB_ACCEPT``
links. The linkage operator works through the queue (``fjdp ttp review``), seeing the
record and the spine person side by side with the fields that agree and disagree, and
decides *match* or *non-match*. Decisions are kept in the zone
(``review/decisions.jsonl``, one per record and candidate, the latest wins) and:

- estimate the false-match rate: the share of sampled ``PROB_ACCEPT`` links judged
  non-matches (with how many were reviewed);
- change statuses in the next run's File 3: a confirmed ``PROB_POSSIBLE`` becomes
  ``PROB_ACCEPT``, a rejected link of any probabilistic status becomes ``UNMATCHED``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from fjdp.errors import InputError
from fjdp.sql import lit
from fjdp.types import LinkStatus

SAMPLE_ACCEPTED = 0.02
MIN_SAMPLE = 20
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
    pid: str
    status: str
    score: float
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


def write_queue(con: duckdb.DuckDBPyConnection, run_dir: Path, seed: int) -> int:
    """From ``links``, ``rec`` and ``sp_full`` on ``con``: the run's review queue."""
    accepted = int(
        con.execute(
            f"select count(*) from links where status = '{LinkStatus.PROB_ACCEPT}'"
        ).fetchall()[0][0]
    )
    k = min(accepted, max(MIN_SAMPLE, round(accepted * SAMPLE_ACCEPTED)))
    cols = ", ".join(f"r.{f} as rec_{f}, s.{f} as sp_{f}" for f in FIELDS)
    con.execute(
        f"""create or replace temp table queue as
        select l.uid, l.pid, l.status, l.score, {cols}
        from (select * from links where status = '{LinkStatus.PROB_POSSIBLE}' and pid is not null
              union all
              (select * from links where status = '{LinkStatus.PROB_ACCEPT}'
               order by hash(uid || '{seed}') limit {k})) l
        join rec r using (uid) join sp_full s on s.uid = l.pid"""
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
    con = duckdb.connect()
    rows = con.execute(
        f"select * from read_parquet({lit(str(queue))}) order by status desc, score"
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
                float(d["score"]),
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
    before = con.execute("select count(*) from links l join decided d using (uid, pid)").fetchall()[
        0
    ][0]
    con.execute(
        f"""update links set status = case when d.decision = 'match' then '{LinkStatus.PROB_ACCEPT}'
                                              else '{LinkStatus.UNMATCHED}' end,
                             pid = case when d.decision = 'match' then links.pid end,
                             step = 'clerical'
            from decided d where d.uid = links.uid and d.pid = links.pid
              and links.status in ('{LinkStatus.PROB_POSSIBLE}', '{LinkStatus.PROB_ACCEPT}')"""
    )
    return int(before)


def false_match_estimate(run_dir: Path, zone_dir: Path) -> dict[str, Any]:
    """Share of reviewed PROB_ACCEPT links of this run judged non-matches."""
    queue = run_dir / "review_queue.parquet"
    if not queue.exists():
        return {"reviewed": 0, "false_match_rate": None}
    decisions = load_decisions(zone_dir)
    con = duckdb.connect()
    rows = con.execute(
        f"select uid, pid from read_parquet({lit(str(queue))}) where status = '{LinkStatus.PROB_ACCEPT}'"
    ).fetchall()
    con.close()
    judged = [decisions[(u, p)] for u, p in rows if (u, p) in decisions]
    if not judged:
        return {"reviewed": 0, "sampled": len(rows), "false_match_rate": None}
    rate = sum(d == Decision.NON_MATCH for d in judged) / len(judged)
    return {"reviewed": len(judged), "sampled": len(rows), "false_match_rate": rate}
