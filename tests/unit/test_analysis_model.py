"""Dataset definitions refused where they are written: several rows per person, unknown
columns and tables, mismatched types; the graph's JSON form and what it refuses."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from fjdp.analysis import DefinitionError, create_dataset, days, serialise, years
from fjdp.analysis import model as m
from fjdp.analysis.tables import namespaces, spec_sources
from fjdp.errors import InputError
from fjdp.specs import all_specs


@pytest.fixture(scope="module")
def t() -> dict[str, object]:
    return namespaces({n: s.schema for n, s in spec_sources(all_specs()).items()})


def adm(t: dict[str, object]):  # type: ignore[no-untyped-def]
    return t["hospital_admissions"].admissions  # type: ignore[attr-defined]


def test_a_column_of_several_rows_per_person_is_refused_naming_it(t: dict[str, object]) -> None:
    d = create_dataset()
    with pytest.raises(DefinitionError) as err:
        d.diagnosis = adm(t).diag_1
    msg = err.value.message()
    assert "column 'diagnosis' would give several rows per person" in msg
    assert "hospital_admissions.admissions" in msg
    assert "first_for_person" in msg


def test_a_population_of_several_rows_per_person_is_refused(t: dict[str, object]) -> None:
    d = create_dataset()
    with pytest.raises(DefinitionError, match="population would give several rows per person"):
        d.define_population(adm(t).admission_method == "emergency")


def test_an_unknown_column_names_the_table_and_the_valid_columns(t: dict[str, object]) -> None:
    with pytest.raises(DefinitionError) as err:
        _ = adm(t).admision_date
    msg = err.value.message()
    assert "table hospital_admissions.admissions has no column 'admision_date'" in msg
    assert "admission_date" in msg and "diag_1" in msg
    assert "admission_date" in dir(adm(t))


def test_an_unknown_table_names_the_valid_ones(t: dict[str, object]) -> None:
    with pytest.raises(DefinitionError, match=r"has no table 'admission'.*admissions"):
        _ = t["hospital_admissions"].admission  # type: ignore[attr-defined]
    assert "admissions" in dir(t["hospital_admissions"])


def test_comparing_a_date_with_an_int_is_refused(t: dict[str, object]) -> None:
    with pytest.raises(DefinitionError) as err:
        _ = adm(t).admission_date > 2020
    msg = err.value.message()
    assert "compares a date with a int" in msg
    assert "hospital_admissions.admissions.admission_date" in msg


def test_other_type_mismatches(t: dict[str, object]) -> None:
    a = adm(t)
    with pytest.raises(
        DefinitionError, match=r"code 'x' \(str\) cannot match .*admission_date \(date\)"
    ):
        a.admission_date.is_in(["x"])
    with pytest.raises(DefinitionError, match="add a duration to a date"):
        _ = a.admission_date + 3
    with pytest.raises(DefinitionError, match="not bool"):
        a.where(a.admission_method)
    with pytest.raises(DefinitionError, match="codes \\['urgent'\\] are not values"):
        a.admission_method.is_in(["urgent"])
    with pytest.raises(DefinitionError, match="no truth value"):
        bool(a.admission_method == "emergency")
    d = create_dataset()
    with pytest.raises(DefinitionError, match="true or false"):
        d.define_population(a.count_for_person())


def test_rows_of_two_event_tables_do_not_combine(t: dict[str, object]) -> None:
    a = adm(t)
    e = t["emergency_attendances"].attendances  # type: ignore[attr-defined]
    with pytest.raises(DefinitionError, match="do not line up"):
        _ = a.admission_date < e.arrival_date
    with pytest.raises(DefinitionError, match="whose rows are not those"):
        a.where(e.diagnosis_group == "injury")
    # a filtered frame's rows are its source's: they combine
    emergency = a.where(a.admission_method == "emergency")
    emergency.where(a.diag_1.starts_with("F"))
    # a person's value combines with any table's rows
    first = a.sort_by(a.admission_date).first_for_person()
    e.where(e.arrival_date > first.admission_date - years(2) + days(1))


def test_picking_needs_a_sort_and_a_column_is_defined_once(t: dict[str, object]) -> None:
    a = adm(t)
    with pytest.raises(DefinitionError, match=r"needs an order.*sort_by"):
        a.first_for_person()  # type: ignore[attr-defined]
    d = create_dataset()
    d.n = a.count_for_person()
    with pytest.raises(DefinitionError, match="defined twice"):
        d.n = a.count_for_person()
    with pytest.raises(DefinitionError, match="cannot name a column"):
        d.alf_pe = a.count_for_person()
    with pytest.raises(DefinitionError, match="no population"):
        d.to_model()


def _dataset(t: dict[str, object]) -> m.Dataset:
    a = adm(t)
    first = a.sort_by(a.admission_date).first_for_person()
    d = create_dataset()
    d.define_population(a.where(a.diag_1.starts_with(["F1", "F3"])).exists_for_person())
    d.first = first.admission_date
    d.after = a.where(a.admission_date > first.admission_date + years(1)).count_for_person()
    d.since = (dt.date(2024, 1, 1) - first.admission_date).days
    d.configure(links="possible")
    return d.to_model()


def test_the_graph_round_trips_through_json(t: dict[str, object]) -> None:
    ds = _dataset(t)
    text = serialise.dumps(ds)
    assert serialise.loads(text) == ds
    assert serialise.loads(text).links == "possible"
    # shared nodes are written once
    nodes = json.loads(text)["nodes"]
    assert sum(1 for n in nodes if n["node"] == "TableSchema") == 1


@pytest.mark.parametrize(
    "doc",
    [
        "not json",
        json.dumps({"format": "other", "nodes": [], "root": 0}),
        json.dumps(
            {"format": serialise.FORMAT, "nodes": [{"node": "Popen", "args": "rm"}], "root": 0}
        ),
        json.dumps(
            {"format": serialise.FORMAT, "nodes": [{"node": "Value", "value": 1}], "root": 0}
        ),
        json.dumps(
            {
                "format": serialise.FORMAT,
                "nodes": [{"node": "Value", "value": {"ref": 5}}],
                "root": 0,
            }
        ),
        json.dumps(
            {"format": serialise.FORMAT, "nodes": [{"node": "Value", "value": [1, 2]}], "root": 0}
        ),
        # Names that cannot be looked up (unhashable), found by test_fuzz_outputs.py
        json.dumps({"format": serialise.FORMAT, "nodes": [{"node": ["Value"]}], "root": 0}),
        json.dumps(
            {
                "format": serialise.FORMAT,
                "nodes": [{"node": "Value", "value": {"enum": [], "value": 1}}],
                "root": 0,
            }
        ),
    ],
)
def test_only_a_dataset_graph_is_accepted(doc: str) -> None:
    with pytest.raises(InputError, match="not a dataset definition"):
        serialise.loads(doc)


def test_a_tampered_graph_is_validated_again(t: dict[str, object]) -> None:
    doc = json.loads(serialise.dumps(_dataset(t)))
    for n in doc["nodes"]:
        if n["node"] == "Column" and n["name"] == "admission_date":
            n["name"] = "nhs_number"
    with pytest.raises(DefinitionError, match="has no column 'nhs_number'"):
        serialise.loads(json.dumps(doc))


def test_tables_are_generated_from_the_specs() -> None:
    srcs = spec_sources(all_specs())
    assert srcs["demographics"].schema.kind is m.Kind.PERSON
    ap = srcs["court_public.application_persons"].schema.column_names
    assert {"role", "application_type", "application_issue_date", "case_local_authority"} <= set(ap)
    assert "nhs_number" not in srcs["hospital_admissions.admissions"].schema.column_names
    assert {"births.births_baby", "births.births_mother"} <= set(srcs)
    assert "court_public.cases" not in srcs  # no person: reached through application_persons
