"""The portal with Django's test client on SQLite: the whole lifecycle down to a
provisioned workspace, safe people, two-factor login, CSRF, expiry and the audit trail."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from fjdp.audit import verify_log
from fjdp.errors import GovernanceError
from fjdp.governance import Role
from fjdp.portal.actions import create_project
from fjdp.portal.audit import collect_zone, verify_collected, verify_portal
from fjdp.portal.models import AuditEntry, Project, ProjectResearcher, User
from lib.portal import (
    PASSWORD,
    application_post,
    make_user,
    standard_people,
    tiny_databank,
    token,
    verified_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A databank zone with deaths and public-law court data (about 8 s, once a module)."""
    return tiny_databank(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def bank(tiny_bank: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "databank"
    shutil.copytree(tiny_bank, dest, symlinks=True)
    return dest


def _ok(response: object) -> None:
    assert getattr(response, "status_code", None) in (200, 302), response


def test_the_whole_lifecycle(bank: Path, tmp_path: Path) -> None:
    people = standard_people()
    workspaces = tmp_path / "workspaces"
    with override_settings(FJDP_DATABANK=str(bank), FJDP_WORKSPACES=str(workspaces)):
        lead = verified_client(people["lead"])
        r = lead.post(
            "/projects/new/",
            application_post(
                [people["lead"], people["res"]],
                [
                    "deaths.deaths.date_of_death",
                    "deaths.deaths.link_status",
                    "court_public.cases.*",
                ],
                link_statuses=["DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT", "PROB_POSSIBLE"],
            ),
        )
        assert r.status_code == 302, r.content.decode()[:2000]
        project = Project.objects.get()
        assert project.state == "draft"
        assert "PROB_POSSIBLE" in lead.get(f"/projects/{project.pid}/").content.decode()
        assert lead.post(f"/projects/{project.pid}/submit/").status_code == 302
        project.refresh_from_db()
        assert project.state == "submitted"

        for name in ("pan1", "pan2"):
            c = verified_client(people[name])
            r = c.post(
                f"/projects/{project.pid}/panel/",
                {"outcome": "approve", "reasons": f"{name}: sound and proportionate"},
            )
            assert r.status_code == 302, r.content.decode()[:1500]
        project.refresh_from_db()
        assert project.state == "custodian_review"

        # a custodian cannot decide on another provider's dataset
        court = verified_client(people["cust_court"])
        assert court.get(f"/projects/{project.pid}/custodian/deaths/").status_code == 403
        _ok(
            court.post(
                f"/projects/{project.pid}/custodian/court_public/",
                {"decision": "approve", "reasons": "within our agreement"},
            )
        )
        _ok(
            verified_client(people["cust_deaths"]).post(
                f"/projects/{project.pid}/custodian/deaths/",
                {"decision": "approve", "reasons": "fine"},
            )
        )
        project.refresh_from_db()
        assert project.state == "approved"
        # the researcher has no workspace before provisioning
        res = verified_client(people["res"])
        assert project.pid not in res.get("/workspaces/").content.decode()

        r = verified_client(people["dm"]).post(f"/projects/{project.pid}/provision/", follow=True)
        assert "Workspace provisioned" in r.content.decode(), r.content.decode()[:3000]
        project.refresh_from_db()
        assert project.state == "active" and project.provisioned
        scope_file = bank / "scopes" / f"{project.pid}.yaml"
        assert scope_file.exists()
        # the workspace holds the link statuses the application asked for, no others
        assert yaml.safe_load(scope_file.read_text())["link_statuses"] == [
            "DET_DEMOG",
            "DET_STRONG_ID",
            "PROB_ACCEPT",
            "PROB_POSSIBLE",
        ]
        ws = workspaces / project.pid
        assert (ws / "data" / "deaths" / "deaths.parquet").exists()
        assert (ws / "data" / "court_public" / "cases.parquet").exists()
        assert not (ws / "data" / "court_public" / "persons.parquet").exists()

        page = res.get("/workspaces/").content.decode()
        assert project.pid in page
        # the public register now lists it, with its lay summary, without login
        public = Client().get("/register/").content.decode()
        assert "What happens to children after court." in public

        # expiry: a day past the end date, the project expires and the workspace goes
        from fjdp.portal.actions import expire_due

        later = project.end_date + dt.timedelta(days=1)
        assert expire_due(later) == [project.pid]
        project.refresh_from_db()
        assert project.state == "expired"
        assert not ws.exists()
        assert project.pid not in res.get("/workspaces/").content.decode()

    result = verify_portal()
    assert result.ok, result.reason
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    for expected in (
        "project.create",
        "project.submit",
        "panel.decision",
        "custodian.decision",
        "provision",
        "project.expire",
    ):
        assert expected in actions
    # the databank's own log recorded the provisioning and revocation too
    assert verify_log(bank / "audit" / "log.jsonl").ok


def test_an_application_names_at_least_one_link_status() -> None:
    people = standard_people()
    lead = verified_client(people["lead"])
    r = lead.post(
        "/projects/new/",
        application_post([people["lead"]], ["deaths.deaths.date_of_death"], link_statuses=[]),
    )
    assert r.status_code == 200 and "This field is required" in r.content.decode()
    assert not Project.objects.exists()
    form = lead.get("/projects/new/").content.decode()
    boxes = re.findall(r'<input type="checkbox" name="link_statuses"[^>]*>', form)
    ticked = {re.search(r'value="(\w+)"', b)[1] for b in boxes if " checked" in b}  # type: ignore[index]
    assert len(boxes) == 6
    # the statuses an analysis includes are offered ticked; the others are not
    assert ticked == {"DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT"}


def test_an_expired_project_vanishes_from_the_workspace_list() -> None:
    people = standard_people()
    project = create_project(
        people["lead"],
        {
            "title": "t",
            "lay_summary": "l",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "o",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=10),
        },
        [people["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    # as if approved and provisioned, with an end date that has now passed
    Project.objects.filter(pk=project.pk).update(
        state="active",
        provisioned=True,
        end_date=dt.date.today() - dt.timedelta(days=1),
        approved={
            "researchers": ["res"],
            "request": {"datasets": [], "date_start": None, "date_end": None},
            "end_date": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
            "conditions": [],
        },
    )
    page = verified_client(people["res"]).get("/workspaces/").content.decode()
    assert project.pid not in page


def test_an_unaccredited_researcher_cannot_be_named() -> None:
    people = standard_people()
    lead = verified_client(people["lead"])
    r = lead.post(
        "/projects/new/",
        application_post([people["unacc"]], ["deaths.deaths.*"]),
    )
    assert r.status_code == 200
    assert "unacc has no recorded safe-researcher training" in r.content.decode()
    assert not Project.objects.exists()
    # and the model refuses it whichever code path tries
    project = create_project(
        people["lead"],
        {
            "title": "t",
            "lay_summary": "l",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "o",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=10),
        },
        [people["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    with pytest.raises(GovernanceError, match="unacc"):
        ProjectResearcher(project=project, user=people["unacc"]).save()


def test_a_lapsed_accreditation_cannot_be_named() -> None:
    user = make_user("old", Role.RESEARCHER)
    User.objects.filter(pk=user.pk).update(
        accreditation_expires_on=dt.date.today() - dt.timedelta(days=1)
    )
    user.refresh_from_db()
    lead = make_user("lead", Role.PROJECT_LEAD)
    r = verified_client(lead).post("/projects/new/", application_post([user], ["deaths.deaths.*"]))
    assert "accreditation that lapsed" in r.content.decode()


def test_separation_of_duties_is_enforced_by_the_model() -> None:
    with pytest.raises(GovernanceError, match="linkage operator and researcher"):
        make_user("both", Role.LINKAGE_OPERATOR, Role.RESEARCHER)
    user = make_user("ok", Role.RESEARCHER)
    user.roles = ["researcher", "linkage_operator"]
    with pytest.raises(GovernanceError):
        user.save()


def test_nobody_reviews_their_own_application() -> None:
    people = standard_people()
    both = make_user("both", Role.PANEL_MEMBER, Role.RESEARCHER)
    lead = verified_client(people["lead"])
    lead.post("/projects/new/", application_post([both], ["deaths.deaths.*"]))
    project = Project.objects.get()
    lead.post(f"/projects/{project.pid}/submit/")
    r = verified_client(both).get(f"/projects/{project.pid}/panel/")
    assert r.status_code == 403
    from fjdp.portal.models import PanelDecisionRecord

    with pytest.raises(GovernanceError, match="on the team"):
        PanelDecisionRecord(
            project=project, round=1, member=both, outcome="approve", reasons="mine"
        ).save()


def test_two_factor_is_required_and_checked() -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client()
    assert (
        client.post("/accounts/login/", {"username": "res", "password": PASSWORD}).status_code
        == 302
    )
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/")
    assert client.get("/workspaces/")["Location"].startswith("/accounts/otp/")
    device = TOTPDevice.objects.get(user=user)
    r = client.post(
        "/accounts/otp/", {"otp_device": device.persistent_id, "otp_token": token(device)}
    )
    assert r.status_code == 302
    assert client.get("/").status_code == 200
    # a wrong code is refused (another account: a failure throttles the device)
    other = make_user("res2", Role.RESEARCHER)
    client = Client()
    client.post("/accounts/login/", {"username": "res2", "password": PASSWORD})
    device = TOTPDevice.objects.get(user=other)
    wrong = f"{(int(token(device)) + 1) % 1_000_000:06d}"
    r = client.post("/accounts/otp/", {"otp_device": device.persistent_id, "otp_token": wrong})
    assert r.status_code == 200  # refused, form shown again
    assert client.get("/").status_code == 302
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"login", "otp.failed", "otp.verified"} <= actions


def test_a_user_without_a_device_cannot_get_past_the_second_step() -> None:
    make_user("nodev", Role.RESEARCHER, device=False)
    client = Client()
    client.post("/accounts/login/", {"username": "nodev", "password": PASSWORD})
    r = client.get("/accounts/otp/")
    assert r.status_code == 403
    assert "fjdp portal totp-device nodev" in r.content.decode()


def test_failed_logins_are_audited() -> None:
    make_user("res", Role.RESEARCHER)
    r = Client().post("/accounts/login/", {"username": "res", "password": "wrong"})
    assert r.status_code == 200
    entry = AuditEntry.objects.filter(action="login.failed").get()
    assert entry.object == "res" and entry.actor == "anonymous"


def test_csrf_is_enforced() -> None:
    people = standard_people()
    client = verified_client(people["lead"], enforce_csrf_checks=True)
    r = client.post("/projects/new/", application_post([people["res"]], ["deaths.deaths.*"]))
    assert r.status_code == 403
    assert not Project.objects.exists()


def test_the_audit_chain_detects_tampering() -> None:
    standard_people()
    assert verify_portal().ok
    entry = AuditEntry.objects.get(seq=3)
    # the application refuses changes ...
    entry.details = {"roles": ["auditor"]}
    with pytest.raises(GovernanceError, match="append-only"):
        entry.save()
    with pytest.raises(GovernanceError):
        AuditEntry.objects.filter(seq=3).update(actor="someone")
    with pytest.raises(GovernanceError):
        AuditEntry.objects.filter(seq=3).delete()
    # ... and so does the database (in a savepoint: PostgreSQL aborts the transaction)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("update portal_auditentry set actor = 'x' where seq = 3")
    # someone with the database's own rights drops the trigger and edits an event
    drop = {
        "sqlite": "drop trigger portal_auditentry_no_update",
        "postgresql": "drop trigger portal_auditentry_append_only on portal_auditentry",
    }[connection.vendor]
    with connection.cursor() as cur:
        cur.execute(drop)
        cur.execute("update portal_auditentry set actor = 'mallory' where seq = 3")
    result = verify_portal()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "edited" in (result.reason or "")


def test_zone_logs_are_collected_into_one_timeline(tiny_bank: Path, tmp_path: Path) -> None:
    bank = tmp_path / "databank"
    shutil.copytree(tiny_bank, bank, symlinks=True)
    auditor = make_user("aud", Role.AUDITOR)
    n = collect_zone(bank, actor="aud", role="auditor")
    assert n > 0
    assert collect_zone(bank, actor="aud", role="auditor") == 0  # nothing new
    assert all(v.ok for v in verify_collected().values())
    page = verified_client(auditor).get("/audit/?action=load").content.decode()
    assert "databank" in page and "load" in page
    page = verified_client(auditor).get("/audit/?action=zone.collect").content.decode()
    assert "zone.collect" in page
    # a zone log rewritten after collection is refused
    log = bank / "audit" / "log.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))
    import json

    from fjdp.errors import IntegrityError

    last = json.loads(lines[-2])
    last_edit = dict(last, actor="mallory")
    from fjdp.audit import AuditRecord

    resealed = AuditRecord.from_dict({**last_edit, "hash": "0" * 64})
    resealed = AuditRecord(**{**resealed.content(), "hash": resealed.expected_hash()})
    log.write_text("".join(lines[:-2]) + resealed.to_json_line() + "\n")
    with pytest.raises(IntegrityError):
        collect_zone(bank, actor="aud", role="auditor")


def test_public_pages_need_no_login(tiny_bank: Path) -> None:
    client = Client()
    with override_settings(FJDP_DATABANK=str(tiny_bank)):
        page = client.get("/catalogue/").content.decode()
        assert "registration service" in page
        detail = client.get("/catalogue/deaths/")
        assert detail.status_code == 200
        text = detail.content.decode()
        assert "date_of_death" in text
        assert "nhs_number" not in text  # identifiers are never offered
    assert client.get("/catalogue/nosuch/").status_code == 404
    assert client.get("/register/").status_code == 200


def test_the_second_step_asks_for_the_code_alone() -> None:
    """One box for the code: django-otp's own form adds a device list starting with a
    blank choice (which the browser refuses to submit) and a challenge box TOTP never uses."""
    make_user("res", Role.RESEARCHER)
    client = Client()
    client.post("/accounts/login/", {"username": "res", "password": PASSWORD})
    page = client.get("/accounts/otp/").content.decode()
    assert 'name="otp_token"' in page and 'autocomplete="one-time-code"' in page
    assert 'type="hidden" name="otp_device"' in page
    assert "otp_challenge" not in page and "<select" not in page


@pytest.mark.parametrize("url", [None, "postgresql://u:p@127.0.0.1:5432/portal"])
def test_every_request_is_one_transaction(url: str | None, tmp_path: Path) -> None:
    """ATOMIC_REQUESTS belongs to each database (Django ignores it at the top level): the
    audit event a page writes needs the request's transaction."""
    from fjdp.portal.config import PortalConfig, django_settings

    cfg = PortalConfig(tmp_path, "k" * 50, tmp_path, tmp_path, database_url=url)
    settings = django_settings(cfg)
    assert settings["DATABASES"]["default"]["ATOMIC_REQUESTS"] is True
    assert "ATOMIC_REQUESTS" not in settings


def _drop_audit_triggers() -> None:
    """What someone with the database's own rights could do before tampering."""
    drops = {
        "sqlite": [
            "drop trigger portal_auditentry_no_update",
            "drop trigger portal_auditentry_no_delete",
        ],
        "postgresql": ["drop trigger portal_auditentry_append_only on portal_auditentry"],
    }[connection.vendor]
    with connection.cursor() as cur:
        for sql in drops:
            cur.execute(sql)


def test_a_deleted_portal_event_is_named() -> None:
    standard_people()
    assert verify_portal().ok
    _drop_audit_triggers()
    with connection.cursor() as cur:
        cur.execute("delete from portal_auditentry where seq = 3")
    result = verify_portal()
    assert not result.ok and result.first_bad_seq == 3
    assert "missing" in (result.reason or "")


def test_two_reordered_portal_events_are_named() -> None:
    standard_people()
    assert verify_portal().ok
    _drop_audit_triggers()
    with connection.cursor() as cur:
        cur.execute("update portal_auditentry set seq = 1000003 where seq = 3")
        cur.execute("update portal_auditentry set seq = 3 where seq = 4")
        cur.execute("update portal_auditentry set seq = 4 where seq = 1000003")
    result = verify_portal()
    assert not result.ok and result.first_bad_seq == 3
