"""A first slice of the authorisation matrix: every page and action × every role, an
anonymous visitor, and a signed-in user without a verified second factor.

The project ``P0001`` is submitted (awaiting the panel), led by ``lead`` with ``res``
named, and asks for ``deaths`` (custodian: the registration service).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from fjdp.portal.actions import create_project, submit
from lib.portal import PASSWORD, standard_people, verified_client

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
        "project_submit", "project_provision", "project_close", "project_amend",
        # not yet in the matrix: the OTP step and logout (tested in test_portal), withdraw
        "otp", "logout", "project_withdraw",
    }  # fmt: skip
    assert names <= covered, names - covered
