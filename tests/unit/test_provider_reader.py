"""The extract reader on files the fuzz tests found it mishandled."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fjdp.errors import InputError
from fjdp.provider.reader import stage_table
from fjdp.specs import load_spec

TABLE = load_spec("deaths").tables[0]
HEADER = "death_id,date_of_death"


def test_a_refused_file_leaves_no_staged_file(tmp_path: Path) -> None:
    source = tmp_path / "deaths.csv"
    source.write_text(HEADER + "\r\n")
    dest = tmp_path / "staged.parquet"
    with pytest.raises(InputError, match="has a header but no rows"):
        stage_table(TABLE, source, dest)
    assert not dest.exists()


def test_a_header_field_over_the_csv_limit_is_one_input_error(tmp_path: Path) -> None:
    source = tmp_path / "deaths.csv"
    source.write_bytes(b"death_id,date_of_death," + b"x" * 200_000 + b"\nA,2020-01-01,\n")
    with pytest.raises(InputError, match="header row cannot be read as CSV") as caught:
        stage_table(TABLE, source, tmp_path / "staged.parquet")
    assert str(source) in caught.value.message()


def test_carriage_returns_alone_end_lines(tmp_path: Path) -> None:
    source = tmp_path / "deaths.csv"
    source.write_bytes(b"death_id,date_of_death\rA,2020-01-01\rB,2020-01-02\r")
    staged = stage_table(TABLE, source, tmp_path / "staged.parquet")
    assert staged.rows == 2
    assert pq.read_table(staged.path).column("death_id").to_pylist() == ["A", "B"]


def test_a_parquet_footer_naming_a_column_in_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.table({"death_id": ["A"], "zzzz_of_death": ["2020-01-01"]}), buf)
    data = buf.getvalue().replace(b"zzzz_of_death", b"\xf5zzz_of_death")
    source = tmp_path / "deaths.parquet"
    source.write_bytes(data)
    dest = tmp_path / "staged.parquet"
    with pytest.raises(InputError, match="not a readable Parquet file"):
        stage_table(TABLE, source, dest)
    assert not dest.exists()


def test_a_file_ending_inside_a_utf8_character_is_not_utf8(tmp_path: Path) -> None:
    """The encoding check allows a sample that stops mid-character; when the sample is
    the whole file, that is the file's end, and the file is not UTF-8."""
    source = tmp_path / "deaths.csv"
    source.write_bytes(f"{HEADER}\nA,2020-01-01\nB,2020-01-02,\xc3".encode("latin-1"))
    dest = tmp_path / "staged.parquet"
    with pytest.raises(InputError, match=r"not UTF-8 \(byte 0xc3 at offset 49\)") as caught:
        stage_table(TABLE, source, dest)
    assert str(source) in caught.value.message()
    assert not dest.exists()


def test_a_malformed_row_in_bytes_that_are_not_utf8_past_the_sample(tmp_path: Path) -> None:
    """pyarrow decodes a malformed row's text before it calls the reader's handler; bytes
    that are not UTF-8 fail inside pyarrow. The refusal says so, and nothing reaches
    stderr as "Exception ignored" (pytest turns that into a failure here)."""
    good = "".join(f"A{i},2020-01-01\n" for i in range(20_000)).encode()
    assert len(good) > 256 * 1024  # past the sample the encoding is guessed from
    source = tmp_path / "deaths.csv"
    source.write_bytes(HEADER.encode() + b"\n" + good + b"B,2020-01-02,\xc3\xc3\n")
    dest = tmp_path / "staged.parquet"
    with pytest.raises(InputError, match="the file is not valid UTF-8") as caught:
        stage_table(TABLE, source, dest)
    assert str(source) in caught.value.message()
    assert not dest.exists()
