"""Infants and newborns subject to public-law proceedings per 10,000 live births.

Numerator: subject children of public-law cases aged under one year (``infants``) and
under one week (``newborns``) at the case's issue date, counted once per child per
case, by the year the case was issued. Age is from the week of birth (the middle of the
week), as the public analysis code for these extracts does. Denominator: live births in
the births dataset in the same year (or area, or deprivation quintile of the baby's
area). Breakdowns: year; local authority of the case against births in that authority;
deprivation quintile of the child's area (linked children only, since the area comes
from the population register through the link) against births in that quintile.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from fjdp.analysis.measures._frames import Frames
from fjdp.analysis.measures._result import MeasureResult

PER = 10_000
NAME = "infants_per_10k_births"


def _rates(infants: pd.DataFrame, births: pd.Series, by: str) -> pd.DataFrame:
    g = infants.groupby(by).agg(infants=("child_key", "size"), newborns=("newborn", "sum"))
    t = pd.DataFrame({"births": births}).join(g, how="outer").fillna(0).astype(int)
    t["infants_per_10k"] = t.infants / t.births.where(t.births > 0) * PER
    t["newborns_per_10k"] = t.newborns / t.births.where(t.births > 0) * PER
    t["newborn_share_of_infants"] = t.newborns / t.infants.where(t.infants > 0)
    t.index.name = "group"
    return t.reset_index()


def infant_table(f: Frames) -> pd.DataFrame:
    c = f.children.dropna(subset=["age_days"]).copy()
    c["age_days"] = c.age_days.clip(lower=0)
    inf = c[c.age_days < 365].copy()
    inf["newborn"] = inf.age_days < 7
    inf["year"] = inf.issue_date.dt.year
    b = f.births.copy()
    b["year"] = b.week_of_birth.dt.year
    la = f.deprivation.set_index("lsoa").local_authority
    b["local_authority"] = b.lsoa.map(la)
    first, last = int(c.issue_date.dt.year.min()), int(c.issue_date.dt.year.max())
    b = b[(b.year >= first) & (b.year <= last)]
    parts = []
    for breakdown, col in (
        ("year", "year"),
        ("local authority", "local_authority"),
        ("deprivation quintile", "quintile"),
    ):
        births = b.groupby(col).size()
        if col == "quintile":
            births.index = births.index.astype(int)
            sub = inf.dropna(subset=["quintile"]).assign(quintile=lambda d: d.quintile.astype(int))
        else:
            sub = inf
        t = _rates(sub, births, col)
        t.insert(0, "breakdown", breakdown)
        t["group"] = t.group.astype(str)
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def rates(t: pd.DataFrame) -> pd.DataFrame:
    """The rates and shares of ``t``, recomputed from its (possibly protected) counts."""
    t = t.copy()
    births = t.births.where(t.births > 0)
    t["infants_per_10k"] = t.infants / births * PER
    t["newborns_per_10k"] = t.newborns / births * PER
    t["newborn_share_of_infants"] = t.newborns / t.infants.where(t.infants > 0)
    return t


def plot(t: pd.DataFrame) -> Figure:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    y = t[t.breakdown == "year"]
    years = y.group.astype(int)
    a1.plot(years, y.infants_per_10k, marker="o", label="under 1 year")
    a1.plot(years, y.newborns_per_10k, marker="o", label="under 1 week")
    a1.set(title="Per 10,000 live births, by year of issue", xlabel="year", ylabel="rate")
    a1.legend()
    q = t[t.breakdown == "deprivation quintile"]
    a2.bar(q.group, q.infants_per_10k, color="#4477aa")
    a2.set(
        title="Infants per 10,000 births by deprivation quintile",
        xlabel="quintile (1 = most deprived)",
        ylabel="rate",
    )
    fig.tight_layout()
    return fig


def infants_per_10k(f: Frames) -> MeasureResult:
    t = infant_table(f)
    return MeasureResult(
        name=NAME,
        title="Infants and newborns in public-law proceedings per 10,000 live births",
        description=(__doc__ or "").strip().split("\n\n")[1].replace("\n", " "),
        table=t,
        plot=plot,
        unit="child",
        count_columns=("births", "infants", "newborns"),
        derived_columns=("infants_per_10k", "newborns_per_10k", "newborn_share_of_infants"),
        rederive=rates,
        lines=tuple((("breakdown",), c) for c in ("births", "infants", "newborns")),
        complements=(("newborns", "infants"),),
        links=f.links.value,
        notes=(
            "Births outside the years of the court data are left out of the denominators.",
            "A child's deprivation quintile is known only when the child is linked.",
        ),
    )
