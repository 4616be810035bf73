"""Provider extracts of any shape, read against the ``deaths`` spec: CSV in any encoding
(BOMs, UTF-16, cp1252, bytes that are no text at all), with ragged rows, huge or empty
fields, and damaged headers (missing, extra, repeated, renamed); Parquet with any column
types, or truncated, flipped or random bytes.

Whatever the file, the reader either stages it (every row accounted for: staged rows
plus malformed ones are the data rows, each with its own row number) or refuses it with
one line naming the file, and leaves no staged file behind; the whole split either
accounts for every row or refuses the extract leaving the provider zone and the outbox
as they were. ``test_split_fuzz.py`` covers row-level junk in well-formed CSV."""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import InputError, UserError
from fjdp.flow import Zones
from fjdp.provider.reader import StagedTable, stage_table
from fjdp.specs import load_spec
from lib.extracts import HEADER, good_row, junk
from lib.fuzz import accepted, fuzz_settings, refused, snapshot
from lib.zones import make_zones, split_and_open

pytestmark = pytest.mark.fuzz

TABLE = load_spec("deaths").tables[0]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]
BOMS = [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"\xef\xbb"]

header_names = st.one_of(
    st.sampled_from(HEADER),
    st.sampled_from(HEADER).map(str.upper),
    st.sampled_from(HEADER).map(lambda h: f" {h.replace('_', ' ')} "),
    st.sampled_from(HEADER).map(lambda h: h.replace("_", "-").title()),
    junk,
    st.just(""),
    st.just("h" * 140_000),  # over the csv module's field limit
)
field = st.one_of(
    junk,
    st.just(""),
    st.integers(0, 40_000).map(lambda n: "x" * n),  # huge fields
    st.sampled_from(["2020-01-01", "1 Jan 2020", "9" * 40, "-0", "1e309", "nan", "\x00"]),
)


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    header = list(HEADER)
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 2, 3]))):
        op = draw(st.sampled_from(["rename", "drop", "repeat", "extra", "swap"]))
        i = draw(st.integers(0, len(header) - 1)) if header else 0
        if op == "rename" and header:
            header[i] = draw(header_names)
        elif op == "drop" and header:
            del header[i]
        elif op == "repeat" and header:
            header.insert(draw(st.integers(0, len(header))), header[i])
        elif op == "extra":
            header.insert(draw(st.integers(0, len(header))), draw(header_names))
        elif op == "swap" and len(header) > 1:
            j = draw(st.integers(0, len(header) - 1))
            header[i], header[j] = header[j], header[i]
    return header


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV export as bytes: mostly plausible, sometimes anything at all."""
    shape = draw(st.sampled_from(["csv"] * 6 + ["bytes", "empty", "header only"]))
    if shape == "bytes":
        return draw(st.binary(max_size=400))
    if shape == "empty":
        return draw(st.sampled_from([b"", b"\n", b"  \r\n ", codecs.BOM_UTF8]))
    header = draw(headers())
    rows: list[list[str]] = []
    if shape == "csv":
        for i in range(draw(st.integers(0, 8))):
            row = good_row(i)
            for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
                row[draw(st.integers(0, len(row) - 1))] = draw(field)
            cut = draw(st.sampled_from(["keep"] * 5 + ["short", "long"]))
            if cut == "short":
                row = row[: draw(st.integers(0, len(row) - 1))]
            elif cut == "long":
                row += draw(st.lists(field, min_size=1, max_size=3))
            rows.append(row)
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        escapechar="\\",
        lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"])),
    )
    writer.writerow(header)
    writer.writerows(rows)
    text = buf.getvalue()
    data = text.encode(draw(st.sampled_from(["utf-8"] * 6 + ENCODINGS)), errors="replace")
    if draw(st.integers(0, 5)) == 0:
        data = draw(st.sampled_from(BOMS)) + data
    if draw(st.integers(0, 5)) == 0 and len(data) > 1:  # cut short, perhaps mid-character
        data = data[: draw(st.integers(1, len(data) - 1))]
    return data


def _stage_or_refuse(source: Path, data: bytes) -> StagedTable | None:
    """Stage ``data`` written as ``source``; a refusal must be one clear line naming the
    file and leave no staged file (then None)."""
    source.write_bytes(data)
    dest = source.parent / "staged" / "deaths.parquet"
    dest.parent.mkdir()
    try:
        return stage_table(TABLE, source, dest)
    except InputError as exc:
        refused(exc, naming=source)
        assert list(dest.parent.iterdir()) == [], "a refused file left a staged file"
        return None


def _staged_rows_are_accounted_for(data_rows: int | None, staged: object) -> None:
    table = pq.read_table(staged.path)  # type: ignore[attr-defined]
    rows = table.column("_row").to_pylist()
    assert len(rows) == staged.rows  # type: ignore[attr-defined]
    assert rows == sorted(set(rows)), "row numbers repeat or go backwards"
    numbered = [m.row for m in staged.malformed if m.row is not None]  # type: ignore[attr-defined]
    assert not set(numbered) & set(rows), "a malformed row was also staged"
    total = staged.rows + len(staged.malformed)  # type: ignore[attr-defined]
    assert all(1 <= r <= total for r in rows + numbered)
    if data_rows is not None:
        assert total == data_rows


@fuzz_settings(120)
@given(data=csv_files(), suffix=st.sampled_from([".csv", ".txt", ".tsv"]))
def test_any_csv_is_staged_whole_or_refused_naming_the_file(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        staged = _stage_or_refuse(Path(tmp) / f"deaths{suffix}", data)
        if staged is None:
            return
        accepted(f"{staged.rows} rows, {len(staged.malformed)} malformed")
        _staged_rows_are_accounted_for(None, staged)


column_types = st.sampled_from(
    [
        pa.string(),
        pa.large_string(),
        pa.int64(),
        pa.int8(),
        pa.float64(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("ms"),
        pa.timestamp("us", tz="Europe/London"),
        pa.binary(),
        pa.null(),
        pa.decimal128(20, 3),
        pa.list_(pa.int32()),
        pa.struct([("x", pa.string())]),
        pa.dictionary(pa.int8(), pa.string()),
    ]
)


def _column(draw: st.DrawFn, kind: pa.DataType, n: int) -> pa.Array:
    if pa.types.is_dictionary(kind):
        return pa.array(
            draw(st.lists(st.text(max_size=5), min_size=n, max_size=n))
        ).dictionary_encode()
    if pa.types.is_null(kind):
        return pa.nulls(n)
    values = {
        "string": st.text(max_size=12),
        "large_string": st.text(max_size=12),
        "int64": st.integers(-(2**63), 2**63 - 1),
        "int8": st.integers(-128, 127),
        "double": st.floats(allow_nan=True, allow_infinity=True),
        "bool": st.booleans(),
        "date32[day]": st.dates(),
        "timestamp[ms]": st.datetimes(),
        "binary": st.binary(max_size=8),
        "list<item: int32>": st.lists(st.integers(-5, 5), max_size=2),
        "struct<x: string>": st.fixed_dictionaries({"x": st.text(max_size=3)}),
    }
    strategy = values.get(str(kind))
    if pa.types.is_decimal(kind):
        return pa.array([Decimal(draw(st.integers(-999, 999))) for _ in range(n)], type=kind)
    if strategy is None:  # a timezone-aware timestamp
        return pa.array(draw(st.lists(st.integers(0, 2**40), min_size=n, max_size=n))).cast(kind)
    return pa.array(draw(st.lists(st.none() | strategy, min_size=n, max_size=n)), type=kind)


@st.composite
def parquet_files(draw: st.DrawFn) -> bytes:
    """A Parquet export as bytes: any column names and types, sometimes damaged."""
    if draw(st.integers(0, 6)) == 0:
        return draw(
            st.one_of(
                st.binary(max_size=300), st.binary(max_size=60).map(lambda b: b"PAR1" + b + b"PAR1")
            )
        )
    names = draw(headers())
    n = draw(st.integers(0, 6))
    arrays = []
    for name in names:
        kind = draw(st.just(pa.string()) | column_types)
        if kind == pa.string() and name in HEADER:
            arrays.append(pa.array([good_row(i)[HEADER.index(name)] for i in range(n)]))
        else:
            arrays.append(_column(draw, kind, n))
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=names), buf)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none"] * 4 + ["truncate", "flip"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    return data


@fuzz_settings(80)
@given(data=parquet_files())
def test_any_parquet_is_staged_whole_or_refused_naming_the_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "deaths.parquet"
        staged = _stage_or_refuse(source, data)
        if staged is None:
            return
        accepted()
        assert not staged.malformed
        _staged_rows_are_accounted_for(pq.ParquetFile(source).metadata.num_rows, staged)


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> Zones:
    return make_zones(tmp_path_factory.mktemp("zones"))


@fuzz_settings(15)
@given(
    extract=st.one_of(
        csv_files().map(lambda b: ("deaths.csv", b)),
        parquet_files().map(lambda b: ("deaths.parquet", b)),
    )
)
def test_a_split_accounts_for_every_row_or_changes_nothing(
    zones: Zones, extract: tuple[str, bytes]
) -> None:
    """The whole split: File 1 and File 2 hold the accepted rows, the quarantine the
    rest; or a user error and the provider zone and the outbox exactly as they were."""
    name, data = extract
    # The audit log and the scratch folder are the zone's own; everything else must stay.
    provider = zones.provider.path
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / name
        source.write_bytes(data)
        outbox = root / "outbox"
        before = snapshot(provider, skip=("work",))
        try:
            result, file1, file2 = split_and_open(zones, "deaths", source, root, out=outbox)
        except UserError as exc:
            refused(exc, naming=source)
            assert snapshot(provider, skip=("work",)) == before
            assert not outbox.exists() or not any(outbox.iterdir())
            assert not any((provider / "work").iterdir())
            return
        accepted()
        counts = result.tables["deaths"]
        assert counts.rows_in == counts.accepted + counts.quarantined
        assert file2["deaths"].num_rows == file1.num_rows == counts.accepted
        with result.report.open(newline="", encoding="utf-8") as fh:
            report = list(csv.DictReader(fh))
        assert len({r["row"] for r in report if r["action"] == "reject"}) <= counts.quarantined
