"""``fjdp check leaks``: nothing in a clean demo, and every planted leak found.

One leak of each kind is planted in a copy of the demo's workspace (and one in a release
bundle): an NHS number written with spaces in a CSV, a postcode in lower case without
its space in a Parquet column, a person's forename and surname in an HTML report, a
surname as a column value, an address line in a JSON log, a column of dates of birth,
an ALF_E in a CSV, and a raw ALF inside a zip bundle."""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.check.leaks import load_identifiers, load_pseudonyms, scan
from fjdp.cli.app import main

PROJECT = "demo-family-pathways"


def _writable_copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=False)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            p = Path(root) / name
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    return dest


def _one(sql: str) -> tuple[object, ...]:
    row = duckdb.sql(sql).fetchall()[0]
    return tuple(row)


def test_the_clean_demo_has_no_leak(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    world = demo / "world"
    code = main(["check", "leaks", "-z", str(demo / "databank"), "-i", str(world)])
    assert code == 0, capsys.readouterr().out
    code = main(
        [
            "check",
            "leaks",
            "-z",
            str(demo / "workspaces" / PROJECT),
            "-z",
            str(demo / "analysis"),
            "-i",
            str(world),
            "--linking-values",
            str(demo / "databank"),
        ]
    )
    assert code == 0, capsys.readouterr().out


def test_every_planted_leak_is_found(demo: Path, tmp_path: Path) -> None:
    world = demo / "world"
    ws = _writable_copy(demo / "workspaces" / PROJECT, tmp_path / "ws")
    people = f"read_parquet('{world}/spine/people.parquet')"
    addr = f"read_parquet('{world}/spine/addresses.parquet')"
    nhs, fore, sur, dob = _one(
        f"select nhs_number, forename1, surname, date_of_birth from {people} "
        "where length(surname) >= 6 and dayofweek(date_of_birth) <> 1 limit 1"
    )
    line, postcode = _one(f"select address_line1, postcode from {addr} limit 1")
    alf_e = _one(
        f"select alf_e from read_parquet('{demo}/databank/datasets/deaths/v*/deaths.parquet') "
        "where alf_e is not null limit 1"
    )[0]
    raw_alf = "ab" * 32  # a raw ALF as a File 3 would carry it
    file3 = tmp_path / "file3.parquet"
    pq.write_table(pa.table({"system_id": ["s1"], "alf": [raw_alf]}), file3)

    nhs_spaced = f"{str(nhs)[:3]} {str(nhs)[3:6]} {str(nhs)[6:]}"
    (ws / "notes.csv").write_text(f"case,note\n1,called {nhs_spaced}\n")
    pq.write_table(
        pa.table({"area": [str(postcode).lower().replace(" ", "")], "n": [1]}),
        ws / "areas.parquet",
    )
    (ws / "report.html").write_text(f"<p>Child {fore} {sur} was moved.</p>")
    pq.write_table(pa.table({"who": [str(sur)]}), ws / "names.parquet")
    (ws / "run.log.json").write_text(json.dumps({"address": str(line)}))
    pq.write_table(pa.table({"date_of_birth": pa.array([dob], pa.date32())}), ws / "dob.parquet")
    (ws / "pseudonyms.csv").write_text(f"alf_e\n{alf_e}\n")
    with zipfile.ZipFile(ws / "release.zip", "w") as z:
        z.writestr("outputs/table.csv", f"id\n{raw_alf}\n")
        z.writestr("NOTES", f"checked by {fore} {sur}\n")  # a member without a suffix

    ids = load_pseudonyms([demo / "databank", file3], load_identifiers([world]))
    found = {(f.file, f.kind) for f in scan(ws, ids).findings}
    assert found == {
        ("notes.csv", "nhs_number"),
        ("areas.parquet", "postcode"),
        ("report.html", "full_name"),
        ("names.parquet", "name"),
        ("run.log.json", "address"),
        ("dob.parquet", "date_of_birth"),
        ("pseudonyms.csv", "alf_e"),
        ("release.zip!outputs/table.csv", "alf"),
        ("release.zip!NOTES", "full_name"),
    }


def test_a_week_of_birth_column_is_not_a_date_of_birth(tmp_path: Path, demo: Path) -> None:
    import datetime as dt

    pq.write_table(
        pa.table({"week_of_birth": pa.array([dt.date(2020, 1, 6)], pa.date32())}),
        tmp_path / "wob.parquet",
    )
    assert scan(tmp_path, load_identifiers([demo / "world" / "spine"])).findings == ()


def test_scanning_the_databank_for_its_own_alf_e_is_refused(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bank = str(demo / "databank")
    code = main(["check", "leaks", "-z", bank, "-i", str(demo / "world"), "--linking-values", bank])
    assert code == 2
    assert "holds those linking values by design" in capsys.readouterr().err
