"""The portal in headless Chromium: Debian's ``chromium`` driven by Playwright against
pytest-django's live server (a thread of this process, on loopback, sharing the test
database), with a screenshot of every page a test visits.

- ``FJDP_CHROMIUM``: the browser to drive (default ``/usr/bin/chromium``); Playwright's
  own browser download is never used.
- ``FJDP_TEST_ARTIFACTS``: where screenshots go (default ``test-artifacts`` at the top of
  the repository), as ``browser/<test>/<nn>-<step>.png``.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("FJDP_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services, and
# on a closed network those connections are refused and slow every page down.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 15_000

Shot = Callable[[Page, str], Path]


@pytest.fixture(scope="session")
def _async_unsafe_allowed() -> Iterator[None]:
    # Playwright's sync API runs an event loop in the test's thread, and Django then
    # refuses ORM calls from that thread; the test's own set-up queries are not async code.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def _flush_past_audit_triggers() -> Iterator[None]:
    """Let the live server's database be emptied between tests.

    The live server needs a transactional database, which Django empties after each test
    with DELETE (SQLite) or TRUNCATE (PostgreSQL); the audit tables' triggers rightly
    refuse both. The flush lifts the triggers around its own statements, in its own
    transaction, and puts them back: every test still runs with them in force."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    migration = importlib.import_module("fjdp.portal.migrations.0002_append_only_audit")
    tables: tuple[str, ...] = migration.TABLES

    def wrap(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
        def sql_flush(self: Any, style: Any, flushed: list[str], **kwargs: Any) -> list[str]:
            sql = original(self, style, flushed, **kwargs)
            audit = [t for t in tables if t in flushed]
            if not audit or not sql:
                return sql
            if self.connection.vendor == "sqlite":
                before = [
                    f"DROP TRIGGER IF EXISTS {t}_no_{op};"
                    for t in audit
                    for op in ("update", "delete")
                ]
                after = [s for s in migration.SQLITE if any(f" ON {t} " in s for t in audit)]
            elif self.connection.vendor == "postgresql":
                before = [f"ALTER TABLE {t} DISABLE TRIGGER USER;" for t in audit]
                after = [f"ALTER TABLE {t} ENABLE TRIGGER USER;" for t in audit]
            else:
                return sql
            return [*before, *sql, *after]

        return sql_flush

    from django.db import connections

    with pytest.MonkeyPatch.context() as mp:
        for conn in connections.all():
            ops_class = type(conn.ops)
            if ops_class is not BaseDatabaseOperations:
                mp.setattr(ops_class, "sql_flush", wrap(ops_class.sql_flush))
        yield


@pytest.fixture(scope="session")
def browser(_async_unsafe_allowed: None) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set FJDP_CHROMIUM")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def portal_url(
    live_server: Any, _flush_past_audit_triggers: None, _async_unsafe_allowed: None
) -> str:
    """The live server's address (its database is the test's, emptied after each test)."""
    return str(live_server.url)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(
    browser: Browser, portal_url: str, shot: Shot, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Page]]:
    """A fresh browser context (its own cookies, so its own signed-in person) per call.
    When the test fails, every page it left open is photographed as it was."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(
            base_url=portal_url, viewport={"width": 1280, "height": 900}, locale="en-GB"
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        if request.node.stash.get(_FAILED, False):
            for page in context.pages:
                shot(page, "at-failure")
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``shot(page, step)`` saves a full-page screenshot and returns its path."""
    root = Path(os.environ.get("FJDP_TEST_ARTIFACTS") or REPO / "test-artifacts")
    folder = root / "browser" / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = 0

    def take(page: Page, step: str) -> Path:
        nonlocal count
        count += 1
        name = re.sub(r"[^\w.-]+", "-", step)
        path = folder / f"{count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in(new_page: Callable[[], Page], shot: Shot) -> Callable[[str], Page]:
    """``sign_in(username)``: a new browser signed in with password and a real TOTP code
    computed from the account's device key, on the dashboard."""

    def run(username: str) -> Page:
        # Imported here: pytest may load this file before Django is configured.
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from lib.portal import PASSWORD, token

        page = new_page()
        page.goto("/")
        assert "/accounts/login/" in page.url
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        shot(page, f"{username}-sign-in")
        page.click("button[type=submit]:has-text('Continue')")
        page.wait_for_url("**/accounts/otp/**")
        device = TOTPDevice.objects.get(user__username=username)
        page.fill("input[name=otp_token]", token(device))
        shot(page, f"{username}-second-step")
        page.click("button[type=submit]:has-text('Verify')")
        page.wait_for_selector("h1:has-text('Dashboard')")
        shot(page, f"{username}-dashboard")
        return page

    return run
