"""``fjdp audit report`` on a small set of zones: tables, files, periods and exit codes."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fjdp.audit import Action, AuditEvent, AuditLog
from fjdp.cli.app import main

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _clock(minutes: list[float]) -> Iterator[dt.datetime]:
    for m in minutes:
        yield T0 + dt.timedelta(minutes=m)


def _zone(
    root: Path, zone: str, events: list[tuple[float, Action, str, dict[str, object]]]
) -> Path:
    ticks = _clock([m for m, *_ in events])
    log = AuditLog(root / zone / "audit" / "log.jsonl", clock=lambda: next(ticks))
    log.path.parent.mkdir(parents=True)
    for _m, action, obj, details in events:
        log.append(AuditEvent(zone, "op", "operator", action, obj, details))
    return root / zone


def _file(rows: int) -> list[dict[str, object]]:
    return [{"table": "file1", "rows": rows, "sha256": "a" * 64}]


@pytest.fixture
def zones(tmp_path: Path) -> tuple[Path, Path]:
    """A provider that sent two File 1s (100 and 50 rows), and a TTP that received the
    first whole, the second short by 5 rows a day later, and refused a third bundle."""
    provider = _zone(
        tmp_path,
        "provider",
        [
            (0, Action.ZONE_INIT, "provider", {}),
            (1, Action.QUARANTINE, "ex1", {"rows": 3}),
            (
                2,
                Action.SEND,
                "ex1",
                {"kind": "file1", "recipient_zone": "ttp", "files": _file(100)},
            ),
            (day := 24 * 60.0, Action.SEND, "ex2", {"kind": "file1", "files": _file(50)}),
        ],
    )
    ttp = _zone(
        tmp_path,
        "ttp",
        [
            (0, Action.ZONE_INIT, "ttp", {}),
            (3, Action.RECEIVE, "ex1", {"dataset": "deaths", "kind": "file1", "files": _file(100)}),
            (
                day + 1,
                Action.RECEIVE,
                "ex2",
                {"dataset": "births", "kind": "file1", "files": _file(45)},
            ),
            (day + 2, Action.REFUSE, "ex3.bundle", {"reason": "not addressed to this zone"}),
        ],
    )
    return provider, ttp


def test_the_report_prints_alerts_and_writes_html_and_csv(
    zones: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider, ttp = zones
    out = tmp_path / "report"
    assert main(["audit", "report", str(provider), str(ttp), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    # the terminal shows each section's alerts (folded to its width); the files hold all
    assert "Data in and out: alerts" in text and "ex3.bundle" in text
    assert "Failed logins and lockouts: alerts" not in text
    assert text.rstrip().endswith("2 alerts")
    with open(out / "data-movements.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["log"], r["action"], r["rows"], r["alert"]) for r in rows] == [
        ("provider", "quarantine", "3", "no"),
        ("provider", "send", "100", "no"),
        ("ttp", "receive", "100", "no"),
        ("provider", "send", "50", "yes"),
        ("ttp", "receive", "45", "no"),
        ("ttp", "refuse", "", "yes"),
    ]
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "sent 50 rows but the ttp received 45" in page


def test_since_and_until_pick_the_days_reported(
    zones: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider, ttp = zones
    out = tmp_path / "first-day"
    args = ["audit", "report", str(provider), str(ttp), "--out", str(out), "--rows", "0"]
    assert main([*args, "--until", "2026-03-02"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("0 alerts")
    with open(out / "data-movements.csv", newline="") as f:
        assert [r["object"] for r in csv.DictReader(f)] == ["ex1", "ex1", "ex1"]
    assert main([*args, "--since", "2026-03-03T09:01:30Z"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("1 alert")


def test_fail_on_alert_exits_1_and_bad_input_is_one_line(
    zones: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provider, ttp = zones
    assert main(["audit", "report", str(provider), "--fail-on-alert"]) == 0
    assert main(["audit", "report", str(provider), str(ttp), "--fail-on-alert"]) == 1
    capsys.readouterr()
    empty = tmp_path / "portal"
    empty.mkdir()
    (empty / "secret_key").write_text("a test key\n")
    cases = [
        (["audit", "report"], 2, "error: nothing to report on; give zone folders, --portal DIR"),
        (["audit", "report", str(tmp_path / "nope")], 3, "error: no such zone folder ("),
        (["audit", "report", str(tmp_path)], 3, "error: no audit log here ("),
        (["audit", "report", str(ttp), "--since", "March"], 2, "error: --since 'March' is not a"),
        (
            ["audit", "report", str(ttp), "--since", "2026-03-05", "--until", "2026-03-01"],
            2,
            "error: --until 2026-03-01 is not after --since 2026-03-05",
        ),
        (
            ["audit", "report", "--portal", str(tmp_path / "nope")],
            3,
            "error: no such portal folder",
        ),
        (["audit", "report", "--portal", str(empty)], 3, "error: the portal has no database ("),
    ]
    for argv, code, message in cases:
        assert main(argv) == code, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith(message) and "\n" not in err and "Traceback" not in err, err


def test_a_broken_chain_is_reported_as_an_alert(
    zones: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    provider, _ = zones
    path = provider / "audit" / "log.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"rows":3', '"rows":1')
    path.write_text("\n".join(lines) + "\n")
    assert main(["audit", "report", str(provider), "--fail-on-alert"]) == 1
    assert "the chain is broken at event 2: event 2 was edited" in capsys.readouterr().out
