"""A project's approved scope: which datasets, tables, columns, dates and link statuses
its workspace may hold.

Read from a YAML file now (the governance portal writes the same shape once it exists)::

    project: demo-family-pathways
    title: Pathways of children in family proceedings
    end_date: 2027-12-31
    link_statuses: [DET_STRONG_ID, DET_DEMOG, PROB_ACCEPT]
    date_window: {start: 2005-01-01, end: 2026-12-31}
    datasets:
      court_public:
        cases: {columns: "*", date_column: issue_date}
        persons: {columns: [ethnicity, link_status, week_of_birth, sex, lsoa]}
      deaths:
        deaths: {columns: [date_of_death, underlying_cause], date_column: date_of_death}
    reference: [lsoa_deprivation]

``columns`` lists content and linkage columns by name, or ``"*"`` for all of them.
Linking fields (``alf_pe``, ``ralf_pe``) and the table's own keys come with every table
that has them; they are pseudonymised for the project, never copied.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fjdp.errors import InputError
from fjdp.types import LinkStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DateWindow(_Frozen):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.end < self.start:
            raise ValueError(f"date_window ends ({self.end}) before it starts ({self.start})")
        return self


class TableScope(_Frozen):
    columns: Literal["*"] | tuple[str, ...]
    date_column: str | None = None


class Scope(_Frozen):
    project: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    title: str = ""
    end_date: dt.date
    link_statuses: tuple[LinkStatus, ...] = tuple(sorted(LinkStatus.default_included()))
    date_window: DateWindow | None = None
    datasets: dict[str, dict[str, TableScope]] = Field(min_length=1)
    reference: tuple[Literal["lsoa_deprivation"], ...] = ()

    @model_validator(mode="after")
    def _non_empty(self) -> Scope:
        empty = [d for d, tables in self.datasets.items() if not tables]
        if empty:
            raise ValueError(f"datasets {empty} list no tables")
        if not self.link_statuses:
            raise ValueError("link_statuses is empty")
        return self

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def scope_path(bank: Path, project: str) -> Path:
    """Where the approved scope of a project is placed in the databank zone."""
    return bank / "scopes" / f"{project}.yaml"


def read_scope(path: Path) -> Scope:
    """Parse and validate a scope file; any problem is one line naming the field."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("scope file not found", where=str(path), fix="check the path") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            f"scope file is not readable YAML ({type(exc).__name__})",
            where=str(path),
            fix="fix the YAML syntax",
        ) from None
    try:
        return Scope.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise InputError(
            f"scope field {loc}: {err['msg']}",
            where=str(path),
            fix="see docs/databank.md for the scope file format",
        ) from None
