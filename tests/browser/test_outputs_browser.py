"""An output request in a real browser: a researcher picks files from the project's
outputs folder and asks for their release; two output checkers take it from their
dashboards and approve every file side by side; the researcher downloads the bundle.
Refused on the way: a file type that cannot be released, a second open request,
reviewing one's own request, and the same checker taking a request twice."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from fjdp.disclosure.bundle import verify_release
from fjdp.governance import Role
from fjdp.portal.models import OutputRequestRecord
from lib.portal import active_project, make_user, outputs_folder, standard_people

pytestmark = pytest.mark.browser

SignIn = Callable[[str], Page]
Shot = Callable[[Page, str], Path]

DESCRIPTION = (
    "Children in public-law proceedings 2019-2022 (n = 4,210), counts by year; no model; "
    "no earlier release from this project."
)

# Posts the page's own CSRF token to an action the page does not offer, as a person
# crafting the request would: the server must refuse it with its reason.
FORCE_POST = """(action) => {
  const f = document.createElement('form');
  f.method = 'post';
  f.action = action;
  const t = document.createElement('input');
  t.name = 'csrfmiddlewaretoken';
  t.value = document.querySelector('[name=csrfmiddlewaretoken]').value;
  f.append(t);
  document.body.append(f);
  f.submit();
}"""


@pytest.fixture
def project(tmp_path: Path, settings: Any, portal_url: str) -> Any:
    # The live server is a thread of this process: it sees these settings.
    for name in ("ANALYSIS", "RELEASES", "OUTPUT_STORE"):
        setattr(settings, f"FJDP_{name}", str(tmp_path / name.lower()))
    folk = standard_people()
    # a researcher who is also an output checker: never of their own request
    rc = make_user("rc", Role.RESEARCHER, Role.OUTPUT_CHECKER)
    make_user("chk1", Role.OUTPUT_CHECKER)
    make_user("chk2", Role.OUTPUT_CHECKER)
    project = active_project({**folk, "res": rc})
    outputs_folder(project)
    return project


def _pick(page: Page, files: dict[str, str]) -> None:
    for name, why in files.items():
        page.check(f"input[name=file][value='{name}']")
        if why:
            page.fill(f"input[name='justify:{name}']", why)


def test_request_two_reviews_release_and_refusals(
    sign_in: SignIn, shot: Shot, project: Any, tmp_path: Path
) -> None:
    pid = project.pid

    # the researcher opens the project and asks for outputs; a Parquet file is refused
    res = sign_in("rc")
    res.goto(f"/projects/{pid}/")
    res.click("text=Request outputs")
    res.wait_for_selector("h1:has-text('Request outputs')")
    expect(res.locator("table.files")).to_contain_text("results/output_0_0.csv")
    expect(res.locator("table.files")).to_contain_text("review")
    res.fill("textarea[name=description]", DESCRIPTION)
    _pick(res, {"rows.parquet": "the rows behind the table"})
    shot(res, "request-parquet")
    res.click("button:has-text('Submit for checking')")
    expect(res.locator(".errors")).to_contain_text(".parquet files cannot be released")
    shot(res, "refused-parquet")
    assert not OutputRequestRecord.objects.exists()

    # a table the engine checked (review: one suppressed cell), a plain CSV and its plot
    res.uncheck("input[name=file][value='rows.parquet']")
    _pick(
        res,
        {
            "results/output_0_0.csv": "the suppression pattern is the engine's own",
            "rates.csv": "every count is at least 45, rounded to 5",
            "rates.png": "the plot of rates.csv",
        },
    )
    shot(res, "request-filled")
    res.click("button:has-text('Submit for checking')")
    expect(res.locator(".messages")).to_contain_text("submitted for checking")
    rec = OutputRequestRecord.objects.get()
    rid = rec.rid
    shot(res, "request-submitted")

    # a second open request on the same project is refused
    res.goto(f"/projects/{pid}/outputs/new/")
    res.fill("textarea[name=description]", "more")
    _pick(res, {"page.html": "the page of the rates"})
    res.click("button:has-text('Submit for checking')")
    expect(res.locator(".errors")).to_contain_text("already has an open output request")
    shot(res, "refused-second-request")

    # the researcher is an output checker too, but not of their own request
    res.goto(f"/outputs/{rid}/")
    expect(res.locator(".actions")).not_to_contain_text("Take this request")
    res.evaluate(FORCE_POST, f"/outputs/{rid}/take/")
    expect(res.locator(".messages")).to_contain_text(f"rc made request {rid} and cannot check it")
    shot(res, "refused-self-review")

    # two checkers take it from their dashboards and approve each file
    checkers = {}
    for i, name in enumerate(("chk1", "chk2")):
        page = checkers[name] = sign_in(name)
        expect(page.locator("section:has-text('waiting for a checker')")).to_contain_text(rid)
        page.click(f"a:has-text('{rid}')")
        page.click("button:has-text('Take this request')")
        page.wait_for_selector(f"h1:has-text('Review {rid}')")
        # side by side: the table, the flagged cell, the image
        expect(page.locator("#file-" + str(_fid(rec, "output_0_0.csv")))).to_contain_text(
            "threshold: 4 contributors"
        )
        expect(page.locator("img[alt='rates.png']")).to_be_visible()
        shot(page, f"{name}-review")
        if i == 0:
            # the same checker cannot take the request a second time
            page.goto(f"/outputs/{rid}/")
            expect(page.locator(".actions")).not_to_contain_text("Take this request")
            page.evaluate(FORCE_POST, f"/outputs/{rid}/take/")
            expect(page.locator(".messages")).to_contain_text("chk1 already checks round 1")
            shot(page, "refused-twice")
            page.goto(f"/outputs/{rid}/review/")
        for f in ("output_0_0.csv", "rates.csv", "rates.png"):
            form = page.locator(f"#file-{_fid(rec, f)} form.vote")
            form.locator("input[value=approve]").check()
            form.locator("button").click()
            expect(page.locator(".messages")).to_contain_text(f"Decision on {f} recorded")
        if i == 0:
            # blind: nothing of the other checker's decisions is shown yet
            expect(page.locator("main")).not_to_contain_text("Other checkers")
        shot(page, f"{name}-decided")

    rec.refresh_from_db()
    assert rec.state == "decided" and rec.bundle

    # a checker cannot download the release (the same browser: a second sign-in within
    # the TOTP step would reuse its code, which django-otp rightly refuses)
    chk = checkers["chk1"]
    chk.goto(f"/outputs/{rid}/")
    expect(chk.locator(".actions")).not_to_contain_text("Download the release")
    resp = chk.goto(f"/outputs/{rid}/release/")
    assert resp is not None and resp.status == 403

    # the researcher sees both decisions and downloads the bundle
    res.goto(f"/outputs/{rid}/")
    expect(res.locator("table.votes")).to_contain_text("chk2")
    shot(res, "released")
    with res.expect_download() as info:
        res.click("text=Download the release")
    bundle = tmp_path / info.value.suggested_filename
    info.value.save_as(bundle)
    assert verify_release(bundle) == []
    with zipfile.ZipFile(bundle) as z:
        assert {"outputs/rates.csv", "outputs/rates.png", "outputs/output_0_0.csv"} <= set(
            z.namelist()
        )


def _fid(rec: OutputRequestRecord, name: str) -> int:
    return int(rec.rounds.get().files.get(name=name).pk)
