"""The linkage-quality report of real runs on a small world: it reconciles with the
run's counts, has every section, protects every count, takes its areas from the LSOA
lookup loaded with the spine, and shows the missed-match estimate once unmatched
records are reviewed; no content column appears anywhere in the TTP zone."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from fjdp.cli.app import main
from fjdp.disclosure.protect import protect
from fjdp.flow import Zones, deliver, set_up_zones
from fjdp.linkage.review import pending, wilson
from fjdp.linkage.run import LinkRun, link_dataset, load_spine
from fjdp.specs import Role, all_specs
from fjdp.synth import WorldSummary
from fjdp.types import Zone

COUNT_KEYS = {"records", "linked", "unlinked", "persons", "system_ids", "sampled", "reviewed"}


@pytest.fixture(scope="module")
def runs(
    small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Zones, dict[str, LinkRun]]:
    zones = set_up_zones(tmp_path_factory.mktemp("report"), "tester")
    for name, rel in (("court_private", "court_private"), ("deaths", "deaths/deaths.parquet")):
        deliver(zones, name, small_world.out / rel, "tester", lambda _m: None)
    loaded = load_spine(zones.ttp, small_world.out / "spine", actor="tester")
    assert loaded.lsoas  # picked up from the world's deprivation folder
    out = {
        name: link_dataset(
            zones.ttp, name, databank=zones.ttp.trusted(Zone.DATABANK), actor="tester"
        )
        for name in ("court_private", "deaths")
    }
    return zones, out


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _counts(node: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [c for k, v in node.items() for c in _counts(v, k)]
    if isinstance(node, list):
        return [c for v in node for c in _counts(v, key)]
    return [(key, node)] if key in COUNT_KEYS else []


def test_the_report_reconciles_with_the_run(runs: tuple[Zones, dict[str, LinkRun]]) -> None:
    for run in runs[1].values():
        summary = _json(run.run_dir / "summary.json")
        report = _json(run.run_dir / "report.json")
        assert summary["by_status"] == run.counts
        assert sum(run.counts.values()) == summary["records"]
        assert report["by_status"] == {k: protect(v) for k, v in sorted(run.counts.items())}
        file1 = next((runs[0].ttp.path / "received" / run.dataset).glob("*/file1/file1.parquet"))
        received = pq.ParquetFile(file1).metadata.num_rows
        assert report["sources"]["records_received"] == protect(received) == report["records"]
        linked = sum(run.counts.get(s, 0) for s in ("DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT"))
        assert report["sources"]["records_linked"] == protect(linked)
        assert report["linked_vs_unlinked"]["linked"] == protect(linked)
        assert report["linked_vs_unlinked"]["unlinked"] == protect(received - linked)
        assert report["sources"]["spine_people"] == protect(
            pq.ParquetFile(runs[0].ttp.path / "spine" / "spine.parquet").metadata.num_rows
        )
        for name, rows in report["by_group"].items():
            known = sum(g["records"] or 0 for g in rows)
            suppressed = sum(g["records"] is None for g in rows)
            assert known - 2 * len(rows) <= received <= known + 2 * len(rows) + 9 * suppressed, (
                run.dataset,
                name,
            )


def test_every_section_is_there_and_every_count_protected(
    runs: tuple[Zones, dict[str, LinkRun]],
) -> None:
    court, deaths = runs[1]["court_private"], runs[1]["deaths"]
    report = _json(court.run_dir / "report.json")
    for section in (
        "sources",
        "method",
        "by_status",
        "by_group",
        "linked_vs_unlinked",
        "implausible",
        "clerical_review",
    ):
        assert section in report
    assert {"deprivation quintile", "local authority", "year of birth"} <= set(report["by_group"])
    quintiles = {g["group"] for g in report["by_group"]["deprivation quintile"]}
    assert {"1 (most deprived)", "5 (least deprived)"} <= quintiles
    assert len(report["by_group"]["local authority"]) > 3
    assert report["sources"]["dataset"] == "court_private"
    assert report["implausible"]["system_ids_with_several_alfs"]["found"] is False
    assert report["implausible"]["several_records_for_one_person"] is None
    one = _json(deaths.run_dir / "report.json")["implausible"]["several_records_for_one_person"]
    assert one["applies_to"] == ["deaths/person"]
    for run in (court, deaths):
        counts = _counts(_json(run.run_dir / "report.json"))
        assert counts
        for key, value in counts:
            assert value is None or (value >= 10 and value % 5 == 0), (run.dataset, key, value)
        page = (run.run_dir / "report.html").read_text()
        assert page.count("data:image/png;base64,") == 2
        assert "missed-match rate" in page and 'src="http' not in page


def test_no_content_column_in_the_ttp_zone(runs: tuple[Zones, dict[str, LinkRun]]) -> None:
    content = {
        c.name for s in all_specs() for t in s.tables for c in t.columns if c.role is Role.CONTENT
    }
    ttp = runs[0].ttp.path
    ref = ttp / "spine" / "lsoa_reference.parquet"
    assert pq.ParquetFile(ref).schema_arrow.names == ["lsoa", "la_name", "deprivation_quintile"]
    files = list(ttp.rglob("*.parquet"))
    assert len(files) > 5
    for f in files:
        assert not set(pq.ParquetFile(f).schema_arrow.names) & content, f
    for f in ttp.rglob("report.json"):
        text = f.read_text()
        assert not any(f'"{c}"' in text for c in content), f


def _unmatched_queue(run_dir: Path) -> list[tuple[str, str | None]]:
    con = duckdb.connect()
    rows = con.execute(
        f"select uid, pid from read_parquet('{run_dir / 'review_queue.parquet'}')"
        " where status = 'UNMATCHED' order by uid"
    ).fetchall()
    con.close()
    return rows


def test_missed_match_estimate_from_reviewed_unmatched_records(
    runs: tuple[Zones, dict[str, LinkRun]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones, court = runs[0], runs[1]["court_private"]
    queued = _unmatched_queue(court.run_dir)
    assert len(queued) >= 12
    with_candidate = [u for u, p in queued if p is not None]
    assert with_candidate
    found = with_candidate[0]
    decisions = tmp_path / "d.csv"
    with decisions.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["uid", "decision"])
        for uid, _ in queued[:12]:
            w.writerow([uid, "match" if uid == found else "non-match"])
        if found not in {u for u, _ in queued[:12]}:
            w.writerow([found, "match"])
    args = ["ttp", "review", "--dataset", "court_private", "--zone", str(zones.ttp.path)]
    assert main([*args, "--decisions", str(decisions), "--limit", "100"]) == 0
    out = capsys.readouterr().out
    assert "missed-match rate" in out
    summary = _json(court.run_dir / "summary.json")
    mm = summary["missed_match"]
    assert mm["reviewed"] >= 12 and mm["matches"] == 1
    assert mm["unmatched_match_share"] == pytest.approx(1 / mm["reviewed"])
    assert mm["share_interval"] == pytest.approx(list(wilson(1, mm["reviewed"])))
    released = _json(court.run_dir / "report.json")["clerical_review"]["missed_match"]
    assert released["unmatched_match_share"] == pytest.approx(1 / mm["reviewed"])
    assert released["missed_match_rate"] is not None and released["reviewed"] == protect(
        mm["reviewed"]
    )
    assert "95% CI" in (court.run_dir / "report.html").read_text()
    # the next run links the record to the confirmed candidate and keeps the estimate
    again = link_dataset(
        zones.ttp, "court_private", databank=zones.ttp.trusted(Zone.DATABANK), actor="t"
    )
    con = duckdb.connect()
    row = con.execute(
        f"select status, pid, step from read_parquet('{again.run_dir / 'links.parquet'}')"
        f" where uid = '{found}'"
    ).fetchall()[0]
    con.close()
    assert row == ("PROB_ACCEPT", dict(queued)[found], "clerical")
    assert _json(again.run_dir / "summary.json")["missed_match"]["matches"] == 1


def test_match_for_a_record_without_candidate_is_one_line(
    runs: tuple[Zones, dict[str, LinkRun]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones, court = runs[0], runs[1]["court_private"]
    # only a record still waiting for review: another test may have decided some already
    waiting = {item.uid for item in pending(court.run_dir, zones.ttp.path)}
    no_candidate = [u for u, p in _unmatched_queue(court.run_dir) if p is None and u in waiting]
    if not no_candidate:
        pytest.skip("every waiting unmatched record has a candidate")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"uid,decision\n{no_candidate[-1]},match\n")
    args = ["ttp", "review", "--dataset", "court_private", "--zone", str(zones.ttp.path)]
    assert main([*args, "--decisions", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no spine candidate" in err[0]


def test_load_spine_with_a_bad_lookup_is_one_line(
    small_world: WorldSummary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = set_up_zones(tmp_path / "z", "tester")
    bad = tmp_path / "lsoa.csv"
    bad.write_text("lsoa_code,deprivation_quintile\nW01000001,3\n")
    code = main(
        [
            "ttp",
            "load-spine",
            str(small_world.out / "spine"),
            "--zone",
            str(zones.ttp.path),
            "--deprivation",
            str(bad),
        ]
    )
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "local_authority" in err[0]
    assert not (zones.ttp.path / "spine" / "lsoa_reference.parquet").exists()
    assert not list((zones.ttp.path / "spine").glob(".*partial*"))
