"""The auditor's report in the portal: events made through the portal (failed logins, an
approval, a release, a collected zone's provisioning) show in its tables with their
alerts, and each export is a file and an event of the trail."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.governance import PanelOutcome, Role
from fjdp.portal import actions
from fjdp.portal.audit import collect_zone
from fjdp.portal.models import AuditEntry, Project
from fjdp.portal.outputs import FileIn
from lib.portal import REGISTRATION, make_user, outputs_folder, standard_people, verified_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(tmp_path: Path, settings: Any) -> dict[str, Any]:
    for name in ("ANALYSIS", "RELEASES", "OUTPUT_STORE"):
        setattr(settings, f"FJDP_{name}", str(tmp_path / name.lower()))
    folk: dict[str, Any] = dict(standard_people())
    # a panel member who also speaks for the registration service: allowed on one
    # account, but not as two of one project's approvers
    folk["pc"] = make_user("pc", Role.PANEL_MEMBER, Role.CUSTODIAN, organisation=REGISTRATION)
    for name in ("chk1", "chk2"):
        folk[name] = make_user(name, Role.OUTPUT_CHECKER)
    project = actions.create_project(
        folk["lead"],
        {
            "title": "Report",
            "lay_summary": "l",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "o",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=90),
        },
        [folk["lead"], folk["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    actions.submit(project, folk["lead"])
    actions.panel_decide(project, folk["pan1"], PanelOutcome.APPROVE, "sound")
    actions.panel_decide(project, folk["pc"], PanelOutcome.APPROVE, "sound")
    actions.custodian_decide(project, folk["pc"], "deaths", True, "fine")
    Project.objects.filter(pk=project.pk).update(state="active", provisioned=True)
    project.refresh_from_db()
    # the databank's provisioning, collected into the portal
    bank = tmp_path / "databank"
    zone_log(bank).path.parent.mkdir(parents=True)
    zone_log(bank).append(
        AuditEvent(
            "databank",
            "root",
            "data manager",
            Action.PROVISION,
            project.pid,
            {"rows": {"deaths.deaths": 1234}, "end_date": project.end_date.isoformat()},
        )
    )
    collect_zone(bank, actor="aud", role="auditor")
    # a release
    root = outputs_folder(project)
    rec = actions.create_request(
        project, folk["res"], "rates", [FileIn(root / "rates.csv", "big counts")], submit=True
    )
    for c in ("chk1", "chk2"):
        actions.take_request(rec, folk[c])
        actions.vote_file(rec, folk[c], "rates.csv", "approve", "")
    # someone guessing res's password
    guesser = Client(REMOTE_ADDR="192.0.2.7")
    for attempt in range(1, 6):
        r = guesser.post("/accounts/login/", {"username": "res", "password": "guess"})
        # the form again, until the fifth wrong password locks the account at that address
        assert r.status_code == (429 if attempt == 5 else 200)
    folk["project"], folk["rid"] = project, rec.rid
    return folk


def _csv(client: Client, key: str, query: str = "") -> list[dict[str, str]]:
    r = client.get(f"/audit/report/{key}.csv{query}")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert r["Content-Disposition"] == f'attachment; filename="audit-{key}.csv"'
    return list(csv.DictReader(io.StringIO(r.content.decode())))


def test_the_dashboard_shows_each_query_with_its_alerts(trail: dict[str, Any]) -> None:
    page = verified_client(trail["aud"]).get("/audit/report/")
    assert page.status_code == 200
    html = page.content.decode()
    for title in (
        "Failed logins and lockouts",
        "Sign-ins without a verified second factor",
        "Data in and out",
        "Activity outside a project",
        "Conflicts of role",
    ):
        assert title in html
    sections = {s["key"]: s for s in page.context["sections"]}
    assert sections["failed-logins"]["alerts"] == 2  # the account and the address
    assert sections["role-conflicts"]["alerts"] == 1
    assert sections["outside-window"]["alerts"] == 0
    assert sections["logs"]["alerts"] == 0
    assert page.context["report"].alerts == 3
    assert "approver twice" in html and "192.0.2.7" in html
    # the auditor's pages link to each other
    assert 'href="/audit/report/"' in verified_client(trail["aud"]).get("/audit/").content.decode()


def test_each_section_exports_as_csv_and_each_export_is_audited(trail: dict[str, Any]) -> None:
    client = verified_client(trail["aud"])
    fails = _csv(client, "failed-logins")
    assert {(r["by"], r["who"], r["failures"], r["lockouts"], r["alert"]) for r in fails} == {
        ("account", "res", "5", "1", "yes"),
        ("address", "192.0.2.7", "5", "1", "yes"),
    }
    moves = {r["action"]: r for r in _csv(client, "data-movements")}
    assert moves["provision"]["rows"] == "1234"
    assert moves["provision"]["log"] == "databank"
    assert moves["output.release"]["project"] == trail["project"].pid
    assert moves["output.release"]["files"] == "1"
    (conflict,) = _csv(client, "role-conflicts")
    assert (conflict["person"], conflict["kind"]) == ("pc", "approver twice")
    exports = AuditEntry.objects.filter(action=Action.AUDIT_EXPORT.value, actor="aud")
    assert list(exports.values_list("object", flat=True)) == [
        "failed-logins.csv",
        "data-movements.csv",
        "role-conflicts.csv",
    ]
    assert exports[0].details["rows"] == 2 and exports[0].details["alerts"] == 2
    assert client.get("/audit/report/no-such-section.csv").status_code == 404


def test_the_period_and_the_whole_report_as_html(trail: dict[str, Any]) -> None:
    client = verified_client(trail["aud"])
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert _csv(client, "failed-logins", f"?since={tomorrow}") == []
    page = client.get(f"/audit/report/?since={tomorrow}")
    assert page.context["report"].alerts == 0
    bad = client.get(f"/audit/report/?since={tomorrow}&until=2000-01-01")
    assert "the end day comes before the first day" in bad.content.decode()
    r = client.get("/audit/report/report.html")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    body = r.content.decode()
    assert body.startswith("<!doctype html>") and "<script" not in body
    assert "approver twice" in body
    assert AuditEntry.objects.filter(action="audit.export", object="report.html").exists()


def test_fjdp_audit_report_reads_the_portal_and_counts_a_collected_zone_once(
    trail: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``fjdp audit report --portal DIR`` with the databank's folder too: the provisioning
    read from the folder and from the portal's collected copy is one movement. (Django is
    already set up for the tests, so the command reads the test database; the folder
    needs only its secret key and database file to be accepted.)"""
    from fjdp.cli.app import main

    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "secret_key").write_text("a test key\n")
    (portal / "portal.sqlite3").touch()
    out = tmp_path / "report"
    argv = ["audit", "report", str(tmp_path / "databank"), "--portal", str(portal)]
    assert main([*argv, "--out", str(out), "--fail-on-alert"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("3 alerts")
    with open(out / "logs.csv", newline="") as f:
        assert [r["log"] for r in csv.DictReader(f)] == [
            "databank",
            "portal",
            "databank (collected)",
        ]
    with open(out / "data-movements.csv", newline="") as f:
        assert sorted(r["action"] for r in csv.DictReader(f)) == ["output.release", "provision"]
