"""The demo project went through the portal's approval path before its workspace
existed, and the demo ends by checking every audit chain and scanning for leaks."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

from fjdp.check.sweep import leak_scans
from fjdp.flow import linked_alfs

PROJECT_ID = "demo-family-pathways"


def _portal_events(demo: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(demo / "portal" / "portal.sqlite3") as con:
        return con.execute(
            "select action, actor, object from portal_auditentry order by seq"
        ).fetchall()


def test_the_demo_project_was_approved_before_it_was_provisioned(demo: Path) -> None:
    events = [(a, who) for a, who, obj in _portal_events(demo) if obj == PROJECT_ID]
    actions = [a for a, _ in events]
    assert actions[:2] == ["project.create", "project.submit"]
    panel = [who for a, who in events if a == "panel.decision"]
    assert panel == ["demo-panel-1", "demo-panel-2"]
    custodians = [who for a, who in events if a == "custodian.decision"]
    # every dataset was approved by the custodian of the organisation that provides it
    assert len(custodians) == 6 and "demo-custodian-childrens" in custodians
    # provisioning came after every decision, by the data manager, never by the lead
    assert actions.index("provision") > max(
        i for i, a in enumerate(actions) if a.endswith(".decision")
    )
    assert dict(events)["provision"] == "demo-data-manager"
    # the workspace holds what the application asked for: every link status
    meta = json.loads((demo / "workspaces" / PROJECT_ID / "workspace.json").read_text())
    assert len(meta["scope"]["link_statuses"]) == 6
    accounts = (demo / "portal" / "demo-accounts.txt").read_text()
    for name in ("demo-panel-1", "demo-data-manager", "demo-auditor", "demo-custodian-health"):
        assert name in accounts


def test_the_auditor_sees_every_zone_log_in_the_portal(demo: Path) -> None:
    with sqlite3.connect(demo / "portal" / "portal.sqlite3") as con:
        sources = {s for (s,) in con.execute("select distinct source from portal_zonerecord")}
    assert sources == {"provider", "ttp", "databank"}
    # the demo's own audit report: every log read, intact, and nothing to alert on
    report = demo / "audit-report"
    assert (report / "report.html").stat().st_size > 10_000
    logs = (report / "logs.csv").read_text()
    for source in ("portal", "provider (collected)", "ttp (collected)", "databank (collected)"):
        assert source in logs
    for section in report.glob("*.csv"):
        with section.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert all(r.get("alert", "no") == "no" for r in rows), (section.name, rows[:3])
        if section.stem == "data-movements":
            assert any(r["action"] == "provision" and r["object"] == PROJECT_ID for r in rows)


def test_the_final_leak_scan_would_find_a_raw_alf(demo: Path, tmp_path: Path) -> None:
    alfs = linked_alfs(demo / "ttp")
    assert len(alfs) > 10_000  # every spine person a record linked to
    planted = tmp_path / "analysis"
    planted.mkdir()
    (planted / "notes.csv").write_text(f"id,n\n{sorted(alfs)[0]},12\n")
    lines = leak_scans(
        world=demo / "world",
        raw_alfs=alfs,
        databank=demo / "databank",
        researcher_folders=[demo / "workspaces" / PROJECT_ID, planted],
    )
    bank, researcher = lines
    assert bank.ok, bank.detail
    assert not researcher.ok and "alf" in researcher.detail, researcher.detail
