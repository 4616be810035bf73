"""The leak scanner: identifiers or linking fields where they must never be.

``scan(zone, identifiers, pseudonyms)`` reads every file under a databank zone, a
workspace or a release folder (Parquet, DuckDB, CSV, JSON, text, logs, HTML reports and
zip bundles, recursively) and reports each value found that is

- an identifier from the given File 1s, spine or provider extracts: an NHS number (with
  or without spaces), a postcode (with or without its space, any case), an address
  line, a person's forename followed by their surname (in any text), a forename or
  surname of at least ``min_name`` letters that is not a code value of any dataset spec
  (as a whole value of a column); or a column that holds full dates of birth (a date
  column named for a birth whose values are not all week starts: week of birth is the
  coarsened form allowed);
- a linking value from the given zones: a raw ALF/RALF (the TTP's), or an ALF_E/RALF_E
  (the databank's) inside a workspace or a release.

Event dates are not compared with dates of birth: with a whole population's birth dates
nearly every calendar day is someone's birthday, so only the column's meaning can say
that a date is a date of birth. Images (PNG) are not read; their counts tables are.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.specs import all_specs
from fjdp.sql import q

TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".txt", ".md", ".html", ".log", ".yaml", ".yml"}
NAME_COLUMNS = ("forename", "surname", "middle_name", "given_name", "family_name")
LINK_COLUMNS = re.compile(r"^(?:.*_)?r?alf(?:_e)?$")
NHS_TEXT = re.compile(r"(?<![0-9])([0-9]{3}) ?([0-9]{3}) ?([0-9]{4})(?![0-9])")
POSTCODE_TEXT = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b")
HEX64 = re.compile(r"\b[0-9a-fA-F]{64}\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
TOKEN = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the scanned folder; "bundle.zip!member" inside a zip
    where: str  # the column, or "text"
    kind: str  # nhs_number, postcode, name, address, date_of_birth, alf, alf_e
    example: str  # the value, masked: what was found, never the whole identifier

    def line(self) -> str:
        return f"{self.file} [{self.where}]: {self.kind} ({self.example})"


@dataclass
class Identifiers:
    """Normalised identifier values (upper case; postcodes and NHS numbers without
    spaces) by kind, and the linking values by kind (alf: raw, alf_e: the databank's)."""

    values: dict[str, set[str]] = field(default_factory=dict)
    min_name: int = 6

    def add(self, kind: str, items: Iterable[str]) -> None:
        self.values.setdefault(kind, set()).update(items)

    @property
    def kinds(self) -> list[str]:
        return sorted(k for k, v in self.values.items() if v)


@dataclass(frozen=True)
class ScanResult:
    folder: Path
    files: int
    unreadable: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.findings


def _mask(value: str) -> str:
    """Enough of a value to find it, not enough to use it."""
    value = str(value)
    return value[:2] + "…" + value[-1:] if len(value) > 4 else "…"


def _code_values() -> set[str]:
    out: set[str] = set()
    for spec in all_specs():
        for t in spec.tables:
            for c in t.columns:
                out.update(v.upper() for v in (c.codes or ()))
    return out


def _address(v: str) -> str:
    """An address line as its words and numbers, whatever the punctuation around them."""
    return " ".join(TOKEN.findall(v.upper()))


def _norm_pc(v: str) -> str:
    return v.replace(" ", "").upper()


def _kind_of(column: str) -> str | None:
    c = column.lower()
    if "nhs" in c:
        return "nhs_number"
    if "postcode" in c:
        return "postcode"
    if "address_line" in c:
        return "address"
    if any(n in c for n in NAME_COLUMNS):
        return "name"
    if c in ("date_of_birth", "dob", "birth_date") or c.endswith("_date_of_birth"):
        return "date_of_birth"
    return None


def load_identifiers(sources: Iterable[Path], *, min_name: int = 6) -> Identifiers:
    """Identifier values from Parquet files under ``sources`` (File 1s, a spine, a
    synthetic world's provider extracts), by the meaning of each column's name."""
    ids = Identifiers(min_name=min_name)
    codes = _code_values()
    for source in sources:
        files = [source] if source.is_file() else sorted(source.rglob("*.parquet"))
        for f in files:
            if "truth" in f.parts:
                continue
            schema = pq.read_schema(f)
            ids.add("full_name", _full_names(f, schema.names))
            for name in schema.names:
                kind = _kind_of(name)
                if kind is None or kind == "date_of_birth":
                    continue
                col = pq.read_table(f, columns=[name]).column(0)
                vals = {str(v) for v in col.to_pylist() if v is not None and str(v).strip()}
                if kind == "nhs_number":
                    ids.add(kind, {re.sub(r"\s", "", v) for v in vals})
                elif kind == "postcode":
                    ids.add(kind, {_norm_pc(v) for v in vals if len(_norm_pc(v)) >= 5})
                elif kind == "address":
                    ids.add(kind, {_address(v) for v in vals if len(v) >= 8})
                else:
                    ids.add(
                        kind,
                        {
                            v.upper().strip()
                            for v in vals
                            if len(v.strip()) >= min_name and v.upper().strip() not in codes
                        },
                    )
    return ids


def _full_names(f: Path, columns: list[str]) -> set[str]:
    """ "FORENAME SURNAME" of each row, for each forename/surname pair of columns that
    share a prefix (``forename1``/``surname``, ``mother_forename``/``mother_surname``)."""
    out: set[str] = set()
    for fore in columns:
        low = fore.lower()
        if "forename" not in low:
            continue
        prefix = low.split("forename")[0]
        sur = next((c for c in columns if c.lower() == f"{prefix}surname"), None)
        if sur is None or (low != f"{prefix}forename" and low != f"{prefix}forename1"):
            continue
        t = pq.read_table(f, columns=[fore, sur])
        for a, b in zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True):
            if a and b:
                out.add(f"{str(a).strip().upper()} {str(b).strip().upper()}")
    return out


