"""Check and protect a table of counts or statistics: crosstabs, pivot tables, histograms.

The order is the policy's: flag cells under the rules, suppress them (primary), add
secondary suppressions until no suppressed cell is recoverable, then (on request)
round every released count to the base and recompute the totals from the protected
cells. Percentages are checked on their underlying counts and computed from the
protected counts, never from the raw ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from fjdp.disclosure.contributors import Evidence, collect
from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import FlaggedCell, Status, Table
from fjdp.disclosure.rounding import round_to_base
from fjdp.disclosure.rules import EXTREMES, flag_cells, has_negatives
from fjdp.disclosure.suppression import secondary_suppression

MARGIN = "All"


class Mitigation(StrEnum):
    NONE = "none"
    SUPPRESS = "suppress"
    SUPPRESS_ROUND = "suppress_round"


@dataclass(frozen=True)
class TableRequest:
    """What to tabulate. ``aggfuncs`` is ``["count"]`` for a frequency table."""

    index: list[str]
    columns: list[str]
    values: str | None = None
    aggfuncs: list[str] = field(default_factory=lambda: ["count"])
    aggfunc_list: bool = False
    margins: bool = False
    normalize: str | None = None  # None, "index", "columns" or "all"
    unit: str | None = None
    mitigate: Mitigation = Mitigation.NONE
    value_label: str | None = None  # the column label when there are no columns
    want_units: bool = True  # collect the population's unit ids (for the register)


@dataclass(frozen=True)
class TableResult:
    status: Status
    status_before: Status
    reasons: list[str]
    flagged_cells: list[FlaggedCell]
    table: Table
    mitigations: list[str]
    evidence: Evidence
    mask: npt.NDArray[np.bool_]


def _label(parts: tuple[Any, ...]) -> Any:
    return parts[0] if len(parts) == 1 else list(parts)


def _margin_label(width: int) -> tuple[Any, ...]:
    return (MARGIN,) + ("",) * max(width - 1, 0)


def _json_value(value: float, as_int: bool) -> Any:
    if value is None or not np.isfinite(value):
        return None
    return round(value) if as_int else float(value)


def _summarise(
    flags: dict[tuple[int, int], list[str]], released: set[tuple[int, int]]
) -> list[str]:
    kinds: dict[str, int] = {}
    for cell, reasons in flags.items():
        if cell not in released:
            continue
        for kind in {r.split(":", 1)[0] for r in reasons}:
            kinds[kind] = kinds.get(kind, 0) + 1
    words = {
        "threshold": "cells with fewer contributors than the threshold",
        "zero": "cells with no contributors (zeros are disclosive)",
        "dominance": "cells dominated by their largest contributors ((n,k) rule)",
        "p%": "cells failing the p% rule",
    }
    return [f"{kind}: {n} {words.get(kind, 'cells')}" for kind, n in sorted(kinds.items())]


def check_table(df: pd.DataFrame, req: TableRequest, policy: Policy) -> TableResult:
    """Tabulate ``df`` as asked, check it under ``policy`` and mitigate as asked."""
    top_n = max(2, policy.dominance_n)
    ev = collect(
        df,
        req.index,
        req.columns,
        unit=req.unit,
        values=req.values,
        aggfuncs=req.aggfuncs,
        top_n=top_n,
        want_units=req.want_units,
    )
    r, c = len(ev.rows.labels), len(ev.cols.labels)
    has_cols = bool(req.columns)
    shape = (r + 1, c + 1)
    flags = flag_cells(ev, policy, req.aggfuncs)

    show_rows = list(range(r)) + ([r] if req.margins and _margin_row(req) else [])
    show_cols = list(range(c)) + ([c] if req.margins and has_cols and _margin_col(req) else [])
    released = {(i, j) for i in show_rows for j in show_cols}

    reasons = _summarise(flags, released)
    extremes = [f for f in req.aggfuncs if f in EXTREMES and not policy.allow_min_max]
    if extremes:
        reasons.append(
            f"min/max: {', '.join(extremes)} reveal one contributor's own value and are "
            "never released"
        )
    if has_negatives(ev):
        reasons.append("negative values: dominance measured on absolute values")
    problem = any(cell in released for cell in flags) or bool(extremes)
    status_before = Status.FAIL if problem else Status.PASS

    mitigations: list[str] = []
    mask = np.zeros(shape, dtype=bool)
    counts = ev.row_counts.astype(float)
    grids = {f: ev.aggregates[f] if req.values is not None else counts for f in req.aggfuncs}
    if req.values is None:
        grids = {"count": counts}
    if req.mitigate is not Mitigation.NONE:
        primary = np.zeros(shape, dtype=bool)
        for cell in flags:
            primary[cell] = True
        mask = secondary_suppression(counts, primary, minimum=policy.threshold)
        n_primary = sum(1 for cell in released if primary[cell])
        n_secondary = sum(1 for cell in released if mask[cell] and not primary[cell])
        if n_primary:
            mitigations.append(f"suppressed {n_primary} cells that fail the policy (primary)")
        if n_secondary:
            mitigations.append(
                f"suppressed {n_secondary} more cells so that no suppressed cell can be "
                "recovered from the others and the totals (secondary)"
            )
        grids = {f: np.where(mask, np.nan, g) for f, g in grids.items()}
        for f in extremes:
            grids[f] = np.full(shape, np.nan)
            mitigations.append(f"withheld every {f} value")
        if req.mitigate is Mitigation.SUPPRESS_ROUND:
            base = policy.rounding_base
            for f in list(grids):
                if f == "count":
                    grids[f] = _round_and_total(grids[f], base)
            if "count" in grids:
                mitigations.append(f"rounded every released count to base {base}")
                mitigations.append("recomputed the totals from the protected cells")

    data_grids = grids
    if req.normalize:
        data_grids = {"count": _normalize(grids["count"], req.normalize)}
    table = _build_table(ev, req, data_grids, show_rows, show_cols)
    flagged = _flagged(ev, req, flags, mask, released)

    if req.mitigate is Mitigation.NONE:
        status = status_before
    elif extremes:
        status = Status.FAIL
    elif mask.any():
        # ACRO: a suppressed table is for a checker to confirm, never passed outright.
        status = Status.REVIEW
    else:
        status = Status.PASS
    return TableResult(
        status=status,
        status_before=status_before,
        reasons=reasons + mitigations,
        flagged_cells=flagged,
        table=table,
        mitigations=mitigations,
        evidence=ev,
        mask=mask,
    )


def _margin_row(req: TableRequest) -> bool:
    return req.normalize in (None, "index", "all")


def _margin_col(req: TableRequest) -> bool:
    return req.normalize in (None, "columns", "all")


def _round_and_total(grid: npt.NDArray[np.float64], base: int) -> npt.NDArray[np.float64]:
    """Round the interior, then every total is the sum of the released cells it covers."""
    out = grid.copy()
    inner = round_to_base(grid[:-1, :-1], base)
    out[:-1, :-1] = inner
    released = ~np.isnan(inner)
    out[:-1, -1] = np.where(released.any(axis=1), np.nansum(inner, axis=1), np.nan)
    out[-1, :-1] = np.where(released.any(axis=0), np.nansum(inner, axis=0), np.nan)
    out[-1, -1] = np.nansum(inner) if released.any() else np.nan
    return out


def _normalize(grid: npt.NDArray[np.float64], how: str) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "index":
            out = grid / grid[:, -1:]
        elif how == "columns":
            out = grid / grid[-1:, :]
        else:
            out = grid / grid[-1, -1]
    return np.asarray(out, dtype=float)


def _build_table(
    ev: Evidence,
    req: TableRequest,
    grids: dict[str, npt.NDArray[np.float64]],
    show_rows: Sequence[int],
    show_cols: Sequence[int],
) -> Table:
    r, c = len(ev.rows.labels), len(ev.cols.labels)
    row_labels = [
        _label(ev.rows.labels[i] if i < r else _margin_label(len(req.index))) for i in show_rows
    ]
    columns: list[Any] = []
    data: list[list[Any]] = [[] for _ in show_rows]
    for f, grid in grids.items():
        as_int = f == "count" and not req.normalize
        for j in show_cols:
            if req.columns:
                col = ev.cols.labels[j] if j < c else _margin_label(len(req.columns))
            else:
                col = (req.value_label or f,)
            if req.aggfunc_list:  # pandas: (aggfunc, column) or (aggfunc, values)
                col = (f, *col)
            columns.append(_label(col))
            for k, i in enumerate(show_rows):
                data[k].append(_json_value(grid[i, j], as_int))
    return Table(
        index=row_labels,
        columns=columns,
        data=data,
        index_names=list(req.index),
        column_names=list(req.columns),
    )


def _flagged(
    ev: Evidence,
    req: TableRequest,
    flags: dict[tuple[int, int], list[str]],
    mask: npt.NDArray[np.bool_],
    released: set[tuple[int, int]],
) -> list[FlaggedCell]:
    r, c = len(ev.rows.labels), len(ev.cols.labels)
    out: list[FlaggedCell] = []
    for i, j in sorted(released):
        if (i, j) in flags:
            reason = "; ".join(flags[(i, j)])
        elif mask[i, j]:
            reason = "secondary suppression: hides a suppressed cell from the totals"
        else:
            continue
        row = ev.rows.labels[i] if i < r else _margin_label(len(req.index))
        if req.columns:
            col = ev.cols.labels[j] if j < c else _margin_label(len(req.columns))
        else:
            col = (req.value_label or req.aggfuncs[0],)
        funcs = req.aggfuncs if req.aggfunc_list else [None]
        for f in funcs:
            out.append(FlaggedCell(row=row, col=col if f is None else (f, *col), reason=reason))
    return out
