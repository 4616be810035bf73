"""Factories for governance tests: accredited people, a context, a ready application."""

from __future__ import annotations

import datetime as dt

from fjdp.governance import (
    Accreditation,
    Application,
    Context,
    DatasetRequest,
    Person,
    Request,
    Role,
    TableRequest,
)

TODAY = dt.date(2026, 6, 1)
CUSTODIANS = {"court_public": "guardian service", "deaths": "registration service"}


def accredited(on: dt.date = TODAY) -> Accreditation:
    return Accreditation(
        trained_on=on - dt.timedelta(days=100),
        expires_on=on + dt.timedelta(days=365),
        agreement_signed_on=on - dt.timedelta(days=90),
    )


def person(name: str, *roles: Role, organisation: str = "", accredited_on: bool = True) -> Person:
    return Person(
        name,
        frozenset(roles),
        accredited() if accredited_on else Accreditation(),
        organisation,
    )


def people() -> dict[str, Person]:
    folk = [
        person("lead", Role.PROJECT_LEAD, Role.RESEARCHER),
        person("res", Role.RESEARCHER),
        person("res2", Role.RESEARCHER),
        person("unacc", Role.RESEARCHER, accredited_on=False),
        person("pan1", Role.PANEL_MEMBER),
        person("pan2", Role.PANEL_MEMBER),
        person("pan3", Role.PANEL_MEMBER),
        person("panres", Role.PANEL_MEMBER, Role.RESEARCHER),
        person("cust_court", Role.CUSTODIAN, organisation="guardian service"),
        person("cust_deaths", Role.CUSTODIAN, organisation="registration service"),
        person("dm", Role.DATA_MANAGER),
        person("aud", Role.AUDITOR),
    ]
    return {p.username: p for p in folk}


def context(today: dt.date = TODAY) -> Context:
    return Context(today=today, people=people(), custodians=CUSTODIANS)


def request(*datasets: str) -> Request:
    tables = {
        "court_public": (TableRequest("cases", "*", "issue_date"),),
        "deaths": (TableRequest("deaths", ("date_of_death",), None),),
    }
    return Request(
        tuple(DatasetRequest(d, tables[d]) for d in datasets or ("court_public", "deaths")),
        date_start=dt.date(2010, 1, 1),
        date_end=dt.date(2024, 12, 31),
    )


def draft(**over: object) -> Application:
    fields: dict[str, object] = {
        "project": "P0001",
        "lead": "lead",
        "researchers": frozenset({"lead", "res"}),
        "request": request(),
        "end_date": TODAY + dt.timedelta(days=200),
    }
    fields.update(over)
    return Application(**fields)  # type: ignore[arg-type]
