"""The measures on a tiny hand-built workspace, with every expected figure worked out by
hand: which order counts, who is an infant or a newborn, who returns, whose contacts fall
in the two-year window, and what widening the links to possible matches changes."""

from __future__ import annotations

import datetime as dt

import duckdb
import ibis
import pandas as pd
import pytest

from fjdp.analysis.measures import Links, build_frames
from fjdp.analysis.measures._workspace import Views, backend_views
from fjdp.analysis.measures.infants import infant_table
from fjdp.analysis.measures.parents_health import health_table
from fjdp.analysis.measures.pathways import flows_table, pathways_table
from fjdp.analysis.measures.recurrence import recurrence_table

D = dt.date


def _table(
    con: duckdb.DuckDBPyConnection, name: str, rows: list[dict[str, object]], text: str = ""
) -> None:
    """``text``: columns that are all NULL here but text in a workspace."""
    con.register("_rows", pd.DataFrame(rows))
    cast = ", ".join(f"{c}::varchar as {c}" for c in text.split())
    con.execute(f"create table {name} as select * {f'replace ({cast})' if cast else ''} from _rows")
    con.unregister("_rows")


@pytest.fixture
def ws() -> Views:
    con = duckdb.connect()
    for s in (
        "court_public",
        "court_private",
        "births",
        "hospital_admissions",
        "emergency_attendances",
        "reference",
    ):
        con.execute(f"create schema {s}")
    _table(
        con,
        "reference.lsoa_deprivation",
        [
            {"lsoa": "L1", "local_authority": "A", "deprivation_quintile": 1},
            {"lsoa": "L2", "local_authority": "B", "deprivation_quintile": 5},
        ],
    )
    _table(
        con,
        "court_public.cases",
        [
            {
                "system_id": "C1",
                "issue_date": D(2015, 1, 10),
                "close_date": D(2015, 9, 1),
                "local_authority": "A",
            },
            {
                "system_id": "C2",
                "issue_date": D(2017, 6, 1),
                "close_date": D(2018, 1, 1),
                "local_authority": "A",
            },
            {
                "system_id": "C3",
                "issue_date": D(2016, 3, 1),
                "close_date": D(2016, 9, 1),
                "local_authority": "B",
            },
        ],
    )
    _table(
        con,
        "court_public.applications",
        [
            {
                "system_id": "A1",
                "case_system_id": "C1",
                "application_type": "C1_CARE_S31",
                "issue_date": D(2015, 1, 10),
            },
            {
                "system_id": "A1b",
                "case_system_id": "C1",
                "application_type": "A_PLACEMENT_S21",
                "issue_date": D(2015, 5, 1),
            },
            {
                "system_id": "A2",
                "case_system_id": "C2",
                "application_type": "C1_EPO_S44",
                "issue_date": D(2017, 6, 1),
            },
            {
                "system_id": "A3",
                "case_system_id": "C3",
                "application_type": "C1_CARE_S31",
                "issue_date": D(2016, 3, 1),
            },
        ],
    )
    person = lambda sid, alf, st, wob, sex, lsoa: {  # noqa: E731
        "system_id": sid,
        "alf_pe": alf,
        "link_status": st,
        "week_of_birth": wob,
        "sex": sex,
        "lsoa": lsoa,
    }
    _table(
        con,
        "court_public.persons",
        [
            person("K1", "k1", "DET_STRONG_ID", D(2015, 1, 5), "F", "L1"),
            person("K2", "k2", "DET_DEMOG", D(2016, 12, 5), "M", "L1"),
            person("K3", None, "UNMATCHED", D(2010, 1, 4), "M", None),
            person("M1", "m1", "DET_DEMOG", D(1990, 1, 1), "F", "L1"),
            person("M1b", "m1", "DET_DEMOG", D(1990, 1, 1), "F", "L1"),
            person("M3", "m3", "PROB_POSSIBLE", D(1995, 1, 2), "F", "L2"),
        ],
    )
    ap = [
        ("A1", "K1", "subject"),
        ("A1b", "K1", "subject"),
        ("A1", "M1", "respondent"),
        ("A2", "K2", "subject"),
        ("A2", "M1b", "respondent"),
        ("A3", "K3", "subject"),
        ("A3", "M3", "respondent"),
    ]
    _table(
        con,
        "court_public.application_persons",
        [{"application_system_id": a, "person_system_id": p, "role": r} for a, p, r in ap],
    )
    _table(
        con,
        "court_public.relationships",
        [
            {"person_system_id": p, "related_person_system_id": c, "relationship": "parent"}
            for p, c in (("M1", "K1"), ("M1b", "K2"), ("M3", "K3"))
        ],
    )
    _table(
        con,
        "court_public.legal_outputs",
        [
            {
                "application_system_id": "A1",
                "person_system_id": "K1",
                "order_type": "SUPERVISION_ORDER",
                "date_ordered": D(2015, 4, 1),
            },
            {
                "application_system_id": "A1b",
                "person_system_id": "K1",
                "order_type": "PLACEMENT_ORDER",
                "date_ordered": D(2015, 9, 1),
            },
            {
                "application_system_id": "A2",
                "person_system_id": "K2",
                "order_type": "CARE_ORDER",
                "date_ordered": D(2018, 1, 1),
            },
        ],
    )
    _table(
        con,
        "court_private.cases",
        [
            {
                "system_id": "P",
                "issue_date": D(2016, 1, 1),
                "close_date": None,
                "local_authority": "B",
            }
        ],
    )
    _table(
        con,
        "court_private.applications",
        [
            {
                "system_id": "PA",
                "case_system_id": "P",
                "application_type": "C100_PSO",
                "issue_date": D(2016, 1, 1),
            }
        ],
    )
    _table(
        con,
        "court_private.legal_outputs",
        [
            {
                "application_system_id": "PA",
                "person_system_id": "X",
                "order_type": o,
                "date_ordered": D(2016, 6, 1),
            }
            for o in ("WITHDRAWN", "PROHIBITED_STEPS_ORDER")
        ],
    )
    birth = lambda baby, mother, wob, mwob, lsoa: {  # noqa: E731
        "baby_alf_pe": baby,
        "mother_alf_pe": mother,
        "baby_link_status": "DET_STRONG_ID",
        "mother_link_status": "DET_STRONG_ID",
        "baby_week_of_birth": wob,
        "mother_week_of_birth": mwob,
        "mother_age": 25,
        "baby_lsoa": lsoa,
        "mother_lsoa": lsoa,
    }
    _table(
        con,
        "births.births",
        [
            birth("k1", "m1", D(2015, 1, 5), D(1990, 1, 1), "L1"),
            birth("x2", "c1", D(2015, 2, 2), D(1989, 12, 4), "L1"),  # m1's match: 2015, 25, q1
            birth("x3", "c2", D(2020, 6, 1), D(1985, 1, 7), "L2"),  # outside the court years
        ],
    )
    adm = lambda alf, day, code, st="DET_DEMOG": {  # noqa: E731
        "alf_pe": alf,
        "admission_date": day,
        "diag_1": code,
        "diag_2": None,
        "diag_3": None,
        "link_status": st,
    }
    _table(
        con,
        "hospital_admissions.admissions",
        [
            adm("m1", D(2014, 6, 1), "F32"),  # in m1's window: mental health
            adm("m1", D(2012, 1, 1), "S00"),  # injury, but more than two years before
            adm("c1", D(2015, 3, 1), "F20"),  # after c1's index date
        ],
        text="diag_2 diag_3",
    )
    _table(
        con,
        "emergency_attendances.attendances",
        [
            {
                "alf_pe": "m1",
                "arrival_date": D(2014, 12, 1),
                "diagnosis_group": "injury",
                "link_status": "DET_DEMOG",
            },
            {
                "alf_pe": "m1",
                "arrival_date": D(2014, 12, 2),
                "diagnosis_group": "mental health",
                "link_status": "PROB_POSSIBLE",
            },
        ],
    )
    return backend_views(ibis.duckdb.from_connection(con))


