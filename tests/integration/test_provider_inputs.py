"""The provider's split on the extracts people really send: encodings, delimiters, odd
headers, Parquet, bad files (refused whole) and bad rows (quarantined, counted, reported
with masked values). Uses the one-table ``deaths`` spec and small hand-written extracts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.cli.app import main
from fjdp.errors import InputError
from fjdp.flow import Zones
from fjdp.keys.zone import CARD_FILE
from fjdp.provider.split import SplitResult, split_extract
from fjdp.specs import IDENTIFIER_FIELDS, load_spec
from fjdp.synth.identifiers import nhs_numbers
from fjdp.types import Zone
from lib.extracts import HEADER
from lib.zones import ACTOR, make_zones, split_and_open

IDENTIFIERS = ["nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode"]
CONTENT = ["date_of_death", "underlying_cause"]
NHS = [str(n) for n in nhs_numbers(np.random.default_rng(0), 20)]
FORENAMES = ["Siân", "Zoë", "Aled", "Mary", "Tomás", "Ffion", "Chloé", "Ewan", "Niamh", "Rhys"]
SURNAMES = ["Jones", "Pryce", "O'Brien", "Smith", "Evans", "Müller", "Davies", "Khan"]
POSTCODES = ["SW1A 1AA", "CF10 3AT", "LL57 2DG", "M1 1AE", "B33 8TH", "EH1 1YZ"]
CAUSES = ["I21.9", "C34.1", "J44.9", "F03", "I64"]
HEX32 = re.compile(r"[0-9a-f]{32}")


def good_rows(n: int = 8) -> list[dict[str, str]]:
    """``n`` valid death registrations with distinct keys and NHS numbers."""
    return [
        {
            "death_id": f"D{i + 1:04d}",
            "nhs_number": NHS[i],
            "forename": FORENAMES[i % len(FORENAMES)],
            "surname": SURNAMES[i % len(SURNAMES)],
            "date_of_birth": f"19{40 + i}-0{1 + i % 9}-1{i % 10}",
            "sex": "MFU"[i % 3],
            "postcode": POSTCODES[i % len(POSTCODES)],
            "date_of_death": f"20{i:02d}-1{i % 3}-2{i % 8}",
            "underlying_cause": CAUSES[i % len(CAUSES)],
        }
        for i in range(n)
    ]


def csv_text(
    rows: list[dict[str, str]] | list[list[str]],
    header: list[str] = HEADER,
    delimiter: str = ",",
) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in HEADER] if isinstance(r, dict) else r)
    return buf.getvalue()


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Zones:
    return make_zones(tmp_path_factory.mktemp("zones"))


def split_open(
    zones: Zones, extract: Path, tmp: Path, encoding: str | None = None
) -> tuple[SplitResult, pa.Table, pa.Table]:
    result, file1, file2 = split_and_open(zones, "deaths", extract, tmp, encoding=encoding)
    assert list(file2) == ["deaths"]
    return result, file1, file2["deaths"]


def assert_delivered(
    result: SplitResult, file1: pa.Table, file2: pa.Table, rows: list[dict[str, str]]
) -> None:
    """Every row accepted, File 1 holds exactly its identifiers and File 2 its content,
    joined only by system_id."""
    n = len(rows)
    assert (result.rows_in, result.accepted, result.quarantined) == (n, n, 0)
    assert result.rows_in == result.accepted + result.quarantined
    assert file1.num_rows == file2.num_rows == n
    assert file2.column_names == ["system_id", "date_of_death", "underlying_cause"]
    assert file1.column_names[0] == "system_id"
    assert set(IDENTIFIER_FIELDS) <= set(file1.column_names)
    assert not set(file1.column_names) & {"death_id", *CONTENT}
    assert set(file1["source_table"].to_pylist()) == {"deaths"}
    assert set(file1["system_id"].to_pylist()) == set(file2["system_id"].to_pylist())

    content = {r["system_id"]: r for r in file2.to_pylist()}
    by_nhs = {r["nhs_number"]: r for r in rows}
    assert len(by_nhs) == n
    for person in file1.to_pylist():
        src = by_nhs[person["nhs_number"]]
        assert person["forename"] == src["forename"]  # non-ASCII names arrive intact
        assert person["surname"] == src["surname"]
        assert person["date_of_birth"] == dt.date.fromisoformat(src["date_of_birth"])
        assert person["sex"] == src["sex"]
        assert person["postcode"] == src["postcode"]
        assert person["middle_names"] is None and person["address_line1"] is None
        c = content[person["system_id"]]
        assert c["date_of_death"] == dt.date.fromisoformat(src["date_of_death"])
        assert c["underlying_cause"] == src["underlying_cause"].replace(".", "")


def assert_nothing_left(zones: Zones, out: Path) -> None:
    assert not out.exists() or list(out.iterdir()) == []
    work = zones.provider.path / "work"
    assert not work.exists() or list(work.iterdir()) == []


# --- encodings, delimiters, headers, Parquet --------------------------------------------


@pytest.mark.parametrize(
    ("file_encoding", "option"),
    [
        ("utf-8", None),
        ("utf-8-sig", None),
        ("utf-8-sig", "utf-8"),
        ("cp1252", "cp1252"),
        ("utf-16", None),
        ("utf-16", "utf-16"),
    ],
    ids=[
        "utf-8",
        "utf-8-bom",
        "utf-8-bom-given-utf-8",
        "cp1252-given",
        "utf-16-bom",
        "utf-16-given",
    ],
)
def test_csv_in_each_encoding_arrives_intact(
    zones: Zones, tmp_path: Path, file_encoding: str, option: str | None
) -> None:
    rows = good_rows(10)
    extract = write_csv(tmp_path / "deaths.csv", csv_text(rows), file_encoding)
    if file_encoding == "utf-16":
        assert extract.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    result, file1, file2 = split_open(zones, extract, tmp_path, encoding=option)
    assert_delivered(result, file1, file2, rows)
    assert {"Siân", "Zoë", "Chloé"} <= set(file1["forename"].to_pylist())
    assert "Müller" in file1["surname"].to_pylist()


def test_cp1252_without_encoding_is_a_clear_input_error(zones: Zones, tmp_path: Path) -> None:
    extract = write_csv(tmp_path / "deaths.csv", csv_text(good_rows(6)), "cp1252")
    out = tmp_path / "outbox"
    with pytest.raises(InputError, match="not UTF-8") as info:
        split_extract(
            load_spec("deaths"),
            extract,
            zone=zones.provider,
            ttp=zones.provider.trusted(Zone.TTP),
            databank=zones.provider.trusted(Zone.DATABANK),
            out=out,
            actor=ACTOR,
        )
    message = info.value.message()
    assert "--encoding" in message and str(extract) in message and "\n" not in message
    assert_nothing_left(zones, out)


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_delimiter_is_detected(zones: Zones, tmp_path: Path, delimiter: str) -> None:
    rows = good_rows(7)
    rows[2]["surname"] = "Smith, Jones; Evans|Pryce"  # every delimiter inside a quoted value
    extract = write_csv(tmp_path / "deaths.txt", csv_text(rows, delimiter=delimiter))
    result, file1, file2 = split_open(zones, extract, tmp_path)
    assert_delivered(result, file1, file2, rows)


def test_headers_in_other_case_and_with_spaces_are_normalised(zones: Zones, tmp_path: Path) -> None:
    header = [
        "Death ID",
        "NHS Number",
        "FORENAME",
        " Surname ",
        "Date of Birth",
        "Sex",
        "PostCode",
        "Date-of-Death",
        "Underlying Cause",
    ]
    rows = good_rows(6)
    extract = write_csv(tmp_path / "deaths.csv", csv_text(rows, header=header))
    result, file1, file2 = split_open(zones, extract, tmp_path)
    assert_delivered(result, file1, file2, rows)


def test_parquet_with_typed_columns(zones: Zones, tmp_path: Path) -> None:
    rows = good_rows(9)
    table = pa.table(
        {
            "Death_ID": [r["death_id"] for r in rows],
            "NHS_NUMBER": pa.array([int(r["nhs_number"]) for r in rows], pa.int64()),
            "forename": [r["forename"] for r in rows],
            "surname": [r["surname"] for r in rows],
            "date_of_birth": pa.array(
                [dt.date.fromisoformat(r["date_of_birth"]) for r in rows], pa.date32()
            ),
            "sex": [r["sex"] for r in rows],
            "postcode": [r["postcode"] for r in rows],
            "date_of_death": pa.array(
                [dt.date.fromisoformat(r["date_of_death"]) for r in rows], pa.date32()
            ),
            "underlying_cause": [r["underlying_cause"] for r in rows],
        }
    )
    extract = tmp_path / "deaths.parquet"
    pq.write_table(table, extract)
    result, file1, file2 = split_open(zones, extract, tmp_path)
    assert_delivered(result, file1, file2, rows)


def test_a_folder_holding_the_table_file(zones: Zones, tmp_path: Path) -> None:
    rows = good_rows(5)
    folder = tmp_path / "extract"
    folder.mkdir()
    write_csv(folder / "deaths.csv", csv_text(rows))
    result, file1, file2 = split_open(zones, folder, tmp_path)
    assert_delivered(result, file1, file2, rows)


# --- bad files: refused whole, nothing written ------------------------------------------


def _without(column: str) -> str:
    header = [h for h in HEADER if h != column]
    return csv_text([[r[h] for h in header] for r in good_rows(5)], header=header)


def _with_extra(column: str) -> str:
    return csv_text(
        [[*(r[h] for h in HEADER), "blue"] for r in good_rows(5)], header=[*HEADER, column]
    )


def _folder_without_the_table(tmp: Path) -> Path:
    folder = tmp / "extract"
    folder.mkdir()
    write_csv(folder / "births.csv", csv_text(good_rows(5)))
    return folder


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing-required-column": (
        lambda tmp: write_csv(tmp / "deaths.csv", _without("date_of_death")),
        "missing required column 'date_of_death'",
    ),
    "missing-key-column": (
        lambda tmp: write_csv(tmp / "deaths.csv", _without("death_id")),
        "missing required column 'death_id'",
    ),
    "unexpected-column": (
        lambda tmp: write_csv(tmp / "deaths.csv", _with_extra("favourite_colour")),
        "unexpected column 'favourite_colour'",
    ),
    "duplicate-header": (
        lambda tmp: write_csv(tmp / "deaths.csv", _with_extra("Surname")),
        "repeated column 'surname'",
    ),
    "duplicate-header-after-normalising": (
        lambda tmp: write_csv(tmp / "deaths.csv", _with_extra("NHS Number")),
        "repeated column 'nhs_number'",
    ),
    "empty-file": (lambda tmp: write_csv(tmp / "deaths.csv", ""), "the file is empty"),
    "blank-lines-only": (lambda tmp: write_csv(tmp / "deaths.csv", "\n \n\n"), "the file is empty"),
    "header-only": (
        lambda tmp: write_csv(tmp / "deaths.csv", csv_text([])),
        "has a header but no rows",
    ),
    "parquet-header-only": (
        lambda tmp: _parquet(tmp, []),
        "has a header but no rows",
    ),
    "not-parquet": (
        lambda tmp: write_csv(tmp / "deaths.parquet", csv_text(good_rows(3))),
        "not a readable Parquet file",
    ),
    "unclosed-quote-in-header": (
        lambda tmp: write_csv(tmp / "deaths.csv", '"' + csv_text(good_rows(5))),
        "line break inside a column name",
    ),
    "parquet-column-not-text": (
        lambda tmp: _parquet(tmp, good_rows(3), underlying_cause=pa.array([[1], [2], [3]])),
        "column 'underlying_cause' (list<element: int64>) cannot be read as text",
    ),
    "parquet-binary-not-utf8": (
        lambda tmp: _parquet(tmp, good_rows(3), forename=pa.array([b"\xff"] * 3, pa.binary())),
        "column 'forename' (binary) cannot be read as text",
    ),
    "folder-without-the-table": (_folder_without_the_table, "no file for table 'deaths'"),
    "missing-extract": (lambda tmp: tmp / "nope.csv", "extract not found"),
}


def _parquet(tmp: Path, rows: list[dict[str, str]], **replace: pa.Array) -> Path:
    path = tmp / "deaths.parquet"
    cols = {h: replace.get(h, pa.array([r[h] for r in rows], pa.string())) for h in HEADER}
    pq.write_table(pa.table(cols), path)
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_refused_whole(zones: Zones, tmp_path: Path, case: str) -> None:
    build, words = BAD_FILES[case]
    src = tmp_path / "src"
    src.mkdir()
    extract = build(src)
    out = tmp_path / "outbox"
    before = sorted((zones.provider.path / "quarantine").glob("*"))
    with pytest.raises(InputError) as info:
        split_extract(
            load_spec("deaths"),
            extract,
            zone=zones.provider,
            ttp=zones.provider.trusted(Zone.TTP),
            databank=zones.provider.trusted(Zone.DATABANK),
            out=out,
            actor=ACTOR,
        )
    message = info.value.message()
    assert words in message
    assert "\n" not in message and ";" in message  # one line: what, where; what to do
    assert not any(n in message for n in NHS)  # never echoes the data
    assert_nothing_left(zones, out)
    assert sorted((zones.provider.path / "quarantine").glob("*")) == before


# --- bad rows: quarantined or flagged, never an error -----------------------------------


def read_report(result: SplitResult) -> list[dict[str, str]]:
    with result.report.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_bad_rows_are_quarantined_or_flagged_with_their_true_row_numbers(
    zones: Zones, tmp_path: Path
) -> None:
    rows = good_rows(14)
    today = dt.date.today()
    bad_nhs = NHS[8][:9] + str((int(NHS[8][9]) + 1) % 10)
    rows[2]["death_id"] = rows[0]["death_id"]  # row 3: duplicate key
    rows[3]["date_of_death"] = ""  # row 4: required value missing
    rows[4]["date_of_death"] = "not a date"  # row 5
    malformed_row = 6  # row 6: one field too many (written below)
    rows[6]["date_of_death"] = "1995-05-05"  # row 7: before its date of birth (1946)
    rows[6]["date_of_birth"] = "1999-01-01"
    rows[7]["date_of_death"] = (today + dt.timedelta(days=30)).isoformat()  # row 8: future
    rows[8]["nhs_number"] = bad_nhs  # row 9: flagged, kept
    rows[9]["postcode"] = "NOT A POSTCODE"  # row 10: flagged, kept
    rows[12]["sex"] = "X"  # row 13: flagged, kept
    cells: list[list[str]] = [[r[h] for h in HEADER] for r in rows]
    cells[malformed_row - 1].append("an extra field")
    extract = write_csv(tmp_path / "deaths.csv", csv_text(cells))

    result, file1, file2 = split_open(zones, extract, tmp_path)
    counts = result.tables["deaths"]
    assert (counts.rows_in, counts.accepted, counts.quarantined, counts.flagged) == (14, 8, 6, 3)
    assert counts.rows_in == counts.accepted + counts.quarantined
    assert file1.num_rows == file2.num_rows == counts.file1_rows == 8

    report = read_report(result)
    assert list(report[0]) == ["table", "row", "column", "rule", "action", "masked_value"]
    got = {(int(r["row"]), r["column"], r["rule"], r["action"]) for r in report}
    assert got == {
        (3, "death_id", "duplicate key", "reject"),
        (4, "date_of_death", "required value missing", "reject"),
        (5, "date_of_death", "not a valid date", "reject"),
        (6, "", "malformed row: 10 fields where 9 were expected", "reject"),
        (7, "date_of_death", "date_of_death is before date_of_birth", "reject"),
        (8, "date_of_death", "in the future", "reject"),
        (9, "nhs_number", "NHS number fails its check digit", "flag"),
        (10, "postcode", "not a UK postcode", "flag"),
        (13, "sex", "not in the code list", "flag"),
    }
    assert {r["table"] for r in report} == {"deaths"}

    # Masked values: never the value in clear; identifiers as first character + asterisks.
    for r in report:
        row, col, value = int(r["row"]), r["column"], r["masked_value"]
        real = rows[row - 1].get(col, "") if col else ""
        if real and "is before" in r["rule"]:
            assert value == ""  # a date-order problem names no value
        elif real:
            assert value != real
            assert value == real[0] + "*" * min(len(real) - 1, 11) or (
                len(real) == 1 and value == "*"
            )
        else:
            assert value == ""
    assert not any(bad_nhs in v or "NOT A POSTCODE" in v for r in report for v in r.values())

    # Quarantined rows reach neither file; flagged rows reach both, identifiers as given.
    sent = set(file1["nhs_number"].to_pylist())
    assert sent == {rows[i]["nhs_number"] for i in (0, 1, 8, 9, 10, 11, 12, 13)}
    assert bad_nhs in sent
    flagged = {r["nhs_number"]: r for r in file1.to_pylist()}
    assert flagged[rows[9]["nhs_number"]]["postcode"] == "NOT A POSTCODE"
    assert flagged[rows[12]["nhs_number"]]["sex"] == "X"
    assert set(file2["system_id"].to_pylist()) == set(file1["system_id"].to_pylist())


def test_odd_nhs_numbers_are_flagged_and_sent_as_given(zones: Zones, tmp_path: Path) -> None:
    rows = good_rows(7)
    spaced = f"{NHS[4][:3]} {NHS[4][3:6]}-{NHS[4][6:]}"
    odd = ["0", "12", "not a number", "123456789012", spaced, "", " 9 "]
    for r, nhs in zip(rows, odd, strict=True):
        r["nhs_number"] = nhs
    extract = write_csv(tmp_path / "deaths.csv", csv_text(rows))
    result, file1, _ = split_open(zones, extract, tmp_path)
    counts = result.tables["deaths"]
    assert (counts.rows_in, counts.accepted, counts.quarantined, counts.flagged) == (7, 7, 0, 5)
    flagged = sorted(int(r["row"]) for r in read_report(result))
    assert flagged == [1, 2, 3, 4, 7]
    assert sorted(file1["nhs_number"].to_pylist(), key=str) == sorted(
        ["0", "12", "notanumber", "123456789012", NHS[4], None, "9"], key=str
    )


def test_malformed_rows_keep_later_row_numbers(zones: Zones, tmp_path: Path) -> None:
    rows = good_rows(12)
    cells: list[list[str]] = [[r[h] for h in HEADER] for r in rows]
    cells[3] = cells[3][:5]  # row 4: too few fields
    cells[4].append("x")  # row 5: too many
    cells[9] += ["y", "z"]  # row 10
    rows[10]["date_of_death"] = "soon"  # row 11, after three skipped rows
    cells[10] = [rows[10][h] for h in HEADER]
    rows[1]["surname"] = "Line\nbreak"  # a quoted newline does not shift the numbering
    cells[1] = [rows[1][h] for h in HEADER]
    extract = write_csv(tmp_path / "deaths.csv", csv_text(cells))
    result, file1, _ = split_open(zones, extract, tmp_path)
    assert (result.rows_in, result.accepted, result.quarantined) == (12, 8, 4)
    got = sorted((int(r["row"]), r["rule"]) for r in read_report(result))
    assert got == [
        (4, "malformed row: 5 fields where 9 were expected"),
        (5, "malformed row: 10 fields where 9 were expected"),
        (10, "malformed row: 11 fields where 9 were expected"),
        (11, "not a valid date"),
    ]
    assert "Line\nbreak" in file1["surname"].to_pylist()


# --- system_id ---------------------------------------------------------------------------


def test_system_ids_are_random_unique_and_shared_by_file1_and_file2(
    zones: Zones, tmp_path: Path
) -> None:
    rows = good_rows(20)
    extract = write_csv(tmp_path / "deaths.csv", csv_text(rows))
    ids = []
    for _ in range(2):
        _, file1, file2 = split_open(zones, extract, tmp_path)
        f1 = file1["system_id"].to_pylist()
        f2 = file2["system_id"].to_pylist()
        assert all(HEX32.fullmatch(s) for s in f1 + f2)
        assert len(set(f1)) == len(f1) == 20 and len(set(f2)) == len(f2) == 20
        assert set(f1) == set(f2)
        ids.append(dict(zip(file1["nhs_number"].to_pylist(), f1, strict=True)))
    first, second = ids
    assert first.keys() == second.keys()
    assert all(first[k] != second[k] for k in first)
    assert not set(first.values()) & set(second.values())


# --- the CLI -----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def _split_args(zones: Zones, extract: Path, out: Path, to_ttp: Path) -> list[str]:
    return [
        "provider",
        "split",
        str(extract),
        "--spec",
        "deaths",
        "--to-ttp",
        str(to_ttp),
        "--to-databank",
        str(zones.databank.path / CARD_FILE),
        "--out",
        str(out),
        "--zone",
        str(zones.provider.path),
        "--again",  # other tests of this module split the same rows into these zones
    ]


def test_cli_splits_a_good_extract(
    zones: Zones, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extract = write_csv(tmp_path / "deaths.csv", csv_text(good_rows(5)))
    out = tmp_path / "outbox"
    assert main(_split_args(zones, extract, out, zones.ttp.path / CARD_FILE)) == 0
    (bundle,) = out.iterdir()
    assert sorted(p.name for p in bundle.iterdir()) == [
        "quarantine-summary.json",
        "to-databank",
        "to-ttp",
    ]
    assert capsys.readouterr().err == ""


def test_an_extract_split_before_is_refused_unless_again(
    zones: Zones, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A split killed after it finished and run again must not send the records twice."""
    extract = write_csv(tmp_path / "deaths.csv", csv_text(good_rows(7)) + "\n")
    out = tmp_path / "outbox"
    args = _split_args(zones, extract, out, zones.ttp.path / CARD_FILE)
    assert main(args) == 0
    capsys.readouterr()
    assert main([a for a in args if a != "--again"]) == 5
    err = capsys.readouterr().err
    assert "already split as" in err and "--again" in err
    assert len(list(out.iterdir())) == 1
    assert main(args) == 0  # --again: a new extract, on purpose
    assert len(list(out.iterdir())) == 2


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("databank-card-as-ttp", 5, "--to-ttp is the card of a databank zone"),
        ("missing-extract", 3, "extract not found"),
        ("missing-card", 3, "cannot read key card"),
    ],
)
def test_cli_bad_arguments_get_one_line(
    zones: Zones,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    code: int,
    words: str,
) -> None:
    extract = write_csv(tmp_path / "deaths.csv", csv_text(good_rows(5)))
    to_ttp = zones.ttp.path / CARD_FILE
    if case == "databank-card-as-ttp":
        to_ttp = zones.databank.path / CARD_FILE
    elif case == "missing-extract":
        extract = tmp_path / "no-such-extract.csv"
    else:
        to_ttp = tmp_path / "no-such-card.json"
    out = tmp_path / "outbox"
    assert main(_split_args(zones, extract, out, to_ttp)) == code
    captured = capsys.readouterr()
    assert words in _one_line(captured.err)
    assert "Traceback" not in captured.out
    assert_nothing_left(zones, out)
