"""Clerical review through the CLI: the queue, decisions from a file and from prompts,
the false-match estimate, and decisions applied by the next run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from fjdp.cli.app import main
from fjdp.databank.load import load
from fjdp.flow import deliver, set_up_zones
from fjdp.linkage.review import decisions_path
from fjdp.linkage.run import link_dataset, load_spine
from fjdp.synth import WorldSummary
from fjdp.transfer.receive import receive
from fjdp.types import Zone


@pytest.fixture(scope="module")
def linked(
    small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    root = tmp_path_factory.mktemp("review")
    zones = set_up_zones(root, "tester")
    deliver(zones, "court_private", small_world.out / "court_private", "tester", lambda _m: None)
    load_spine(zones.ttp, small_world.out / "spine", actor="tester")
    run = link_dataset(
        zones.ttp, "court_private", databank=zones.ttp.trusted(Zone.DATABANK), actor="tester"
    )
    return {"zones": zones, "run": run, "root": root}


def _queue(run_dir: Path) -> list[tuple[str, str, str]]:
    con = duckdb.connect()
    rows = con.execute(
        f"select uid, pid, status from read_parquet('{run_dir / 'review_queue.parquet'}')"
    ).fetchall()
    con.close()
    return rows


def test_the_queue_holds_possible_links_and_a_sample_of_accepted(linked: dict[str, object]) -> None:
    run = linked["run"]
    rows = _queue(run.run_dir)  # type: ignore[attr-defined]
    statuses = {s for _, _, s in rows}
    assert "PROB_ACCEPT" in statuses
    assert len([r for r in rows if r[2] == "PROB_POSSIBLE"]) == run.counts.get("PROB_POSSIBLE", 0)  # type: ignore[attr-defined]


def test_decisions_give_a_false_match_estimate_and_change_the_next_run(
    linked: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones, run = linked["zones"], linked["run"]
    rows = [r for r in _queue(run.run_dir) if r[2] == "PROB_ACCEPT"][:4]  # type: ignore[attr-defined]
    decisions = tmp_path / "decisions.csv"
    with decisions.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["uid", "decision"])
        w.writerow([rows[0][0], "non-match"])
        for uid, _, _ in rows[1:]:
            w.writerow([uid, "match"])
    ttp = str(zones.ttp.path)  # type: ignore[attr-defined]
    assert (
        main(
            [
                "ttp",
                "review",
                "--dataset",
                "court_private",
                "--zone",
                ttp,
                "--decisions",
                str(decisions),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Recorded 4 decisions" in out and "25.0%" in out
    assert len(decisions_path(zones.ttp.path).read_text().splitlines()) == 4  # type: ignore[attr-defined]
    again = link_dataset(
        zones.ttp, "court_private", databank=zones.ttp.trusted(Zone.DATABANK), actor="t"
    )  # type: ignore[attr-defined]
    con = duckdb.connect()
    status = con.execute(
        f"select status, pid from read_parquet('{again.run_dir / 'links.parquet'}') where uid = '{rows[0][0]}'"
    ).fetchall()[0]
    con.close()
    assert status == ("UNMATCHED", None)
    summary = json.loads((again.run_dir / "summary.json").read_text())
    assert summary["changed_by_review"] == 4
    # the databank takes the revised File 3 as a new version with the reviewed status
    assert again.file3_bundle.name == "file3.r2"
    bank = zones.databank  # type: ignore[attr-defined]
    receive(run.file3_bundle, bank, actor="t")  # type: ignore[attr-defined]
    load(bank, actor="t")
    receive(again.file3_bundle, bank, actor="t")
    new, _ = load(bank, actor="t")
    assert [(v.version, v.file3_revision) for v in new] == [(2, 2)]
    persons = new[0].path(bank.path) / "persons.parquet"
    con = duckdb.connect()
    reviewed = con.execute(
        f"select link_status, alf_e is null from read_parquet('{persons}') where system_id = '{rows[0][0]}'"
    ).fetchall()
    con.close()
    assert reviewed == [("UNMATCHED", True)]


def test_interactive_review_asks_and_records(
    linked: dict[str, object], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    zones = linked["zones"]
    answers = iter(["m", "q"])
    monkeypatch.setattr("typer.prompt", lambda *a, **k: next(answers))
    before = len(decisions_path(zones.ttp.path).read_text().splitlines())  # type: ignore[attr-defined]
    assert main(["ttp", "review", "--dataset", "court_private", "--zone", str(zones.ttp.path)]) == 0  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "spine person" in out and "agrees" in out
    assert len(decisions_path(zones.ttp.path).read_text().splitlines()) == before + 1  # type: ignore[attr-defined]


def test_a_bad_decisions_file_is_one_line(
    linked: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,decision\nabc,perhaps\n")
    zones = linked["zones"]
    code = main(
        [
            "ttp",
            "review",
            "--dataset",
            "court_private",
            "--zone",
            str(zones.ttp.path),
            "--decisions",
            str(bad),
        ]
    )  # type: ignore[attr-defined]
    assert code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 1" in err[0]
