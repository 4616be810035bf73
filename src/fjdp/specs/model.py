"""Dataset specifications: the only shapes shared across zones.

A spec says, for each table of a provider's extract, which columns exist, their types,
which are identifiers (File 1, to the trusted third party) and which are content
(File 2, to the databank), the provider's own key, references between tables, code
lists and validation rules. Specs are YAML; this module turns them into typed,
validated, immutable objects.
"""

from __future__ import annotations

import datetime as dt
import math
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ColumnType(StrEnum):
    STRING = "string"
    DATE = "date"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"


class Role(StrEnum):
    KEY = "key"  # the provider's record key: stays at the provider, replaced by system_id
    REFERENCE = "reference"  # a key of another table: translated to that row's system_id
    IDENTIFIER = "identifier"  # File 1 only
    CONTENT = "content"  # File 2 only


class Format(StrEnum):
    NHS_NUMBER = "nhs_number"
    POSTCODE = "postcode"
    ICD10 = "icd10"


class OnError(StrEnum):
    REJECT = "reject"  # the row goes to quarantine
    FLAG = "flag"  # the row is kept; the problem is reported


# The identifier fields the trusted third party links on; a person group maps them.
IDENTIFIER_FIELDS = (
    "nhs_number",
    "forename",
    "middle_names",
    "surname",
    "date_of_birth",
    "sex",
    "address_line1",
    "postcode",
)


def reference_column(column: str) -> str:
    """The column a reference becomes in File 2, holding the referenced row's system_id:
    case_id -> case_system_id, person_ref -> person_system_id."""
    for suffix in ("_id", "_ref", "_key"):
        if column.endswith(suffix):
            return column.removesuffix(suffix) + "_system_id"
    return column + "_system_id"


# File 3, what the TTP sends the databank for each person of File 1: the one shape the two
# share besides system_id. The databank refuses a File 3 with any other columns.
FILE3_COLUMNS = (
    "system_id",
    "alf",
    "ralf",
    "link_status",
    "link_score",
    "week_of_birth",
    "sex",
    "lsoa",
)

Bound = dt.date | float | int | Literal["today"]


def _bound_fits(bound: Bound, kind: ColumnType) -> bool:
    """Whether a min/max can be compared with the column's parsed values in SQL."""
    if kind is ColumnType.DATE:
        return bound == "today" or isinstance(bound, dt.date)
    if kind in (ColumnType.INT, ColumnType.FLOAT):
        return isinstance(bound, int | float) and math.isfinite(bound)
    return False


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    type: ColumnType = ColumnType.STRING
    role: Role
    required: bool = False
    format: Format | None = None
    codes: tuple[str, ...] | None = None
    min: Bound | None = None
    max: Bound | None = None
    references: str | None = None
    on_error: OnError | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.role is Role.REFERENCE and not self.references:
            raise ValueError(f"column {self.name!r} is a reference but names no table")
        if self.references and self.role is not Role.REFERENCE:
            raise ValueError(f"column {self.name!r} names a table but its role is {self.role}")
        for which, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and not _bound_fits(bound, self.type):
                want = {
                    ColumnType.DATE: "a date (YYYY-MM-DD) or today",
                    ColumnType.INT: "a finite number",
                    ColumnType.FLOAT: "a finite number",
                }.get(self.type, "nothing: only date, int and float columns have bounds")
                raise ValueError(
                    f"column {self.name!r} ({self.type}) has {which} {bound!r}; it takes {want}"
                )
        return self

    @property
    def action(self) -> OnError:
        """Identifier problems are flagged by default: the linker copes with a bad NHS
        number or an odd date of birth, and dropping the row would lose a real person."""
        if self.on_error is not None:
            return self.on_error
        return OnError.FLAG if self.role is Role.IDENTIFIER else OnError.REJECT


