"""The tables a definition reads, generated from the dataset specs and a workspace's
schema.

Every table a researcher sees has one person per row (``alf_pe``). They are made from
the workspace's views (``docs/databank.md``) by rules, not written by hand:

- a table with one person (hospital ``admissions``, court ``persons``) is itself, with
  its content columns and the person's File 3 columns (``link_status``, ``link_score``,
  ``week_of_birth``, ``sex``, ``lsoa``, ``ralf_pe``);
- a table with several persons a row (``births``: the baby and the mother) is one table
  per person, ``births.births_baby`` and ``births.births_mother``, each with that
  person's File 3 columns unprefixed and the other's ``alf_pe`` prefixed
  (``mother_alf_pe``);
- a table without persons that refers to a table of persons (court
  ``application_persons``, ``legal_outputs``, ``relationships``) gains that person and
  the person's columns, and the columns of the other tables it refers to, prefixed by
  the reference (``application_issue_date``, ``case_local_authority``; a second person,
  ``related_person_alf_pe``), with those rows' project keys (``application_id``,
  ``case_id``) so one set of proceedings can be told from another;
- a table with an ``lsoa`` gains ``deprivation_quintile`` and ``deprivation_decile`` of
  the area when the workspace holds ``reference.lsoa_deprivation``;
- ``demographics`` has one row per person: week of birth and sex (File 3 takes them
  from the population spine, so every dataset agrees).

Tables without a person (``cases``, ``applications``, ``hearings``) are reached through
these. A column missing from a workspace (not in the project's scope) is missing here.

From a definition: ``from fjdp.analysis.tables import court_public, demographics``;
attribute access to an unknown table or column raises an error that lists the valid
ones, and ``dir()`` lists them for completion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fjdp.analysis.model import (
    ColumnSchema,
    DefinitionError,
    Kind,
    TableSchema,
    Type,
)
from fjdp.specs import DatasetSpec
from fjdp.specs.model import ColumnType, Role, TableSpec, reference_column
from fjdp.types import LinkStatus

# Set by the loader: a JSON file of the workspace's table schemas (see ``schema_json``).
SCHEMA_ENV = "FJDP_ANALYSIS_SCHEMA"

DEPRIVATION_VIEW = "reference.lsoa_deprivation"
DEMOGRAPHICS = "demographics"

_TYPES = {
    ColumnType.STRING: Type.STR,
    ColumnType.DATE: Type.DATE,
    ColumnType.INT: Type.INT,
    ColumnType.FLOAT: Type.FLOAT,
    ColumnType.BOOL: Type.BOOL,
}
# File 3's columns of a person, as they arrive in a workspace (alf_pe is the row's person).
LINK_FIELDS: tuple[ColumnSchema, ...] = (
    ColumnSchema("link_status", Type.STR, tuple(s.value for s in LinkStatus)),
    ColumnSchema("link_score", Type.FLOAT),
    ColumnSchema("week_of_birth", Type.DATE),
    ColumnSchema("sex", Type.STR, ("M", "F", "U")),
    ColumnSchema("lsoa", Type.STR),
    ColumnSchema("ralf_pe", Type.STR),
)
DEPRIVATION_FIELDS: tuple[ColumnSchema, ...] = (
    ColumnSchema("deprivation_quintile", Type.INT),
    ColumnSchema("deprivation_decile", Type.INT),
)


@dataclass(frozen=True)
class Join:
    """Left-join ``view`` on ``view.right_on = <left_on>`` and take ``columns``
    (physical name in ``view``, name in the table)."""

    view: str
    left_on: str
    right_on: str
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Source:
    """How a table is made from workspace views: ``columns`` (physical, name) of
    ``view``, then ``joins`` in order (a join's ``left_on`` is a name made before it).
    Names starting with ``_`` are join keys, dropped at the end. A person table
    (``parts`` set) is the union of those tables' ``alf_pe, week_of_birth, sex``, one
    row per person."""

    schema: TableSchema
    view: str = ""
    columns: tuple[tuple[str, str], ...] = ()
    joins: tuple[Join, ...] = ()
    parts: tuple[str, ...] = ()

    @property
    def has_link_status(self) -> bool:
        return "link_status" in self.schema.column_names


def _content(t: TableSpec) -> list[ColumnSchema]:
    return [
        ColumnSchema(c.name, _TYPES[c.type], c.codes) for c in t.columns if c.role is Role.CONTENT
    ]


def _prefix(ref_column: str) -> str:
    return reference_column(ref_column).removesuffix("system_id")


def _named(prefix: str, name: str) -> str:
    return name if name.startswith(prefix) else prefix + name


class _Builder:
    def __init__(self, specs: Iterable[DatasetSpec], present: Mapping[str, set[str]]) -> None:
        self.specs = {s.name: s for s in specs}
        self.present = present
        self.deprivation = DEPRIVATION_VIEW in present

    def has(self, view: str, col: str) -> bool:
        return col in self.present.get(view, set())

    def build(self) -> dict[str, Source]:
        out: dict[str, Source] = {}
        for spec in self.specs.values():
            for t in spec.tables:
                view = f"{spec.name}.{t.name}"
                if view not in self.present:
                    continue
                groups = [g.name for g in t.persons]
                if len(groups) == 1:
                    out[view] = self.one_person(spec, t, view)
                elif len(groups) > 1:
                    for g in groups:
                        out[f"{view}_{g}"] = self.one_of_several(t, view, g, groups)
                else:
                    src = self.via_reference(spec, t, view)
                    if src is not None:
                        out[view] = src
        parts = tuple(sorted(n for n, s in out.items() if "week_of_birth" in s.schema.column_names))
        if parts:
            out[DEMOGRAPHICS] = Source(
                TableSchema(
                    DEMOGRAPHICS,
                    Kind.PERSON,
                    tuple(c for c in LINK_FIELDS if c.name in ("week_of_birth", "sex")),
                ),
                parts=parts,
            )
        return out

    def _take(
        self, view: str, cols: Iterable[ColumnSchema], prefix_in: str = "", prefix_out: str = ""
    ) -> tuple[list[ColumnSchema], list[tuple[str, str]]]:
        schemas, pairs = [], []
        for c in cols:
            phys = prefix_in + c.name
            if self.has(view, phys):
                name = prefix_out + c.name
                schemas.append(ColumnSchema(name, c.type, c.codes))
                pairs.append((phys, name))
        return schemas, pairs

    def _deprivation(self, schemas: list[ColumnSchema]) -> tuple[Join, ...]:
        if not self.deprivation or "lsoa" not in {c.name for c in schemas}:
            return ()
        schemas.extend(DEPRIVATION_FIELDS)
        return (
            Join(
                DEPRIVATION_VIEW,
                "lsoa",
                "lsoa",
                tuple((c.name, c.name) for c in DEPRIVATION_FIELDS),
            ),
        )

    def one_person(self, spec: DatasetSpec, t: TableSpec, view: str) -> Source:
        content, pairs = self._take(view, _content(t))
        link, lpairs = self._take(view, LINK_FIELDS)
        schemas = content + link
        cols = [("alf_pe", "alf_pe"), *pairs, *lpairs]
        joins = list(self._deprivation(schemas))
        return Source(
            TableSchema(view, Kind.EVENT, tuple(schemas)), view, tuple(cols), tuple(joins)
        )

    def one_of_several(self, t: TableSpec, view: str, group: str, groups: list[str]) -> Source:
        content, pairs = self._take(view, _content(t))
        link, lpairs = self._take(view, LINK_FIELDS, prefix_in=f"{group}_")
        schemas = content + link
        cols = [(f"{group}_alf_pe", "alf_pe"), *pairs, *lpairs]
        for other in groups:
            if other != group and self.has(view, f"{other}_alf_pe"):
                schemas.append(ColumnSchema(f"{other}_alf_pe", Type.STR))
                cols.append((f"{other}_alf_pe", f"{other}_alf_pe"))
        joins = list(self._deprivation(schemas))
        name = f"{view}_{group}"
        return Source(
            TableSchema(name, Kind.EVENT, tuple(schemas)), view, tuple(cols), tuple(joins)
        )

    def via_reference(self, spec: DatasetSpec, t: TableSpec, view: str) -> Source | None:
        refs = [c for c in t.columns if c.role is Role.REFERENCE and c.references]
        person_refs = [c for c in refs if len(spec.table(str(c.references)).persons) == 1]
        if not person_refs or not self.has(f"{spec.name}.{person_refs[0].references}", "alf_pe"):
            return None
        content, pairs = self._take(view, _content(t))
        schemas = list(content)
        cols: list[tuple[str, str]] = list(pairs)
        joins: list[Join] = []
        taken = {c.name for c in schemas}
        for i, ref in enumerate(refs):
            target = spec.table(str(ref.references))
            tview = f"{spec.name}.{target.name}"
            key = reference_column(ref.name)
            if not self.has(view, key) or not self.has(tview, "system_id"):
                continue
            prefix = _prefix(ref.name)
            primary = ref is person_refs[0]
            if ref in person_refs:
                cols.append((key, f"_k{i}"))
                join_key = f"_k{i}"
            else:
                # the project's key of the application (or case) a row belongs to, so a
                # definition can tell one set of proceedings from another
                join_key = prefix + "id"
                cols.append((key, join_key))
                schemas.append(ColumnSchema(join_key, Type.STR))
            jcols: list[tuple[str, str]] = []
            if primary:
                jcols.append(("alf_pe", "alf_pe"))
                own = _content(target) + list(LINK_FIELDS)
                for c in own:
                    name = c.name if c.name not in taken else prefix + c.name
                    if self.has(tview, c.name):
                        schemas.append(ColumnSchema(name, c.type, c.codes))
                        jcols.append((c.name, name))
                        taken.add(name)
            elif ref in person_refs:
                for c in (ColumnSchema("alf_pe", Type.STR), *LINK_FIELDS[:4]):
                    if self.has(tview, c.name):
                        name = prefix + c.name
                        schemas.append(ColumnSchema(name, c.type, c.codes))
                        jcols.append((c.name, name))
            else:
                jcols += self._referenced(spec, target, tview, prefix, schemas, joins, depth=0)
            joins.append(Join(tview, join_key, "system_id", tuple(jcols)))
        joins += self._deprivation(schemas)
        return Source(
            TableSchema(view, Kind.EVENT, tuple(schemas)), view, tuple(cols), tuple(joins)
        )

    def _referenced(
        self,
        spec: DatasetSpec,
        target: TableSpec,
        tview: str,
        prefix: str,
        schemas: list[ColumnSchema],
        joins: list[Join],
        depth: int,
    ) -> list[tuple[str, str]]:
        """Columns of a referenced table without persons (an application), prefixed,
        and of the tables it refers to in turn (its case), joined after it."""
        jcols = []
        for c in _content(target):
            if self.has(tview, c.name):
                name = _named(prefix, c.name)
                schemas.append(ColumnSchema(name, c.type, c.codes))
                jcols.append((c.name, name))
        if depth > 2:
            return jcols
        for ref in (c for c in target.columns if c.role is Role.REFERENCE and c.references):
            nxt = spec.table(str(ref.references))
            nview = f"{spec.name}.{nxt.name}"
            key = reference_column(ref.name)
            if nxt.persons or not self.has(tview, key) or not self.has(nview, "system_id"):
                continue
            visible = _prefix(ref.name) + "id"
            jcols.append((key, visible))
            schemas.append(ColumnSchema(visible, Type.STR))
            sub: list[Join] = []
            ncols = self._referenced(spec, nxt, nview, _prefix(ref.name), schemas, sub, depth + 1)
            joins.append(Join(nview, visible, "system_id", tuple(ncols)))
            joins.extend(sub)
        # the join of ``target`` itself must come before those that use its keys
        return jcols


def sources(specs: Iterable[DatasetSpec], present: Mapping[str, set[str]]) -> dict[str, Source]:
    """Every table of a workspace whose views hold ``present`` columns."""
    out = _Builder(specs, present).build()
    # a join's key must exist before the join that uses it: move referenced tables' joins
    # after the join that brings their key
    return {n: _ordered(s) for n, s in out.items()}


def _ordered(src: Source) -> Source:
    made = {name for _p, name in src.columns}
    pending = list(src.joins)
    done: list[Join] = []
    while pending:
        for j in pending:
            if j.left_on in made:
                done.append(j)
                made |= {name for _p, name in j.columns}
                pending.remove(j)
                break
        else:
            done.extend(pending)  # keys that never come: the compiler reports them
            break
    return Source(src.schema, src.view, src.columns, tuple(done), src.parts)


def spec_sources(specs: Iterable[DatasetSpec], *, deprivation: bool = True) -> dict[str, Source]:
    """The tables of a workspace holding every column of ``specs`` (a full scope):
    what a definition sees outside the environment."""
    present: dict[str, set[str]] = {}
    for spec in specs:
        for t in spec.tables:
            cols = {c.name for c in t.columns if c.role is Role.CONTENT}
            if t.key is not None and t.name in {
                c.references for tt in spec.tables for c in tt.columns if c.references
            }:
                cols.add("system_id")
            cols |= {reference_column(c.name) for c in t.columns if c.role is Role.REFERENCE}
            if len(t.persons) == 1:
                cols |= {"alf_pe", *(c.name for c in LINK_FIELDS)}
            elif t.persons:
                for g in t.persons:
                    cols |= {f"{g.name}_alf_pe", *(f"{g.name}_{c.name}" for c in LINK_FIELDS)}
            present[f"{spec.name}.{t.name}"] = cols
    if deprivation:
        present[DEPRIVATION_VIEW] = {"lsoa", *(c.name for c in DEPRIVATION_FIELDS)}
    return sources(specs, present)


# ------------------------------------------------------------------ schema files


def schema_json(srcs: Mapping[str, Source]) -> str:
    """The researcher's view of the tables (names, kinds, columns, codes), for the
    definition's process."""
    return json.dumps(
        {
            name: {
                "kind": s.schema.kind.value,
                "columns": [
                    [c.name, c.type.value, list(c.codes or ()) or None] for c in s.schema.columns
                ],
            }
            for name, s in srcs.items()
        }
    )


def schemas_from_json(text: str) -> dict[str, TableSchema]:
    data = json.loads(text)
    return {
        name: TableSchema(
            name,
            Kind(t["kind"]),
            tuple(
                ColumnSchema(c, Type(ty), tuple(codes) if codes else None)
                for c, ty, codes in t["columns"]
            ),
        )
        for name, t in data.items()
    }


def current_schemas() -> dict[str, TableSchema]:
    """The tables a definition sees: the workspace's (``SCHEMA_ENV``, set by the loader)
    or, without one, a full scope of the shipped specs."""
    path = os.environ.get(SCHEMA_ENV)
    if path:
        return schemas_from_json(Path(path).read_text(encoding="utf-8"))
    from fjdp.specs import all_specs

    return {n: s.schema for n, s in spec_sources(all_specs()).items()}


# ------------------------------------------------------------------ researcher access


class Namespace:
    """One dataset's tables as attributes: ``court_public.application_persons``."""

    def __init__(self, name: str, tables: Mapping[str, TableSchema]) -> None:
        self._name = name
        self._tables = dict(tables)

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._tables:
            raise DefinitionError(
                f"dataset {self._name} has no table {name!r} in this workspace; it has "
                f"{', '.join(sorted(self._tables)) or 'none'}",
                fix="use one of those tables",
            )
        from fjdp.analysis.language import table

        return table(self._tables[name])

    def __dir__(self) -> list[str]:
        return sorted(self._tables)

    def __repr__(self) -> str:
        return f"<dataset {self._name}: {', '.join(sorted(self._tables))}>"


def namespaces(schemas: Mapping[str, TableSchema]) -> dict[str, object]:
    from fjdp.analysis.language import table

    grouped: dict[str, dict[str, TableSchema]] = {}
    out: dict[str, object] = {}
    for name, s in schemas.items():
        if "." in name:
            ds, t = name.split(".", 1)
            grouped.setdefault(ds, {})[t] = s
        else:
            out[name] = table(s)
    for ds, tables in grouped.items():
        out[ds] = Namespace(ds, tables)
    return out


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)
    spaces = namespaces(current_schemas())
    if name in spaces:
        return spaces[name]
    raise DefinitionError(
        f"no dataset or table {name!r} in this workspace; there are {', '.join(sorted(spaces))}",
        fix="import one of those from fjdp.analysis.tables",
    )


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(namespaces(current_schemas())))