def test_the_highest_final_order_and_first_application_count(ws: Views) -> None:
    c = build_frames(ws).children.set_index("child_key")
    assert c.loc["K1", "final_order"] == "PLACEMENT_ORDER"  # placement outranks supervision
    assert c.loc["K1", "final_order_date"] == pd.Timestamp(2015, 9, 1)
    assert c.loc["K1", "first_application"] == "C1_CARE_S31"
    assert pd.isna(c.loc["K3", "final_order"])
    assert c.loc["K1", "age_days"] == 2  # issued 5 days after the week began, less 3
    assert pd.isna(c.loc["K3", "person"])  # unmatched: no pseudonym


def test_infants_and_newborns_per_10k_births(ws: Views) -> None:
    t = infant_table(build_frames(ws))
    y = t[t.breakdown == "year"].set_index("group")
    assert y.loc["2015", ["births", "infants", "newborns"]].tolist() == [2, 1, 1]
    assert y.loc["2015", "infants_per_10k"] == 5000
    assert y.loc["2017", ["births", "infants", "newborns"]].tolist() == [0, 1, 0]  # K2: 175 days
    assert pd.isna(y.loc["2017", "infants_per_10k"])
    assert "2020" not in y.index  # births outside the court years are left out
    q = t[t.breakdown == "deprivation quintile"].set_index("group")
    assert q.loc["1", ["births", "infants"]].tolist() == [2, 2]


