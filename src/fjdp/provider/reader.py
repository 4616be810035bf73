"""Read a provider's extract table (CSV in any common encoding and delimiter, or Parquet)
into a staging Parquet file of text columns plus ``_row``, the 1-based data row number.

Everything is streamed in blocks, so a 10-million-row file needs bounded memory. Types
are not guessed here: every value stays text until the spec's rules parse it, so a bad
value becomes a quarantine entry naming its row and column rather than a failed read.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fjdp.errors import InputError
from fjdp.specs import Role, TableSpec

SAMPLE_BYTES = 256 * 1024
BLOCK_BYTES = 16 * 1024 * 1024
DELIMITERS = ",;\t|"


@dataclass
class MalformedRow:
    row: int | None
    reason: str


@dataclass
class StagedTable:
    table: str
    source: Path
    path: Path
    rows: int
    malformed: list[MalformedRow] = field(default_factory=list)


def normalise_header(name: str) -> str:
    """Headers are matched case-insensitively, with spaces and dashes as underscores (and
    a byte-order mark left by decoding a BOM file as plain UTF-8 ignored)."""
    return name.replace("\ufeff", "").strip().lower().replace(" ", "_").replace("-", "_")


def find_table_file(extract: Path, table: TableSpec, single: bool) -> Path:
    """The file holding ``table``: the extract itself for a one-table dataset given as a
    file, else ``<table>.parquet`` / ``.csv`` / ``.tsv`` / ``.txt`` inside the folder."""
    if extract.is_file():
        if not single:
            raise InputError(
                "this dataset has several tables, so the extract must be a folder",
                where=str(extract),
                fix="give the folder holding one file per table",
            )
        return extract
    if not extract.exists():
        raise InputError("extract not found", where=str(extract), fix="check the path")
    for ext in (".parquet", ".csv", ".tsv", ".txt"):
        candidate = extract / f"{table.file_stem}{ext}"
        if candidate.exists():
            return candidate
    raise InputError(
        f"no file for table {table.name!r}",
        where=str(extract),
        fix=f"add {table.file_stem}.parquet or {table.file_stem}.csv to the extract folder",
    )


def _check_header(names: list[str], table: TableSpec, source: Path) -> list[str]:
    if any("\n" in n or "\r" in n for n in names):
        # Never echo such a "name": it runs on into the data rows, identifiers and all.
        raise InputError(
            "the header row has a line break inside a column name (an unclosed quote?)",
            where=str(source),
            fix="check the quotes in the first line of the export",
        )
    norm = [normalise_header(n) for n in names]
    dupes = sorted({n for n in norm if norm.count(n) > 1})
    if dupes:
        raise InputError(
            f"repeated column {dupes[0]!r}", where=str(source), fix="rename one of them"
        )
    unexpected = [n for n in norm if n not in table.column_names]
    if unexpected:
        raise InputError(
            f"unexpected column {unexpected[0]!r} (table {table.name!r} has no such column)",
            where=str(source),
            fix="remove it from the extract, or describe it in a spec of your own (--spec FILE)",
        )
    required = [c.name for c in table.columns if c.required or c.role is Role.KEY]
    missing = [c for c in required if c not in norm]
    if missing:
        raise InputError(
            f"missing required column {missing[0]!r}",
            where=str(source),
            fix="add the column to the extract",
        )
    return norm


def _detect_encoding(sample: bytes, given: str | None, source: Path) -> str:
    if given:
        try:
            codecs.lookup(given)
        except LookupError:
            raise InputError(
                f"unknown encoding {given!r}", fix="use e.g. utf-8, cp1252 or latin-1"
            ) from None
        return given
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # A sample shorter than SAMPLE_BYTES is the whole file, which must not end
        # mid-character; a longer one may stop inside a character the file goes on with.
        final = len(sample) < SAMPLE_BYTES
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=final)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the file is not UTF-8 (byte 0x{sample[exc.start]:02x} at offset {exc.start})",
            where=str(source),
            fix="give its encoding with --encoding (for example cp1252 or latin-1)",
        ) from None
    return "utf-8"


@contextmanager
def _undecodable_rows(handler: Callable[..., Any]) -> Iterator[list[UnicodeDecodeError]]:
    """pyarrow turns a malformed row's bytes into text before it calls ``handler``; bytes
    that are not UTF-8 fail there, inside pyarrow, which then refuses the file. Python
    would print that failure on stderr as "Exception ignored", a traceback to the user;
    this keeps exactly those failures (any other goes to the hook there was) so that the
    refusal can say what was wrong. The hook is process-wide: staging reads one file at
    a time."""
    caught: list[UnicodeDecodeError] = []
    previous = sys.unraisablehook

    def hook(args: Any) -> None:
        if args.object is handler and isinstance(args.exc_value, UnicodeDecodeError):
            caught.append(args.exc_value)
        else:
            previous(args)

    sys.unraisablehook = hook
    try:
        yield caught
    finally:
        sys.unraisablehook = previous


def _stage_csv(
    table: TableSpec, source: Path, dest: Path, encoding: str | None, delimiter: str | None
) -> StagedTable:
    with source.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise InputError("the file is empty", where=str(source), fix="export the extract again")
    enc = _detect_encoding(sample, encoding, source)
    text = sample.decode(enc, errors="ignore")
    if delimiter is None:
        try:
            delimiter = (
                csv.Sniffer().sniff(text.split("\n", 5)[0] + "\n", delimiters=DELIMITERS).delimiter
            )
        except csv.Error:
            delimiter = ","
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    except csv.Error as exc:  # a header field over the csv module's limit (128 KiB)
        raise InputError(
            f"the header row cannot be read as CSV ({exc})",
            where=str(source),
            fix="check the export, or give its encoding with --encoding",
        ) from None
    names = _check_header(header, table, source)
    malformed: list[MalformedRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # Never keep the row's text: it may hold identifiers.
        number = None if row.number is None else row.number - 1
        malformed.append(
            MalformedRow(
                number, f"{row.actual_columns} fields where {row.expected_columns} were expected"
            )
        )
        return "skip"

    read = pacsv.ReadOptions(
        encoding="utf8" if enc == "utf-8" else enc,
        block_size=BLOCK_BYTES,
        use_threads=False,  # rows and skipped-row reports must arrive in file order
        column_names=names,
        skip_rows=1,
    )
    parse = pacsv.ParseOptions(
        delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
    )
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    with _undecodable_rows(on_invalid) as undecodable:
        try:
            reader = pacsv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
            rows = _write_staging(table, names, (b for b in reader), dest, malformed)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            # The exception's text is not shown: pyarrow puts the offending row in it.
            hint = (
                "not valid UTF-8"
                if undecodable or "UTF8" in str(exc) or isinstance(exc, UnicodeDecodeError)
                else "unreadable"
            )
            raise InputError(
                f"the file is {hint}",
                where=str(source),
                fix="check the export, or give its encoding with --encoding",
            ) from None
    return StagedTable(table.name, source, dest, rows, malformed)


def _stage_parquet(table: TableSpec, source: Path, dest: Path) -> StagedTable:
    try:
        pf = pq.ParquetFile(source)
        schema_names = list(pf.schema_arrow.names)
    # ValueError: a damaged footer can name a column in bytes that are not UTF-8.
    except (pa.ArrowException, OSError, ValueError):
        raise InputError(
            "not a readable Parquet file", where=str(source), fix="export it again"
        ) from None
    names = _check_header(schema_names, table, source)

    def batches() -> object:
        for b in pf.iter_batches(batch_size=500_000):
            cols = []
            for name, col in zip(names, b.columns, strict=True):
                try:
                    if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
                        col = col.cast(pa.date32()).cast(pa.string())
                    elif not pa.types.is_string(col.type):
                        col = col.cast(pa.string())
                except pa.ArrowException:
                    raise InputError(
                        f"column {name!r} ({col.type}) cannot be read as text",
                        where=str(source),
                        fix="export it as text, numbers or dates",
                    ) from None
                cols.append(col)
            yield pa.RecordBatch.from_arrays(cols, names=names)

    try:
        rows = _write_staging(table, names, batches(), dest, [])
    except (pa.ArrowException, OSError, ValueError):
        raise InputError(
            "not a readable Parquet file", where=str(source), fix="export it again"
        ) from None
    return StagedTable(table.name, source, dest, rows, [])


def _write_staging(
    table: TableSpec, names: list[str], batches: object, dest: Path, malformed: list[MalformedRow]
) -> int:
    schema = pa.schema([("_row", pa.int64())] + [(c, pa.string()) for c in table.column_names])
    writer = pq.ParquetWriter(dest, schema, compression="zstd")
    row = 0
    try:
        for batch in batches:  # type: ignore[attr-defined]
            n = batch.num_rows
            if n == 0:
                continue
            cols = {name: batch.column(i) for i, name in enumerate(names)}
            good = np.arange(row + 1, row + n + 1, dtype=np.int64)
            arrays = [pa.array(_file_rows(good, malformed), type=pa.int64())]
            for c in table.column_names:
                arrays.append(cols.get(c, pa.nulls(n, type=pa.string())))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            row += n
    finally:
        writer.close()
    return row


def _file_rows(good: np.ndarray, malformed: list[MalformedRow]) -> np.ndarray:
    """Data row numbers in the file of the ``good``-th readable rows, allowing for the
    malformed rows skipped before them (good row g follows skipped row j when
    g >= m_j - j)."""
    m = np.sort(np.array([r.row for r in malformed if r.row is not None], dtype=np.int64))
    if not len(m):
        return good
    return good + np.searchsorted(m - np.arange(len(m)), good, side="right")


def stage_table(
    table: TableSpec,
    source: Path,
    dest: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> StagedTable:
    """Stage ``source`` at ``dest``; a refused file leaves nothing at ``dest``."""
    try:
        if source.suffix.lower() == ".parquet":
            staged = _stage_parquet(table, source, dest)
        else:
            staged = _stage_csv(table, source, dest, encoding, delimiter)
        if staged.rows == 0 and not staged.malformed:
            raise InputError(
                "the file has a header but no rows",
                where=str(source),
                fix="export the extract again",
            )
    except BaseException:
        # The staging writer may have started: a half-written file must not outlive it.
        dest.unlink(missing_ok=True)
        raise
    return staged
