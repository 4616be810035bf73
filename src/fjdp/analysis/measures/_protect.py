"""The disclosure checks every measure's table goes through before it can be requested
for release, under the platform's disclosure policy (:mod:`fjdp.disclosure.policy`).

A measure's table is already aggregated: its count columns count contributors (the
measure's unit: children, mothers, applications), so the checks are those of a count
table:

1. **primary**: a count under the threshold (zero included, when zeros are disclosive)
   is flagged and suppressed; so is a count whose complement in its whole is under the
   threshold (95 of 100 mothers reveals the 5 without a contact);
2. **secondary**: rows whose counts add up to a total that is known (the age groups of
   a year and "all ages"; the years of one breakdown) are a line: a line with one
   suppressed cell gets another, and the suppressed cells of a line whose total is
   released must add up to the threshold, else more are hidden, smallest first.
   Two-way tables (the routes diagram's flows, whose node totals are shown) go through
   :func:`fjdp.disclosure.suppression.secondary_suppression` with their margins, and its
   linear-algebra check;
3. **derived values** (rates, shares, medians) are hidden wherever a count of their row
   is; where the measure can recompute them from counts, they are recomputed from the
   protected counts, so a rate never reveals an exact count;
4. **rounding**: every released count to the policy's base.

The verdict follows ACRO's words: ``fail`` before mitigation when a primary rule fired,
``review`` after it when anything was hidden (a checker looks at suppressed tables),
``pass`` when nothing needed hiding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fjdp.analysis.measures._result import MeasureResult
from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import Status
from fjdp.disclosure.suppression import secondary_suppression


@dataclass(frozen=True)
class Protected:
    name: str
    status_before: Status
    status: Status
    reasons: tuple[str, ...]
    flagged: tuple[dict[str, Any], ...]
    mitigations: tuple[str, ...]
    table: pd.DataFrame = field(repr=False)
    policy_version: str = ""
    count_columns: tuple[str, ...] = ()
    unit: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.name,
            "status": self.status.value,
            "status_before_mitigation": self.status_before.value,
            "reasons": list(self.reasons),
            "mitigations": list(self.mitigations),
            "flagged_cells": list(self.flagged),
            "policy_version": self.policy_version,
            "unit": self.unit,
            "count_columns": list(self.count_columns),
        }


def _row_label(t: pd.DataFrame, i: Any, counts: set[str], derived: set[str]) -> list[str]:
    return [f"{c}={t.at[i, c]!s}" for c in t.columns if c not in counts and c not in derived]


def protect(r: MeasureResult, policy: Policy) -> Protected:
    t = r.table.copy().reset_index(drop=True)
    counts = [c for c in r.count_columns if c in t.columns]
    derived = [c for c in r.derived_columns if c in t.columns]
    for c in (*counts, *derived):  # nullable integer columns hold NA, which NumPy cannot
        t[c] = pd.to_numeric(t[c], errors="coerce").astype(float)
    hidden = pd.DataFrame(False, index=t.index, columns=counts)
    flagged: list[dict[str, Any]] = []
    reasons: set[str] = set()

    def flag(i: Any, col: str, reason: str) -> None:
        if not hidden.at[i, col]:
            hidden.at[i, col] = True
            flagged.append(
                {"row": _row_label(t, i, set(counts), set(derived)), "col": [col], "reason": reason}
            )

    # 1. primary: small counts, zeros, small complements
    for col in counts:
        v = pd.to_numeric(t[col], errors="coerce")
        small = v.notna() & (v < policy.threshold)
        if not policy.zeros_disclosive:
            small &= v != 0
        for i in t.index[small]:
            what = "zero" if v[i] == 0 else f"fewer than {policy.threshold} contributors ({r.unit})"
            flag(i, col, what)
            reasons.add(f"threshold: {col} has cells of {what}")
    for part, whole in r.complements:
        if part not in t or whole not in t:
            continue
        rest = pd.to_numeric(t[whole], errors="coerce") - pd.to_numeric(t[part], errors="coerce")
        small = rest.notna() & (rest > 0) & (rest < policy.threshold)
        for i in t.index[small]:
            flag(i, part, f"{whole} minus {part} is fewer than {policy.threshold}")
            reasons.add(f"threshold: {whole} minus {part} is small in some rows")
    primary = bool(hidden.to_numpy().any())
    mitigations: list[str] = []
    if primary:
        mitigations.append("primary suppression")

    # 2. secondary: lines whose totals are known, and two-way tables with margins
    secondary = False
    for by, col in r.lines:
        if col not in hidden or any(b not in t for b in by):
            continue
        values = pd.to_numeric(t[col], errors="coerce")
        for _, idx in t.groupby(list(by), dropna=False, sort=False).groups.items():
            rows = [i for i in idx if not np.isnan(values[i])]
            while True:
                hid = [i for i in rows if hidden.at[i, col]]
                if not hid:
                    break
                total = float(sum(values[i] for i in hid))
                if len(hid) >= 2 and total >= policy.threshold:
                    break
                shown = sorted((i for i in rows if not hidden.at[i, col]), key=lambda i: values[i])
                if not shown:
                    break
                flag(shown[0], col, "secondary: protects a suppressed cell of its line")
                secondary = True
    for stage_col, row_col, col_col, value_col in r.grids:
        if value_col not in hidden:
            continue
        for _, sub in t.groupby(stage_col, sort=False):
            grid = sub.pivot_table(
                index=row_col, columns=col_col, values=value_col, aggfunc="sum", fill_value=0
            )
            rows_, cols_ = list(grid.index), list(grid.columns)
            cells = np.zeros((len(rows_) + 1, len(cols_) + 1))
            cells[:-1, :-1] = grid.to_numpy(dtype=float)
            cells[:-1, -1] = cells[:-1, :-1].sum(axis=1)
            cells[-1, :] = cells[:-1, :].sum(axis=0)
            where = {
                (a, b): i for i, a, b in zip(sub.index, sub[row_col], sub[col_col], strict=True)
            }
            mask = np.zeros(cells.shape, dtype=bool)
            for (a, b), i in where.items():
                mask[rows_.index(a), cols_.index(b)] = bool(hidden.at[i, value_col])
            if not mask.any():
                continue
            full = secondary_suppression(cells, mask, minimum=policy.threshold)
            for (a, b), i in where.items():
                if full[rows_.index(a), cols_.index(b)] and not hidden.at[i, value_col]:
                    flag(i, value_col, "secondary: protects a suppressed flow")
                    secondary = True
            if full[:-1, -1].any() or full[-1, :].any():
                mitigations.append(
                    f"some totals of {stage_col} {sub[stage_col].iloc[0]!r} must not be shown"
                )
    if secondary:
        mitigations.append("secondary suppression")

    # 3. derived values: recomputed from protected counts, hidden where a count is
    out = t.copy()
    any_hidden = bool(hidden.to_numpy().any())
    for col in counts:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float).mask(hidden[col])
    if counts:
        base = policy.rounding_base
        for col in counts:
            out[col] = (out[col] / base).round() * base
        mitigations.append(f"counts rounded to base {base}")
    if r.rederive is not None:
        out = r.rederive(out)
    row_hidden = hidden.any(axis=1) if counts else pd.Series(False, index=t.index)
    for col in derived:
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float).mask(row_hidden)
    if any_hidden and derived:
        mitigations.append("derived values hidden where a count of their row is")
    status_before = Status.FAIL if primary else Status.PASS
    status = Status.REVIEW if any_hidden else Status.PASS
    return Protected(
        name=r.name,
        status_before=status_before,
        status=status,
        reasons=tuple(sorted(reasons)),
        flagged=tuple(flagged),
        mitigations=tuple(mitigations),
        table=out,
        policy_version=policy.version,
        count_columns=tuple(counts),
        unit=r.unit,
    )