def load_pseudonyms(sources: Iterable[Path], ids: Identifiers) -> Identifiers:
    """Linking values that must not appear where a scan looks: raw ``alf``/``ralf``
    (a File 3) and ``alf_e``/``ralf_e`` (a databank zone's versions), from any Parquet
    column so named under ``sources``."""
    for source in sources:
        files = [source] if source.is_file() else sorted(source.rglob("*.parquet"))
        for f in files:
            for name in pq.read_schema(f).names:
                if not LINK_COLUMNS.match(name):
                    continue
                kind = "alf_e" if name.endswith("_e") else "alf"
                col = pq.read_table(f, columns=[name]).column(0)
                ids.add(kind, {str(v).upper() for v in col.to_pylist() if v})
    return ids


# --- scanning -----------------------------------------------------------------------


def _normal(kind: str, value: str, nospace: str) -> str:
    """A column value in the form the identifiers of ``kind`` are kept in."""
    if kind in ("postcode", "nhs_number"):
        return nospace
    if kind == "address":
        return _address(value)
    return value


def _string_columns(table: pa.Table) -> list[str]:
    return [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def _scan_columns(
    con: duckdb.DuckDBPyConnection, table: pa.Table, file: str, ids: Identifiers
) -> list[Finding]:
    """Every string column against every kind, in DuckDB; date columns by meaning."""
    out: list[Finding] = []
    con.register("_t", table)
    try:
        for col in _string_columns(table):
            c = q(col)
            rows = con.execute(
                f"""select distinct upper(trim({c})) as v, replace(upper({c}), ' ', '') as nospace
                    from _t where {c} is not null"""
            ).fetchall()
            for kind, values in ids.values.items():
                hit = next((v for v, ns in rows if _normal(kind, v, ns) in values), None)
                if hit is not None:
                    out.append(Finding(file, col, kind, _mask(hit)))
        for f in table.schema:
            if not (pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)):
                continue
            if _kind_of(f.name) != "date_of_birth" and "birth" not in f.name.lower():
                continue
            c = q(f.name)
            not_week_start = con.execute(
                f"select count(*) from _t where {c} is not null and isodow({c}) <> 1"
            ).fetchall()[0][0]
            if not_week_start:
                out.append(Finding(file, f.name, "date_of_birth", "dates that are not week starts"))
    finally:
        con.unregister("_t")
    return out