def test_a_mother_followed_across_cases_returns(ws: Views) -> None:
    t = recurrence_table(build_frames(ws))
    m = t[(t.parent == "mother") & (t.age_at_first == "all ages")].set_index("years")
    assert m.loc[1, "parents"] == 1  # m3's possible link does not count by default
    assert m.loc[2, "cumulative_share_returned"] == 0  # m1 returns after 2.39 years
    assert m.loc[3, "cumulative_share_returned"] == 1


def test_widening_to_possible_links_adds_the_possible_mother(ws: Views) -> None:
    t = recurrence_table(build_frames(ws, Links.POSSIBLE))
    m = t[(t.parent == "mother") & (t.age_at_first == "all ages")].set_index("years")
    assert m.loc[1, "parents"] == 2
    # m3 is still in follow-up (censored in 2020) when m1 returns: 1 of 2 at risk.
    assert m.loc[3, "cumulative_share_returned"] == pytest.approx(0.5)


def test_contacts_count_only_inside_the_two_year_window(ws: Views) -> None:
    f = build_frames(ws)
    t = health_table(ws, f).set_index(["group", "contact"])
    assert t.loc[("proceedings", "admission"), "with_contact"] == 1
    assert t.loc[("proceedings", "admission mental health"), "with_contact"] == 1
    assert t.loc[("proceedings", "admission injury"), "with_contact"] == 0
    assert t.loc[("proceedings", "emergency injury"), "with_contact"] == 1
    assert t.loc[("proceedings", "emergency mental health"), "with_contact"] == 0  # possible link
    assert t.loc[("comparison", "admission"), ["mothers", "with_contact"]].tolist() == [1, 0]


def test_private_law_outcome_is_the_highest_order(ws: Views) -> None:
    t = pathways_table(build_frames(ws))
    o = t[t.section == "private law outcome by application type"]
    assert o[["group", "category", "applications"]].values.tolist() == [
        ["C100_PSO", "PROHIBITED_STEPS_ORDER", 1]
    ]


def test_every_child_flows_through_both_stages_of_the_diagram(ws: Views) -> None:
    t = flows_table(build_frames(ws))
    for stage in ("application to final order", "final order to return"):
        assert t[t.stage == stage].children.sum() == 3
