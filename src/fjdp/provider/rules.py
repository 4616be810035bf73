"""Validation rules of a dataset spec as DuckDB SQL over the staged text columns.

Each rule is a boolean SQL expression that is true when a value breaks it, so every
table is checked in a few vectorised scans, out of core, whatever its size. The same
expressions parse the values for File 1 and File 2, so what is checked is what is sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fjdp.specs import ColumnSpec, ColumnType, Format
from fjdp.sql import as_date, lit, nhs_digits, nhs_valid, postcode_norm, postcode_valid, q

__all__ = ["Rule", "column_rules", "lit", "masked", "q", "text", "typed"]


def text(col: str, alias: str = "s") -> str:
    """The value with surrounding blanks removed; empty text counts as missing."""
    return f"nullif(trim({alias}.{q(col)}), '')"


def as_bool(expr: str) -> str:
    return (
        f"case when lower({expr}) in ('true', 't', '1', 'y', 'yes') then true"
        f" when lower({expr}) in ('false', 'f', '0', 'n', 'no') then false end"
    )


def icd10_norm(expr: str) -> str:
    return f"upper(replace({expr}, '.', ''))"


def icd10_valid(expr: str) -> str:
    return f"regexp_full_match({icd10_norm(expr)}, '[A-Z][0-9]{{2}}[0-9A-Z]?')"


def typed(col: ColumnSpec, alias: str = "s") -> str:
    """The parsed value of a column, as sent in File 1 or File 2 (NULL if unparseable)."""
    v = text(col.name, alias)
    if col.type is ColumnType.DATE:
        return as_date(v)
    if col.type is ColumnType.INT:
        return f"try_cast({v} as bigint)"
    if col.type is ColumnType.FLOAT:
        return f"try_cast({v} as double)"
    if col.type is ColumnType.BOOL:
        return as_bool(v)
    if col.format is Format.NHS_NUMBER:
        return nhs_digits(v)
    if col.format is Format.POSTCODE:
        return f"case when {postcode_valid(v)} then {postcode_norm(v)} else upper({v}) end"
    if col.format is Format.ICD10:
        return icd10_norm(v)
    return v


def _bound(value: object, col: ColumnSpec) -> str:
    if value == "today":
        return f"date {lit(dt.date.today().isoformat())}"
    if col.type is ColumnType.DATE:
        return f"date {lit(str(value))}"
    return str(value)


@dataclass(frozen=True)
class Rule:
    """One check of one column: ``broken`` is SQL that is true when the value breaks it."""

    column: str
    name: str
    broken: str


def column_rules(col: ColumnSpec, alias: str = "s") -> list[Rule]:
    v = text(col.name, alias)
    rules: list[Rule] = []
    if col.required:
        rules.append(Rule(col.name, "required value missing", f"{v} is null"))
    parsed = typed(col, alias)
    if col.type is not ColumnType.STRING:
        rules.append(
            Rule(col.name, f"not a valid {col.type.value}", f"{v} is not null and {parsed} is null")
        )
    if col.format is Format.NHS_NUMBER:
        rules.append(
            Rule(
                col.name,
                "NHS number fails its check digit",
                f"{v} is not null and not {nhs_valid(v)}",
            )
        )
    elif col.format is Format.POSTCODE:
        rules.append(
            Rule(col.name, "not a UK postcode", f"{v} is not null and not {postcode_valid(v)}")
        )
    elif col.format is Format.ICD10:
        rules.append(
            Rule(col.name, "not an ICD-10 code", f"{v} is not null and not {icd10_valid(v)}")
        )
    if col.codes is not None:
        codes = ", ".join(lit(c) for c in col.codes)
        rules.append(
            Rule(col.name, "not in the code list", f"{v} is not null and {v} not in ({codes})")
        )
    if col.min is not None and col.type is not ColumnType.STRING:
        rules.append(
            Rule(
                col.name,
                f"before {col.min}" if col.type is ColumnType.DATE else f"below {col.min}",
                f"{parsed} < {_bound(col.min, col)}",
            )
        )
    if col.max is not None and col.type is not ColumnType.STRING:
        label = "in the future" if col.max == "today" else f"after {col.max}"
        rules.append(
            Rule(
                col.name,
                label if col.type is ColumnType.DATE else f"above {col.max}",
                f"{parsed} > {_bound(col.max, col)}",
            )
        )
    return rules


def masked(expr: str) -> str:
    """A masked form of a bad value for the quarantine report: its first character and
    its length, never the value in clear (a one-character value is all mask)."""
    return (
        f"case when {expr} is null then '' when length({expr}) < 2 then '*'"
        f" else left({expr}, 1) || repeat('*', least(length({expr}) - 1, 11)) end"
    )