def _scan_text(text: str, file: str, ids: Identifiers) -> list[Finding]:
    out: list[Finding] = []
    seen: set[str] = set()

    def hit(kind: str, value: str) -> None:
        if kind not in seen and value in ids.values.get(kind, ()):
            seen.add(kind)
            out.append(Finding(file, "text", kind, _mask(value)))

    for m in NHS_TEXT.finditer(text):
        hit("nhs_number", "".join(m.groups()))
    upper = text.upper()
    for m in POSTCODE_TEXT.finditer(upper):
        hit("postcode", "".join(m.groups()))
    for m in HEX64.finditer(text):
        hit("alf", m.group(0).upper())
        hit("alf_e", m.group(0).upper())
    # A single word in prose is too often also a surname; a forename followed by the
    # surname of the same record is a person.
    words = [m.group(0).upper() for m in WORD.finditer(text)]
    for a, b in itertools.pairwise(words):
        hit("full_name", f"{a} {b}")
    addresses = ids.values.get("address", set())
    if addresses:
        # Address lines are a few words long: compare every run of that many words
        # (one pass over the text, not one search per address).
        tokens = TOKEN.findall(upper)
        sizes = sorted({len(a.split()) for a in addresses})
        for n in sizes:
            for i in range(len(tokens) - n + 1):
                candidate = " ".join(tokens[i : i + n])
                if candidate in addresses:
                    out.append(Finding(file, "text", "address", _mask(candidate)))
                    return out
    return out


def _tables_of_duckdb(path: Path) -> Iterator[tuple[str, pa.Table]]:
    """Base tables only: a workspace's views read Parquet files that are scanned
    themselves (and by relative paths that only resolve from the workspace)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_type = 'BASE TABLE'"""
        ).fetchall()
        for schema, name in names:
            yield (
                f"{schema}.{name}",
                con.sql(f"select * from {q(schema)}.{q(name)}").to_arrow_table(),
            )
    finally:
        con.close()


def _scan_bytes(
    con: duckdb.DuckDBPyConnection, name: str, data: bytes, ids: Identifiers
) -> tuple[list[Finding], bool]:
    suffix = Path(name.rsplit("!", 1)[-1]).suffix.lower()  # a zip member: its own name
    if suffix == ".parquet":
        return _scan_columns(con, pq.read_table(io.BytesIO(data)), name, ids), True
    if suffix in TEXT_SUFFIXES:
        return _scan_text(data.decode("utf-8", errors="replace"), name, ids), True
    if suffix == ".zip":
        found: list[Finding] = []
        ok = True
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if member.endswith("/"):
                    continue
                f, readable = _scan_bytes(con, f"{name}!{member}", z.read(member), ids)
                found += f
                ok &= readable
        return found, ok
    if suffix == "":  # SHA256SUMS, READMEs: text when they decode as text
        try:
            return _scan_text(data.decode("utf-8"), name, ids), True
        except UnicodeDecodeError:
            return [], False
    return [], suffix in (".png",)  # an image is skipped knowingly; anything else is unread


def scan(folder: Path, ids: Identifiers) -> ScanResult:
    """Scan every file under ``folder`` (following no symbolic link out of it)."""
    con = duckdb.connect()
    findings: list[Finding] = []
    unreadable: list[str] = []
    files = 0
    root = folder.resolve()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if root not in path.resolve().parents:
            continue
        rel = path.relative_to(folder).as_posix()
        files += 1
        try:
            if path.suffix.lower() in (".duckdb", ".db"):
                for tname, table in _tables_of_duckdb(path):
                    findings += _scan_columns(con, table, f"{rel}:{tname}", ids)
                continue
            found, readable = _scan_bytes(con, rel, path.read_bytes(), ids)
            findings += found
            if not readable:
                unreadable.append(rel)
        except (OSError, duckdb.Error, pa.ArrowException, zipfile.BadZipFile, ValueError):
            unreadable.append(rel)
    return ScanResult(folder, files, tuple(unreadable), tuple(findings))


def report_json(result: ScanResult) -> str:
    return json.dumps(
        {
            "folder": str(result.folder),
            "files": result.files,
            "clean": result.clean,
            "unreadable": list(result.unreadable),
            "findings": [f.__dict__ for f in result.findings],
        },
        indent=2,
    )
