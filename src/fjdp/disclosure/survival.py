"""Kaplan-Meier survival tables, checked at every time point.

Each distinct event time is a row: the number at risk, the number of events and the
survival estimate. Both counts are checked against the threshold at each time point
(a time point with three events tells who those three were). Mitigation groups
consecutive event times into intervals holding at least the threshold of events,
drops the tail once fewer than the threshold are at risk, and (on request) rounds
the counts. Only protected counts are released: raw at-risk or event counts never
appear beside the protected ones, and censoring counts are never released.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import FlaggedCell, Status, Table
from fjdp.disclosure.rounding import round_to_base
from fjdp.disclosure.tables import Mitigation

COLUMNS = ["at_risk", "events", "survival"]


@dataclass(frozen=True)
class SurvivalResult:
    status: Status
    status_before: Status
    reasons: list[str]
    flagged_cells: list[FlaggedCell]
    table: Table
    mitigations: list[str]


def _km(df: pd.DataFrame, time: str, event: str, unit: str | None) -> pd.DataFrame:
    data = df[[time, event] + ([unit] if unit else [])].dropna(subset=[time, event])
    if unit:
        # One contributor, one history: its last time and whether it ended in an event.
        data = data.sort_values(time).groupby(unit, sort=False).agg({time: "last", event: "max"})
    t = data[time].to_numpy(dtype=float)
    e = data[event].to_numpy(dtype=float) > 0
    times = np.unique(t[e])
    order = np.sort(t)
    at_risk = len(t) - np.searchsorted(order, times, side="left")
    events = np.array([int(np.sum(e & (t == x))) for x in times], dtype=int)
    surv = np.cumprod(1 - events / np.maximum(at_risk, 1))
    return pd.DataFrame({"time": times, "at_risk": at_risk, "events": events, "survival": surv})


def survival_table(
    df: pd.DataFrame,
    time: str,
    event: str,
    policy: Policy,
    *,
    unit: str | None = None,
    mitigate: Mitigation = Mitigation.NONE,
) -> SurvivalResult:
    """The Kaplan-Meier table of ``time`` and ``event``, checked per time point."""
    km = _km(df, time, event, unit)
    need = policy.threshold
    flagged: list[FlaggedCell] = []
    times = km["time"].to_numpy()
    at_risk = km["at_risk"].to_numpy(dtype=int)
    events = km["events"].to_numpy(dtype=int)
    for when, n_risk, n_events in zip(times, at_risk, events, strict=True):
        t = _native(when)
        if n_risk < need:
            reason = f"threshold: {n_risk} at risk, fewer than {need}"
            flagged.append(FlaggedCell((t,), ("at_risk",), reason))
        if n_events < need:
            reason = f"threshold: {n_events} events, fewer than {need}"
            flagged.append(FlaggedCell((t,), ("events",), reason))
    status_before = Status.FAIL if flagged else Status.PASS
    reasons: list[str] = []
    if flagged:
        points = len({c.row for c in flagged})
        reasons.append(
            f"threshold: {points} of {len(km)} time points have fewer than {need} at risk or events"
        )
    mitigations: list[str] = []
    out = km
    if mitigate is not Mitigation.NONE and len(km):
        out = _group(km, need)
        if len(out) < len(km):
            mitigations.append(
                f"grouped {len(km)} event times into {len(out)} intervals of at least "
                f"{need} events, each reported at its last time"
            )
        kept = out[out["at_risk"] >= need]
        if len(kept) < len(out):
            mitigations.append(f"withheld the tail where fewer than {need} remain at risk")
        out = kept
        if mitigate is Mitigation.SUPPRESS_ROUND:
            out = out.assign(
                at_risk=round_to_base(out["at_risk"], policy.rounding_base),
                events=round_to_base(out["events"], policy.rounding_base),
            )
            mitigations.append(
                f"rounded the at-risk and event counts to base {policy.rounding_base}"
            )
    if mitigate is Mitigation.NONE:
        status = status_before
    else:
        structural = [m for m in mitigations if not m.startswith("rounded")]
        status = Status.REVIEW if structural else Status.PASS
    table = Table(
        index=[_native(t) for t in out["time"]],
        columns=COLUMNS,
        data=[
            [int(a), int(e), float(s)]
            for a, e, s in zip(out["at_risk"], out["events"], out["survival"], strict=True)
        ],
        index_names=[time],
    )
    return SurvivalResult(status, status_before, reasons + mitigations, flagged, table, mitigations)


def _group(km: pd.DataFrame, need: int) -> pd.DataFrame:
    """Merge consecutive event times until each interval has ``need`` events; an
    unfinished last interval is dropped (its events would be too few)."""
    rows = []
    start_risk: int | None = None
    events = 0
    columns = (km[c].to_numpy() for c in ("time", "at_risk", "events", "survival"))
    for when, n_risk, n_events, surv in zip(*columns, strict=True):
        if start_risk is None:
            start_risk = int(n_risk)
        events += int(n_events)
        if events >= need:
            rows.append({"time": when, "at_risk": start_risk, "events": events, "survival": surv})
            start_risk, events = None, 0
    return pd.DataFrame(rows, columns=["time", *COLUMNS])


def _native(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
