"""Output requests in the portal: a request's files are copied with their checks, two
independent checkers decide blind, a dispute goes to a third, a returned request comes
back as a new round, and the approved files become a release bundle that only the
project's team downloads; every change is in the audit chain."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from fjdp.errors import GovernanceError, InputError
from fjdp.governance import Role
from fjdp.portal import actions
from fjdp.portal.audit import verify_portal
from fjdp.portal.models import AuditEntry, OutputRequestRecord
from fjdp.portal.outputs import FileIn, stored_path
from lib.portal import (
    active_project,
    close_response,
    make_user,
    outputs_folder,
    standard_people,
    verified_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tmp_path: Path, settings: object) -> dict[str, object]:
    for name in ("ANALYSIS", "RELEASES", "OUTPUT_STORE"):
        setattr(settings, f"FJDP_{name}", str(tmp_path / name.lower()))
    folk: dict[str, object] = dict(standard_people())
    folk["chk1"] = make_user("chk1", Role.OUTPUT_CHECKER)
    folk["chk2"] = make_user("chk2", Role.OUTPUT_CHECKER)
    folk["chk3"] = make_user("chk3", Role.OUTPUT_CHECKER)
    project = active_project(folk)  # type: ignore[arg-type]
    folk["project"] = project
    folk["root"] = outputs_folder(project)
    return folk


def _files(root: Path) -> list[FileIn]:
    return [
        FileIn(root / "results" / "output_0_0.csv", "suppressed as the policy asks"),
        FileIn(root / "rates.csv", "counts of at least 45, rounded"),
    ]


def _request(w: dict[str, object]) -> OutputRequestRecord:
    return actions.create_request(
        w["project"],  # type: ignore[arg-type]
        w["res"],  # type: ignore[arg-type]
        "All children in proceedings 2019-2022, n = 4,210; year only; no earlier release.",
        _files(w["root"]),  # type: ignore[arg-type]
        submit=True,
    )


def test_request_review_release_and_download(world: dict[str, object]) -> None:
    rec = _request(world)
    assert rec.state == "submitted"
    f = rec.rounds.get().files.get(name="output_0_0.csv")
    assert f.status == "review" and f.flags[0]["row"] == "B"
    # the copy is what is reviewed: a later edit in the workspace changes nothing
    (world["root"] / "rates.csv").write_text("year,children\n2019,3\n")  # type: ignore[operator]
    assert "45" in stored_path(rec.rounds.get().files.get(name="rates.csv").stored).read_text()

    for c in ("chk1", "chk2"):
        actions.take_request(rec, world[c])  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk1"], "output_0_0.csv", "approve", "")  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk1"], "rates.csv", "approve", "")  # type: ignore[arg-type]
    # blind: chk2 sees nothing of chk1's decisions yet, on the page either
    page = verified_client(world["chk2"]).get(f"/outputs/{rec.rid}/review/")  # type: ignore[arg-type]
    assert page.status_code == 200
    assert "chk1: approve" not in page.content.decode()
    actions.vote_file(rec, world["chk2"], "output_0_0.csv", "approve", "")  # type: ignore[arg-type]
    # chk1 has decided everything, chk2 not yet: chk1 still learns nothing of chk2's
    # decision, not even through the file's outcome
    page = verified_client(world["chk1"]).get(f"/outputs/{rec.rid}/").content.decode()  # type: ignore[arg-type]
    assert 'class="outcome">approve' not in page and "chk2" in page  # named, not shown
    actions.vote_file(rec, world["chk2"], "rates.csv", "approve", "ok")  # type: ignore[arg-type]
    rec.refresh_from_db()
    assert rec.state == "decided" and rec.bundle
    page = verified_client(world["res"]).get(f"/outputs/{rec.rid}/").content.decode()  # type: ignore[arg-type]
    assert 'class="outcome">approve' in page
    bundle = Path(django_settings.FJDP_RELEASES) / rec.bundle
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert [f["name"] for f in manifest["files"]] == ["outputs/output_0_0.csv", "outputs/rates.csv"]

    # the team downloads; checkers and outsiders do not
    r = verified_client(world["res"]).get(f"/outputs/{rec.rid}/release/")  # type: ignore[arg-type]
    assert r.status_code == 200 and b"".join(r.streaming_content)[:2] == b"PK"
    close_response(r)
    for who in ("chk1", "chk2", "checker", "pan1"):
        got = verified_client(world[who]).get(f"/outputs/{rec.rid}/release/")  # type: ignore[arg-type]
        assert got.status_code == 403, who
    actions_done = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "output.request",
        "output.submit",
        "output.take",
        "output.vote",
        "output.release",
        "output.download",
    } <= actions_done
    assert verify_portal().ok


def test_refusals(world: dict[str, object]) -> None:
    root: Path = world["root"]  # type: ignore[assignment]
    with pytest.raises(GovernanceError, match="cannot be released"):
        actions.create_request(
            world["project"],
            world["res"],
            "d",
            [FileIn(root / "rows.parquet", "x")],  # type: ignore[arg-type]
        )
    with pytest.raises(GovernanceError, match="say why"):
        actions.create_request(world["project"], world["res"], "d", [FileIn(root / "rates.csv")])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no such file"):
        actions.create_request(world["project"], world["res"], "d", [FileIn(root / "nope.csv")])  # type: ignore[arg-type]
    rec = _request(world)
    with pytest.raises(GovernanceError, match="already has an open output request"):
        _request(world)
    # the requester, the project's lead and a researcher are never its checkers
    for who in ("res", "lead"):
        with pytest.raises(GovernanceError):
            actions.take_request(rec, world[who])  # type: ignore[arg-type]
    actions.take_request(rec, world["chk1"])  # type: ignore[arg-type]
    with pytest.raises(GovernanceError, match="already checks"):
        actions.take_request(rec, world["chk1"])  # type: ignore[arg-type]
    with pytest.raises(GovernanceError, match="say why"):
        actions.vote_file(rec, world["chk1"], "rates.csv", "reject", "")  # type: ignore[arg-type]
    assert OutputRequestRecord.objects.count() == 1


def test_dispute_goes_to_a_third_and_a_return_makes_a_new_round(
    world: dict[str, object],
) -> None:
    rec = _request(world)
    for c in ("chk1", "chk2"):
        actions.take_request(rec, world[c])  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk1"], "output_0_0.csv", "approve", "")  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk2"], "output_0_0.csv", "reject", "B 2021 is recoverable")  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk1"], "rates.csv", "return", "round to 5")  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk2"], "rates.csv", "return", "round to 5 please")  # type: ignore[arg-type]
    rec.refresh_from_db()
    assert rec.state == "in_review"  # the disputed file waits for a third checker
    actions.take_request(rec, world["chk3"])  # type: ignore[arg-type]
    with pytest.raises(GovernanceError, match="not disputed"):
        actions.vote_file(rec, world["chk3"], "rates.csv", "approve", "")  # type: ignore[arg-type]
    actions.vote_file(rec, world["chk3"], "output_0_0.csv", "approve", "fine as suppressed")  # type: ignore[arg-type]
    rec.refresh_from_db()
    assert rec.state == "returned" and not rec.bundle
    # the requester now sees the decisions
    page = verified_client(world["res"]).get(f"/outputs/{rec.rid}/").content.decode()  # type: ignore[arg-type]
    assert "round to 5 please" in page

    actions.revise_request(rec, world["res"], _files(world["root"]))  # type: ignore[arg-type]
    rec.refresh_from_db()
    assert rec.state == "submitted" and rec.rounds.count() == 2
    for c in ("chk2", "chk3"):
        actions.take_request(rec, world[c])  # type: ignore[arg-type]
        for name in ("output_0_0.csv", "rates.csv"):
            actions.vote_file(rec, world[c], name, "approve", "")  # type: ignore[arg-type]
    rec.refresh_from_db()
    assert rec.state == "decided" and rec.bundle.endswith("-r2.zip")
    assert verify_portal().ok


def test_html_output_is_shown_as_text(world: dict[str, object]) -> None:
    root: Path = world["root"]  # type: ignore[assignment]
    rec = actions.create_request(
        world["project"],  # type: ignore[arg-type]
        world["res"],  # type: ignore[arg-type]
        "a page",
        [FileIn(root / "page.html", "the page of the table"), FileIn(root / "rates.png", "plot")],
        submit=True,
    )
    actions.take_request(rec, world["chk1"])  # type: ignore[arg-type]
    c = verified_client(world["chk1"])  # type: ignore[arg-type]
    page = c.get(f"/outputs/{rec.rid}/review/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    f = rec.rounds.get().files.get(name="page.html")
    raw = c.get(f"/outputs/{rec.rid}/files/{f.pk}/")
    close_response(raw)
    assert (
        raw["Content-Type"].startswith("text/plain") and "sandbox" in raw["Content-Security-Policy"]
    )
    png = rec.rounds.get().files.get(name="rates.png")
    img = c.get(f"/outputs/{rec.rid}/files/{png.pk}/")
    close_response(img)
    assert img["Content-Type"] == "image/png"


def test_picking_files_in_the_form(world: dict[str, object]) -> None:
    c = verified_client(world["res"])  # type: ignore[arg-type]
    pid = world["project"].pid  # type: ignore[attr-defined]
    page = c.get(f"/projects/{pid}/outputs/new/")
    assert page.status_code == 200 and "rows.parquet" in page.content.decode()
    r = c.post(
        f"/projects/{pid}/outputs/new/",
        {"description": "d", "file": ["rows.parquet"], "justify:rows.parquet": "x"},
    )
    assert "cannot be released" in r.content.decode()
    # a path outside the outputs folder is refused outright
    r = c.post(f"/projects/{pid}/outputs/new/", {"description": "d", "file": ["../x.csv"]})
    assert r.status_code == 403
    r = c.post(
        f"/projects/{pid}/outputs/new/",
        {"description": "d", "file": ["rates.csv"], "justify:rates.csv": "big counts"},
    )
    assert r.status_code == 302
    assert OutputRequestRecord.objects.get().state == "submitted"


def test_the_checkers_dashboard_and_the_outputs_list_do_not_query_per_request(
    world: dict[str, object],
) -> None:
    """A checker's dashboard and the outputs list read the open requests in a number of
    queries that does not grow with the requests, their rounds, files and votes (the
    load test found one query per request, round, file and vote)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    checker, lead = verified_client(world["chk1"]), verified_client(world["lead"])  # type: ignore[arg-type]

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as dash:
            assert checker.get("/").status_code == 200
        with CaptureQueriesContext(connection) as listing:
            assert lead.get("/outputs/").status_code == 200
        return len(dash), len(listing)

    first = _request(world)
    actions.take_request(first, world["chk2"])  # type: ignore[arg-type]
    actions.vote_file(first, world["chk2"], "rates.csv", "approve", "")  # type: ignore[arg-type]
    one = queries()
    # a second request on the project (one researcher may have one open at a time),
    # taken by two checkers and voted on, and more votes on the first
    rec = actions.create_request(
        world["project"],  # type: ignore[arg-type]
        world["lead"],  # type: ignore[arg-type]
        "The same population by local authority; no earlier release.",
        _files(world["root"]),  # type: ignore[arg-type]
        submit=True,
    )
    for c in ("chk2", "chk3"):
        actions.take_request(rec, world[c])  # type: ignore[arg-type]
        actions.vote_file(rec, world[c], "rates.csv", "approve", "")  # type: ignore[arg-type]
    actions.take_request(first, world["chk3"])  # type: ignore[arg-type]
    actions.vote_file(first, world["chk3"], "rates.csv", "approve", "")  # type: ignore[arg-type]
    two = queries()
    assert two == one, (one, two)
    listing = lead.get("/outputs/").content.decode()
    assert first.rid in listing and rec.rid in listing
