"""Random CSV extracts for the ``deaths`` spec, good rows mixed with junk: the split either
accounts for every row (rows in = accepted + quarantined, both files the accepted rows,
every quarantined row in the report at its own row number) or refuses the file with a
user error. It never fails any other way."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import UserError
from fjdp.flow import Zones
from lib.extracts import HEADER, MAX_ROWS, NHS, good_row, junk
from lib.fuzz import accepted, fuzz_settings, refused
from lib.zones import make_zones, split_and_open

pytestmark = pytest.mark.fuzz


@st.composite
def extracts(draw: st.DrawFn) -> tuple[str, list[str], list[list[str]]]:
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]), label="delimiter")
    header = list(HEADER)
    damage = draw(st.sampled_from(["none"] * 8 + ["junk name", "dropped"]), label="header")
    if damage == "junk name":
        header[draw(st.integers(0, len(HEADER) - 1))] = draw(junk)
    elif damage == "dropped":  # a required column (an error) or an optional one (fine)
        del header[draw(st.integers(0, len(HEADER) - 1))]
    n = draw(st.integers(1, MAX_ROWS), label="rows")
    rows = []
    for i in range(n):
        row = good_row(i)
        kind = draw(st.sampled_from(["good", "good", "junk", "extra", "missing"]))
        if kind in ("junk", "extra", "missing"):
            for j in draw(st.sets(st.integers(0, len(HEADER) - 1), min_size=1, max_size=4)):
                row[j] = draw(junk)
        if kind == "extra":
            row += draw(st.lists(junk, min_size=1, max_size=3))
        elif kind == "missing":
            row = row[: draw(st.integers(1, len(HEADER) - 1))]
        rows.append(row)
    return delimiter, header, rows


def csv_bytes(delimiter: str, header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)  # "\r\n": quotes any \r or \n in a value
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Zones:
    return make_zones(tmp_path_factory.mktemp("zones"))


@fuzz_settings(40)
@given(extract=extracts())
def test_every_row_is_accounted_for_or_the_file_is_refused(
    zones: Zones, extract: tuple[str, list[str], list[list[str]]]
) -> None:
    """runs 40 examples (about 10 s)."""
    delimiter, header, rows = extract
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "deaths.csv"
        path.write_bytes(csv_bytes(delimiter, header, rows))
        try:
            result, file1, file2 = split_and_open(zones, "deaths", path, root)
        except UserError as exc:
            message = refused(exc)
            assert not any(v in message for v in NHS)  # never echoes the data
            return
    accepted()

    n = len(rows)
    counts = result.tables["deaths"]
    assert counts.rows_in == counts.accepted + counts.quarantined == n
    assert result.rows_in == n
    assert file2["deaths"].num_rows == counts.accepted
    assert file1.num_rows == counts.file1_rows == counts.accepted
    assert set(file1["system_id"].to_pylist()) == set(file2["deaths"]["system_id"].to_pylist())

    with result.report.open(newline="", encoding="utf-8") as fh:
        report = list(csv.DictReader(fh))
    rejected = {int(r["row"]) for r in report if r["action"] == "reject"}
    assert len(rejected) == counts.quarantined
    assert rejected <= set(range(1, n + 1))

    # Malformed rows are reported at their own row numbers; untouched good rows whose
    # key no earlier readable row used are accepted.
    malformed = {
        int(r["row"]) for r in report if r["rule"].startswith("malformed row") and r["row"]
    }
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            assert number in malformed
            continue
        assert number not in malformed
        key = row[0].strip()
        if row == good_row(number - 1) and key not in seen:
            assert number not in rejected
        if key:
            seen.add(key)
