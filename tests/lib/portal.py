"""Factories for portal tests: accounts with roles, accreditation and a TOTP device, and
clients signed in with both factors."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from fjdp.governance import Role
from fjdp.portal.actions import add_totp_device, create_user
from fjdp.portal.models import User

PASSWORD = "a long test passphrase 1"
GUARDIAN = "children's guardian service"
REGISTRATION = "registration service"


def make_user(
    name: str, *roles: Role, organisation: str = "", accredited: bool = True, device: bool = True
) -> User:
    today = dt.date.today()
    acc: dict[str, Any] = (
        {
            "trained_on": today - dt.timedelta(days=30),
            "expires_on": today + dt.timedelta(days=365),
            "agreement_signed_on": today - dt.timedelta(days=20),
        }
        if accredited
        else {}
    )
    user = create_user(
        name, PASSWORD, by="tests", roles=[r.value for r in roles], organisation=organisation, **acc
    )
    if device:
        add_totp_device(user, by="tests")
    return user


def token(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def verified_client(user: User, **kwargs: Any) -> Client:
    """A client signed in as ``user`` with a verified second factor (set in the session,
    as ``django_otp.login`` does; ``test_portal`` also checks the real OTP form)."""
    client = Client(**kwargs)
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user).first()
    assert device is not None, f"{user.username} has no device"
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def close_response(response: Any) -> None:
    """Close a streamed response without closing the test's database connection: closing
    sends ``request_finished``, whose handler would close it (PostgreSQL then fails the
    rest of the test)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def standard_people() -> dict[str, User]:
    return {
        "lead": make_user("lead", Role.PROJECT_LEAD, Role.RESEARCHER),
        "res": make_user("res", Role.RESEARCHER),
        "unacc": make_user("unacc", Role.RESEARCHER, accredited=False),
        "pan1": make_user("pan1", Role.PANEL_MEMBER),
        "pan2": make_user("pan2", Role.PANEL_MEMBER),
        "cust_court": make_user("cust_court", Role.CUSTODIAN, organisation=GUARDIAN),
        "cust_deaths": make_user("cust_deaths", Role.CUSTODIAN, organisation=REGISTRATION),
        "dm": make_user("dm", Role.DATA_MANAGER),
        "aud": make_user("aud", Role.AUDITOR),
        "checker": make_user("checker", Role.OUTPUT_CHECKER),
        "linkop": make_user("linkop", Role.LINKAGE_OPERATOR),
    }


def application_post(researchers: list[User], columns: list[str], **over: Any) -> dict[str, Any]:
    end = dt.date.today() + dt.timedelta(days=180)
    data: dict[str, Any] = {
        "title": "Pathways after care proceedings",
        "lay_summary": "What happens to children after court.",
        "purpose": "Describe pathways.",
        "public_benefit": "Better services.",
        "expected_outputs": "Tables of counts.",
        "date_start": "2000-01-01",
        "date_end": "2030-12-31",
        "end_date": end.isoformat(),
        "researchers": [u.pk for u in researchers],
        "columns": columns,
        "link_statuses": ["DET_DEMOG", "DET_STRONG_ID", "PROB_ACCEPT"],
    }
    data.update(over)
    return data


def tiny_databank(root: Path) -> Path:
    """A databank zone under ``root`` with deaths and public-law court data split, linked,
    received and loaded from a 2,000-person world (about 8 s). Returns the zone folder."""
    from fjdp.databank.load import load
    from fjdp.flow import deliver, set_up_zones
    from fjdp.linkage.run import link_dataset, load_spine
    from fjdp.transfer.receive import receive
    from fjdp.types import Zone
    from lib.world import build_small

    world = build_small(root / "world", people=2000, seed=3).out
    zones = set_up_zones(root, "tests")
    deliver(zones, "deaths", world / "deaths" / "deaths.parquet", "tests", lambda _m: None)
    deliver(zones, "court_public", world / "court_public", "tests", lambda _m: None)
    load_spine(zones.ttp, world / "spine", actor="tests")
    for ds in ("deaths", "court_public"):
        run = link_dataset(zones.ttp, ds, databank=zones.ttp.trusted(Zone.DATABANK), actor="tests")
        receive(run.file3_bundle, zones.databank, actor="tests")
    load(zones.databank, actor="tests")
    return Path(zones.databank.path)


def active_project(folk: dict[str, User], title: str = "Outputs") -> Any:
    """A project taken through the panel and its custodian with ``lead`` and ``res`` on
    it, then marked active and provisioned (provisioning itself needs a databank, which
    test_portal and the browser tests build)."""
    from fjdp.governance import PanelOutcome
    from fjdp.portal.actions import create_project, custodian_decide, panel_decide, submit
    from fjdp.portal.models import Project

    project = create_project(
        folk["lead"],
        {
            "title": title,
            "lay_summary": "What happens to children after court.",
            "purpose": "p",
            "public_benefit": "b",
            "expected_outputs": "tables",
            "date_start": None,
            "date_end": None,
            "end_date": dt.date.today() + dt.timedelta(days=90),
        },
        [folk["lead"], folk["res"]],
        {"deaths": {"deaths": {"columns": "*", "date_column": None}}},
    )
    submit(project, folk["lead"])
    panel_decide(project, folk["pan1"], PanelOutcome.APPROVE, "sound")
    panel_decide(project, folk["pan2"], PanelOutcome.APPROVE, "sound")
    custodian_decide(project, folk["cust_deaths"], "deaths", True, "fine")
    Project.objects.filter(pk=project.pk).update(state="active", provisioned=True)
    project.refresh_from_db()
    return project


def outputs_folder(project: Any) -> Path:
    """The project's outputs folder with a checked table (results.json in ACRO's layout,
    one flagged cell), a plain CSV and PNG, an HTML page and a Parquet file."""
    from django.conf import settings

    root = Path(settings.FJDP_ANALYSIS) / project.pid
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "output_0_0.csv").write_text(",2021,2022\nA,65,80\nB,,95\n")
    (results / "results.json").write_text(
        '{"version": "fjdp-0.1.0", "results": {"output_0": {"uid": "output_0", '
        '"status": "review", "files": [{"name": "output_0_0.csv", "sdc": {}}], '
        '"summary": "review; threshold: 1 cells with fewer contributors than the threshold", '
        '"outcome": {"2021": {"A": "ok", "B": "threshold: 4 contributors, fewer than 10"}, '
        '"2022": {"A": "ok", "B": "ok"}}, '
        '"properties": {"mitigations": ["suppressed 1 cells that fail the policy (primary)"]}}}}'
    )
    (root / "rates.csv").write_text("year,children\n2019,45\n2020,50\n")
    (root / "rates.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    (root / "page.html").write_text("<script>alert('x')</script><h1>Rates</h1>")
    (root / "rows.parquet").write_bytes(b"PAR1")
    return root
