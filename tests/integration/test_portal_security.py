"""The portal under attack: session fixation, CSRF, brute-force lockout, security headers,
cookie flags and Django's deployment checks with the HTTPS switch on."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.core.checks import run_checks
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from fjdp.cli.app import main
from fjdp.governance import Role
from fjdp.portal.actions import unlock
from fjdp.portal.config import LOCKOUT_FAILURES, PortalConfig, _security
from fjdp.portal.models import AuditEntry, OutputRequestRecord, Project, User
from lib.portal import (
    PASSWORD,
    active_project,
    application_post,
    make_user,
    outputs_folder,
    standard_people,
    token,
    verified_client,
)

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
OTP = "/accounts/otp/"
TEMPLATES = Path(__file__).parents[2] / "src" / "fjdp" / "portal" / "templates" / "portal"


def https_settings() -> dict[str, Any]:
    """The cookie, header and lockout settings of a portal with FJDP_PORTAL_HTTPS=1."""
    cfg = PortalConfig(
        portal_dir=Path("p"), secret_key="k", databank=Path("d"), workspaces=Path("w")
    )
    return _security(PortalConfig(**{**cfg.__dict__, "https": True}))


def sign_in(client: Client, user: User, **extra: Any) -> None:
    """Both steps, as a person does them."""
    r = client.post(LOGIN, {"username": user.username, "password": PASSWORD}, **extra)
    assert r.status_code == 302 and r["Location"] == "/", r.status_code
    device = TOTPDevice.objects.get(user=user)
    r = client.post(OTP, {"otp_device": device.persistent_id, "otp_token": token(device)}, **extra)
    assert r.status_code == 302 and r["Location"] == "/", r.status_code


def actions(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


# --- session fixation ------------------------------------------------------------------


def test_the_session_key_changes_at_each_factor_and_dies_at_logout() -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client()
    planted = client.session  # a session an attacker could have planted before sign-in
    planted["x"] = 1
    planted.save()
    key0 = planted.session_key
    assert client.cookies["sessionid"].value == key0

    r = client.post(LOGIN, {"username": "res", "password": PASSWORD})
    assert r.status_code == 302
    key1 = client.cookies["sessionid"].value
    assert key1 != key0
    assert not SessionStore().exists(key0)

    device = TOTPDevice.objects.get(user=user)
    client.post(OTP, {"otp_device": device.persistent_id, "otp_token": token(device)})
    key2 = client.cookies["sessionid"].value
    assert key2 != key1
    assert not SessionStore().exists(key1)
    assert client.get("/").status_code == 200

    # The half-signed-in session id (password only) opens nothing.
    stale = Client()
    stale.cookies["sessionid"] = key1
    assert stale.get("/")["Location"].startswith(LOGIN)

    # After logout the fully signed-in session id is worth nothing either.
    thief = Client()
    thief.cookies["sessionid"] = key2
    assert thief.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert not SessionStore().exists(key2)
    assert thief.get("/")["Location"].startswith(LOGIN)
    assert thief.get("/projects/")["Location"].startswith(LOGIN)


# --- CSRF ------------------------------------------------------------------------------


def test_login_without_a_csrf_token_is_refused() -> None:
    make_user("res", Role.RESEARCHER)
    client = Client(enforce_csrf_checks=True)
    r = client.post(LOGIN, {"username": "res", "password": PASSWORD})
    assert r.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not actions("login")


def test_the_second_step_without_a_csrf_token_is_refused() -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)  # the password step done
    device = TOTPDevice.objects.get(user=user)
    r = client.post(OTP, {"otp_device": device.persistent_id, "otp_token": token(device)})
    assert r.status_code == 403
    assert client.get("/")["Location"].startswith(OTP)  # still not past the second step
    assert not actions("otp.verified")
    device.refresh_from_db()
    assert device.last_t == -1  # the code was not even checked, so not spent


def test_state_changing_actions_without_a_csrf_token_are_refused() -> None:
    folk = standard_people()
    project = active_project(folk)
    outputs_folder(project)
    r = verified_client(folk["res"]).post(
        f"/projects/{project.pid}/outputs/new/",
        {"description": "d", "file": ["rates.csv"], "justify:rates.csv": "big counts"},
    )
    assert r.status_code == 302
    rec = OutputRequestRecord.objects.get()
    checker = verified_client(folk["checker"], enforce_csrf_checks=True)
    lead = verified_client(folk["lead"], enforce_csrf_checks=True)
    before = AuditEntry.objects.count()

    assert checker.post(f"/outputs/{rec.rid}/take/").status_code == 403
    r = lead.post("/projects/new/", application_post([folk["res"]], ["deaths.deaths.*"]))
    assert r.status_code == 403
    assert lead.post(f"/projects/{project.pid}/withdraw/").status_code == 403
    assert lead.post("/accounts/logout/").status_code == 403
    assert lead.get("/").status_code == 200  # still signed in

    assert AuditEntry.objects.count() == before
    assert Project.objects.count() == 1
    project.refresh_from_db()
    assert project.state == "active"
    rec.refresh_from_db()
    assert rec.rounds.get().checkers == []


# --- brute-force lockout ---------------------------------------------------------------


def fail(client: Client, name: str, times: int, **extra: Any) -> list[int]:
    return [
        client.post(LOGIN, {"username": name, "password": "wrong guess"}, **extra).status_code
        for _ in range(times)
    ]


def test_five_wrong_passwords_lock_out_even_the_right_one() -> None:
    make_user("res", Role.RESEARCHER)
    client = Client()
    codes = fail(client, "res", LOCKOUT_FAILURES)
    assert codes == [200] * (LOCKOUT_FAILURES - 1) + [429]

    r = client.post(LOGIN, {"username": "res", "password": PASSWORD})
    assert r.status_code == 429
    page = r.content.decode()
    assert "Sign-in locked" in page and "Try again in 15 minutes" in page
    assert "fjdp portal unlock res" in page and "Traceback" not in page
    assert "_auth_user_id" not in client.session
    assert not actions("login")

    (locked,) = actions("login.locked")  # one event when the lock begins
    assert locked.object == "res" and locked.actor == "anonymous"
    assert locked.details == {"ip": "127.0.0.1", "username": "res", "failures": LOCKOUT_FAILURES}
    failed = actions("login.failed")
    assert len(failed) == LOCKOUT_FAILURES + 1
    assert [e.details.get("locked_out", False) for e in failed] == [False] * 5 + [True]

    # Only this address is locked out for this account: the owner elsewhere is not.
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    sign_in(elsewhere, User.objects.get(username="res"))


def test_a_lockout_is_lifted_by_an_administrator(capsys: pytest.CaptureFixture[str]) -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client()
    fail(client, "res", LOCKOUT_FAILURES)
    assert client.post(LOGIN, {"username": "res", "password": PASSWORD}).status_code == 429

    env = {"FJDP_ACTOR": "admin", "FJDP_PORTAL_SECRET_KEY": "tests"}
    assert main(["portal", "unlock", "res"], env=env) == 0
    assert "Sign-in for res unlocked" in capsys.readouterr().out
    (event,) = [e for e in actions("user.update") if e.details.get("unlocked")]
    assert event.object == "res" and event.actor == "admin"
    sign_in(client, user)

    # The admin offers no unaudited way round: axes' records are not in it.
    from django.contrib import admin

    assert not [m for m in admin.site._registry if m._meta.app_label == "axes"]

    assert main(["portal", "unlock", "nobody"], env=env) == 7
    err = capsys.readouterr().err
    assert "no account 'nobody'" in err and "Traceback" not in err


def test_a_successful_login_resets_the_count() -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client()
    fail(client, "res", LOCKOUT_FAILURES - 1)
    sign_in(client, user)
    client.post("/accounts/logout/")
    assert fail(client, "res", LOCKOUT_FAILURES - 1) == [200] * (LOCKOUT_FAILURES - 1)


def test_the_lock_ends_after_the_cool_off() -> None:
    make_user("res", Role.RESEARCHER)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client = Client()
        fail(client, "res", LOCKOUT_FAILURES)
        clock.move_to(start + dt.timedelta(minutes=14))
        right = {"username": "res", "password": PASSWORD}
        assert client.post(LOGIN, right).status_code == 429
        # That refused attempt started the cool-off again: 14 minutes on, still locked.
        clock.move_to(start + dt.timedelta(minutes=28))
        assert client.post(LOGIN, right).status_code == 429
        clock.move_to(start + dt.timedelta(minutes=28 + 16))
        r = client.post(LOGIN, right)
        assert r.status_code == 302 and "_auth_user_id" in client.session
    assert len(actions("login.locked")) == 1


def test_unlock_one_address_only() -> None:
    make_user("res", Role.RESEARCHER)
    here, there = Client(), Client(REMOTE_ADDR="192.0.2.7")
    fail(here, "res", LOCKOUT_FAILURES)
    fail(there, "res", LOCKOUT_FAILURES, REMOTE_ADDR="192.0.2.7")
    assert unlock("res", by="admin", ip="192.0.2.7") == 1
    right = {"username": "res", "password": PASSWORD}
    assert here.post(LOGIN, right).status_code == 429
    assert there.post(LOGIN, right, REMOTE_ADDR="192.0.2.7").status_code == 302


# --- headers and cookies ---------------------------------------------------------------


def assert_security_headers(r: Any) -> None:
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Referrer-Policy"] == "same-origin"
    assert r["Cross-Origin-Opener-Policy"] == "same-origin"
    assert r["X-Frame-Options"] == "DENY"
    csp = r["Content-Security-Policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "object-src 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "camera=()" in r["Permissions-Policy"]


def test_security_headers_on_anonymous_and_signed_in_pages() -> None:
    r = Client().get(LOGIN)
    assert r.status_code == 200
    assert_security_headers(r)
    assert "Strict-Transport-Security" not in r  # only with the HTTPS switch

    people = standard_people()
    r = verified_client(people["aud"]).get("/audit/")
    assert r.status_code == 200
    assert_security_headers(r)
    assert r["Cache-Control"] == "no-store"

    assert_security_headers(Client().get("/register/"))


def test_templates_need_no_inline_script_or_style() -> None:
    """The CSP allows no inline script or style: no template may carry any."""
    for path in TEMPLATES.glob("*.html"):
        html = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path.name
        assert "<style" not in html and " style=" not in html, path.name
        assert not re.search(r"\son[a-z]+=", html), path.name
        assert "javascript:" not in html, path.name


def test_cookies_are_httponly_and_samesite() -> None:
    user = make_user("res", Role.RESEARCHER)
    client = Client()
    client.get(LOGIN)
    sign_in(client, user)
    for name in ("sessionid", "csrftoken"):
        morsel = client.cookies[name]
        assert morsel["httponly"] is True, name
        assert morsel["samesite"] == "Lax", name
        assert not morsel["secure"], name  # plain http on the loopback demo


def test_with_the_https_switch_cookies_are_secure_and_http_is_redirected() -> None:
    user = make_user("res", Role.RESEARCHER)
    with override_settings(**https_settings()):
        r = Client().get(LOGIN)
        assert r.status_code == 301 and r["Location"] == "https://testserver/accounts/login/"

        client = Client()
        r = client.get(LOGIN, secure=True)
        assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        assert_security_headers(r)
        sign_in(client, user, secure=True)
        for name in ("sessionid", "csrftoken"):
            morsel = client.cookies[name]
            assert morsel["secure"] is True, name
            assert morsel["httponly"] is True and morsel["samesite"] == "Lax", name


def test_deployment_checks_pass_with_the_https_switch() -> None:
    """`manage.py check --deploy` with FJDP_PORTAL_HTTPS=1: the only warning left is the
    HSTS preload list, which is the domain owner's choice (docs/portal.md)."""
    with override_settings(**https_settings()):
        found = run_checks(include_deployment_checks=True)
    assert {m.id for m in found} == {"security.W021"}
    without = run_checks(include_deployment_checks=True)
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= {
        m.id for m in without
    }


def test_the_https_switch_and_hosts_come_from_the_environment(tmp_path: Path) -> None:
    env = {"FJDP_PORTAL_SECRET_KEY": "k", "FJDP_PORTAL_HTTPS": "1"}
    env["FJDP_PORTAL_HOSTS"] = "portal.example.org, tre.example.org"
    cfg = PortalConfig.from_env(env, portal_dir=tmp_path)
    assert cfg.https
    assert cfg.allowed_hosts == ("127.0.0.1", "localhost", "portal.example.org", "tre.example.org")
    plain = PortalConfig.from_env({"FJDP_PORTAL_SECRET_KEY": "k"}, portal_dir=tmp_path)
    assert not plain.https and plain.allowed_hosts == ("127.0.0.1", "localhost")
    sec = _security(plain)
    assert not sec["SESSION_COOKIE_SECURE"] and sec["SECURE_HSTS_SECONDS"] == 0
