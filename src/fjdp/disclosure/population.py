"""The population of an output: a filter over the microdata, evaluated safely.

Filters are written pandas-query style (``year == 2022 and local_authority != 'X'``).
They are translated to SQL, parsed, and accepted only if every node is a column, a
literal or an operator (comparisons, and/or/not, in, between, is null, arithmetic):
no function calls, no subqueries, so a filter cannot read a file or run code. DuckDB
then evaluates it with external access disabled.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from fjdp.errors import InputError

_ALLOWED = {
    "Column", "Identifier", "Literal", "Boolean", "Null", "Paren", "Tuple",
    "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "And", "Or", "Not", "In", "Between", "Is",
    "Add", "Sub", "Mul", "Div", "Neg", "Mod",
}  # fmt: skip


def to_sql(expression: str, columns: list[str]) -> str:
    """The filter as DuckDB SQL, with every identifier quoted; raises on anything else."""
    text = re.sub(r"==", "=", expression)
    text = re.sub(r"\s&\s", " and ", text)
    text = re.sub(r"\s\|\s", " or ", text)
    text = text.replace("[", "(").replace("]", ")")

    def _quote(match: re.Match[str]) -> str:
        inner = match.group(1)
        # "X" is a string in pandas' query syntax unless it names a column.
        return match.group(0) if inner in columns else "'" + inner.replace("'", "''") + "'"

    text = re.sub(r'"([^"]*)"', _quote, text)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise InputError(
            f"cannot parse the filter {expression!r}",
            fix="write it like `year == 2022 and local_authority != 'X'`",
        ) from exc
    for node in tree.walk():
        name = type(node).__name__
        if name not in _ALLOWED:
            raise InputError(
                f"the filter {expression!r} uses {name}, which filters may not use",
                fix="use only columns, literals, comparisons, and/or/not, in, between, is null",
            )
        if isinstance(node, exp.Column) and node.name not in columns:
            raise InputError(
                f"the filter names column {node.name!r}, which the data does not have",
                fix=f"use one of: {', '.join(columns)}",
            )
    return tree.sql(dialect="duckdb", identify=True)


def apply_filter(df: pd.DataFrame, expression: str | None) -> pd.DataFrame:
    """The rows of ``df`` in the population ``expression`` (all of them when empty)."""
    if not expression or not expression.strip():
        return df
    sql = to_sql(expression, [str(c) for c in df.columns])
    con = duckdb.connect(config={"enable_external_access": False})
    try:
        con.register("population", df)
        try:
            keep = con.execute(
                f"SELECT coalesce(({sql}), false) AS keep FROM population"  # noqa: S608 - validated above
            ).fetchnumpy()["keep"]
        except duckdb.Error as exc:
            raise InputError(
                f"cannot evaluate the filter {expression!r}: {str(exc).splitlines()[0]}",
                fix="compare columns with values of their own type",
            ) from exc
    finally:
        con.close()
    return df.loc[np.asarray(keep, dtype=bool)]
