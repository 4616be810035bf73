"""The synthetic world as a whole: referential integrity, identifiers, the error model
measured record by record against truth, quirks, and the calibration report."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest

from fjdp.synth import WorldSummary
from fjdp.synth.identifiers import (
    E_DOB_MISSING,
    E_DOB_SWAP,
    E_NICKNAME,
    E_NO_NHS,
    E_POSTCODE_MISSING,
    E_POSTCODE_OLD,
    is_valid_nhs,
)
from fjdp.synth.world import SOURCES, TRUTH
from lib.world import query

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9]{1,2} [0-9][ABD-HJLNP-UW-Z]{2}$")


def count(root, sql):  # type: ignore[no-untyped-def]
    return query(root, sql)[0][0]


def test_every_source_and_truth_table_is_written(small_world: WorldSummary) -> None:
    for name in (*SOURCES, *TRUTH):
        path = small_world.out / f"{name}.parquet"
        assert path.exists(), name
        assert pq.ParquetFile(path).metadata.num_rows > 0, name
    manifest = json.loads((small_world.out / "manifest.json").read_text())
    assert manifest["sources"]["spine/people"] == small_world.config.people


@pytest.mark.parametrize(
    ("child", "key", "parent", "parent_key"),
    [
        ("court_public/applications", "case_id", "court_public/cases", "case_id"),
        (
            "court_public/application_persons",
            "application_id",
            "court_public/applications",
            "application_id",
        ),
        ("court_public/application_persons", "person_ref", "court_public/persons", "person_ref"),
        (
            "court_public/legal_outputs",
            "application_id",
            "court_public/applications",
            "application_id",
        ),
        ("court_public/legal_outputs", "person_ref", "court_public/persons", "person_ref"),
        ("court_public/hearings", "application_id", "court_public/applications", "application_id"),
        ("court_public/relationships", "person_ref", "court_public/persons", "person_ref"),
        ("court_public/relationships", "related_person_ref", "court_public/persons", "person_ref"),
        ("court_private/applications", "case_id", "court_private/cases", "case_id"),
        (
            "court_private/application_persons",
            "application_id",
            "court_private/applications",
            "application_id",
        ),
        ("court_private/application_persons", "person_ref", "court_private/persons", "person_ref"),
        ("court_private/legal_outputs", "person_ref", "court_private/persons", "person_ref"),
        (
            "court_private/hearings",
            "application_id",
            "court_private/applications",
            "application_id",
        ),
        (
            "court_private/relationships",
            "related_person_ref",
            "court_private/persons",
            "person_ref",
        ),
        ("spine/addresses", "person_id", "spine/people", "person_id"),
        ("spine/addresses", "lsoa_code", "deprivation/lsoa", "lsoa_code"),
        ("spine/people", "person_id", "truth/people", "person_id"),
        ("truth/health_records", "person_id", "spine/people", "person_id"),
        ("truth/court_public_persons", "person_id", "truth/people", "person_id"),
        ("truth/court_private_persons", "person_id", "truth/people", "person_id"),
        ("truth/court_public_persons", "person_ref", "court_public/persons", "person_ref"),
        ("truth/public_law_cases", "case_id", "court_public/cases", "case_id"),
    ],
)
def test_referential_integrity(
    small_world: WorldSummary, child: str, key: str, parent: str, parent_key: str
) -> None:
    orphans = count(
        small_world.out,
        f"select count(*) from {{{child}}} c where c.{key} is not null and c.{key} not in "
        f"(select {parent_key} from {{{parent}}})",
    )
    assert orphans == 0


def test_health_records_all_have_truth(small_world: WorldSummary) -> None:
    root = small_world.out
    for table, key in (
        ("hospital/admissions", "admission_id"),
        ("emergency/attendances", "attendance_id"),
        ("deaths/deaths", "death_id"),
        ("births/births", "birth_id"),
    ):
        missing = count(
            root,
            f"select count(*) from {{{table}}} where {key} not in (select record_id from {{truth/health_records}})",
        )
        assert missing == 0, table


def test_spine_nhs_numbers_are_valid_and_unique(small_world: WorldSummary) -> None:
    nhs = (
        pq.read_table(small_world.out / "spine/people.parquet", columns=["nhs_number"])
        .column(0)
        .to_pylist()
    )
    assert len(set(nhs)) == len(nhs)
    assert all(is_valid_nhs(n) for n in nhs)


def test_postcodes_are_valid_uk_format(small_world: WorldSummary) -> None:
    pcs = query(small_world.out, "select distinct postcode from {spine/addresses}")
    assert pcs and all(POSTCODE.match(p) for (p,) in pcs)


def test_dates_are_plausible(small_world: WorldSummary) -> None:
    root = small_world.out
    assert (
        count(root, "select count(*) from {spine/people} where date_of_death < date_of_birth") == 0
    )
    assert (
        count(root, "select count(*) from {court_public/cases} where close_date < issue_date") == 0
    )
    assert (
        count(
            root, "select count(*) from {hospital/admissions} where discharge_date < admission_date"
        )
        == 0
    )
    # every child on the spine was born to a mother at a plausible age
    bad = count(
        root,
        "select count(*) from {truth/people} c join {truth/people} m on m.person_id = c.mother_id "
        "where datediff('year', m.date_of_birth, c.date_of_birth) not between 13 and 50",
    )
    assert bad == 0


def test_error_model_flags_match_the_records(small_world: WorldSummary) -> None:
    """Each flagged error is really in the record, and unflagged fields equal the spine."""
    root = small_world.out
    rows = query(
        root,
        """select t.errors, p.nhs_number, s.nhs_number, p.date_of_birth, s.date_of_birth,
                  p.forename, s.forename1, p.postcode
           from {court_public/persons} p join {truth/court_public_persons} t using (person_ref)
           join {spine/people} s using (person_id)""",
    )
    assert len(rows) > 200
    for errors, nhs, _spine_nhs, dob, spine_dob, fore, spine_fore, postcode in rows:
        assert (nhs is None) == bool(errors & E_NO_NHS)
        if errors & E_DOB_MISSING:
            assert dob is None
        elif errors & E_DOB_SWAP:
            assert (dob.month, dob.day) == (spine_dob.day, spine_dob.month)
        elif not errors & (512 | 4096):  # no typo and no 18xx year
            assert dob == spine_dob
        if errors & E_NICKNAME:
            assert fore != spine_fore
        elif not errors & (8 | 16):
            assert fore == spine_fore
        assert (postcode is None) == bool(errors & E_POSTCODE_MISSING)


def test_error_shares_are_the_intended_ones(small_world: WorldSummary) -> None:
    root = small_world.out
    (adult_nhs, child_nhs, adult_dob_missing, old_pc) = query(
        root,
        f"""select avg(((errors & {E_NO_NHS}) = 0)::int) filter (where not is_child),
                   avg(((errors & {E_NO_NHS}) = 0)::int) filter (where is_child),
                   avg(((errors & {E_DOB_MISSING}) > 0)::int) filter (where not is_child),
                   avg(((errors & {E_POSTCODE_OLD}) > 0)::int) filter (where not is_child)
            from (select * from {{truth/court_public_persons}} union all
                  select * from {{truth/court_private_persons}})""",
    )[0]
    assert 0.07 < adult_nhs < 0.13
    assert 0.34 < child_nhs < 0.46
    assert 0.03 < adult_dob_missing < 0.07
    assert 0.08 < old_pc < 0.18  # 15% asked for, less where the person never moved


def test_old_postcodes_are_earlier_addresses_of_the_same_person(small_world: WorldSummary) -> None:
    root = small_world.out
    stale = query(
        root,
        f"""select count(*), count(a.person_id) from {{court_private/persons}} p
            join {{truth/court_private_persons}} t using (person_ref)
            left join (select distinct person_id, postcode from {{spine/addresses}}) a
              on a.person_id = t.person_id and a.postcode = p.postcode
            where (t.errors & {E_POSTCODE_OLD}) > 0 and t.on_spine""",
    )[0]
    assert stale[0] > 20
    assert stale[1] >= 0.95 * stale[0]


def test_provider_quirks_are_present(small_world: WorldSummary) -> None:
    root = small_world.out
    dup = count(root, "select count(*) - count(distinct person_ref) from {court_private/persons}")
    assert dup > 0
    assert (
        count(
            root,
            "select count(*) from {truth/court_private_persons} where quirk = 'on_no_application'",
        )
        > 0
    )
    missing_output = count(
        root,
        "select count(*) from {court_public/application_persons} ap left join {court_public/legal_outputs} o "
        "using (application_id, person_ref) where o.person_ref is null",
    )
    assert missing_output > 0


def test_twins_and_same_name_relatives_share_an_address(small_world: WorldSummary) -> None:
    root = small_world.out
    twins = count(root, "select count(*) from {truth/people} where twin and on_spine")
    assert twins > 10
    juniors = count(
        root,
        """select count(*) from {spine/people} c join {truth/people} tc using (person_id)
           join {spine/people} f on f.person_id = tc.father_id
           where c.forename1 = f.forename1 and c.surname = f.surname""",
    )
    assert juniors > 0


def test_calibration_report_covers_every_target(small_world: WorldSummary) -> None:
    report = json.loads((small_world.out / "truth/calibration.json").read_text())
    names = {t["name"] for t in report["targets"]}
    assert len(names) >= 40
    for t in report["targets"]:
        assert t["achieved"] is not None, t["name"]
        assert {"target", "tolerance", "allowed", "ok", "source"} <= t.keys()
    assert small_world.calibration_total == len(report["targets"])


def test_every_calibration_target_is_met(small_world: WorldSummary) -> None:
    report = json.loads((small_world.out / "truth/calibration.json").read_text())
    missed = [
        f"{t['name']}: {t['achieved']} vs {t['target']} ±{t['allowed']}"
        for t in report["targets"]
        if not t["ok"]
    ]
    assert not missed


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 20_240_601])
def test_calibration_at_demo_scale(tmp_path, seed: int) -> None:  # type: ignore[no-untyped-def]
    from lib.world import build_small

    summary = build_small(tmp_path / "w", people=300_000, seed=seed)
    report = json.loads((summary.out / "truth/calibration.json").read_text())
    missed = [t["name"] for t in report["targets"] if not t["ok"]]
    assert not missed
