"""What each operation of the dataset-definition API gives, on tiny hand-built tables,
with the expected rows written out. Every case runs on DuckDB (``make test``) and on
Spark local mode (``make test-spark``, one session for the module)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fjdp.analysis import case, codelist, create_dataset, days, months, when, years
from fjdp.analysis.engines import Engine, Workspace, run
from fjdp.analysis.language import Dataset
from lib.analysis import D, make_workspace, tables_of

OK = "DET_STRONG_ID"


def _link(alf: str | None, wob: dt.date, sex: str, lsoa: str, status: str = OK) -> dict[str, Any]:
    return {
        "alf_pe": alf,
        "ralf_pe": f"home-{alf}",
        "link_status": status,
        "link_score": 1.0,
        "week_of_birth": wob,
        "sex": sex,
        "lsoa": lsoa,
    }


P1 = ("p1", D(1990, 1, 1), "F", "L1")
P2 = ("p2", D(2000, 6, 5), "M", "L2")
P3 = ("p3", D(1985, 3, 4), "F", "L1")


def _adm(
    who: tuple[str, dt.date, str, str],
    day: dt.date,
    method: str,
    diag: str,
    discharge: dt.date | None = None,
    status: str = OK,
) -> dict[str, Any]:
    return {
        "admission_date": day,
        "discharge_date": discharge,
        "admission_method": method,
        "diag_1": diag,
        "diag_2": None,
        "diag_3": None,
        **_link(*who, status=status),
    }


ADMISSIONS = [
    _adm(P1, D(2020, 1, 10), "emergency", "F32", D(2020, 1, 12)),
    _adm(P1, D(2020, 5, 1), "elective", "S06"),
    _adm(P1, D(2021, 3, 1), "emergency", "F10", D(2021, 3, 5)),
    _adm(P2, D(2019, 1, 31), "emergency", "X60", D(2019, 2, 1)),
    _adm(P3, D(2022, 2, 2), "elective", "F20", status="PROB_POSSIBLE"),
    # an unlinked record: no person, never counted
    _adm((None, D(1990, 1, 1), "U", "L1"), D(2020, 1, 1), "emergency", "F99", status="UNMATCHED"),  # type: ignore[arg-type]
]
DEATHS = [
    {
        "date_of_death": D(2023, 1, 1),
        "underlying_cause": "X60",
        **_link(*P2, status="DET_DEMOG"),
    }
]
DEPRIVATION = [
    {
        "lsoa": "L1",
        "lsoa_name": "one",
        "local_authority": "A",
        "deprivation_rank": 1,
        "deprivation_decile": 2,
        "deprivation_quintile": 1,
        "index": "test",
    },
    {
        "lsoa": "L2",
        "lsoa_name": "two",
        "local_authority": "B",
        "deprivation_rank": 9,
        "deprivation_decile": 9,
        "deprivation_quintile": 5,
        "index": "test",
    },
]
COURT = {
    "court_public.cases": [
        {
            "system_id": "c1",
            "law_type": "public",
            "local_authority": "Cardiff",
            "dfj_area": "x",
            "circuit": "y",
            "issue_date": D(2019, 12, 1),
            "close_date": None,
        },
        {
            "system_id": "c2",
            "law_type": "public",
            "local_authority": "Swansea",
            "dfj_area": "x",
            "circuit": "y",
            "issue_date": D(2022, 3, 1),
            "close_date": None,
        },
    ],
    "court_public.applications": [
        {
            "system_id": "a1",
            "case_system_id": "c1",
            "application_type": "C1_CARE_S31",
            "issue_date": D(2020, 2, 1),
        },
        {
            "system_id": "a2",
            "case_system_id": "c1",
            "application_type": "C1_EPO_S44",
            "issue_date": D(2019, 12, 1),
        },
        {
            "system_id": "a3",
            "case_system_id": "c2",
            "application_type": "C1_CARE_S31",
            "issue_date": D(2022, 3, 1),
        },
    ],
    "court_public.persons": [
        {"system_id": "s1", "ethnicity": "WHITE", "disability": "N", **_link(*P1)},
        {"system_id": "s2", "ethnicity": "MIXED", "disability": "N", **_link(*P2)},
    ],
    "court_public.application_persons": [
        {
            "application_system_id": "a1",
            "person_system_id": "s1",
            "role": "respondent",
            "party": True,
        },
        {
            "application_system_id": "a2",
            "person_system_id": "s1",
            "role": "respondent",
            "party": True,
        },
        {"application_system_id": "a1", "person_system_id": "s2", "role": "subject", "party": True},
        {
            "application_system_id": "a3",
            "person_system_id": "s1",
            "role": "respondent",
            "party": True,
        },
    ],
}
BIRTHS = [
    {
        "mother_age": 30,
        "gestation_weeks": 39,
        "birth_weight_g": 3400,
        "multiple_birth": False,
        "smoking_at_booking": True,
        "mental_health_at_booking": False,
        **{f"baby_{k}": v for k, v in _link("p4", D(2020, 6, 1), "M", "L1").items()},
        **{f"mother_{k}": v for k, v in _link(*P1).items()},
    }
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(
        tmp_path_factory.mktemp("ws") / "w",
        {
            "hospital_admissions.admissions": ADMISSIONS,
            "deaths.deaths": DEATHS,
            "reference.lsoa_deprivation": DEPRIVATION,
            "births.births": BIRTHS,
            **COURT,
        },
    )


@pytest.fixture(scope="module")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from fjdp.sparkutil import local_spark

    with local_spark(memory="1GB", work=tmp_path_factory.mktemp("spark"), app="fjdp-tests"):
        yield


@pytest.fixture(
    scope="module",
    params=[Engine.DUCKDB, pytest.param(Engine.SPARK, marks=pytest.mark.spark)],
)
def engine(request: pytest.FixtureRequest) -> Engine:
    if request.param is Engine.SPARK:
        request.getfixturevalue("spark_session")
    return request.param  # type: ignore[no-any-return]


Build = Callable[[Any], Dataset]
CASES: dict[str, tuple[Build, dict[str, tuple[Any, ...]], str | None]] = {}


def spec(
    expected: dict[str, tuple[Any, ...]], links: str | None = None
) -> Callable[[Build], Build]:
    def deco(fn: Build) -> Build:
        CASES[fn.__name__] = (fn, expected, links)
        return fn

    return deco


# ------------------------------------------------------------------------ the cases


@spec({"p1": (3,), "p2": (1,)})
def count_for_person_of_accepted_links(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.n = adm.count_for_person()
    return d


@spec({"p1": (3,), "p2": (1,), "p3": (1,)}, links="possible")
def possible_links_widen_the_population(t: Any) -> Dataset:
    return count_for_person_of_accepted_links(t)


@spec({"p1": (2, True), "p2": (1, True), "p3": (0, False)})
def where_is_in_and_zero_counts(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    emergency = adm.where(adm.admission_method.is_in(["emergency"]))
    d = create_dataset()
    d.configure(links="possible")
    d.define_population(adm.exists_for_person())
    d.n = emergency.count_for_person()
    d.any = emergency.exists_for_person()
    return d


@spec({"p1": (2,), "p2": (0,)})
def starts_with_a_codelist_of_prefixes(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    mental = codelist(["F3", "F1"], prefix=True, name="mental health")
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.n = adm.where(adm.diag_1.is_in(mental)).count_for_person()
    return d


@spec({"p1": (1,), "p2": (1,)})
def except_where_keeps_nulls(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    # p1's elective admission has no discharge date: kept, as are those not matching
    d.n = (
        adm.except_where(adm.discharge_date.is_not_null()).count_for_person()
        + adm.where(adm.diag_1 == "X60").count_for_person()
    )
    return d


@spec(
    {
        "p1": (D(2020, 1, 10), "F32", D(2021, 3, 1), "F10"),
        "p2": (D(2019, 1, 31), "X60", D(2019, 1, 31), "X60"),
    }
)
def first_and_last_for_person(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    first = adm.sort_by(adm.admission_date).first_for_person()
    last = adm.sort_by(adm.admission_date).last_for_person()
    d = create_dataset()
    d.define_population(first.exists_for_person())
    d.first_date = first.admission_date
    d.first_diag = first.diag_1
    d.last_date = last.admission_date
    d.last_diag = last.diag_1
    return d


@spec({"p1": (None, D(2021, 3, 5)), "p2": (D(2019, 2, 1), D(2019, 2, 1))})
def sorting_puts_nulls_first(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.first = adm.sort_by(adm.discharge_date).first_for_person().discharge_date
    d.last = adm.sort_by(adm.discharge_date).last_for_person().discharge_date
    return d


@spec({"p1": (D(2020, 1, 10), D(2021, 3, 1), 3, 2)})
def min_max_and_count_distinct(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    d = create_dataset()
    d.define_population(adm.count_for_person() > 1)
    d.earliest = adm.admission_date.min_for_person()
    d.latest = adm.admission_date.max_for_person()
    d.diagnoses = adm.diag_1.count_distinct_for_person()
    d.methods = adm.admission_method.count_distinct_for_person()
    return d


@spec(
    {
        "p1": (D(2021, 1, 10), D(2019, 12, 31), D(2020, 2, 10), 2020, 1),
        "p2": (D(2020, 1, 31), D(2019, 1, 21), D(2019, 2, 28), 2019, 1),
    }
)
def date_arithmetic(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    first = adm.sort_by(adm.admission_date).first_for_person().admission_date
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.plus_year = first + years(1)
    d.minus_days = first - days(10)
    d.plus_month = first + months(1)  # 31 January + 1 month is the last day of February
    d.year = first.year
    d.month = first.month
    return d


@spec({"p1": (416, 1), "p2": (0, 1)})
def aggregates_of_values_relative_to_a_person(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    first = adm.sort_by(adm.admission_date).first_for_person().admission_date
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.span_days = (adm.admission_date - first).days.max_for_person()
    d.in_first_month = adm.where(adm.admission_date < first + months(1)).count_for_person()
    return d


@spec({"p1": (30, 360, 10966), "p2": (18, 223, 6814)})
def differences_of_dates_count_completed_units(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    demo = t["demographics"]
    first = adm.sort_by(adm.admission_date).first_for_person().admission_date
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.age = (first - demo.week_of_birth).years
    d.age_months = (first - demo.week_of_birth).months
    d.age_days = (first - demo.week_of_birth).days
    return d


@spec({"p1": (None, None), "p2": (1431, -3)})
def differences_across_tables_and_negative_years(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    died = t["deaths"].deaths.sort_by(t["deaths"].deaths.date_of_death).first_for_person()
    first = adm.sort_by(adm.admission_date).first_for_person().admission_date
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.days_to_death = (died.date_of_death - first).days
    d.years_back = (first - died.date_of_death).years
    return d


@spec({"p1": (2, 1), "p2": (1, 0)})
def events_relative_to_a_persons_date(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    first = adm.sort_by(adm.admission_date).first_for_person().admission_date
    within = adm.where(adm.admission_date.is_between(first, first + years(1)))
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.within_a_year = within.count_for_person()
    d.after_first_in_a_year = within.where(adm.admission_date > first).count_for_person()
    return d


@spec({"p1": ("many", 1.5), "p2": ("one", 1.0)})
def case_when_otherwise(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    n = adm.count_for_person()
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.band = case(when(n >= 2).then("many"), when(n == 1).then("one"), otherwise="none")
    d.score = when(n >= 2).then(1.5).otherwise(1)
    return d


@spec({"p1": (D(1990, 1, 1), "F", 1), "p2": (None, "M", 5)})
def a_person_table_filtered_and_deprivation(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    demo = t["demographics"]
    last = adm.sort_by(adm.admission_date).last_for_person()
    d = create_dataset()
    d.define_population(adm.exists_for_person())
    d.wob_if_female = demo.where(demo.sex == "F").week_of_birth
    d.sex = demo.sex
    d.quintile = last.deprivation_quintile
    return d


@spec({"p1": (True, False), "p2": (False, True)})
def boolean_logic(t: Any) -> Dataset:
    adm = t["hospital_admissions"].admissions
    died = t["deaths"].deaths.exists_for_person()
    many = adm.count_for_person() > 1
    d = create_dataset()
    d.define_population(many | died)
    d.many_alive = many & ~died
    d.died = died
    return d


@spec(
    {
        "p1": (D(2019, 12, 1), "C1_EPO_S44", "Cardiff", 3, "WHITE"),
        "p2": (D(2020, 2, 1), "C1_CARE_S31", "Cardiff", 1, "MIXED"),
    }
)
def court_tables_reach_applications_and_cases(t: Any) -> Dataset:
    ap = t["court_public"].application_persons
    first = ap.sort_by(ap.application_issue_date).first_for_person()
    d = create_dataset()
    d.define_population(ap.exists_for_person())
    d.issued = first.application_issue_date
    d.type = first.application_type
    d.la = first.case_local_authority
    d.applications = ap.count_for_person()
    d.ethnicity = first.ethnicity
    return d


@spec({"p1": (True, 2, "Swansea"), "p2": (False, None, None)})
def returns_to_court_in_a_new_case(t: Any) -> Dataset:
    ap = t["court_public"].application_persons
    first = ap.sort_by(ap.case_issue_date, ap.application_issue_date).first_for_person()
    later = ap.where((ap.case_id != first.case_id) & (ap.case_issue_date > first.case_issue_date))
    back = later.sort_by(later.case_issue_date).first_for_person()
    d = create_dataset()
    d.define_population(ap.exists_for_person())
    d.within_3y = back.exists_for_person() & (
        back.case_issue_date <= first.case_issue_date + years(3)
    )
    d.years_to_return = (back.case_issue_date - first.case_issue_date).years
    d.where_back = back.case_local_authority
    return d


@spec({"p2": (D(2020, 2, 1),)})
def court_roles(t: Any) -> Dataset:
    ap = t["court_public"].application_persons
    subjects = ap.where(ap.role == "subject")
    d = create_dataset()
    d.define_population(subjects.exists_for_person())
    d.issued = subjects.application_issue_date.min_for_person()
    return d


@spec({"p1": (30, 1, "p4")})
def births_have_a_table_per_person(t: Any) -> Dataset:
    mothers = t["births"].births_mother
    babies = t["births"].births_baby
    d = create_dataset()
    d.define_population(mothers.exists_for_person())
    d.age = mothers.sort_by(mothers.mother_age).first_for_person().mother_age
    d.babies = mothers.count_for_person()
    d.baby = mothers.sort_by(mothers.mother_age).first_for_person().baby_alf_pe
    _ = babies.mother_alf_pe  # the other way round, too
    return d


@pytest.mark.parametrize("name", sorted(CASES))
def test_operation(name: str, ws: Workspace, engine: Engine) -> None:
    build, expected, links = CASES[name]
    ds = build(tables_of(ws)).to_model()
    table = run(ds, ws, engine=engine, links=links)
    got = {r.pop("alf_pe"): tuple(r.values()) for r in table.to_pylist()}
    assert got == expected


def test_rows_come_in_person_order(ws: Workspace, tmp_path: Path) -> None:
    ds = count_for_person_of_accepted_links(tables_of(ws)).to_model()
    assert run(ds, ws).column("alf_pe").to_pylist() == ["p1", "p2"]
