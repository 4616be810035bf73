"""A definition on a real provisioned workspace of the small world: the same file runs
on dummy data shaped as the workspace and on the workspace itself, and its population
matches what plain SQL on the workspace's views finds."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fjdp.analysis.engines import open_workspace, run
from fjdp.analysis.loader import load_definition
from fjdp.cli.app import main
from fjdp.databank.load import load
from fjdp.databank.reference import import_reference
from fjdp.flow import deliver, set_up_zones
from fjdp.linkage.run import link_dataset, load_spine
from fjdp.synth import WorldSummary
from fjdp.transfer.receive import receive
from fjdp.types import LinkStatus, Zone
from fjdp.workspace.provision import provision
from fjdp.workspace.scope import Scope

ACTOR = "tester"

DEFINITION = """\
from fjdp.analysis import create_dataset, years
from fjdp.analysis.tables import births, court_public, deaths, demographics

ap = court_public.application_persons
subjects = ap.where(ap.role == "subject")
first = subjects.sort_by(subjects.application_issue_date).first_for_person()
died = deaths.deaths.exists_for_person()
born = births.births_baby.sort_by(births.births_baby.gestation_weeks).first_for_person()

dataset = create_dataset()
dataset.define_population(first.exists_for_person())
dataset.issued = first.application_issue_date
dataset.la = first.case_local_authority
dataset.age = (first.application_issue_date - demographics.week_of_birth).years
dataset.newborn = (first.application_issue_date - demographics.week_of_birth).days < 14
dataset.quintile = first.deprivation_quintile
dataset.died = died
dataset.gestation = born.gestation_weeks
"""


@pytest.fixture(scope="module")
def workspace(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    zones = set_up_zones(root, ACTOR)
    w = small_world.out
    paths = {
        "court_public": w / "court_public",
        "births": w / "births" / "births.parquet",
        "deaths": w / "deaths" / "deaths.parquet",
    }
    for name, path in paths.items():
        deliver(zones, name, path, ACTOR, lambda _m: None)
    load_spine(zones.ttp, w / "spine", actor=ACTOR)
    for name in paths:
        run_ = link_dataset(zones.ttp, name, databank=zones.ttp.trusted(Zone.DATABANK), actor=ACTOR)
        receive(run_.file3_bundle, zones.databank, actor=ACTOR)
    load(zones.databank, actor=ACTOR)
    import_reference(
        zones.databank, "lsoa_deprivation", w / "deprivation" / "lsoa.parquet", actor=ACTOR
    )
    scope = Scope.model_validate(
        {
            "project": "P-analysis",
            "end_date": dt.date.today() + dt.timedelta(days=30),
            "link_statuses": [s.value for s in LinkStatus],
            "datasets": {
                "court_public": {
                    "cases": {"columns": "*"},
                    "applications": {"columns": "*"},
                    "persons": {"columns": "*"},
                    "application_persons": {"columns": "*"},
                },
                "births": {"births": {"columns": "*"}},
                "deaths": {"deaths": {"columns": "*"}},
            },
            "reference": ["lsoa_deprivation"],
        }
    )
    got = provision(zones.databank, scope, root / "workspaces", actor=ACTOR)
    return got.path


def _definition(tmp_path: Path) -> Path:
    path = tmp_path / "definition.py"
    path.write_text(textwrap.dedent(DEFINITION))
    return path


def _subjects_sql(ws: Path, statuses: tuple[str, ...]) -> set[str]:
    con = duckdb.connect(str(ws / "workspace.duckdb"), read_only=True)
    con.execute(f"set file_search_path = '{ws}'")
    allowed = ", ".join(f"'{s}'" for s in statuses)
    rows = con.execute(
        f"""select distinct p.alf_pe from court_public.application_persons ap
            join court_public.persons p on p.system_id = ap.person_system_id
            where ap.role = 'subject' and p.alf_pe is not null
              and p.link_status in ({allowed})"""
    ).fetchall()
    con.close()
    return {r[0] for r in rows}


def test_the_population_is_what_sql_finds(workspace: Path, tmp_path: Path) -> None:
    ws = open_workspace(workspace)
    ds = load_definition(_definition(tmp_path), ws.sources())
    table = run(ds, ws)
    accepted = tuple(sorted(s.value for s in LinkStatus.default_included()))
    assert set(table.column("alf_pe").to_pylist()) == _subjects_sql(workspace, accepted)
    assert table.num_rows > 50
    ages = [a for a in table.column("age").to_pylist() if a is not None]
    assert min(ages) >= 0 and max(ages) < 19
    assert set(table.column("quintile").to_pylist()) - {None} <= {1, 2, 3, 4, 5}
    assert any(table.column("newborn").to_pylist())
    wider = run(ds, ws, links="possible")
    possible = (*accepted, LinkStatus.PROB_POSSIBLE.value)
    assert set(wider.column("alf_pe").to_pylist()) == _subjects_sql(workspace, possible)
    assert wider.num_rows >= table.num_rows


def test_the_same_file_runs_on_dummy_data_then_on_the_workspace(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = _definition(tmp_path)
    out = tmp_path / "dummy.parquet"
    code = main(
        [
            "analysis",
            "run",
            str(definition),
            "--workspace",
            str(workspace),
            "--dummy",
            "--output",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    dummy = pq.read_table(out)
    assert dummy.num_rows > 0
    assert all(a.startswith("dummy-") for a in dummy.column("alf_pe").to_pylist())
    real = tmp_path / "real.csv"
    code = main(
        ["analysis", "run", str(definition), "--workspace", str(workspace), "--output", str(real)]
    )
    assert code == 0, capsys.readouterr().err
    assert real.read_text().splitlines()[0].split(",")[:3] == ['"alf_pe"', '"issued"', '"la"']
    # the workspace is untouched: its files are still read-only and the run wrote nothing
    assert not list(workspace.glob("*.wal"))


def test_a_column_outside_the_scope_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    path = tmp_path / "hospital.py"
    path.write_text(
        "from fjdp.analysis.tables import hospital_admissions\nx = hospital_admissions.admissions\n"
    )
    code = main(["analysis", "run", str(path), "--workspace", str(workspace)])
    assert code == 3
