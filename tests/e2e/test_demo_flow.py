"""The demo flow end to end, and the zone invariants on what it leaves behind:
no identifier in any file of the databank zone, no content in the TTP zone, every row
accounted for, audit chains intact, replays and tampered bundles refused."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fjdp.cli.app import main
from fjdp.errors import RefusedError
from fjdp.keys import open_zone
from fjdp.specs import IDENTIFIER_FIELDS, Role, all_specs
from fjdp.transfer.receive import receive
from fjdp.types import Zone

NHS = re.compile(rb"(?<![0-9])[0-9]{10}(?![0-9])")


def _strings(path: Path) -> set[str]:
    """Every text value in a Parquet file, upper-cased."""
    table = pq.read_table(path)
    out: set[str] = set()
    for col in table.columns:
        if str(col.type) in ("string", "large_string"):
            out.update(str(v).upper() for v in col.to_pylist() if v is not None)
    return out


def _world_identifiers(world: Path) -> dict[str, set[str]]:
    con = duckdb.connect()
    q = lambda sql: {str(r[0]).upper() for r in con.execute(sql).fetchall() if r[0] is not None}  # noqa: E731
    spine = f"read_parquet('{world}/spine/people.parquet')"
    addr = f"read_parquet('{world}/spine/addresses.parquet')"
    ids = {
        "nhs_number": q(f"select nhs_number from {spine}"),
        "postcode": q(f"select distinct postcode from {addr}"),
        "address_line1": q(f"select distinct address_line1 from {addr}"),
        # short names collide with code values (WHITE is a surname and an ethnicity)
        "name": q(
            f"select surname from {spine} where length(surname) >= 6 union "
            f"select forename1 from {spine} where length(forename1) >= 6"
        ),
    }
    for law in ("court_public", "court_private"):
        persons = f"read_parquet('{world}/{law}/persons.parquet')"
        ids["nhs_number"] |= q(f"select nhs_number from {persons}")
        ids["postcode"] |= q(f"select postcode from {persons}")
        ids["name"] |= q(f"select surname from {persons} where length(surname) >= 6")
    con.close()
    return ids


def _files(folder: Path) -> list[Path]:
    return [f for f in folder.rglob("*") if f.is_file()]


def test_demo_fills_the_zones(demo: Path) -> None:
    for zone in ("provider", "ttp", "databank"):
        assert (demo / zone / "zone.json").exists()
        assert (demo / zone / "audit" / "log.jsonl").exists()
    received = json.loads((demo / "databank" / "received" / "index.json").read_text())
    assert {v["dataset"] for v in received.values()} == {s.name for s in all_specs()}


@pytest.mark.parametrize("zone", ["databank", "workspaces", "analysis"])
def test_no_identifier_in_any_databank_or_workspace_file(demo: Path, zone: str) -> None:
    ids = _world_identifiers(demo / "world")
    every = set().union(*ids.values())
    assert len(ids["nhs_number"]) > 10_000
    scanned = 0
    for f in _files(demo / zone):
        if f.suffix == ".parquet":
            names = set(pq.ParquetFile(f).schema_arrow.names)
            assert not names & (set(IDENTIFIER_FIELDS) - {"sex"}), f  # File 3 carries sex by design
            assert not names & {"birth_date", "mother_date_of_birth", "baby_nhs_number"}, f
            leaked = _strings(f) & every
            assert not leaked, (f, sorted(leaked)[:3])
        else:
            data = f.read_bytes()
            hits = {m.decode() for m in NHS.findall(data)} & ids["nhs_number"]
            assert not hits, f
            text = data.decode("utf-8", errors="ignore").upper()
            assert not any(p in text for p in list(ids["postcode"])[:2000]), f
        scanned += 1
    assert scanned >= 18  # the analysis folder: 6 measures × CSV, PNG, HTML


def test_no_content_in_any_ttp_file(demo: Path) -> None:
    content_columns = {
        c.name for s in all_specs() for t in s.tables for c in t.columns if c.role is Role.CONTENT
    }
    codes: set[str] = set()
    con = duckdb.connect()
    for table, cols in (
        ("hospital/admissions", ("diag_1", "diag_2", "diag_3")),
        ("emergency/attendances", ("diag_code",)),
        ("deaths/deaths", ("underlying_cause",)),
    ):
        for col in cols:
            codes |= {
                r[0]
                for r in con.execute(
                    f"select distinct {col} from read_parquet('{demo}/world/{table}.parquet')"
                ).fetchall()
                if r[0]
            }
    con.close()
    assert len(codes) > 20
    for f in _files(demo / "ttp"):
        if f.suffix == ".env":
            # A sealed envelope for the databank: ciphertext the TTP cannot open. Its random
            # bytes can spell a three-character code by chance, so it is not searched.
            continue
        if f.suffix == ".parquet":
            names = set(pq.ParquetFile(f).schema_arrow.names)
            assert not names & content_columns, (f, names & content_columns)
            assert not _strings(f) & codes, f
        else:
            text = f.read_bytes().decode("utf-8", errors="ignore")
            assert not any(re.search(rf"\b{re.escape(c)}\b", text) for c in codes), f


def test_every_row_is_accounted_for(demo: Path) -> None:
    bank = demo / "databank" / "received"
    ttp = demo / "ttp" / "received"
    for manifest_path in (demo / "provider" / "outbox").glob("*/to-databank/manifest.json"):
        m = json.loads(manifest_path.read_text())
        counts = m["counts"]
        assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_quarantined"]
        folder = bank / m["dataset"] / m["extract_id"] / "file2"
        f2_rows = {f.stem: pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet")}
        for table, rows in f2_rows.items():
            assert rows == counts[f"{table}.accepted"], (m["dataset"], table)
            assert (
                counts[f"{table}.rows_in"]
                == counts[f"{table}.accepted"] + counts[f"{table}.quarantined"]
            )
        f1 = pq.read_table(ttp / m["dataset"] / m["extract_id"] / "file1" / "file1.parquet")
        assert f1.num_rows == counts["file1_rows"]
        # File 1 and File 2 meet only on system_id, and every File 1 record has its row
        f2_ids: set[str] = set()
        for f in folder.glob("*.parquet"):
            t = pq.read_table(f)
            for name in t.column_names:
                if name == "system_id" or (
                    name.endswith("_system_id") and name.split("_")[0] in ("baby", "mother")
                ):
                    f2_ids.update(t.column(name).to_pylist())
        assert set(f1.column("system_id").to_pylist()) <= f2_ids


def test_audit_chains_verify(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zones = [str(demo / z) for z in ("provider", "ttp", "databank")]
    assert main(["audit", "verify", *zones]) == 0
    out = capsys.readouterr().out
    assert out.count("ok") >= 3


def test_a_replayed_bundle_is_refused_and_recorded(demo: Path) -> None:
    bank = open_zone(demo / "databank", Zone.DATABANK)
    bundle = next((demo / "provider" / "outbox").glob("deaths-*/to-databank"))
    before = sorted(p.name for p in (demo / "databank" / "received" / "deaths").rglob("*"))
    with pytest.raises(RefusedError, match="replay"):
        receive(bundle, bank, actor="test")
    after = sorted(p.name for p in (demo / "databank" / "received" / "deaths").rglob("*"))
    assert before == after
    last = json.loads((demo / "databank" / "audit" / "log.jsonl").read_text().splitlines()[-1])
    assert last["action"] == "refuse"


def test_a_tampered_bundle_is_refused_by_the_cli(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = next((demo / "provider" / "outbox").glob("births-*/to-ttp"))
    bundle = tmp_path / "to-ttp"
    shutil.copytree(src, bundle)
    env = next(bundle.glob("*.env"))
    data = bytearray(env.read_bytes())
    data[len(data) // 2] ^= 0x01
    env.write_bytes(bytes(data))
    assert main(["ttp", "receive", str(bundle), "--zone", str(demo / "ttp")]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]


def test_a_bundle_for_the_databank_is_refused_by_the_ttp(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = next((demo / "provider" / "outbox").glob("deaths-*/to-databank"))
    assert main(["ttp", "receive", str(bundle), "--zone", str(demo / "ttp")]) == 5
    assert "databank" in capsys.readouterr().err


def test_the_workspace_holds_project_pseudonyms_only(demo: Path) -> None:
    bank_values: set[str] = set()
    for f in (demo / "databank" / "datasets").glob("*/v*/*.parquet"):
        t = pq.read_table(f)
        for col in t.column_names:
            if col.endswith("alf_e"):
                bank_values.update(v for v in t.column(col).to_pylist() if v)
    assert len(bank_values) > 1000
    files = [f for f in _files(demo / "workspaces") if f.suffix == ".parquet"]
    assert len(files) >= len(all_specs())
    for f in files:
        names = set(pq.ParquetFile(f).schema_arrow.names)
        assert not any(n.endswith(("alf_e", "alf")) for n in names), f
        assert not _strings(f) & {v.upper() for v in bank_values}, f
    assert not list((demo / "workspaces").rglob("*.key"))


def _person_links(demo: Path) -> str:
    """SQL over every loaded dataset version: (system_id, alf_e) of each person."""
    parts = []
    for f in sorted((demo / "databank" / "datasets").glob("*/v*/*.parquet")):
        names = pq.ParquetFile(f).schema_arrow.names
        for col in names:
            if col.endswith("alf_e") and not col.endswith("ralf_e"):
                group = col.removesuffix("alf_e")
                parts.append(
                    f"select {group}system_id as system_id, {col} as alf_e from read_parquet('{f}')"
                )
    return " union all ".join(parts)


def test_file3_reaches_the_databank_and_its_raw_alfs_are_not_kept(demo: Path) -> None:
    received = list((demo / "databank" / "received").glob("*/*/file3"))
    assert len(received) == len(all_specs())
    for folder in received:
        assert (folder / "manifest.json").exists()
        assert not (folder / "file3.parquet").exists()  # removed once loaded
    for f in (demo / "databank").rglob("*.parquet"):
        names = set(pq.ParquetFile(f).schema_arrow.names)
        assert not names & {"alf", "ralf"}, f


def test_alf_e_is_stable_for_a_person_across_datasets(demo: Path) -> None:
    con = duckdb.connect()
    links = f"read_parquet('{demo}/ttp/linkage/*/links.parquet')"
    by_person = con.execute(
        f"""select l.pid, count(distinct p.alf_e) from {links} l
            join ({_person_links(demo)}) p on p.system_id = l.uid
            where l.pid is not null group by 1 having count(distinct p.alf_e) > 1"""
    ).fetchall()
    multi = con.execute(
        f"""select count(*) from (select l.pid from {links} l
            where l.pid is not null group by 1 having count(distinct l.uid) > 1)"""
    ).fetchall()[0][0]
    con.close()
    assert by_person == []
    assert multi > 100  # many people appear in several datasets


def test_linkage_reports_reconcile_with_the_runs(demo: Path) -> None:
    from fjdp.disclosure.protect import protect

    for summary_path in (demo / "ttp" / "linkage").glob("*/summary.json"):
        summary = json.loads(summary_path.read_text())
        report = json.loads((summary_path.parent / "report.json").read_text())
        assert report["by_status"] == {
            k: protect(v) for k, v in sorted(summary["by_status"].items())
        }
        assert report["records"] == protect(summary["records"])
        assert (summary_path.parent / "report.html").read_text().startswith("<!doctype html>")
        assert (summary_path.parent / "model.json").exists()
        # the demo loads the world's LSOA lookup with the spine: area subgroups exist
        assert {"deprivation quintile", "local authority"} <= set(report["by_group"])
        assert {"linked_vs_unlinked", "implausible", "clerical_review"} <= set(report)
        assert report["implausible"]["system_ids_with_several_alfs"]["found"] is False
    assert (demo / "ttp" / "spine" / "lsoa_reference.parquet").exists()
