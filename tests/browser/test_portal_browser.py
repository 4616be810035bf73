"""What people do in the portal, in a real browser: apply, review, approve, provision and
find the workspace; be refused when naming an unaccredited researcher; lose the
workspace when the project expires. Every sign-in is two-factor, with the TOTP code
computed from the account's device key."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from fjdp.governance import Role
from fjdp.portal import commands
from fjdp.portal.config import PortalConfig
from fjdp.portal.models import Project
from lib.portal import make_user, standard_people, tiny_databank

pytestmark = pytest.mark.browser

SignIn = Callable[[str], Page]
Shot = Callable[[Page, str], Path]

TITLE = "Pathways after care proceedings"
LAY = "What happens to children after they leave court."


@pytest.fixture(scope="module")
def tiny_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_databank(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def bank(tiny_bank: Path, tmp_path: Path, settings: object) -> Path:
    """A copy of the tiny databank that this test's portal provisions into."""
    dest = tmp_path / "databank"
    shutil.copytree(tiny_bank, dest, symlinks=True)
    # The live server is a thread of this process: it sees these settings.
    settings.FJDP_DATABANK = str(dest)  # type: ignore[attr-defined]
    settings.FJDP_WORKSPACES = str(tmp_path / "workspaces")  # type: ignore[attr-defined]
    return dest


def _apply(page: Page, shot: Shot, researchers: list[int], columns: list[str]) -> None:
    page.click("text=Apply for a new project")
    page.wait_for_selector("h1:has-text('Apply for a project')")
    page.fill("input[name=title]", TITLE)
    page.fill("textarea[name=lay_summary]", LAY)
    page.fill("textarea[name=purpose]", "Describe the pathways of children after proceedings.")
    page.fill("textarea[name=public_benefit]", "Better services for families.")
    page.fill("textarea[name=expected_outputs]", "Tables of counts, checked before release.")
    page.fill("input[name=end_date]", (dt.date.today() + dt.timedelta(days=180)).isoformat())
    for pk in researchers:
        page.check(f"input[name=researchers][value='{pk}']")
    for column in columns:
        page.check(f"input[name=columns][value='{column}']")
    shot(page, "application-filled")
    page.click("button:has-text('Save draft')")


