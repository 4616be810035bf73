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
from fjdp.sql import lit, q

TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".txt", ".md", ".html", ".log", ".yaml", ".yml"}
NAME_COLUMNS = ("forename", "surname", "middle_name", "given_name", "family_name")
LINK_COLUMNS = re.compile(r"^(?:.*_)?r?alf(?:_e)?$")
NHS_TEXT = re.compile(r"(?<![0-9])([0-9]{3}) ?([0-9]{3}) ?([0-9]{4})(?![0-9])")
POSTCODE_TEXT = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b")
HEX64 = re.compile(r"\b[0-9a-fA-F]{64}\b")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
TOKEN = re.compile(r"[A-Z0-9]+")
DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]{64,}")


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
    _starts: dict[tuple[str, ...], set[int]] | None = field(default=None, repr=False, compare=False)

    def add(self, kind: str, items: Iterable[str]) -> None:
        self.values.setdefault(kind, set()).update(items)
        self._starts = None

    def address_starts(self) -> dict[tuple[str, ...], set[int]]:
        """The first two words of each address line -> the lengths, in words, of the
        lines that start so: a text is searched by looking up each pair of its words,
        not by joining every run of words."""
        if self._starts is None:
            starts: dict[tuple[str, ...], set[int]] = {}
            for a in self.values.get("address", ()):
                words = a.split()
                starts.setdefault(tuple(words[:2]), set()).add(len(words))
            self._starts = starts
        return self._starts

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
    synthetic world's provider extracts), by the meaning of each column's name. Each
    column is normalised and made distinct in DuckDB: a national spine has millions."""
    ids = Identifiers(min_name=min_name)
    codes = _code_values()
    con = duckdb.connect()
    try:
        for source in sources:
            files = [source] if source.is_file() else sorted(source.rglob("*.parquet"))
            for f in files:
                if "truth" in f.parts:
                    continue
                schema = pq.read_schema(f)
                src = f"read_parquet({lit(str(f))})"
                ids.add("full_name", _full_names(con, src, schema.names))
                for name in schema.names:
                    kind = _kind_of(name)
                    if kind is None or kind == "date_of_birth":
                        continue
                    v = f"cast({q(name)} as varchar)"
                    expr, keep = {
                        "nhs_number": (f"regexp_replace({v}, '\\s', '', 'g')", "true"),
                        "postcode": (_normal_sql("postcode", v), "length(x) >= 5"),
                        "address": (_normal_sql("address", v), f"length({v}) >= 8"),
                    }.get(kind, (f"upper(trim({v}))", f"length(trim({v})) >= {int(min_name)}"))
                    rows = con.execute(
                        f"""select distinct x from (select {expr} as x, * from {src}
                            where {v} is not null and trim({v}) <> '') where {keep}"""
                    ).fetchall()
                    values = {str(r[0]) for r in rows}
                    ids.add(kind, values - codes if kind == "name" else values)
    finally:
        con.close()
    return ids


def _full_names(con: duckdb.DuckDBPyConnection, src: str, columns: list[str]) -> set[str]:
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
        a, b = f"cast({q(fore)} as varchar)", f"cast({q(sur)} as varchar)"
        rows = con.execute(
            f"""select distinct upper(trim({a})) || ' ' || upper(trim({b})) from {src}
                where coalesce({a}, '') <> '' and coalesce({b}, '') <> ''"""
        ).fetchall()
        out.update(str(r[0]) for r in rows)
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


_FORMS = {"postcode": "nospace", "nhs_number": "nospace", "address": "words"}
"""The normal form each kind is kept in; any other kind is upper case, trimmed."""


def _normal_sql(kind: str, column: str) -> str:
    """A column's values in the form the identifiers of ``kind`` are kept in (upper case;
    postcodes and NHS numbers without spaces; address lines as their words)."""
    form = _FORMS.get(kind, "upper")
    if form == "nospace":
        return f"replace(upper({column}), ' ', '')"
    if form == "words":
        return f"array_to_string(regexp_extract_all(upper({column}), '[A-Z0-9]+'), ' ')"
    return f"upper(trim({column}))"


def _register_ids(con: duckdb.DuckDBPyConnection, ids: Identifiers) -> str:
    """Every identifier as a row (form, kind, v) of one table of the connection, so a
    column is compared with one join rather than value by value. Returns its name."""
    forms, kinds, values = [], [], []
    for kind, vs in sorted(ids.values.items()):
        forms += [_FORMS.get(kind, "upper")] * len(vs)
        kinds += [kind] * len(vs)
        values += sorted(vs)
    name = "_ids"
    con.register("_ids_arrow", pa.table({"form": forms, "kind": kinds, "v": values}))
    con.execute(f"create temp table {name} as select * from _ids_arrow")
    con.unregister("_ids_arrow")
    return name


def _string_columns(table: pa.Table) -> list[str]:
    return [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def _scan_columns(
    con: duckdb.DuckDBPyConnection, table: pa.Table, file: str, ids_table: str
) -> list[Finding]:
    """Every string column against every kind, in DuckDB; date columns by meaning."""
    out: list[Finding] = []
    con.register("_t", table)
    try:
        columns = _string_columns(table)
        if columns:
            # Every string column's distinct values in one query joined once with every
            # kind: a value of letters and digits only (ids, codes, pseudonyms) has one
            # normal form; any other value is compared in the form of each kind.
            distinct = " union all ".join(
                f"select {lit(col)} as col, raw from (select distinct {q(col)} as raw "
                f"from _t where {q(col)} is not null)"
                for col in columns
            )
            hits = con.execute(
                f"""with d as ({distinct}),
                    p as (select col, raw, regexp_full_match(raw, '[A-Za-z0-9]*') as plain
                          from d),
                    n as (select col, 'any' as form, upper(raw) as v from p where plain
                          union all select col, 'upper', {_normal_sql("name", "raw")}
                            from p where not plain
                          union all select col, 'nospace', {_normal_sql("postcode", "raw")}
                            from p where not plain
                          union all select col, 'words', {_normal_sql("address", "raw")}
                            from p where not plain)
                    select n.col, i.kind, min(n.v) from n join {ids_table} i
                      on i.v = n.v and (n.form = 'any' or n.form = i.form)
                    group by n.col, i.kind order by n.col, i.kind"""
            ).fetchall()
            out += [Finding(file, str(col), str(kind), _mask(str(v))) for col, kind, v in hits]
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
    # An image inlined in a self-contained report is base64, not words: searching it
    # costs most of the time and finds nothing a reader could see.
    text = DATA_URI.sub(" ", text)
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
    starts = ids.address_starts()
    if addresses:
        # One pass over the text's words: where two words start an address line, the
        # runs of that line's lengths are compared.
        tokens = TOKEN.findall(upper)
        for i in range(len(tokens)):
            for key in (tuple(tokens[i : i + 2]), (tokens[i],)):
                for n in starts.get(key, ()):
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
    con: duckdb.DuckDBPyConnection,
    name: str,
    data: bytes,
    ids: Identifiers,
    ids_table: str,
) -> tuple[list[Finding], bool]:
    suffix = Path(name.rsplit("!", 1)[-1]).suffix.lower()  # a zip member: its own name
    if suffix == ".parquet":
        return _scan_columns(con, pq.read_table(io.BytesIO(data)), name, ids_table), True
    if suffix in TEXT_SUFFIXES:
        return _scan_text(data.decode("utf-8", errors="replace"), name, ids), True
    if suffix == ".zip":
        found: list[Finding] = []
        ok = True
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                if member.endswith("/"):
                    continue
                f, readable = _scan_bytes(con, f"{name}!{member}", z.read(member), ids, ids_table)
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
    ids_table = _register_ids(con, ids)
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
                    findings += _scan_columns(con, table, f"{rel}:{tname}", ids_table)
                continue
            found, readable = _scan_bytes(con, rel, path.read_bytes(), ids, ids_table)
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
