"""The ready-made audit queries on hand-built records: each alert firing and not firing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

from fjdp.audit import Action, AuditEvent, AuditRecord
from fjdp.audit.analytics import (
    Entry,
    Period,
    Thresholds,
    data_movements,
    data_totals,
    entries_of,
    failed_logins,
    merge,
    outside_window,
    project_windows,
    role_conflicts,
    second_factor,
)
from fjdp.audit.events import GENESIS
from fjdp.audit.log import Verification
from fjdp.audit.report import (
    SECTION_KEYS,
    build_report,
    log_source,
    report_html,
    section_csv,
    write_report,
)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Log:
    """Records of one log built by hand, chained as a real log would be."""

    def __init__(self, source: str = "portal", zone: str = "portal") -> None:
        self.source, self.zone = source, zone
        self.records: list[AuditRecord] = []

    def add(
        self,
        minutes: float,
        action: Action,
        obj: str,
        actor: str = "someone",
        role: str = "user",
        **details: Any,
    ) -> Log:
        prev = self.records[-1].hash if self.records else GENESIS
        at = T0 + dt.timedelta(minutes=minutes)
        self.records.append(
            AuditRecord.seal(
                seq=len(self.records) + 1,
                time=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                event=AuditEvent(self.zone, actor, role, action, obj, details),
                prev=prev,
            )
        )
        return self

    def entries(self) -> list[Entry]:
        return entries_of(self.source, self.records)


def day(n: int) -> float:
    return n * 24 * 60.0


# --- (a) failed logins ------------------------------------------------------------------


def _fail(log: Log, minutes: float, account: str, ip: str = "10.0.0.1") -> None:
    log.add(minutes, Action.LOGIN_FAILED, account, "anonymous", "none", ip=ip)


def test_a_burst_of_failed_logins_alerts_for_the_account_and_the_address() -> None:
    log = Log()
    for m in (0, 3, 6, 9, 14):
        _fail(log, m, "alice")
    rows = {(r.by, r.who): r for r in failed_logins(log.entries())}
    for key in (("account", "alice"), ("address", "10.0.0.1")):
        row = rows[key]
        assert row.alert and row.failures == 5 and row.peak == 5, row
        assert row.why == "5 failed logins within 15 minutes from 2026-03-02T09:00:00Z"
        assert row.signed_in_after == ""


def test_the_same_failures_spread_out_do_not_alert() -> None:
    log = Log()
    for m in (0, 5, 10, 15, 20):  # never 5 inside 15 minutes: at most 3
        _fail(log, m, "alice")
    (account, address) = sorted(failed_logins(log.entries()), key=lambda r: r.by)
    assert account.failures == 5 and account.peak == 3 and not account.alert
    assert not address.alert and address.why == ""
    # four failures in a burst stay under the default threshold of five
    log = Log()
    for m in (0, 1, 2, 3):
        _fail(log, m, "bob")
    assert not any(r.alert for r in failed_logins(log.entries()))
    # ... and alert with a lower one
    assert all(r.alert for r in failed_logins(log.entries(), limits=Thresholds(burst=4)))


def test_a_successful_login_after_a_burst_is_named() -> None:
    log = Log()
    for m in range(6):
        _fail(log, m, "alice")
    log.add(7, Action.LOGIN, "alice", "alice", ip="10.0.0.1")
    row = next(r for r in failed_logins(log.entries()) if r.by == "account")
    assert row.signed_in_after == "2026-03-02T09:07:00Z"
    assert "then a successful login at 2026-03-02T09:07:00Z" in row.why
    # a sign-in the next day is not "right after" the burst
    later = Log()
    for m in range(6):
        _fail(later, m, "alice")
    later.add(day(1), Action.LOGIN, "alice", "alice", ip="10.0.0.1")
    assert (
        next(r for r in failed_logins(later.entries()) if r.by == "account").signed_in_after == ""
    )


def test_spraying_many_accounts_from_one_address_alerts_for_the_address_only() -> None:
    log = Log()
    for i in range(5):
        _fail(log, i, f"user{i}", ip="203.0.113.9")
    rows = failed_logins(log.entries())
    alerts = [(r.by, r.who) for r in rows if r.alert]
    assert alerts == [("address", "203.0.113.9")]
    assert len(rows) == 6


def test_a_lockout_alerts_even_after_one_failure() -> None:
    log = Log()
    _fail(log, 0, "carol")
    log.add(1, Action.LOGIN_LOCKED, "carol", "anonymous", "none", ip="10.0.0.2")
    row = next(r for r in failed_logins(log.entries()) if r.by == "account")
    assert row.alert and row.lockouts == 1 and row.why == "locked out 1 time"


def test_the_period_limits_the_failures_counted() -> None:
    log = Log()
    for m in range(5):
        _fail(log, m, "alice")
    for m in range(2):
        _fail(log, day(2) + m, "alice")
    since = T0 + dt.timedelta(days=1)
    (account, _address) = failed_logins(log.entries(), Period(since=since))
    assert account.failures == 2 and not account.alert
    assert account.first == "2026-03-04T09:00:00Z"


# --- (b) the second factor --------------------------------------------------------------


def test_a_verified_sign_in_is_not_listed_and_a_stopped_one_is() -> None:
    log = Log()
    log.add(0, Action.LOGIN, "dave", "dave", ip="10.0.0.3")
    log.add(1, Action.OTP_VERIFIED, "dave", "dave")
    log.add(60, Action.LOGIN, "dave", "dave", ip="10.0.0.4")  # left at the second step
    log.add(120, Action.LOGIN, "dave", "dave", ip="10.0.0.3")
    log.add(121, Action.OTP_VERIFIED, "dave", "dave")
    (row,) = second_factor(log.entries())
    assert (row.account, row.ip, row.signed_in) == ("dave", "10.0.0.4", "2026-03-02T10:00:00Z")
    assert row.outcome == "no code entered" and not row.alert and row.verified == ""


def test_a_right_password_with_wrong_codes_alerts() -> None:
    log = Log()
    log.add(0, Action.LOGIN, "erin", "erin", ip="10.0.0.5")
    log.add(1, Action.OTP_FAILED, "erin", "erin", reason="invalid token")
    log.add(2, Action.OTP_FAILED, "erin", "erin", reason="invalid token")
    log.add(3, Action.LOGOUT, "erin", "erin")
    # a code after signing out belongs to no session
    log.add(4, Action.OTP_FAILED, "erin", "erin")
    (row,) = second_factor(log.entries())
    assert row.alert and row.failed_codes == 2 and row.outcome == "stopped after 2 wrong codes"
    assert "password may be known" in row.why


def test_many_wrong_codes_before_the_right_one_alert_and_one_does_not() -> None:
    log = Log()
    log.add(0, Action.LOGIN, "fay", "fay")
    for m in (1, 2, 3):
        log.add(m, Action.OTP_FAILED, "fay", "fay")
    log.add(4, Action.OTP_VERIFIED, "fay", "fay")
    log.add(10, Action.LOGIN, "gus", "gus")
    log.add(11, Action.OTP_FAILED, "gus", "gus")
    log.add(12, Action.OTP_VERIFIED, "gus", "gus")
    rows = {r.account: r for r in second_factor(log.entries())}
    assert rows["fay"].alert and rows["fay"].outcome == "verified after 3 wrong codes"
    assert not rows["gus"].alert and rows["gus"].outcome == "verified after 1 wrong code"
    assert not any(
        r.alert for r in second_factor(log.entries(), limits=Thresholds(code_failures=4))
    )


# --- (c) data in and out ----------------------------------------------------------------


def _transfer(received_rows: int | None) -> list[Entry]:
    provider = Log("provider", "provider")
    provider.add(0, Action.SPLIT, "ex1", "op", dataset="deaths", rows_in=110)
    provider.add(0, Action.QUARANTINE, "ex1", "op", rows=10)
    provider.add(
        1,
        Action.SEND,
        "ex1",
        "op",
        kind="file1",
        recipient_zone="ttp",
        files=[{"table": "file1", "rows": 100, "sha256": "a" * 64}],
    )
    logs = [provider.entries()]
    if received_rows is not None:
        ttp = Log("ttp", "ttp")
        ttp.add(0.5, Action.ZONE_INIT, "ttp", "op")
        if received_rows >= 0:
            ttp.add(
                2,
                Action.RECEIVE,
                "ex1",
                "op",
                dataset="deaths",
                kind="file1",
                files=[{"table": "file1", "rows": received_rows, "sha256": "a" * 64}],
            )
        logs.append(ttp.entries())
    return merge(*logs)


def test_a_transfer_received_whole_does_not_alert() -> None:
    rows = data_movements(_transfer(100))
    assert [(r.action, r.direction, r.rows, r.alert) for r in rows] == [
        ("quarantine", "held back at the provider", 10, False),
        ("send", "provider → ttp", 100, False),
        ("receive", "provider → ttp", 100, False),
    ]
    assert all(r.dataset == "deaths" for r in rows)


def test_a_transfer_received_short_or_never_alerts() -> None:
    send = next(r for r in data_movements(_transfer(90)) if r.action == "send")
    assert send.alert and send.why == "sent 100 rows but the ttp received 90"
    send = next(r for r in data_movements(_transfer(-1)) if r.action == "send")
    assert send.alert and send.why == "the ttp log records no receipt of this file1"
    # without the recipient's log there is nothing to compare with
    send = next(r for r in data_movements(_transfer(None)) if r.action == "send")
    assert not send.alert


def test_a_refused_bundle_alerts() -> None:
    bank = Log("databank", "databank")
    bank.add(0, Action.REFUSE, "ex1.bundle", "op", reason="the bundle was changed after signing")
    (row,) = data_movements(bank.entries())
    assert row.alert and row.why == "refused: the bundle was changed after signing"


def test_loads_provisioning_releases_and_downloads_carry_their_counts_and_project() -> None:
    bank = Log("databank", "databank")
    bank.add(0, Action.LOAD, "deaths v1", "op", dataset="deaths", rows={"deaths": 70})
    bank.add(1, Action.PROVISION, "P1", "op", rows={"deaths.deaths": 60, "x.y": 5})
    bank.add(9, Action.REVOKE, "P1", "op", reason="closed")
    portal = Log()
    portal.add(2, Action.OUTPUT_REQUEST, "R1", "res", project="P1", files=[])
    portal.add(3, Action.OUTPUT_RELEASE, "R1", "chk", project="P1", files=["a.csv", "b.png"])
    portal.add(4, Action.OUTPUT_DOWNLOAD, "R1", "res", bundle="r.zip")
    moves = data_movements(merge(bank.entries(), portal.entries()))
    got = [(m.action, m.project, m.dataset, m.rows, m.tables, m.files) for m in moves]
    assert got == [
        ("load", "", "deaths", 70, 1, None),
        ("provision", "P1", "", 65, 2, None),
        ("output.release", "P1", "", None, None, 2),
        ("output.download", "P1", "", None, None, None),
        ("revoke", "P1", "", None, None, None),
    ]
    totals = {(t.zone, t.action): t for t in data_totals(moves)}
    assert totals[("databank", "provision")].rows == 65
    assert totals[("portal", "output.release")].files == 2
    # the period picks movements; what they are compared with comes from every record
    since = T0 + dt.timedelta(minutes=3)
    assert [m.action for m in data_movements(merge(bank.entries()), Period(since=since))] == [
        "revoke"
    ]


# --- (d) the project's window -----------------------------------------------------------


def _approved_project(log: Log, end: str = "2026-06-30") -> None:
    """P1 led by lead with res, approved at minute 40 with end date ``end``."""
    summary = {"researchers": ["lead", "res"], "end_date": end}
    log.add(0, Action.PROJECT_CREATE, "P1", "lead", "project_lead", **summary)
    log.add(10, Action.PROJECT_SUBMIT, "P1", "lead", "project_lead", round=1, **summary)
    log.add(20, Action.PANEL_DECISION, "P1", "pan1", "panel_member", round=1, to="panel_review")
    log.add(30, Action.PANEL_DECISION, "P1", "pan2", "panel_member", round=1, to="custodian_review")
    log.add(
        40,
        Action.CUSTODIAN_DECISION,
        "P1",
        "cust",
        "custodian",
        round=1,
        dataset="deaths",
        approve=True,
        **{"from": "custodian_review", "to": "approved"},
    )


def test_activity_inside_the_window_does_not_alert() -> None:
    log = Log()
    _approved_project(log)
    log.add(50, Action.PROVISION, "P1", "dm", "data_manager", to="active")
    log.add(60, Action.OUTPUT_REQUEST, "R1", "res", "researcher", project="P1")
    log.add(day(10), Action.OUTPUT_DOWNLOAD, "R1", "res", "researcher")
    assert outside_window(log.entries()) == []
    (window,) = project_windows(log.entries())
    assert (window.approved_at, window.end_date, window.ended_at) == (
        "2026-03-02T09:40:00Z",
        "2026-06-30",
        "",
    )


def test_activity_before_approval_after_the_end_date_and_after_closure_alerts() -> None:
    bank = Log("databank", "databank")
    bank.add(15, Action.PROVISION, "P1", "root", "data manager", end_date="2026-06-30")
    log = Log()
    _approved_project(log)
    log.add(60, Action.OUTPUT_REQUEST, "R1", "res", "researcher", project="P1")
    log.add(day(200), Action.OUTPUT_DOWNLOAD, "R1", "res", "researcher")  # 18 September
    log.add(day(201), Action.PROJECT_CLOSE, "P1", "dm", "data_manager", reason="done")
    log.add(day(202), Action.OUTPUT_DOWNLOAD, "R1", "res", "researcher")
    rows = outside_window(merge(bank.entries(), log.entries()))
    assert [(r.action, r.log, r.why) for r in rows] == [
        ("provision", "databank", "before the project was approved (2026-03-02T09:40:00Z)"),
        ("output.download", "portal", "after the project's end date (2026-06-30)"),
        (
            "output.download",
            "portal",
            "after the project's end date (2026-06-30); "
            "after the project was closed (2026-09-19T09:00:00Z)",
        ),
    ]
    assert all(r.alert and r.project == "P1" for r in rows)


def test_a_rejected_amendment_keeps_the_approved_end_date() -> None:
    log = Log()
    _approved_project(log)
    amended = {"researchers": ["lead", "res"], "end_date": "2027-12-31"}
    log.add(100, Action.PROJECT_SUBMIT, "P1", "lead", "project_lead", round=2, **amended)
    log.add(
        110,
        Action.PANEL_DECISION,
        "P1",
        "pan1",
        "panel_member",
        round=2,
        **{"from": "panel_review", "to": "active"},
    )
    (window,) = project_windows(log.entries())
    assert window.end_date == "2026-06-30"


def test_zone_logs_alone_judge_by_the_end_date_and_the_revocation() -> None:
    bank = Log("databank", "databank")
    bank.add(0, Action.PROVISION, "P9", "root", "data manager", end_date="2026-12-31")
    assert outside_window(bank.entries()) == []  # no portal: approval unknown, not alerted
    bank.add(10, Action.REVOKE, "P9", "root", "data manager", reason="closed")
    bank.add(20, Action.PROVISION, "P9", "root", "data manager", end_date="2026-12-31")
    (row,) = outside_window(bank.entries())
    assert row.why == "after the project was revoked (2026-03-02T09:10:00Z)"
    # with the portal's records, a project it never approved alerts
    portal = Log().add(0, Action.LOGIN, "x", "x")
    rows = outside_window(merge(bank.entries(), portal.entries()))
    assert rows[0].why == "the portal's records show no approval of this project"


# --- (e) conflicts of role --------------------------------------------------------------


def test_a_clean_approval_and_review_has_no_conflict() -> None:
    log = Log()
    _approved_project(log)
    log.add(50, Action.PROVISION, "P1", "dm", "data_manager")
    log.add(60, Action.OUTPUT_REQUEST, "R1", "res", "researcher", project="P1")
    log.add(61, Action.OUTPUT_TAKE, "R1", "chk1", "output_checker", round=1)
    log.add(62, Action.OUTPUT_TAKE, "R1", "chk2", "output_checker", round=1)
    log.add(63, Action.OUTPUT_DOWNLOAD, "R1", "res", "researcher")
    log.add(0, Action.USER_CREATE, "res", "admin", "admin", roles=["researcher"])
    log.add(1, Action.USER_UPDATE, "res", "admin", "admin", roles=["project_lead", "researcher"])
    assert role_conflicts(log.entries()) == []


def test_a_panel_member_named_on_the_project_later_is_a_conflict() -> None:
    log = Log()
    _approved_project(log)
    log.add(
        100,
        Action.PROJECT_EDIT,
        "P1",
        "lead",
        "project_lead",
        researchers=["lead", "res", "pan1"],
    )
    (row,) = role_conflicts(log.entries())
    assert (row.person, row.kind, row.project) == (
        "pan1",
        "decided on own project as panel member",
        "P1",
    )
    assert row.why == "pan1 is a researcher on the project (later (2026-03-02T10:40:00Z))"


def test_one_person_as_panel_member_and_custodian_is_a_conflict() -> None:
    log = Log()
    _approved_project(log)
    log.add(
        41,
        Action.CUSTODIAN_DECISION,
        "P1",
        "pan2",
        "custodian",
        round=1,
        dataset="court_public",
        approve=True,
    )
    (row,) = role_conflicts(log.entries())
    assert row.person == "pan2" and row.kind == "approver twice"
    assert "both as panel member and as custodian" in row.why


def test_output_checkers_on_their_own_project_twice_or_downloading_are_conflicts() -> None:
    log = Log()
    _approved_project(log)
    log.add(60, Action.OUTPUT_REQUEST, "R1", "res", "researcher", project="P1")
    log.add(61, Action.OUTPUT_TAKE, "R1", "res", "output_checker", round=1)
    log.add(62, Action.OUTPUT_TAKE, "R1", "lead", "output_checker", round=1)
    log.add(63, Action.OUTPUT_TAKE, "R1", "chk", "output_checker", round=1)
    log.add(64, Action.OUTPUT_TAKE, "R1", "chk", "output_checker", round=1)
    log.add(65, Action.OUTPUT_DOWNLOAD, "R1", "chk", "researcher")
    got = [(r.person, r.kind) for r in role_conflicts(log.entries())]
    assert got == [
        ("res", "checked own request"),
        ("lead", "checked own project's output"),
        ("chk", "same checker twice"),
        ("chk", "checker downloaded"),
    ]


def test_a_data_manager_provisioning_their_own_project_is_a_conflict() -> None:
    log = Log()
    _approved_project(log)
    log.add(50, Action.PROVISION, "P1", "lead", "data_manager")
    (row,) = role_conflicts(log.entries())
    assert row.kind == "provisioned own project"
    assert row.why == "lead is the lead on the project (already)"


def test_incompatible_roles_held_in_turn_or_together_are_conflicts() -> None:
    log = Log()
    log.add(0, Action.USER_CREATE, "kim", "admin", "admin", roles=["linkage_operator"])
    log.add(5, Action.USER_UPDATE, "kim", "admin", "admin", roles=["researcher"])
    log.add(9, Action.USER_CREATE, "lou", "admin", "admin", roles=["auditor", "panel_member"])
    rows = role_conflicts(log.entries())
    assert [(r.person, r.kind, r.object) for r in rows] == [
        ("kim", "incompatible roles in turn", "linkage operator + researcher"),
        ("lou", "incompatible roles", "auditor + governance panel member"),
    ]
    assert rows[0].why.startswith("kim has held both linkage operator and researcher: ")


# --- the report -------------------------------------------------------------------------


def _report_entries() -> list[Entry]:
    log = Log()
    for m in range(5):
        _fail(log, m, '=HYPERLINK("http://x")<b>')
    _approved_project(log)
    return log.entries()


def test_the_report_has_every_section_and_counts_its_alerts() -> None:
    entries = _report_entries()
    ok = Verification(ok=True, events=len(entries), first_bad_seq=None, reason=None, head="a")
    report = build_report(entries, [log_source("portal", entries, ok)])
    assert tuple(s.key for s in report.sections) == SECTION_KEYS
    assert report.section("failed-logins").alerts == 2
    assert report.alerts == 2
    bad = Verification(ok=False, events=3, first_bad_seq=4, reason="event 4 was edited", head="a")
    report = build_report(entries, [log_source("portal", entries, bad)])
    (src,) = report.section("logs").rows
    assert src.alert and src.chain == "BROKEN" and "broken at event 4" in src.why


def test_csv_defuses_formulas_and_html_escapes(tmp_path: Path) -> None:
    entries = _report_entries()
    ok = Verification(ok=True, events=len(entries), first_bad_seq=None, reason=None, head="a")
    report = build_report(entries, [log_source("portal", entries, ok)])
    rows = list(csv.DictReader(io.StringIO(section_csv(report.section("failed-logins")))))
    account = next(r for r in rows if r["by"] == "account")
    assert account["who"] == '\'=HYPERLINK("http://x")<b>'
    assert account["alert"] == "yes" and account["failures"] == "5"
    page = report_html(report)
    assert "<b>" not in page and "&lt;b&gt;" in page and "<script" not in page
    written = write_report(report, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(
        ["report.html", *(f"{k}.csv" for k in SECTION_KEYS)]
    )