def test_an_application_goes_from_form_to_workspace_and_expires(
    sign_in: SignIn, shot: Shot, bank: Path, tmp_path: Path
) -> None:
    people = standard_people()

    # the lead applies, naming themself and a researcher, and submits
    lead = sign_in("lead")
    _apply(
        lead,
        shot,
        [people["lead"].pk, people["res"].pk],
        ["deaths.deaths.date_of_death", "deaths.deaths.link_status", "court_public.cases.*"],
    )
    expect(lead.locator(".messages")).to_contain_text("saved as a draft")
    project = Project.objects.get()
    pid = project.pid
    shot(lead, "draft")
    lead.click("button:has-text('Submit for review')")
    expect(lead.locator(".messages")).to_contain_text("Submitted for panel review")
    shot(lead, "submitted")

    # two panel members approve, each from their dashboard
    for name in ("pan1", "pan2"):
        page = sign_in(name)
        page.click(f"a:has-text('{pid}')")
        page.wait_for_selector("h1:has-text('Panel decision')")
        page.check("input[name=outcome][value=approve]")
        page.fill("textarea[name=reasons]", f"{name}: sound, proportionate and lawful")
        shot(page, f"{name}-decision")
        page.click("button:has-text('Record the decision')")
        page.wait_for_selector(f"h1:has-text('{pid}')")
        shot(page, f"{name}-decided")
    project.refresh_from_db()
    assert project.state == "custodian_review"

    # each dataset's custodian approves their own dataset, and only that one
    for name, dataset in (("cust_deaths", "deaths"), ("cust_court", "court_public")):
        page = sign_in(name)
        page.click(f"a:has-text('{pid}')")
        page.wait_for_selector(f"h1:has-text('{pid}')")
        expect(page.locator(".actions a.button")).to_have_count(1)
        page.click(f"a:has-text('Decide on {dataset}')")
        page.check("input[name=decision][value=approve]")
        page.fill("textarea[name=reasons]", "within our data-sharing agreement")
        shot(page, f"{name}-decision")
        page.click("button:has-text('Record the decision')")
        page.wait_for_selector(f"h1:has-text('{pid}')")
        shot(page, f"{name}-decided")
    project.refresh_from_db()
    assert project.state == "approved"

    # the researcher has no workspace yet
    res = sign_in("res")
    assert pid not in res.locator("main").inner_text()
    # the menu offers only the pages this person's roles open
    expect(res.locator("nav")).to_contain_text("Workspaces")
    expect(res.locator("nav")).not_to_contain_text("Audit")

    # the data manager provisions the workspace from the databank
    dm = sign_in("dm")
    dm.click(f"a:has-text('{pid}')")
    dm.wait_for_selector(f"h1:has-text('{pid}')")
    shot(dm, "approved")
    dm.click("button:has-text('Provision the workspace')")
    expect(dm.locator(".messages")).to_contain_text("Workspace provisioned")
    expect(dm.locator("main")).to_contain_text("workspace provisioned")
    shot(dm, "provisioned")
    workspace = tmp_path / "workspaces" / pid
    assert (workspace / "data" / "deaths" / "deaths.parquet").exists()

    # the researcher now finds it on their dashboard and their workspaces page
    res.reload()
    expect(res.locator("section:has-text('Your workspaces')")).to_contain_text(pid)
    shot(res, "dashboard-with-workspace")
    res.click("nav >> text=Workspaces")
    expect(res.locator("table")).to_contain_text(TITLE)
    shot(res, "workspaces")
    # and the public register lists the project with its lay summary
    res.click("nav >> text=Register")
    expect(res.locator("main")).to_contain_text(LAY)
    shot(res, "register")

    # a day past its end date, `fjdp portal expire --today ...` ends it and the workspace
    # goes (the command's own function; Django is already set up on the test database)
    later = project.end_date + dt.timedelta(days=1)
    cfg = PortalConfig.from_env({}, portal_dir=tmp_path, secret_key="unused")
    assert commands.expire(cfg, later) == [pid]
    assert not workspace.exists()
    res.goto("/")
    expect(res.locator("main")).not_to_contain_text(pid)
    shot(res, "dashboard-after-expiry")
    res.goto("/workspaces/")
    expect(res.locator("table")).to_contain_text("No active workspace")
    expect(res.locator("table")).not_to_contain_text(pid)
    shot(res, "workspaces-after-expiry")


def test_an_unaccredited_researcher_cannot_be_named(sign_in: SignIn, shot: Shot) -> None:
    people = standard_people()
    lapsed = make_user("lapsed", Role.RESEARCHER)
    type(lapsed).objects.filter(pk=lapsed.pk).update(
        accreditation_expires_on=dt.date.today() - dt.timedelta(days=1)
    )
    lead = sign_in("lead")
    _apply(lead, shot, [people["unacc"].pk, lapsed.pk], ["deaths.deaths.*"])
    errors = lead.locator(".field.invalid .errors")
    expect(errors).to_contain_text("unacc has no recorded safe-researcher training")
    expect(errors).to_contain_text("accreditation that lapsed")
    shot(lead, "refused")
    assert not Project.objects.exists()


def test_five_wrong_passwords_show_the_lockout_page(
    new_page: Callable[[], Page], shot: Shot
) -> None:
    """The person locked out sees a page that says what happened and what to do."""
    from lib.portal import PASSWORD

    make_user("res", Role.RESEARCHER)
    page = new_page()
    for attempt in range(1, 6):
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "res")
        page.fill("input[name=password]", f"wrong guess {attempt}")
        page.click("button[type=submit]:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Sign-in locked")
    shot(page, "locked")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "res")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]:has-text('Continue')")
    expect(page.locator("h1")).to_have_text("Sign-in locked")
    expect(page.locator("main")).to_contain_text("Try again in 15 minutes")
    expect(page.locator("main")).to_contain_text("fjdp portal unlock res")
