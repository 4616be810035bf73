"""The authorisation matrix.

- Every page and action × every role, an anonymous visitor, and a signed-in user without
  a verified second factor, on the project ``P0001``: submitted (awaiting the panel), led
  by ``lead`` with ``res`` named, asking for ``deaths`` (custodian: the registration
  service).
- Every lifecycle state × the project's pages and actions (edit, panel, custodian,
  withdraw, amend, submit, close) × the people concerned: who may open what, and which
  actions change the state for whom.
- Signing out, and the admin: staff with both factors only, audit records and projects
  read-only, incompatible roles refused with their reason.

Runs on SQLite and, with ``make test-postgres``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from fjdp.governance import PanelOutcome
from fjdp.portal.actions import (
    amend,
    close,
    create_project,
    custodian_decide,
    panel_decide,
    submit,
)
from fjdp.portal.models import AuditEntry, Project
from lib.portal import PASSWORD, close_response, standard_people, verified_client

pytestmark = pytest.mark.django_db

ROLES = ["lead", "res", "pan1", "cust_deaths", "cust_court", "dm", "aud", "checker", "linkop"]
WHO = ["anonymous", "no2fa", *ROLES]
P = "/projects/P0001"

# (method, url) -> {who: status}; "*" is everyone not listed. 302L: to the login page,
# 302O: to the second-factor step, 302: any other redirect (an action's result page).
PUBLIC = {"*": 200}
SIGNED_IN = {"anonymous": "302L", "no2fa": "302O"}
MATRIX: dict[tuple[str, str], dict[str, int | str]] = {
    ("GET", "/register/"): PUBLIC,
    ("GET", "/catalogue/"): PUBLIC,
    ("GET", "/catalogue/deaths/"): PUBLIC,
    ("GET", "/accounts/login/"): PUBLIC,
    ("GET", "/"): {**SIGNED_IN, "*": 200},
    ("GET", "/projects/"): {**SIGNED_IN, "*": 200},
    ("GET", "/projects/new/"): {**SIGNED_IN, "lead": 200, "*": 403},
    ("GET", f"{P}/"): {
        **SIGNED_IN,
        "lead": 200,
        "res": 200,
        "pan1": 200,
        "cust_deaths": 200,
        "dm": 200,
        "aud": 200,
        "*": 403,
    },
    ("GET", f"{P}/edit/"): {**SIGNED_IN, "*": 403},  # submitted: nobody may edit
    ("GET", f"{P}/panel/"): {**SIGNED_IN, "pan1": 200, "*": 403},
    ("GET", f"{P}/custodian/deaths/"): {**SIGNED_IN, "*": 403},  # not yet at custodians
    ("GET", "/workspaces/"): {**SIGNED_IN, "lead": 200, "res": 200, "*": 403},
    ("GET", "/audit/"): {**SIGNED_IN, "aud": 200, "*": 403},
    ("GET", "/audit/report/"): {**SIGNED_IN, "aud": 200, "*": 403},
    ("GET", "/audit/report/report.html"): {**SIGNED_IN, "aud": 200, "*": 403},
    ("GET", "/audit/report/role-conflicts.csv"): {**SIGNED_IN, "aud": 200, "*": 403},
    ("GET", "/audit/report/nothing.csv"): {**SIGNED_IN, "aud": 404, "*": 403},
    ("GET", "/admin/"): {**SIGNED_IN, "*": 302},  # no one here is staff: admin login
    ("POST", f"{P}/submit/"): {
        **SIGNED_IN,
        "lead": 302,  # refused by the rules (already submitted), with a message
        "res": 302,
        "pan1": 302,
        "cust_deaths": 302,
        "dm": 302,
        "aud": 302,
        "*": 403,
    },
    ("POST", f"{P}/provision/"): {**SIGNED_IN, "dm": 302, "*": 403},
    ("POST", f"{P}/close/"): {**SIGNED_IN, "dm": 302, "*": 403},
    ("POST", f"{P}/amend/"): {
        **SIGNED_IN,
        "lead": 302,
        "res": 302,
        "pan1": 302,
        "cust_deaths": 302,
        "dm": 302,
        "aud": 302,
        "*": 403,
    },
}

CASES = [(m, u, who) for (m, u) in MATRIX for who in WHO]


def _client(who: str, people: dict[str, object]) -> Client:
    if who == "anonymous":
        return Client()
    if who == "no2fa":
        c = Client()
        assert c.post("/accounts/login/", {"username": "res", "password": PASSWORD}).status_code
        return c
    user = people[who]
    return verified_client(user)  # type: ignore[arg-type]


@pytest.fixture
def people() -> dict[str, object]:
    folk = standard_people()
    project = create_project(
        folk["lead"],
        {
            "title": "Matrix",
            "lay_summary": "l",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "o",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=30),
        },
        [folk["lead"], folk["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    submit(project, folk["lead"])
    return dict(folk)


@pytest.mark.parametrize(("method", "url", "who"), CASES)
def test_authorisation_matrix(method: str, url: str, who: str, people: dict[str, object]) -> None:
    rules = MATRIX[(method, url)]
    expected = rules.get(who, rules["*"])
    client = _client(who, people)
    r = client.get(url) if method == "GET" else client.post(url, {"reason": "x"})
    if expected == "302L":
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), r
    elif expected == "302O":
        assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/"), r
    else:
        assert r.status_code == expected, (method, url, who, r.status_code)


def test_every_url_is_in_the_matrix() -> None:
    """A new page must be added to the matrix above."""
    from django.urls import get_resolver

    names = {p.name for p in get_resolver().url_patterns if getattr(p, "name", None)}
    covered = {
        "dashboard", "register", "catalogue", "dataset", "login", "projects", "project_new",
        "project", "project_edit", "project_panel", "project_custodian", "workspaces", "audit",
        "audit_report", "audit_report_html", "audit_report_csv",
        "project_submit", "project_provision", "project_close", "project_amend",
        # output requests: test_output_matrix below
        "output_new", "outputs", "output_request", "output_submit", "output_withdraw",
        "output_take", "output_review", "output_revise", "output_file", "output_release",
        # the OTP step (test_portal), logout (test_signing_out_ends_the_session) and
        # withdraw (test_every_state)
        "otp", "logout", "project_withdraw",
    }  # fmt: skip
    assert names <= covered, names - covered


# --- output requests ------------------------------------------------------------------
#
# On an active project ``{pid}`` (``lead`` and ``res`` on it): ``{r1}`` by ``res``,
# approved by ``chk1`` and ``chk2`` and released; ``{r2}`` by ``res``, taken by ``chk1``.
# ``checker`` is an output checker who has taken neither.

OUT_WHO = [*WHO, "chk1", "chk2"]
Q = "/projects/{pid}"
SEES = {"lead": 0, "res": 0, "aud": 0, "checker": 0, "chk1": 0, "chk2": 0}


def _seen_by(status: int | str, **others: int | str) -> dict[str, int | str]:
    return {**SIGNED_IN, **{k: status for k in SEES}, **others, "*": 403}


OUT_MATRIX: dict[tuple[str, str], dict[str, int | str]] = {
    ("GET", f"{Q}/outputs/new/"): {**SIGNED_IN, "lead": 200, "res": 200, "*": 403},
    ("POST", f"{Q}/outputs/new/"): {**SIGNED_IN, "lead": 200, "res": 200, "*": 403},
    ("GET", "/outputs/"): {**SIGNED_IN, "*": 200},
    ("GET", "/outputs/{r2}/"): _seen_by(200),
    ("POST", "/outputs/{r2}/submit/"): _seen_by(302),  # refused with a message
    ("POST", "/outputs/{r2}/withdraw/"): _seen_by(302),
    ("POST", "/outputs/{r2}/take/"): _seen_by(302, lead=403, res=403, aud=403),
    ("GET", "/outputs/{r2}/review/"): {**SIGNED_IN, "chk1": 200, "*": 403},
    ("POST", "/outputs/{r2}/review/"): {**SIGNED_IN, "chk1": 302, "*": 403},
    ("GET", "/outputs/{r2}/revise/"): {**SIGNED_IN, "*": 403},  # in review: nobody
    ("GET", "/outputs/{r2}/files/{fid}/"): _seen_by(200),
    ("GET", "/outputs/{r1}/release/"): {**SIGNED_IN, "lead": 200, "res": 200, "*": 403},
}
OUT_CASES = [(m, u, who) for (m, u) in OUT_MATRIX for who in OUT_WHO]


@pytest.fixture
def out_people(people: dict[str, Any], tmp_path: Any, settings: Any) -> dict[str, Any]:
    from fjdp.governance import Role
    from fjdp.portal.actions import create_request, take_request, vote_file
    from fjdp.portal.outputs import FileIn
    from lib.portal import active_project, make_user, outputs_folder

    for name in ("ANALYSIS", "RELEASES", "OUTPUT_STORE"):
        setattr(settings, f"FJDP_{name}", str(tmp_path / name.lower()))
    for name in ("chk1", "chk2"):
        people[name] = make_user(name, Role.OUTPUT_CHECKER)
    project = active_project(people)
    people["pid"] = project.pid
    root = outputs_folder(project)
    r1 = create_request(
        project, people["res"], "first", [FileIn(root / "rates.csv", "big counts")], submit=True
    )
    for c in ("chk1", "chk2"):
        take_request(r1, people[c])
        vote_file(r1, people[c], "rates.csv", "approve", "")
    r2 = create_request(
        project, people["res"], "second", [FileIn(root / "rates.csv", "big counts")], submit=True
    )
    take_request(r2, people["chk1"])
    people["r1"], people["r2"] = r1.rid, r2.rid
    people["fid"] = r2.rounds.get().files.get().pk
    return people


@pytest.mark.parametrize(("method", "url", "who"), OUT_CASES)
def test_output_matrix(method: str, url: str, who: str, out_people: dict[str, Any]) -> None:
    rules = OUT_MATRIX[(method, url)]
    expected = rules.get(who, rules["*"])
    client = _client(who, out_people)
    # ids come from the database's sequences, which PostgreSQL does not reset per test
    target = url.format(**{k: out_people[k] for k in ("pid", "r1", "r2", "fid")})
    data = {"file": "rates.csv", "vote": "approve", "comment": "", "description": "d"}
    r = client.get(target) if method == "GET" else client.post(target, data)
    if hasattr(r, "streaming_content"):
        close_response(r)
    if expected == "302L":
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), r
    elif expected == "302O":
        assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/"), r
    else:
        assert r.status_code == expected, (method, url, who, r.status_code)


# --- every lifecycle state ------------------------------------------------------------
#
# The same project taken to each state through the actions layer (``active`` is set in
# the database: provisioning needs a databank, which test_portal and the browser tests
# build). ``amendment`` is an active project whose lead started an amendment.

STATES = [
    "draft",
    "submitted",
    "panel_review",
    "custodian_review",
    "approved",
    "returned",
    "rejected",
    "active",
    "amendment",
    "expired",
    "closed",
]
STATE_WHO = ["lead", "res", "pan1", "cust_deaths", "dm", "aud", "checker"]
OPEN = {"draft", "submitted", "panel_review", "custodian_review", "returned", "amendment"}


def _at(state: str, folk: dict[str, Any]) -> Project:
    project = create_project(
        folk["lead"],
        {
            "title": "States",
            "lay_summary": "l",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "o",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=30),
        },
        [folk["lead"], folk["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    if state == "draft":
        return project
    submit(project, folk["lead"])
    if state in ("returned", "rejected"):
        outcome = PanelOutcome.RETURN if state == "returned" else PanelOutcome.REJECT
        for member in ("pan1", "pan2"):
            panel_decide(project, folk[member], outcome, "reasons")
        return project
    if state == "submitted":
        return project
    # pan2 decides first, so that pan1 still has a decision to make in panel review
    panel_decide(project, folk["pan2"], PanelOutcome.APPROVE, "sound")
    if state == "panel_review":
        return project
    panel_decide(project, folk["pan1"], PanelOutcome.APPROVE, "sound")
    if state == "custodian_review":
        return project
    custodian_decide(project, folk["cust_deaths"], "deaths", True, "fine")
    if state == "approved":
        return project
    if state == "closed":
        close(project, folk["dm"], "no longer needed")
        return project
    Project.objects.filter(pk=project.pk).update(state="active", provisioned=True)
    project.refresh_from_db()
    if state == "amendment":
        amend(project, folk["lead"])
    elif state == "expired":
        Project.objects.filter(pk=project.pk).update(state="expired")
    project.refresh_from_db()
    return project


def _expected_get(page: str, state: str, who: str) -> int:
    first_draft = state == "draft"  # round 0: the team's own
    if page == "detail":
        if who in ("lead", "res", "aud"):
            return 200
        if who in ("pan1", "dm", "cust_deaths"):
            return 403 if first_draft else 200
        return 403
    if page == "edit":
        return 200 if who == "lead" and state in ("draft", "returned", "amendment") else 403
    if page == "panel":
        return 200 if who == "pan1" and state in ("submitted", "panel_review") else 403
    if page == "custodian":
        return 200 if who == "cust_deaths" and state == "custodian_review" else 403
    raise AssertionError(page)


PAGES = {"detail": "/", "edit": "/edit/", "panel": "/panel/", "custodian": "/custodian/deaths/"}


def _after_post(action: str, state: str, who: str) -> str:
    """The state a POST leaves the project in: refusals change nothing."""
    here = "draft" if state == "amendment" else state
    if action == "withdraw" and who == "lead" and state in OPEN:
        return "active" if state == "amendment" else "closed"
    if action == "amend" and who == "lead" and state == "active":
        return "draft"
    if action == "submit" and who == "lead" and state in ("draft", "returned", "amendment"):
        return "submitted"
    # the data manager cannot even see a first draft (round 0), so cannot close it
    if action == "close" and who == "dm" and state in (OPEN - {"draft"}) | {"approved", "active"}:
        return "closed"
    return here


ACTIONS = ["withdraw", "amend", "submit", "close"]


@pytest.mark.parametrize("state", STATES)
def test_every_state(state: str) -> None:
    """In each state, who may open each page of the project, and which actions change
    its state for whom: otherwise the page refuses (403) or explains (a message) and
    nothing changes. Each action runs in a savepoint rolled back afterwards, so every
    attempt starts from ``state``."""
    folk = standard_people()
    project = _at(state, folk)
    assert project.state == ("draft" if state == "amendment" else state), project.state
    clients = {who: verified_client(folk[who]) for who in STATE_WHO}
    wrong = []
    for who, client in clients.items():
        for page, suffix in PAGES.items():
            got = client.get(f"/projects/{project.pid}{suffix}").status_code
            expected = _expected_get(page, state, who)
            if got != expected:
                wrong.append(f"{who} GET {page}: {got}, expected {expected}")
    for action in ACTIONS:
        for who, client in clients.items():
            with transaction.atomic():
                r = client.post(f"/projects/{project.pid}/{action}/", {"reason": "not needed"})
                now = Project.objects.get(pk=project.pk).state
                transaction.set_rollback(True)
            expected_state = _after_post(action, state, who)
            if r.status_code not in (302, 403) or now != expected_state:
                wrong.append(
                    f"{who} POST {action}: {r.status_code} -> {now}, expected {expected_state}"
                )
    assert not wrong, f"{state}: " + "; ".join(wrong)


def test_signing_out_ends_the_session() -> None:
    folk = standard_people()
    client = verified_client(folk["res"])
    assert client.get("/").status_code == 200
    r = client.post("/accounts/logout/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert "logout" in set(AuditEntry.objects.values_list("action", flat=True))
    # signing out is a POST: a link or an image cannot sign someone out
    assert verified_client(folk["res"]).get("/accounts/logout/").status_code == 405


# --- the admin ------------------------------------------------------------------------


@pytest.fixture
def admin_client() -> Client:
    from fjdp.portal.actions import add_totp_device, create_user

    boss = create_user("boss", PASSWORD, by="tests", superuser=True)
    add_totp_device(boss, by="tests")
    return verified_client(boss)


def test_the_admin_needs_staff_and_both_factors(admin_client: Client) -> None:
    folk = standard_people()
    assert admin_client.get("/admin/").status_code == 200
    # not staff: Django's admin login page, which says so
    r = verified_client(folk["dm"]).get("/admin/")
    assert r.status_code == 302 and r["Location"].startswith("/admin/login/")
    # staff without the second factor: the second step first
    c = Client()
    c.post("/accounts/login/", {"username": "boss", "password": PASSWORD})
    r = c.get("/admin/portal/auditentry/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/otp/")
    assert Client().get("/admin/").status_code == 302


def test_the_admin_shows_records_but_cannot_change_them(admin_client: Client) -> None:
    standard_people()
    seq = AuditEntry.objects.values_list("pk", flat=True).first()
    for model in ("auditentry", "zonerecord", "project", "paneldecisionrecord"):
        assert admin_client.get(f"/admin/portal/{model}/").status_code == 200, model
        assert admin_client.get(f"/admin/portal/{model}/add/").status_code == 403, model
    assert admin_client.get(f"/admin/portal/auditentry/{seq}/change/").status_code == 200
    r = admin_client.post(f"/admin/portal/auditentry/{seq}/delete/", {"post": "yes"})
    assert r.status_code == 403
    admin_client.post(
        "/admin/portal/auditentry/",
        {"action": "delete_selected", "_selected_action": [seq], "post": "yes"},
    )
    assert AuditEntry.objects.filter(pk=seq).exists()


def test_the_admin_refuses_incompatible_roles_with_a_reason(admin_client: Client) -> None:
    folk = standard_people()
    user = folk["res"]
    page = admin_client.get(f"/admin/portal/user/{user.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "roles": ["researcher", "linkage_operator"],
            "groups": [],
            "user_permissions": [],
            "date_joined_0": user.date_joined.date().isoformat(),
            "date_joined_1": "00:00:00",
            "last_login_0": "",
            "last_login_1": "",
        }
    )
    r = admin_client.post(f"/admin/portal/user/{user.pk}/change/", data)
    assert r.status_code == 200, r.status_code  # the form again, not a server error
    assert "linkage operator and researcher" in r.content.decode()
    user.refresh_from_db()
    assert user.roles == ["researcher"]
