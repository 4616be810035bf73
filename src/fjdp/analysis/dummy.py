"""Dummy data: tables shaped like a workspace's, made from its schema alone.

A researcher writes and runs a definition against dummy data outside the environment;
the same file then runs unchanged on the real workspace inside. The dummy folder is
laid out as a provisioned workspace (``data/<dataset>/<table>.parquet``,
``reference/lsoa_deprivation.parquet``, ``workspace.duckdb``, ``workspace.json`` with
``"dummy": true``), so every engine reads it the same way.

The values are random but made to be useful to the definition they are made for:

- one pool of persons (``alf_pe`` ``dummy-000001`` ...) across every dataset, so
  tables join by person as real ones do, each with a week of birth, sex and area;
- coded columns take the spec's codes, and the codes a definition tests for
  (``is_in``, ``==``, ``starts_with``) half of the time, so its filters find rows;
- dates fall between 2005 and 2023 (widened to take in the dates a definition names),
  later dates of the spec's date-order checks after earlier ones;
- link statuses are the accepted ones, with one row in ten ``PROB_POSSIBLE`` so a
  sensitivity analysis (``--links possible``) sees a difference;
- references point at rows of the referenced table; every person of the court's
  persons table is on at least one application.

Nothing here reads a real row: the schema comes from the dataset specs and, for a
workspace, from its Parquet files' column names.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.analysis import model as m
from fjdp.analysis.tables import DEPRIVATION_VIEW
from fjdp.errors import OutputError
from fjdp.specs import DatasetSpec
from fjdp.specs.model import ColumnSpec, ColumnType, Format, Role, reference_column
from fjdp.sql import lit, q
from fjdp.types import LinkStatus

DEFAULT_PEOPLE = 500
START, END = dt.date(2005, 1, 1), dt.date(2023, 12, 31)
_LSOAS = tuple(f"W0100{i:04d}" for i in range(1, 51))
_ACCEPTED = sorted(s.value for s in LinkStatus.default_included())


@dataclass
class Hints:
    """What a definition looks for: codes per column name, code prefixes, dates."""

    codes: dict[str, set[object]] = field(default_factory=dict)
    prefixes: dict[str, set[str]] = field(default_factory=dict)
    dates: list[dt.date] = field(default_factory=list)

    def for_column(self, name: str) -> tuple[list[object], list[str]]:
        """Codes and prefixes wanted for a physical column: asked of it by its own name
        or by a name it takes in a joined table (``application_type``, ``case_law_type``
        for ``law_type``)."""
        codes: set[object] = set()
        prefixes: set[str] = set()
        for k, v in self.codes.items():
            if k == name or k.endswith("_" + name):
                codes |= v
        for k, p in self.prefixes.items():
            if k == name or k.endswith("_" + name):
                prefixes |= p
        return sorted(codes, key=str), sorted(prefixes)


def hints(dataset: m.Dataset | None) -> Hints:
    out = Hints()
    if dataset is None:
        return out
    for n in m.walk(dataset):
        match n:
            case m.IsIn(source=m.Column(name=name), values=values, prefix=prefix):
                if prefix:
                    out.prefixes.setdefault(name, set()).update(str(v) for v in values)
                else:
                    out.codes.setdefault(name, set()).update(values)
            case m.Function(op=m.Op.EQ | m.Op.NE, args=(m.Column(name=name), m.Value(value=v))):
                out.codes.setdefault(name, set()).add(v)
            case m.Value(value=v) if isinstance(v, dt.date):
                out.dates.append(v)
    return out


class _Gen:
    def __init__(self, people: int, seed: int, hint: Hints) -> None:
        self.rng = np.random.default_rng(seed)
        self.hint = hint
        self.people = np.array([f"dummy-{i:06d}" for i in range(1, people + 1)], dtype=object)
        n = len(self.people)
        births = self.rng.integers(
            (dt.date(1965, 1, 4) - dt.date(1970, 1, 1)).days // 7,
            (dt.date(2023, 6, 5) - dt.date(1970, 1, 1)).days // 7,
            n,
        )
        # weeks of birth are Mondays, as File 3 gives them
        self.week_of_birth = np.array(
            [dt.date(1970, 1, 5) + dt.timedelta(weeks=int(w)) for w in births], dtype=object
        )
        self.sex = self.rng.choice(np.array(["F", "M"], dtype=object), n)
        self.lsoa = self.rng.choice(np.array(_LSOAS, dtype=object), n)
        self.ralf = np.array([f"dummy-home-{i // 3:06d}" for i in range(n)], dtype=object)
        start = min([START, *hint.dates]) - dt.timedelta(days=365)
        end = max([END, *hint.dates]) + dt.timedelta(days=365)
        self.start, self.days = start, (end - start).days

    def dates(self, n: int) -> np.ndarray:
        off = self.rng.integers(0, self.days, n)
        return np.array([self.start + dt.timedelta(days=int(d)) for d in off], dtype=object)

    def column(self, c: ColumnSpec, n: int) -> pa.Array:
        codes, prefixes = self.hint.for_column(c.name)
        rng = self.rng
        if c.type is ColumnType.DATE:
            return pa.array(self.dates(n), type=pa.date32())
        if c.type is ColumnType.BOOL:
            return pa.array(rng.random(n) < 0.3, type=pa.bool_())
        if c.type is ColumnType.INT:
            lo = c.min if isinstance(c.min, int) else 0
            hi = c.max if isinstance(c.max, int) else 100
            if codes:
                vals = [int(v) for v in codes if isinstance(v, int)] or [lo]
                pick = rng.choice(np.array(vals), n)
                return pa.array(np.where(rng.random(n) < 0.5, pick, rng.integers(lo, hi + 1, n)))
            return pa.array(rng.integers(lo, hi + 1, n), type=pa.int64())
        if c.type is ColumnType.FLOAT:
            return pa.array(rng.random(n) * 100, type=pa.float64())
        base: list[object]
        if c.codes:
            base = list(c.codes)
        elif c.format is Format.ICD10:
            base = [f"{chr(65 + i % 26)}{i % 100:02d}" for i in range(0, 2600, 37)]
        else:
            base = [f"{c.name.replace('_', ' ')} {i}" for i in range(1, 6)]
        wanted = [str(v) for v in codes] + [f"{p}{rng.integers(0, 10)}" for p in prefixes]
        out = rng.choice(np.array(base, dtype=object), n)
        if wanted:
            hit = rng.random(n) < 0.5
            out = np.where(hit, rng.choice(np.array(wanted, dtype=object), n), out)
        return pa.array(out, type=pa.string())

    def link(self, idx: np.ndarray, prefix: str = "") -> dict[str, pa.Array]:
        n = len(idx)
        status = self.rng.choice(np.array(_ACCEPTED, dtype=object), n)
        status = np.where(self.rng.random(n) < 0.1, LinkStatus.PROB_POSSIBLE.value, status)
        return {
            f"{prefix}alf_pe": pa.array(self.people[idx], type=pa.string()),
            f"{prefix}ralf_pe": pa.array(self.ralf[idx], type=pa.string()),
            f"{prefix}link_status": pa.array(status, type=pa.string()),
            f"{prefix}link_score": pa.array(0.9 + self.rng.random(n) / 10, type=pa.float64()),
            f"{prefix}week_of_birth": pa.array(self.week_of_birth[idx], type=pa.date32()),
            f"{prefix}sex": pa.array(self.sex[idx], type=pa.string()),
            f"{prefix}lsoa": pa.array(self.lsoa[idx], type=pa.string()),
        }


def _dataset_tables(spec: DatasetSpec, g: _Gen) -> dict[str, pa.Table]:
    referenced = {c.references for t in spec.tables for c in t.columns if c.references}
    n_people = len(g.people)
    out: dict[str, pa.Table] = {}
    ids: dict[str, np.ndarray] = {}
    dates: dict[str, dict[str, np.ndarray]] = {}
    court_people = g.rng.choice(n_people, max(1, n_people // 2), replace=False)
    for t in spec.table_order:
        cols: dict[str, pa.Array] = {}
        refs = [c for c in t.columns if c.role is Role.REFERENCE]
        if len(t.persons) == 1 and t.name in referenced:
            idx = np.sort(court_people)  # one row per person, as a court's persons table
        elif len(t.persons) >= 1:
            idx = g.rng.integers(0, n_people, n_people * 2)
        elif refs and any(spec.table(str(r.references)).persons for r in refs):
            # rows about a person: every person of the referenced table at least once
            pref = next(r for r in refs if spec.table(str(r.references)).persons)
            owners = len(ids[str(pref.references)])
            idx = np.concatenate([np.arange(owners), g.rng.integers(0, owners, owners // 2)])
        else:
            idx = np.arange(max(4, n_people // 5))
        n = len(idx)
        if t.name in referenced:
            ids[t.name] = np.array([f"{t.name}-{i:06d}" for i in range(n)], dtype=object)
            cols["system_id"] = pa.array(ids[t.name], type=pa.string())
        if len(t.persons) == 1:
            cols.update(g.link(idx))
        elif t.persons:
            for grp in t.persons:
                cols.update(g.link(g.rng.integers(0, n_people, n), prefix=f"{grp.name}_"))
        person_ref = next((r for r in refs if spec.table(str(r.references)).persons), None)
        for r in refs:
            target = ids[str(r.references)]
            # the row's own person follows idx; other references point anywhere
            pick = idx % len(target) if r is person_ref else g.rng.integers(0, len(target), n)
            cols[reference_column(r.name)] = pa.array(target[pick], type=pa.string())
        for c in t.columns:
            if c.role is Role.CONTENT:
                cols[c.name] = g.column(c, n)
        for chk in t.checks:
            if chk.later not in cols:
                continue
            if chk.via is None and chk.earlier in cols:
                early = np.array(cols[chk.earlier].to_pylist(), dtype=object)
            elif chk.via is not None:
                parent, _, pcol = chk.earlier.partition(".")
                keys = cols[reference_column(chk.via)].to_pylist()
                pos = {k: i for i, k in enumerate(ids.get(parent, []))}
                pdates = dates.get(parent, {}).get(pcol)
                if pdates is None:
                    continue
                early = np.array([pdates[pos[k]] for k in keys], dtype=object)
            else:
                continue
            later = [
                e + dt.timedelta(days=int(d)) if e is not None else None
                for e, d in zip(early, g.rng.integers(0, 400, n), strict=True)
            ]
            cols[chk.later] = pa.array(later, type=pa.date32())
        dates[t.name] = {
            c.name: np.array(cols[c.name].to_pylist(), dtype=object)
            for c in t.columns
            if c.type is ColumnType.DATE and c.name in cols
        }
        out[t.name] = pa.table(cols)
    return out


def _deprivation() -> pa.Table:
    n = len(_LSOAS)
    rank = np.arange(1, n + 1)
    decile = (rank - 1) * 10 // n + 1
    return pa.table(
        {
            "lsoa": list(_LSOAS),
            "lsoa_name": [f"Dummy area {i}" for i in range(1, n + 1)],
            "local_authority": [f"Dummy authority {(i % 5) + 1}" for i in range(n)],
            "deprivation_rank": pa.array(rank, type=pa.int32()),
            "deprivation_decile": pa.array(decile, type=pa.int32()),
            "deprivation_quintile": pa.array((decile + 1) // 2, type=pa.int32()),
            "index": ["dummy"] * n,
        }
    )


def write_dummy(
    out: Path,
    specs: list[DatasetSpec],
    present: Mapping[str, set[str]] | None = None,
    *,
    dataset: m.Dataset | None = None,
    people: int = DEFAULT_PEOPLE,
    seed: int = 1,
    force: bool = False,
) -> dict[str, int]:
    """Write dummy tables for ``specs`` under ``out``, laid out as a workspace; with
    ``present`` (view -> column names, a workspace's schema), only those tables and
    columns. Returns rows per view."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force and not (out / "workspace.json").is_file():
            raise OutputError(
                "the output folder is not empty", where=str(out), fix="choose an empty folder"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    g = _Gen(people, seed, hints(dataset))
    rows: dict[str, int] = {}
    for spec in specs:
        for tname, table in _dataset_tables(spec, g).items():
            view = f"{spec.name}.{tname}"
            if present is not None:
                if view not in present:
                    continue
                table = table.select([c for c in table.column_names if c in present[view]])
            dest = out / "data" / spec.name / f"{tname}.parquet"
            dest.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, dest)
            rows[view] = table.num_rows
    if present is None or DEPRIVATION_VIEW in present:
        dest = out / "reference" / "lsoa_deprivation.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_deprivation(), dest)
        rows[DEPRIVATION_VIEW] = len(_LSOAS)
    _write_db(out, rows)
    meta = {
        "project": "dummy",
        "dummy": True,
        "people": people,
        "seed": seed,
        "rows": rows,
        "scope": {"link_statuses": [s.value for s in LinkStatus]},
    }
    (out / "workspace.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return rows


def _write_db(out: Path, rows: Mapping[str, int]) -> None:
    """Views over the dummy Parquet files by relative path, as a workspace has."""
    con = duckdb.connect(str(out / "workspace.duckdb"))
    try:
        con.execute(f"set file_search_path = {lit(str(out))}")
        for schema in sorted({v.split(".")[0] for v in rows}):
            con.execute(f"create schema {q(schema)}")
        for view in rows:
            schema, table = view.split(".")
            rel = (
                f"reference/{table}.parquet"
                if schema == "reference"
                else f"data/{schema}/{table}.parquet"
            )
            con.execute(
                f"create view {q(schema)}.{q(table)} as select * from read_parquet({lit(rel)})"
            )
        con.execute("checkpoint")
    finally:
        con.close()
