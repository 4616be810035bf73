"""The databank across zones on a small world: loads (ALF_E, versions, refusals, kills),
project workspaces (ALF_PE, scope, refreshes), revocation, expiry and key rotation."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fjdp.audit import verify_log
from fjdp.cli.app import main
from fjdp.databank.catalogue import latest, versions
from fjdp.databank.load import load
from fjdp.databank.reference import import_reference
from fjdp.databank.rotate import rotate_key
from fjdp.errors import InputError, RefusedError
from fjdp.flow import deliver, set_up_zones
from fjdp.keys import ZoneKeys, open_zone
from fjdp.keys.keystore import BankKeystore
from fjdp.keys.layers import hmac_hex
from fjdp.linkage.run import link_dataset, load_spine
from fjdp.synth import WorldSummary
from fjdp.transfer import write_bundle
from fjdp.transfer.receive import receive
from fjdp.types import Zone
from fjdp.workspace.lifecycle import expire
from fjdp.workspace.provision import provision
from fjdp.workspace.scope import Scope

ACTOR = "tester"
DATASETS = ("court_public", "births", "deaths")


@pytest.fixture(scope="module")
def base(small_world: WorldSummary, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Zones with three datasets split, linked, and both halves received at the databank
    (nothing loaded yet). Tests copy the databank zone before changing it."""
    root = tmp_path_factory.mktemp("bank")
    zones = set_up_zones(root, ACTOR)
    w = small_world.out
    paths = {
        "court_public": w / "court_public",
        "births": w / "births" / "births.parquet",
        "deaths": w / "deaths" / "deaths.parquet",
    }
    for name in DATASETS:
        deliver(zones, name, paths[name], ACTOR, lambda _m: None)
    load_spine(zones.ttp, w / "spine", actor=ACTOR)
    alfs: dict[str, str] = {}  # system_id -> alf, read before the databank loads
    for name in DATASETS:
        run = link_dataset(zones.ttp, name, databank=zones.ttp.trusted(Zone.DATABANK), actor=ACTOR)
        got = receive(run.file3_bundle, zones.databank, actor=ACTOR)
        for sid, alf in duckdb.sql(
            f"select system_id, alf from read_parquet('{got.path / 'file3.parquet'}')"
        ).fetchall():
            alfs[sid] = alf
    return {"root": root, "zones": zones, "world": w, "alfs": alfs}


def _bank(base: dict[str, object], tmp_path: Path) -> ZoneKeys:
    root = base["root"]
    assert isinstance(root, Path)
    shutil.copytree(root / "databank", tmp_path / "databank", symlinks=True)
    return open_zone(tmp_path / "databank", Zone.DATABANK)


