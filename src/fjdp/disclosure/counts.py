"""A tidy table of counts checked against the policy, for tables made outside a
:class:`~fjdp.disclosure.Session` (the family-justice measures write plain CSVs).

Each cell of a count column is one released count: fewer contributors than the
threshold (zeros too, when the policy says so) is flagged and suppressed, and every
released count is rounded to the policy's base. The check is the threshold rule only:
there is no secondary suppression (a tidy table with no totals row has none to protect)
and columns that are not counts (rates, shares) are not recomputed, so a table with such
columns is at least ``review`` for a checker to confirm by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fjdp.disclosure.policy import Policy, default_policy

# Integer columns that label a row rather than count people (a year, a follow-up time),
# and words that mark a derived figure rather than a count.
LABELS = frozenset(
    {"year", "years", "group", "age", "month", "quarter", "period", "rank", "step", "days"}
)

DERIVED = ("per_", "share", "percent", "rate", "difference", "median", "mean", "ratio")


@dataclass(frozen=True)
class CountCheck:
    status: str  # pass | review | fail, after suppression and rounding
    status_before: str
    reasons: tuple[str, ...]
    flags: tuple[dict[str, str], ...]  # {"row", "col", "reason"}
    count_columns: tuple[str, ...]
    protected: pd.DataFrame


def count_columns(df: pd.DataFrame) -> tuple[str, ...]:
    """Integer-valued columns whose name is neither a label (year, age, ...) nor a
    derived figure (a rate, a share, a difference): a guess, since a plain CSV does not
    say which columns are counts; pass ``columns`` when they are known."""
    out = []
    for col in df.columns:
        name = str(col).lower()
        if name in LABELS or name.endswith(("_year", "_id", "_age")):
            continue
        if any(w in name for w in DERIVED):
            continue
        values = pd.to_numeric(df[col], errors="coerce").dropna()
        if len(values) and len(values) == df[col].notna().sum() and (values % 1 == 0).all():
            out.append(str(col))
    return tuple(out)


def check_counts(
    df: pd.DataFrame, columns: tuple[str, ...] | None = None, policy: Policy | None = None
) -> CountCheck:
    policy = policy or default_policy()
    cols = count_columns(df) if columns is None else columns
    protected = df.copy()
    flags: list[dict[str, str]] = []
    for col in cols:
        values = pd.to_numeric(df[col], errors="coerce")
        out: list[float] = []
        for i, v in enumerate(values):
            if pd.isna(v):
                out.append(math.nan)
                continue
            small = v < policy.threshold and (v > 0 or policy.zeros_disclosive)
            if small:
                why = (
                    "zero: no contributors"
                    if v == 0
                    else f"threshold: fewer than {policy.threshold}"
                )
                flags.append({"row": str(i + 1), "col": col, "reason": why})
                out.append(math.nan)
            else:
                base = policy.rounding_base
                out.append(float(int(v / base + 0.5) * base))
        protected[col] = pd.array([None if math.isnan(x) else int(x) for x in out], dtype="Int64")
    others = [
        str(c) for c in df.columns if str(c) not in cols and pd.api.types.is_float_dtype(df[c])
    ]
    reasons: list[str] = []
    if flags:
        reasons.append(f"threshold: {len(flags)} counts under {policy.threshold} suppressed")
    if cols:
        reasons.append(f"rounded every count to base {policy.rounding_base}: {', '.join(cols)}")
    if others:
        reasons.append(f"not counts, not recomputed from the protected counts: {', '.join(others)}")
    before = "fail" if flags else ("review" if others else "pass")
    after = "review" if flags or others else "pass"
    return CountCheck(after, before, tuple(reasons), tuple(flags), cols, protected)


def check_count_csv(path: Path, policy: Policy | None = None) -> CountCheck:
    return check_counts(pd.read_csv(path), policy=policy)
