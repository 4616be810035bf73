"""Recurrent proceedings: the share of mothers (and fathers) returning to court.

A parent's first set of public-law proceedings is their earliest case (by issue date)
in the data; a return is any later case with a later issue date (it may begin before
the first one closes). Time to return is counted from the first issue date; a parent
who has not returned is censored at the end of the data. The cumulative share
returning within 1 to 10 years is the Kaplan–Meier estimate (statsmodels), overall and
by age at first proceedings. Only linked parents can be followed across cases, so the
population is parents whose link is accepted.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from statsmodels.duration.survfunc import SurvfuncRight

from fjdp.analysis.measures._frames import Frames
from fjdp.analysis.measures._result import MeasureResult

NAME = "recurrent_proceedings"
YEARS = tuple(range(1, 11))
AGE_BANDS = ((0, 20, "under 20"), (20, 25, "20-24"), (25, 30, "25-29"), (30, 200, "30 and over"))


def first_and_return(f: Frames) -> pd.DataFrame:
    """One row per linked parent: age at first proceedings, years to return or censoring."""
    p = f.parents.dropna(subset=["person"])
    cases = (
        p.sort_values(["person", "issue_date", "case_id"])
        .drop_duplicates(["person", "case_id"])
        .groupby("person", sort=False)
    )
    first = cases.nth(0).set_index("person")
    later = cases.nth(1).set_index("person")
    out = first[["parent", "age_years", "issue_date"]].copy()
    out["returned"] = out.index.isin(later.index) & (
        later.issue_date.reindex(out.index) > out.issue_date
    ).fillna(False)
    end = later.issue_date.reindex(out.index).where(out.returned, f.data_end)
    out["years"] = (end - out.issue_date).dt.days / 365.25
    out = out[out.years > 0]
    labels = pd.cut(
        out.age_years,
        bins=[b[0] for b in AGE_BANDS] + [AGE_BANDS[-1][1]],
        labels=[b[2] for b in AGE_BANDS],
        right=False,
    )
    out["age_at_first"] = labels.astype(str)
    return out.reset_index()


def _km(d: pd.DataFrame) -> list[float]:
    if d.empty or not d.returned.any():
        return [0.0 for _ in YEARS]
    sf = SurvfuncRight(d.years.to_numpy(), d.returned.to_numpy().astype(int))
    times, surv = sf.surv_times, sf.surv_prob
    out = []
    for y in YEARS:
        i = np.searchsorted(times, y, side="right") - 1
        out.append(float(1 - surv[i]) if i >= 0 else 0.0)
    return out


def recurrence_table(f: Frames) -> pd.DataFrame:
    d = first_and_return(f)
    rows = []
    for parent in ("mother", "father"):
        dp = d[d.parent == parent]
        groups = [("all ages", dp)] + [(b[2], dp[dp.age_at_first == b[2]]) for b in AGE_BANDS]
        for group, g in groups:
            shares = _km(g)
            for y, s in zip(YEARS, shares, strict=True):
                rows.append(
                    {
                        "parent": parent,
                        "age_at_first": group,
                        "parents": len(g),
                        "returned": int(g.returned.sum()),
                        "years": y,
                        "at_risk": int((g.years >= y).sum()),
                        "cumulative_share_returned": s,
                    }
                )
    return pd.DataFrame(rows)


def plot(t: pd.DataFrame) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, parent in zip(axes, ("mother", "father"), strict=True):
        for group, g in t[t.parent == parent].groupby("age_at_first", sort=False):
            ax.step(g.years, g.cumulative_share_returned, where="post", label=group)
        ax.set(
            title=f"{parent.capitalize()}s returning to court",
            xlabel="years since first proceedings",
            ylabel="cumulative share (Kaplan-Meier)",
        )
        ax.legend(title="age at first")
    fig.tight_layout()
    return fig


def recurrent_proceedings(f: Frames) -> MeasureResult:
    t = recurrence_table(f)
    return MeasureResult(
        name=NAME,
        title="Recurrent care proceedings: parents returning to court",
        description=(__doc__ or "").strip().split("\n\n")[1].replace("\n", " "),
        table=t,
        plot=plot,
        unit="parent",
        count_columns=("parents", "returned", "at_risk"),
        derived_columns=("cumulative_share_returned",),
        # the age groups of a parent and year add up to "all ages"
        lines=tuple((("parent", "years"), c) for c in ("parents", "returned", "at_risk")),
        links=f.links.value,
        notes=("Cumulative shares are survival estimates, checked on their at-risk counts.",),
    )