@pytest.fixture(scope="module")
def loaded_once(base: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> Path:
    bank = _bank(base, tmp_path_factory.mktemp("loaded"))
    load(bank, actor=ACTOR)
    import_reference(
        bank,
        "lsoa_deprivation",
        Path(str(base["world"])) / "deprivation" / "lsoa.parquet",
        actor=ACTOR,
    )
    return bank.path


@pytest.fixture
def loaded(loaded_once: Path, tmp_path: Path) -> ZoneKeys:
    """A databank with the three datasets loaded and deprivation imported, of its own."""
    shutil.copytree(loaded_once, tmp_path / "databank", symlinks=True)
    return open_zone(tmp_path / "databank", Zone.DATABANK)


def _scope(project: str, **over: object) -> Scope:
    data: dict[str, object] = {
        "project": project,
        "end_date": dt.date.today() + dt.timedelta(days=30),
        "datasets": {
            "court_public": {
                "cases": {"columns": "*", "date_column": "issue_date"},
                "persons": {"columns": ["ethnicity", "link_status", "sex"]},
                "application_persons": {"columns": ["role"]},
            },
            "births": {"births": {"columns": "*"}},
            "deaths": {"deaths": {"columns": ["date_of_death", "link_status"]}},
        },
        "reference": ["lsoa_deprivation"],
    }
    data.update(over)
    return Scope.model_validate(data)


def _values(folder: Path, suffix: str) -> dict[str, set[str]]:
    """Column -> every value of columns ending in ``suffix`` in the Parquet under ``folder``."""
    out: dict[str, set[str]] = {}
    for f in folder.rglob("*.parquet"):
        t = pq.read_table(f)
        for col in t.column_names:
            if col.endswith(suffix):
                out.setdefault(f"{f.parent.name}.{f.stem}.{col}", set()).update(
                    v for v in t.column(col).to_pylist() if v is not None
                )
    return out


def _person_pe(ws: Path, bank: ZoneKeys, project: str) -> set[str]:
    """The alf_pe of every linked person in the workspace's deaths table, checked to be
    HMAC(K_project, alf_e) of the databank's persons (the bridge first, after a rotation)."""
    v = latest(bank.path)["deaths"]
    e = {
        r[0]
        for r in duckdb.sql(
            f"select alf_e from read_parquet('{v.path(bank.path) / 'deaths.parquet'}')"
            " where link_status in ('DET_STRONG_ID', 'DET_DEMOG', 'PROB_ACCEPT') and alf_e is not null"
        ).fetchall()
    }
    pe = {
        r[0]
        for r in duckdb.sql(
            f"select alf_pe from read_parquet('{ws / 'data' / 'deaths' / 'deaths.parquet'}')"
            " where alf_pe is not null"
        ).fetchall()
    }
    store = BankKeystore.of(bank)
    key, _ = store.project_key(project, create=False)
    bridges = store.bridges(project)
    bridge = (
        dict(duckdb.sql(f"select e, pe from read_parquet('{bridges[-1]}')").fetchall())
        if bridges
        else {}
    )
    assert pe == {bridge.get(x) or hmac_hex(key, x) for x in e}
    return pe


# --- loading ------------------------------------------------------------------------


def test_a_load_publishes_versions_with_alf_e_and_no_raw_alf(
    base: dict[str, object], tmp_path: Path
) -> None:
    bank = _bank(base, tmp_path)
    new, waiting = load(bank, actor=ACTOR)
    assert sorted(v.dataset for v in new) == sorted(DATASETS)
    assert waiting == []
    key = BankKeystore.of(bank).bank_key(1)
    alfs = base["alfs"]
    assert isinstance(alfs, dict)
    raw = {a for a in alfs.values() if a is not None}
    for v in new:
        assert sum(v.link_status.values()) > 0
        assert v.key_version == 1
        for f in v.path(bank.path).glob("*.parquet"):
            t = pq.read_table(f)
            assert not {"alf", "ralf"} & set(t.column_names)
            for col in t.column_names:
                if t.column(col).type == "string":
                    assert not raw & set(t.column(col).to_pylist()), (f, col)
            if "alf_e" in t.column_names:
                for sid, alf_e in list(
                    zip(
                        t.column("system_id").to_pylist(),
                        t.column("alf_e").to_pylist(),
                        strict=True,
                    )
                )[:200]:
                    assert alf_e == (None if alfs[sid] is None else hmac_hex(key, alfs[sid]))
    # rows in = rows loaded, table by table, and statuses as File 3 said
    births = latest(bank.path)["births"]
    assert (
        births.rows["births"]
        == pq.ParquetFile(births.path(bank.path) / "births.parquet").metadata.num_rows
    )
    assert sum(births.link_status.values()) == 2 * births.rows["births"]  # baby and mother
    assert not list(bank.path.glob("received/*/*/file3/file3.parquet"))
    assert verify_log(bank.path / "audit" / "log.jsonl").ok


def test_a_second_load_of_the_same_extract_is_refused(
    base: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = _bank(base, tmp_path)
    assert main(["databank", "load", "--zone", str(bank.path)]) == 0
    capsys.readouterr()
    assert main(["databank", "load", "--zone", str(bank.path), "--dataset", "deaths"]) == 5
    err = capsys.readouterr().err
    assert "already loaded as deaths version 1" in err
    assert "Traceback" not in err
    assert [v.version for v in versions(bank.path, "deaths")] == [1]


def test_a_file2_without_its_file3_is_refused(
    small_world: WorldSummary, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zones = set_up_zones(tmp_path, ACTOR)
    deliver(zones, "deaths", small_world.out / "deaths" / "deaths.parquet", ACTOR, lambda _m: None)
    assert main(["databank", "load", "--zone", str(zones.databank.path)]) == 5
    err = capsys.readouterr().err
    assert "has no File 3: the TTP has not linked it yet" in err
    assert not (zones.databank.path / "datasets" / "deaths").exists()


def test_a_file3_that_does_not_match_file2_is_refused(
    base: dict[str, object], tmp_path: Path
) -> None:
    bank = _bank(base, tmp_path)
    zones = base["zones"]
    ttp = zones.ttp  # type: ignore[attr-defined]
    entry = next(
        k
        for k, v in json.loads((bank.path / "received" / "index.json").read_text()).items()
        if v["dataset"] == "deaths" and v["kind"] == "file3"
    )
    extract = entry.split("/")[0]
    src = bank.path / "received" / "deaths" / extract / "file3" / "file3.parquet"
    short = tmp_path / "short.parquet"
    duckdb.sql(f"copy (select * from read_parquet('{src}') limit 5) to '{short}' (format parquet)")
    bundle = write_bundle(
        tmp_path / "f3r2",
        dataset="deaths",
        extract_id=extract,
        spec_version="1",
        kind="file3",
        files=[("file3", short, 5)],
        counts={"rows_in": 5, "rows_accepted": 5, "rows_quarantined": 0},
        sender=ttp,
        recipient=ttp.trusted(Zone.DATABANK),
        revision=2,
    )
    assert bundle.revision == 2
    receive(tmp_path / "f3r2", bank, actor=ACTOR)
    with pytest.raises(RefusedError, match="File 3 has 5 rows but File 2 holds"):
        load(bank, dataset="deaths", actor=ACTOR)
    assert versions(bank.path, "deaths") == []
    assert not [p for p in (bank.path / "datasets" / "deaths").iterdir()]


def test_a_revised_file3_becomes_a_new_version(base: dict[str, object], tmp_path: Path) -> None:
    bank = _bank(base, tmp_path)
    load(bank, dataset="deaths", actor=ACTOR)
    zones = base["zones"]
    ttp = zones.ttp  # type: ignore[attr-defined]
    first = versions(bank.path, "deaths")[0]
    # the TTP sends the same links again as revision 2 (as after clerical review)
    sealed = ttp.path / "outbox" / first.extract_id / "file3"
    opened = tmp_path / "opened"
    from fjdp.transfer import read_bundle

    ttp_as_bank = bank
    read_bundle(sealed, ttp_as_bank, opened)
    n = pq.ParquetFile(opened / "file3.parquet").metadata.num_rows
    write_bundle(
        tmp_path / "r2",
        dataset="deaths",
        extract_id=first.extract_id,
        spec_version="1",
        kind="file3",
        files=[("file3", opened / "file3.parquet", n)],
        counts={"rows_in": n, "rows_accepted": n, "rows_quarantined": 0},
        sender=ttp,
        recipient=ttp.trusted(Zone.DATABANK),
        revision=2,
    )
    receive(tmp_path / "r2", bank, actor=ACTOR)
    with pytest.raises(RefusedError, match="replay"):
        receive(tmp_path / "r2", bank, actor=ACTOR)
    new, _ = load(bank, dataset="deaths", actor=ACTOR)
    assert [(v.version, v.file3_revision, v.reason) for v in new] == [(2, 2, "File 3 revision 2")]


@pytest.mark.parametrize("point", ["load.staged", "load.renamed"])
def test_a_load_killed_at_any_point_leaves_the_previous_version(
    base: dict[str, object], tmp_path: Path, point: str
) -> None:
    bank = _bank(base, tmp_path)
    load(bank, dataset="deaths", actor=ACTOR)
    before = {
        p.relative_to(bank.path): p.read_bytes()
        for p in (bank.path / "datasets").rglob("*")
        if p.is_file()
    }
    env = {**os.environ, "FJDP_CRASH_AT": point}
    proc = subprocess.run(
        [sys.executable, "-m", "fjdp", "databank", "load", "--zone", str(bank.path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    assert [v.dataset for v in versions(bank.path)] == ["deaths"]
    for rel, data in before.items():
        assert (bank.path / rel).read_bytes() == data
    # the next load cleans up what the killed one left, and succeeds
    new, _ = load(bank, actor=ACTOR)
    assert sorted(v.dataset for v in new) == ["births", "court_public"]
    leftovers = [p.name for p in (bank.path / "datasets").glob("*/*") if not p.name.startswith("v")]
    assert leftovers == []
    assert sorted(p.name for p in (bank.path / "datasets" / "births").iterdir()) == ["v1"]


def test_a_load_killed_from_outside_leaves_nothing_visible(
    base: dict[str, object], tmp_path: Path
) -> None:
    bank = _bank(base, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fjdp", "databank", "load", "--zone", str(bank.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staged = bank.path / "datasets"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # kill mid-write
        if any(p.name.startswith(".staging") for p in staged.glob("*/*")):
            break
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    registered = {(v.dataset, v.version) for v in versions(bank.path)}
    for v in versions(bank.path):  # what the catalogue shows is whole
        assert sorted(p.name for p in v.path(bank.path).iterdir()) == sorted(
            f"{t}.parquet" for t in v.rows
        )
    new, _ = load(bank, actor=ACTOR)  # cleans up what the kill left, and loads the rest
    assert {(v.dataset, v.version) for v in new} | registered == {(d, 1) for d in DATASETS}
    assert sorted(p.name for p in staged.glob("*/*")) == ["v1"] * len(DATASETS)


# --- reference data -----------------------------------------------------------------


def test_reference_formats_are_recognised(loaded: ZoneKeys, tmp_path: Path) -> None:
    wimd = tmp_path / "wimd.csv"
    wimd.write_text(
        "LSOA code,LSOA name,Local Authority name,WIMD 2019\n"
        + "".join(f"W0100{i:04d},Area {i},Cardiff,{i}\n" for i in range(1, 21))
    )
    assert import_reference(loaded, "lsoa_deprivation", wimd, actor=ACTOR) == 20
    rows = duckdb.sql(
        f"select lsoa, deprivation_decile, deprivation_quintile, index from "
        f"read_parquet('{loaded.path / 'reference' / 'lsoa_deprivation.parquet'}') order by lsoa"
    ).fetchall()
    assert rows[0] == ("W01000001", 1, 1, "WIMD 2019")
    assert rows[-1][1:3] == (10, 5)
    imd = tmp_path / "imd.csv"
    imd.write_text(
        "LSOA code (2011),LSOA name (2011),Local Authority District code (2019),"
        "Local Authority District name (2019),Index of Multiple Deprivation (IMD) Rank,"
        "Index of Multiple Deprivation (IMD) Decile\n"
        "E01000001,City of London 001A,E09000001,City of London,29199,9\n"
        "E01000002,City of London 001B,E09000001,City of London,30379,10\n"
    )
    assert import_reference(loaded, "lsoa_deprivation", imd, actor=ACTOR) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="matches no known deprivation format"):
        import_reference(loaded, "lsoa_deprivation", bad, actor=ACTOR)
    # the failed import left the last good one in place
    assert (
        pq.ParquetFile(loaded.path / "reference" / "lsoa_deprivation.parquet").metadata.num_rows
        == 2
    )


# --- workspaces ---------------------------------------------------------------------


def test_a_workspace_holds_exactly_its_scope(loaded: ZoneKeys, tmp_path: Path) -> None:
    scope = _scope(
        "P1",
        link_statuses=["DET_STRONG_ID", "DET_DEMOG"],
        date_window={"start": "2012-01-01", "end": "2018-12-31"},
    )
    result = provision(loaded, scope, tmp_path / "ws", actor=ACTOR)
    ws = result.path
    assert result.key_created
    data = sorted(str(p.relative_to(ws / "data")) for p in (ws / "data").rglob("*.parquet"))
    assert data == [
        "births/births.parquet",
        "court_public/application_persons.parquet",
        "court_public/cases.parquet",
        "court_public/persons.parquet",
        "deaths/deaths.parquet",
    ]
    cols = {p.stem: pq.ParquetFile(p).schema_arrow.names for p in (ws / "data").rglob("*.parquet")}
    assert cols["persons"] == ["system_id", "alf_pe", "ralf_pe", "ethnicity", "link_status", "sex"]
    assert cols["deaths"] == ["alf_pe", "ralf_pe", "date_of_death", "link_status"]
    assert cols["application_persons"] == ["application_system_id", "person_system_id", "role"]
    con = duckdb.connect()
    p = ws / "data"
    assert con.execute(
        f"select min(issue_date) >= date '2012-01-01', max(issue_date) <= date '2018-12-31'"
        f" from read_parquet('{p}/court_public/cases.parquet')"
    ).fetchall() == [(True, True)]
    statuses = {
        r[0]
        for r in con.execute(
            f"select link_status from read_parquet('{p}/deaths/deaths.parquet') union "
            f"select link_status from read_parquet('{p}/court_public/persons.parquet') union "
            f"select baby_link_status from read_parquet('{p}/births/births.parquet') union "
            f"select mother_link_status from read_parquet('{p}/births/births.parquet')"
        ).fetchall()
    }
    assert statuses <= {"DET_STRONG_ID", "DET_DEMOG", None}
    # a birth whose mother is out of scope keeps the baby, with the mother blanked
    births_in = latest(loaded.path)["births"].rows["births"]
    assert pq.ParquetFile(p / "births" / "births.parquet").metadata.num_rows == births_in
    # nothing of the bank's layer: no alf_e column or value, no key
    bank_e = set().union(
        *_values(latest(loaded.path)["deaths"].path(loaded.path), "alf_e").values()
    )
    for values in _values(ws, "").values():
        assert not values & bank_e
    assert not list(ws.rglob("*.key"))
    # researchers' views are read-only
    view = duckdb.connect(str(ws / "workspace.duckdb"), read_only=True)
    view.execute(f"set file_search_path = '{ws}'")
    assert view.execute("select count(*) from deaths.deaths").fetchall()[0][0] > 0
    with pytest.raises(duckdb.Error):
        view.execute("create table x as select 1")
    view.close()
    assert stat.S_IMODE((ws / "data" / "deaths" / "deaths.parquet").stat().st_mode) == 0o444


def test_pseudonyms_are_stable_per_project_and_never_join_across(
    loaded: ZoneKeys, tmp_path: Path
) -> None:
    first = provision(loaded, _scope("P1"), tmp_path / "ws", actor=ACTOR)
    pe_1 = _person_pe(first.path, loaded, "P1")
    again = provision(loaded, _scope("P1"), tmp_path / "ws", actor=ACTOR)
    assert not again.key_created
    assert _person_pe(again.path, loaded, "P1") == pe_1
    other = provision(loaded, _scope("P2"), tmp_path / "ws", actor=ACTOR)
    pe_2 = _person_pe(other.path, loaded, "P2")
    assert len(pe_1) == len(pe_2) > 100
    assert not pe_1 & pe_2
    # no join across the two projects' workspaces matches anyone, on any pseudonym
    v1, v2 = _values(first.path, ""), _values(other.path, "")
    for col in v1:
        if col.endswith(("alf_pe", "system_id")):
            assert not v1[col] & v2[col], col


def test_revocation_shreds_the_key_and_refuses_reprovisioning(
    loaded: ZoneKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    provision(loaded, _scope("P1"), ws, actor=ACTOR)
    key_file = loaded.path / "keystore" / "projects" / "P1.key"
    assert key_file.exists()
    args = ["--zone", str(loaded.path), "--workspaces", str(ws)]
    assert main(["databank", "revoke", "--project", "P1", *args]) == 0
    assert not key_file.exists()
    assert not (ws / "P1").exists() and not list(ws.glob(".P1-*"))
    with pytest.raises(RefusedError, match="revoked"):
        provision(loaded, _scope("P1"), ws, actor=ACTOR)
    assert main(["databank", "revoke", "--project", "P1", *args]) == 5
    actions = [
        json.loads(line)["action"]
        for line in (loaded.path / "audit" / "log.jsonl").read_text().splitlines()
    ]
    assert actions[-3:] == ["revoke", "key.destroy", "refuse"] or actions[-2:] == [
        "revoke",
        "key.destroy",
    ]


def test_projects_past_their_end_date_expire(loaded: ZoneKeys, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    provision(
        loaded, _scope("P1", end_date=dt.date.today() + dt.timedelta(days=3)), ws, actor=ACTOR
    )
    provision(
        loaded, _scope("P2", end_date=dt.date.today() + dt.timedelta(days=300)), ws, actor=ACTOR
    )
    done = expire(loaded, ws, actor=ACTOR, today=dt.date.today() + dt.timedelta(days=10))
    assert [r.project for r in done] == ["P1"]
    assert not (ws / "P1").exists() and (ws / "P2").exists()
    assert BankKeystore.of(loaded).is_revoked("P1")
    with pytest.raises(RefusedError, match="ended on"):
        provision(
            loaded, _scope("P3", end_date=dt.date.today() - dt.timedelta(days=1)), ws, actor=ACTOR
        )


def test_rotation_changes_alf_e_but_no_project_pseudonym(
    base: dict[str, object], loaded: ZoneKeys, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    before = _person_pe(provision(loaded, _scope("P1"), ws, actor=ACTOR).path, loaded, "P1")
    old_e = set().union(*_values(latest(loaded.path)["deaths"].path(loaded.path), "alf_e").values())
    result = rotate_key(loaded, actor=ACTOR)
    assert (result.old_version, result.new_version) == (1, 2)
    now_e = set().union(*_values(latest(loaded.path)["deaths"].path(loaded.path), "alf_e").values())
    assert not now_e & old_e  # every stored value is under the new key
    assert all(v.key_version == 2 for v in latest(loaded.path).values())
    assert not (loaded.path / "datasets" / "deaths" / "v1").exists()  # old-key values gone
    after = provision(loaded, _scope("P1"), ws, actor=ACTOR)
    assert _person_pe(after.path, loaded, "P1") == before
    # a project first provisioned after the rotation still gets its own pseudonyms
    fresh = _person_pe(provision(loaded, _scope("P9"), ws, actor=ACTOR).path, loaded, "P9")
    assert len(fresh) == len(before) and not fresh & before
    # a dataset loaded after the rotation gives the same person the same ALF_E: the
    # chain HMAC(K2, HMAC(K1, alf)) equals the re-keyed value
    store = BankKeystore.of(loaded)
    alfs = base["alfs"]
    assert isinstance(alfs, dict)
    in_deaths = _deaths_ids(loaded)
    sid, alf = next((s, a) for s, a in alfs.items() if a is not None and s in in_deaths)
    k1, k2 = store.bank_key(1), store.bank_key(2)
    expect = hmac_hex(k2, hmac_hex(k1, alf))
    got = duckdb.sql(
        f"select alf_e from read_parquet('{latest(loaded.path)['deaths'].path(loaded.path)}/deaths.parquet')"
        f" where system_id = '{sid}'"
    ).fetchall()
    assert got == [(expect,)]


def _deaths_ids(bank: ZoneKeys) -> set[str]:
    v = latest(bank.path)["deaths"]
    return {
        r[0]
        for r in duckdb.sql(
            f"select system_id from read_parquet('{v.path(bank.path)}/deaths.parquet')"
        ).fetchall()
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project: P1\n", "scope field end_date: Field required"),
        ("project: P1\nend_date: 2030-01-01\ndatasets: {}\n", "datasets"),
        (
            "project: 'bad id'\nend_date: 2030-01-01\ndatasets: {deaths: {deaths: {columns: '*'}}}\n",
            "project",
        ),
        (
            "project: P1\nend_date: 2030-01-01\ndatasets: {deaths: {deaths: {columns: '*'}}}\nlink_statuses: [LINKED]\n",
            "link_statuses",
        ),
        ("[unclosed\n", "not readable YAML"),
    ],
)
def test_a_bad_scope_file_is_one_line(
    loaded: ZoneKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    scope = tmp_path / "scope.yaml"
    scope.write_text(text)
    code = main(
        [
            "databank",
            "provision",
            "--zone",
            str(loaded.path),
            "--project",
            "P1",
            "--scope",
            str(scope),
        ]
    )
    err = capsys.readouterr().err
    assert code == 3, err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 or "scope" in err


def test_a_scope_naming_unknown_columns_is_refused(loaded: ZoneKeys, tmp_path: Path) -> None:
    bad = _scope("P1", datasets={"deaths": {"deaths": {"columns": ["date_of_death", "surname"]}}})
    with pytest.raises(InputError, match=r"columns \['surname'\]"):
        provision(loaded, bad, tmp_path / "ws", actor=ACTOR)
    assert not (tmp_path / "ws" / "P1").exists()
    assert not list((tmp_path / "ws").glob(".P1-*"))
    missing = _scope("P1", datasets={"hospital_admissions": {"admissions": {"columns": "*"}}})
    with pytest.raises(InputError, match="has not loaded"):
        provision(loaded, missing, tmp_path / "ws", actor=ACTOR)


def test_a_killed_provisioning_leaves_the_previous_workspace(
    loaded: ZoneKeys, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    first = provision(loaded, _scope("P1"), ws, actor=ACTOR)
    target = (ws / "P1").resolve()
    before = _person_pe(first.path, loaded, "P1")
    scope = tmp_path / "scope.yaml"
    import yaml

    scope.write_text(yaml.safe_dump(_scope("P1").model_dump(mode="json")))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fjdp",
            "databank",
            "provision",
            "--zone",
            str(loaded.path),
            "--project",
            "P1",
            "--scope",
            str(scope),
            "--workspaces",
            str(ws),
        ],
        env={**os.environ, "FJDP_CRASH_AT": "provision.built"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    assert (ws / "P1").resolve() == target
    assert _person_pe(ws / "P1", loaded, "P1") == before
    # the next provisioning replaces it and removes the abandoned build
    provision(loaded, _scope("P1"), ws, actor=ACTOR)
    assert _person_pe(ws / "P1", loaded, "P1") == before


def test_the_databank_quality_report_finds_events_after_death(loaded: ZoneKeys) -> None:
    from fjdp.databank.quality import quality_report
    from fjdp.disclosure.protect import protect

    v = latest(loaded.path)
    court, deaths = v["court_public"].path(loaded.path), v["deaths"].path(loaded.path)
    # every linked court party is made to have died on 1 January 2005
    target = deaths / "deaths.parquet"
    target.chmod(0o644)
    duckdb.sql(
        f"""copy (select system_id, alf_e, ralf_e, date '2005-01-01' as date_of_death,
                   'X' as underlying_cause, 'DET_STRONG_ID' as link_status
            from read_parquet('{court}/persons.parquet') where link_status in
            ('DET_STRONG_ID', 'DET_DEMOG', 'PROB_ACCEPT') and alf_e is not null)
            to '{target}.new' (format parquet)"""
    )
    Path(f"{target}.new").replace(target)
    expected = duckdb.sql(
        f"""select count(*), count(*) filter (where o.date_ordered > date '2005-01-02')
            from read_parquet('{court}/legal_outputs.parquet') o
            join read_parquet('{court}/persons.parquet') p on p.system_id = o.person_system_id
            where p.link_status in ('DET_STRONG_ID', 'DET_DEMOG', 'PROB_ACCEPT')"""
    ).fetchall()[0]
    report = quality_report(loaded.path)
    row = next(r for r in report["after_death"] if r["events"] == "court_public.legal_outputs")
    assert (row["linked_events"], row["after_death"]) == (
        protect(expected[0]),
        protect(expected[1]),
    )
    assert expected[1] > 50
    court_q = next(c for c in report["court"] if c["dataset"] == "court_public")
    roles = {g["group"] for g in court_q["by_role"]}
    assert "subject" in roles
    for g in court_q["by_role"] + court_q["by_year"]:
        assert g["records"] is None or g["records"] % 5 == 0
    html = (loaded.path / "quality" / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "Events after a registered death" in html


def test_a_rotation_killed_before_its_commit_changes_nothing(
    loaded: ZoneKeys, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    before = _person_pe(provision(loaded, _scope("P1"), ws, actor=ACTOR).path, loaded, "P1")
    versions_before = [(v.dataset, v.version, v.key_version) for v in versions(loaded.path)]
    proc = subprocess.run(
        [sys.executable, "-m", "fjdp", "databank", "rotate-key", "--zone", str(loaded.path)],
        env={**os.environ, "FJDP_CRASH_AT": "rotate.staged"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    assert [(v.dataset, v.version, v.key_version) for v in versions(loaded.path)] == versions_before
    assert _person_pe(provision(loaded, _scope("P1"), ws, actor=ACTOR).path, loaded, "P1") == before
    # the next rotation replaces the unused key and completes
    assert rotate_key(loaded, actor=ACTOR).new_version == 2
    assert _person_pe(provision(loaded, _scope("P1"), ws, actor=ACTOR).path, loaded, "P1") == before
    staged = [p.name for p in (loaded.path / "datasets").glob("*/*") if not p.name.startswith("v")]
    assert staged == []