class PersonGroup(_Frozen):
    """Columns of one person in a row (a row of births holds the baby and the mother)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    columns: dict[str, str]
    # Identifier fields known for every row without a column (a mother's sex is F).
    fixed: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns", "fixed")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(IDENTIFIER_FIELDS))
        if unknown:
            raise ValueError(f"unknown identifier fields {unknown}; use {list(IDENTIFIER_FIELDS)}")
        return v


class DateOrder(_Frozen):
    """``earlier`` must not come after ``later``; ``earlier`` may be ``table.column``
    of a referenced table, reached through the reference column ``via``."""

    rule: Literal["date_order"]
    earlier: str
    later: str
    via: str | None = None


class TableSpec(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    file: str | None = None
    key: str | None = None
    persons: tuple[PersonGroup, ...] = ()
    columns: tuple[ColumnSpec, ...]
    checks: tuple[DateOrder, ...] = ()

    @property
    def file_stem(self) -> str:
        return self.file or self.name

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def person_id_columns(self) -> tuple[tuple[str, str], ...]:
        """(person group, column holding that person's system_id) for each person of a
        row: the row's own ``system_id`` when it holds one person, else one column per
        person (a births row holds the baby and the mother). File 1 and File 3 rows are
        keyed by these ids; File 2 keeps them so the databank can join File 3 back."""
        if len(self.persons) == 1:
            return ((self.persons[0].name, "system_id"),)
        return tuple((g.name, f"{g.name}_system_id") for g in self.persons)

    @model_validator(mode="after")
    def _consistent(self) -> TableSpec:
        names = [c.name for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"table {self.name!r} repeats columns {sorted(dupes)}")
        if self.key is not None:
            if self.key not in names:
                raise ValueError(f"table {self.name!r}: key {self.key!r} is not a column")
            if self.column(self.key).role is not Role.KEY:
                raise ValueError(f"table {self.name!r}: key {self.key!r} must have role key")
        keys = [c.name for c in self.columns if c.role is Role.KEY]
        if len(keys) > 1 or (keys and keys[0] != self.key):
            raise ValueError(f"table {self.name!r}: only the table's key may have role key")
        identifiers = {c.name for c in self.columns if c.role is Role.IDENTIFIER}
        grouped: set[str] = set()
        for g in self.persons:
            for col in g.columns.values():
                if col not in identifiers:
                    raise ValueError(
                        f"table {self.name!r}, person {g.name!r}: "
                        f"{col!r} is not an identifier column"
                    )
                grouped.add(col)
        if identifiers - grouped:
            raise ValueError(
                f"table {self.name!r}: identifier columns {sorted(identifiers - grouped)} "
                "belong to no person; list them under persons"
            )
        groups = [g.name for g in self.persons]
        if len(set(groups)) != len(groups):
            raise ValueError(f"table {self.name!r} repeats a person group's name")
        id_columns = {"system_id"} | {col for _g, col in self.person_id_columns}
        id_columns |= {reference_column(c.name) for c in self.columns if c.role is Role.REFERENCE}
        clash = sorted(id_columns & set(names))
        if clash:
            # File 2 adds these columns itself: a column of the extract must not take the name.
            raise ValueError(f"table {self.name!r}: column {clash[0]!r} is a name File 2 keeps")
        for chk in self.checks:
            if chk.later not in names:
                raise ValueError(f"table {self.name!r}: check names unknown column {chk.later!r}")
            if chk.via is None and chk.earlier not in names:
                raise ValueError(f"table {self.name!r}: check names unknown column {chk.earlier!r}")
            if chk.via is not None and chk.via not in names:
                raise ValueError(f"table {self.name!r}: check goes via unknown column {chk.via!r}")
            if self.column(chk.later).type is not ColumnType.DATE or (
                chk.via is None and self.column(chk.earlier).type is not ColumnType.DATE
            ):
                raise ValueError(f"table {self.name!r}: a date_order check compares date columns")
        return self


class DatasetSpec(_Frozen):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    version: int = Field(ge=1)
    title: str
    provider: str
    description: str = ""
    tables: tuple[TableSpec, ...]

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def table_order(self) -> tuple[TableSpec, ...]:
        """Tables with referenced tables first, so references can be checked in one pass."""
        done: list[TableSpec] = []
        pending = list(self.tables)
        while pending:
            progressed = False
            for t in list(pending):
                deps = {c.references for c in t.columns if c.references}
                if deps <= {d.name for d in done} | {t.name}:
                    done.append(t)
                    pending.remove(t)
                    progressed = True
            if not progressed:
                raise ValueError(
                    f"tables reference each other in a cycle: {[t.name for t in pending]}"
                )
        return tuple(done)

    @model_validator(mode="after")
    def _references(self) -> DatasetSpec:
        listed = [t.name for t in self.tables]
        names = set(listed)
        if not listed:
            raise ValueError("the spec lists no tables")
        if len(names) != len(listed):
            raise ValueError(
                f"table names repeat: {sorted(n for n in names if listed.count(n) > 1)}"
            )
        for t in self.tables:
            for c in t.columns:
                if c.references == t.name:
                    raise ValueError(f"{t.name}.{c.name} references its own table")
                if c.references and c.references not in names:
                    raise ValueError(f"{t.name}.{c.name} references unknown table {c.references!r}")
                if c.references and self.table(c.references).key is None:
                    raise ValueError(
                        f"{t.name}.{c.name} references {c.references!r}, which has no key"
                    )
            for chk in t.checks:
                if chk.via is not None:
                    ref = t.column(chk.via)
                    parent, _, col = chk.earlier.partition(".")
                    if ref.references != parent or col not in self.table(parent).column_names:
                        raise ValueError(
                            f"{t.name}: check {chk.earlier!r} via {chk.via!r} does not resolve"
                        )
                    if self.table(parent).column(col).type is not ColumnType.DATE:
                        raise ValueError(f"{t.name}: a date_order check compares date columns")
        self.table_order  # noqa: B018 - raises on a cycle
        if not any(t.persons for t in self.tables):
            raise ValueError("no table has persons: there would be nothing to link (File 1)")
        return self
