"""What the portal knows about datasets: their specs (columns, code lists, provider) and,
from the databank's catalogue, their versions, row counts and linkage rates, protected
for publication."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fjdp.databank.load import LINK_COLUMNS
from fjdp.disclosure.protect import protect, show
from fjdp.specs import all_specs
from fjdp.specs.model import ColumnType, DatasetSpec, Role, TableSpec
from fjdp.types import LinkStatus

LINKED = frozenset(s.value for s in LinkStatus.default_included())


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    codes: tuple[str, ...] | None
    description: str
    linkage: bool = False


def table_columns(t: TableSpec) -> list[Column]:
    """The columns a project can ask for: content, and the linkage columns of each
    person in the row (never identifiers, never alf_e)."""
    cols = [
        Column(c.name, c.type.value, c.codes, c.description or "")
        for c in t.columns
        if c.role is Role.CONTENT
    ]
    single = len(t.person_id_columns) == 1
    for group, _col in t.person_id_columns:
        for c in LINK_COLUMNS:
            if c in ("alf_e", "ralf_e"):
                continue
            name = c if single else f"{group}_{c}"
            cols.append(Column(name, "linkage", None, f"from File 3 ({group})", linkage=True))
    return cols


def date_column(t: TableSpec) -> str | None:
    """The table's first content date: where a project's date window applies."""
    for c in t.columns:
        if c.role is Role.CONTENT and c.type is ColumnType.DATE:
            return c.name
    return None


@cache
def specs() -> dict[str, DatasetSpec]:
    return {s.name: s for s in all_specs()}


def column_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped choices ``dataset.table.column`` (and ``dataset.table.*``) for forms."""
    out = []
    for spec in specs().values():
        for t in spec.tables:
            group = [(f"{spec.name}.{t.name}.*", f"{t.name}: every column")]
            group += [
                (f"{spec.name}.{t.name}.{c.name}", f"{t.name}.{c.name}") for c in table_columns(t)
            ]
            out.append((f"{spec.title} ({spec.name}) — {t.name}", group))
    return out


def tables_from_choices(
    chosen: list[str], with_dates: bool
) -> dict[str, dict[str, dict[str, object]]]:
    """``dataset -> table -> {columns, date_column}`` from chosen ``dataset.table.column``."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for item in chosen:
        ds, table, col = item.split(".", 2)
        entry = out.setdefault(ds, {}).setdefault(table, {"columns": [], "date_column": None})
        if col == "*":
            entry["columns"] = "*"
        elif entry["columns"] != "*":
            assert isinstance(entry["columns"], list)
            entry["columns"].append(col)
    for ds, tables in out.items():
        for tname, entry in tables.items():
            if with_dates:
                entry["date_column"] = date_column(specs()[ds].table(tname))
    return out


def choices_from_tables(tables_by_ds: dict[str, dict[str, dict[str, object]]]) -> list[str]:
    out = []
    for ds, tables in tables_by_ds.items():
        for tname, entry in tables.items():
            cols = entry["columns"]
            if cols == "*":
                out.append(f"{ds}.{tname}.*")
            else:
                assert isinstance(cols, list)
                out += [f"{ds}.{tname}.{c}" for c in cols]
    return out


@dataclass(frozen=True)
class Holding:
    """What the databank holds of a dataset, fit for a public page."""

    version: int | None
    rows: dict[str, str]
    linkage_rate: str
    years: str


def holding(bank: Path, name: str) -> Holding:
    """Row counts rounded to base 5 with counts under 10 suppressed, and the share of
    persons linked computed from protected counts."""
    from fjdp.databank.catalogue import CATALOGUE, latest

    if not (bank / CATALOGUE).exists():
        return Holding(None, {}, "not loaded", "")
    try:
        v = latest(bank).get(name)
    except Exception:  # a catalogue being written or unreadable: show nothing rather than fail
        return Holding(None, {}, "unavailable", "")
    if v is None:
        return Holding(None, {}, "not loaded", "")
    rows = {t: show(protect(n)) for t, n in sorted(v.rows.items())}
    linked = sum(n for s, n in v.link_status.items() if s in LINKED)
    total = sum(v.link_status.values())
    p_linked, p_total = protect(linked), protect(total)
    rate = f"{p_linked / p_total:.0%}" if p_linked is not None and p_total else "suppressed"
    return Holding(v.version, rows, rate, _years(bank, v.path(bank), specs()[name]))


def _years(bank: Path, folder: Path, spec: DatasetSpec) -> str:
    import duckdb

    for t in spec.tables:
        col = date_column(t)
        path = folder / f"{t.name}.parquet"
        if col is None or not path.exists():
            continue
        con = duckdb.connect()
        try:
            lo, hi = con.execute(
                "select min(year(c)), max(year(c)) from (select "  # noqa: S608
                f'"{col}" as c from read_parquet(?))',
                [str(path)],
            ).fetchall()[0]
        finally:
            con.close()
        if lo is not None:
            return f"{lo}–{hi}"
    return ""
