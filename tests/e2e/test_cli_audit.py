"""``fjdp audit verify`` as an auditor runs it: good zones pass, a tampered one fails loudly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.models import TyperInfo
from typer.testing import CliRunner

from fjdp.audit import Action, AuditEvent, AuditRecord, zone_log
from fjdp.cli import app as cli_app
from fjdp.cli import audit
from fjdp.errors import IntegrityError
from fjdp.types import Zone


def make_zone(root: Path, zone: Zone, events: int) -> list[AuditRecord]:
    log = zone_log(root / zone.value)
    return [
        log.append(AuditEvent(zone, "alice", "operator", Action.KEY_USE, f"key-{i}", {"n": i}))
        for i in range(events)
    ]


def tamper(zone_dir: Path, line: int) -> None:
    """Change one detail of one event, leaving its hash as it was."""
    path = zone_dir / "audit" / "log.jsonl"
    rows = path.read_text(encoding="utf-8").splitlines()
    data = json.loads(rows[line - 1])
    data["details"]["n"] = 999
    rows[line - 1] = json.dumps(data, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture
def zones(tmp_path: Path) -> tuple[Path, Path, list[AuditRecord]]:
    good = make_zone(tmp_path, Zone.PROVIDER, 12)
    make_zone(tmp_path, Zone.TTP, 9)
    tamper(tmp_path / "ttp", 7)
    return tmp_path / "provider", tmp_path / "ttp", good


def output_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def test_a_good_log_verifies(zones: tuple[Path, Path, list[AuditRecord]]) -> None:
    provider, _, good = zones
    result = CliRunner().invoke(audit.app, ["verify", str(provider)])
    assert result.exit_code == 0, result.output
    assert output_lines(result.stdout) == [f"provider: ok, 12 events, head {good[-1].hash[:12]}…"]


def test_a_tampered_log_is_named_with_its_first_bad_event(
    zones: tuple[Path, Path, list[AuditRecord]],
) -> None:
    provider, ttp, good = zones
    result = CliRunner().invoke(audit.app, ["verify", str(provider), str(ttp)])
    assert isinstance(result.exception, IntegrityError)
    assert result.exception.exit_code == 6
    assert "ttp" in result.exception.message()
    assert "restore the log from backup" in result.exception.message()
    assert output_lines(result.stdout) == [
        f"provider: ok, 12 events, head {good[-1].hash[:12]}…",
        "ttp: BROKEN at event 7: event 7 was edited: its hash does not match its content",
    ]


def test_every_zone_is_checked_before_failing(
    tmp_path: Path, zones: tuple[Path, Path, list[AuditRecord]]
) -> None:
    _, ttp, _ = zones
    make_zone(tmp_path, Zone.DATABANK, 3)
    bank_log = tmp_path / "databank" / "audit" / "log.jsonl"
    bank_log.write_bytes(bank_log.read_bytes()[:-10])
    result = CliRunner().invoke(audit.app, ["verify", str(ttp), str(tmp_path / "databank")])
    assert isinstance(result.exception, IntegrityError)
    assert "2 audit logs are broken (ttp, databank)" in result.exception.message()
    assert output_lines(result.stdout)[1] == (
        "databank: BROKEN at event 3: the log ends mid-line: event 3 was cut short"
    )


def test_a_zone_without_a_log_counts_as_broken(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    result = CliRunner().invoke(audit.app, ["verify", str(tmp_path / "workspace")])
    assert isinstance(result.exception, IntegrityError)
    assert output_lines(result.stdout)[0].startswith("workspace: MISSING: no audit log at ")


@pytest.fixture
def fjdp_with_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """``fjdp`` with ``audit`` registered as the lead will, so exit codes go through main()."""
    groups = cli_app.app.registered_groups
    if not any(g.name == "audit" for g in groups):
        monkeypatch.setattr(
            cli_app.app, "registered_groups", [*groups, TyperInfo(audit.app, name="audit")]
        )


@pytest.mark.usefixtures("fjdp_with_audit")
def test_exit_codes_through_fjdp(
    tmp_path: Path,
    zones: tuple[Path, Path, list[AuditRecord]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider, ttp, _ = zones
    assert cli_app.main(["audit", "verify", str(provider)]) == 0
    assert "provider: ok, 12 events" in capsys.readouterr().out

    assert cli_app.main(["audit", "verify", str(provider), str(ttp)]) == 6
    captured = capsys.readouterr()
    assert "ttp: BROKEN at event 7" in captured.out
    err = output_lines(captured.err)
    assert len(err) == 1 and "Traceback" not in captured.err
    assert err[0].startswith("error: the audit log of ttp is broken;")

    assert cli_app.main(["audit", "verify", str(tmp_path / "nope")]) == 3
    assert "no such zone folder" in capsys.readouterr().err
