"""The linkage-quality report on hand-built tables, and the clerical estimates from
hand-built decisions: Wilson intervals, the false-match and missed-match rates, what
may be released, the implausible-link counts, and protection of every count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.disclosure.protect import protect
from fjdp.linkage.report import build_report, released_review
from fjdp.linkage.review import (
    false_match_estimate,
    missed_match_estimate,
    missed_rate,
    wilson,
)

COUNT_KEYS = {
    "records",
    "linked",
    "unlinked",
    "persons",
    "system_ids",
    "sampled",
    "reviewed",
    "records_received",
    "spine_people",
    "records_linked",
}


def test_wilson_interval_matches_the_formula() -> None:
    lo, hi = wilson(2, 20)
    assert lo == pytest.approx(0.02789, abs=1e-4) and hi == pytest.approx(0.30103, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    with pytest.raises(ValueError):
        wilson(0, 0)


def _queue(run_dir: Path, rows: list[tuple[str, str | None, str]]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "uid": [u for u, _, _ in rows],
                "pid": pa.array([p for _, p, _ in rows], pa.string()),
                "status": [s for _, _, s in rows],
                "score": [0.5] * len(rows),
            }
        ),
        run_dir / "review_queue.parquet",
    )


def _decide(zone: Path, decisions: list[tuple[str, str | None, str]]) -> None:
    path = zone / "review" / "decisions.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for uid, pid, decision in decisions:
            fh.write(json.dumps({"uid": uid, "pid": pid, "decision": decision}) + "\n")


def test_estimates_from_hand_built_decisions(tmp_path: Path) -> None:
    run, zone = tmp_path / "run", tmp_path / "zone"
    accepted = [(f"a{i}", f"p{i}", "PROB_ACCEPT") for i in range(25)]
    unmatched = [(f"u{i}", f"q{i}", "UNMATCHED") for i in range(18)]
    unmatched += [("u18", None, "UNMATCHED"), ("u19", None, "UNMATCHED")]
    _queue(run, accepted + unmatched)
    # nothing decided yet
    assert false_match_estimate(run, zone)["false_match_rate"] is None
    assert missed_match_estimate(run, zone, linked=900, unmatched=100)["missed_match_rate"] is None
    # 20 accepted links reviewed, 1 a non-match; 16 unmatched reviewed, 4 matches
    _decide(zone, [(u, p, "non-match" if u == "a0" else "match") for u, p, _ in accepted[:20]])
    _decide(
        zone,
        [(u, p, "match" if i < 4 else "non-match") for i, (u, p, _) in enumerate(unmatched[:14])],
    )
    _decide(zone, [("u18", None, "non-match"), ("u19", None, "non-match")])
    _decide(zone, [("elsewhere", "p1", "match")])  # not in this run's queue
    fm = false_match_estimate(run, zone)
    assert (fm["sampled"], fm["reviewed"], fm["non_matches"]) == (25, 20, 1)
    assert fm["false_match_rate"] == pytest.approx(0.05)
    assert fm["interval"] == pytest.approx(list(wilson(1, 20)))
    mm = missed_match_estimate(run, zone, linked=900, unmatched=100)
    assert (mm["sampled"], mm["reviewed"], mm["matches"]) == (20, 16, 4)
    assert mm["unmatched_match_share"] == pytest.approx(0.25)
    # 25 of 100 unmatched records are missed matches: 25 / (900 + 25)
    assert mm["missed_match_rate"] == pytest.approx(25 / 925)
    lo, hi = wilson(4, 16)
    assert mm["interval"] == pytest.approx([missed_rate(lo, 900, 100), missed_rate(hi, 900, 100)])
    assert mm["interval"][0] < mm["missed_match_rate"] < mm["interval"][1]
    # the latest decision wins
    _decide(zone, [("a0", "p0", "match")])
    assert false_match_estimate(run, zone)["false_match_rate"] == 0.0


def test_released_estimates_need_ten_reviews_and_protect_counts() -> None:
    def review(reviewed: int) -> dict[str, Any]:
        return {
            "false_match": {
                "sampled": 23,
                "reviewed": reviewed,
                "non_matches": 1,
                "false_match_rate": 1 / reviewed,
                "interval": [0.0, 0.4],
            },
            "missed_match": {
                "sampled": 23,
                "reviewed": reviewed,
                "matches": 2,
                "linked": 903,
                "unmatched": 98,
                "unmatched_match_share": 2 / reviewed,
                "share_interval": [0.01, 0.5],
                "missed_match_rate": 0.0,
                "interval": [0.0, 0.1],
            },
        }

    few = released_review(review(9))
    assert few["false_match"]["false_match_rate"] is None
    assert few["false_match"]["reviewed"] is None
    assert few["missed_match"]["missed_match_rate"] is None
    many = released_review(review(12))
    assert many["false_match"]["sampled"] == 25 and many["false_match"]["reviewed"] == 10
    assert many["false_match"]["false_match_rate"] == pytest.approx(1 / 12)
    # the released missed-match rate uses protected counts of linked and unmatched
    assert many["missed_match"]["missed_match_rate"] == pytest.approx(missed_rate(2 / 12, 905, 100))
    assert many["missed_match"]["reviewed"] == 10  # 12 rounded to 5


@pytest.fixture
def hand_built(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    """120 deaths records: 100 linked to 88 people, of whom 12 twice with different
    dates of birth; 20 unmatched, 3 of them without a date of birth."""
    con = duckdb.connect()
    con.execute(
        """create table rec as select 'r' || i as uid,
                  case when i between 100 and 102 then null else date '1950-01-01' + to_days(i::int) end as dob,
                  case when i % 2 = 0 then 'F' else 'M' end as sex,
                  case when i % 4 = 0 then null else 'x' end as nhs,
                  case when i % 5 = 0 then null else 'AB1 2CD' end as pc
           from range(120) t(i)"""
    )
    con.execute(
        """create table links as select 'r' || i as uid,
                  case when i < 100 then 'p' || (case when i >= 88 then i - 88 else i end) end as pid,
                  case when i < 40 then 'DET_STRONG_ID' when i < 100 then 'PROB_ACCEPT'
                       else 'UNMATCHED' end as status,
                  1.0 as score, 'deterministic' as step
           from range(120) t(i)"""
    )
    con.execute(
        """create table rec_area as select uid,
                  case when i % 3 = 0 then null else 'W01' || (i % 7) end as lsoa,
                  case when i % 3 = 0 then null else 'Area ' || (i % 2) end as la_name,
                  case when i % 3 = 0 then null else 1 + i % 5 end as deprivation_quintile
           from (select 'r' || i as uid, i from range(120) t(i))"""
    )
    con.execute(
        "create table rec_src as select 'r' || i as uid, 'deaths' as source_table,"
        " 'person' as person from range(120) t(i)"
    )
    con.execute("create table file3 as select uid as system_id, pid as alf from links")
    review = {
        "false_match": false_match_estimate(tmp_path, tmp_path),
        "missed_match": missed_match_estimate(tmp_path, tmp_path, linked=100, unmatched=20),
    }
    report = build_report(
        con,
        dataset="deaths",
        extract_id="deaths-x",
        config={},
        versions={},
        out_dir=tmp_path / "run",
        spine_people=1000,
        review=review,
    )
    con.close()
    return report, tmp_path / "run"


def _counts(node: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [c for k, v in node.items() for c in _counts(v, k)]
    if isinstance(node, list):
        return [c for v in node for c in _counts(v, key)]
    return [(key, node)] if key in COUNT_KEYS else []


def test_report_on_hand_built_tables(hand_built: tuple[dict[str, Any], Path]) -> None:
    r, out = hand_built
    assert r["sources"]["records_received"] == 120 and r["sources"]["records_linked"] == 100
    assert r["sources"]["by_source"] == [
        {
            "source_table": "deaths",
            "person": "person",
            "records": 120,
            "linked": 100,
            "rate": 100 / 120,
        }
    ]
    assert r["by_status"] == {"DET_STRONG_ID": 40, "PROB_ACCEPT": 60, "UNMATCHED": 20}
    imp = r["implausible"]
    # 12 people linked twice, with different dates of birth: 12 -> 10, 24 records -> 25
    assert imp["persons_linked_with_different_dates_of_birth"] == {"persons": 10, "records": 25}
    assert imp["several_records_for_one_person"]["persons"] == 10
    assert imp["system_ids_with_several_alfs"] == {"found": False, "system_ids": None}
    assert set(r["by_group"]) == {
        "sex",
        "age band at 2020",
        "year of birth",
        "deprivation quintile",
        "local authority",
        "NHS number",
        "postcode",
    }
    for name, rows in r["by_group"].items():
        # every record is in one group; protection moves each sum by a bounded amount
        known = sum(g["records"] or 0 for g in rows)
        suppressed = sum(g["records"] is None for g in rows)
        assert known - 2 * len(rows) <= 120 <= known + 2 * len(rows) + 9 * suppressed, name
    quintiles = [g["group"] for g in r["by_group"]["deprivation quintile"]]
    assert quintiles[0] == "1 (most deprived)" and quintiles[-1] == "unknown"
    cmp_ = r["linked_vs_unlinked"]
    assert (cmp_["linked"], cmp_["unlinked"]) == (100, 20)
    assert {c["characteristic"] for c in cmp_["rows"]} == {
        "NHS number",
        "postcode",
        "sex",
        "age band at 2020",
        "deprivation quintile",
    }
    # every count suppressed under 10, the rest multiples of 5
    counts = _counts(r)
    assert len(counts) > 50
    for key, value in counts:
        assert value is None or (value >= 10 and value % 5 == 0), (key, value)
    assert any(v is None for _, v in counts)
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1  # no probabilistic scores: no histogram
    for heading in (
        "Sources and coverage",
        "Linked and unlinked",
        "Implausible",
        "Clerical review",
    ):
        assert heading in page
    assert json.loads((out / "report.json").read_text()) == r


def test_protect_is_what_the_report_uses() -> None:
    assert [protect(n) for n in (0, 9, 10, 12, 13)] == [None, None, 10, 10, 15]
