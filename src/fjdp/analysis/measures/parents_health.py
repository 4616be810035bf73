"""Parents' health before proceedings, against a matched comparison group of mothers.

Mothers in public-law proceedings (linked, at their first case; index date = the case's
issue date) against mothers in the births dataset who were never in proceedings (index
date = a baby's week of birth), matched exactly on the index year, age band at index
(5-year bands) and deprivation quintile, up to ``CONTROLS`` comparison mothers per
mother. For each, contacts in the two years before the index date:

- hospital admissions: any; mental health (ICD-10 F00–F99 without F10–F19); substance
  use (F10–F19); injury (S00–T98); looked for in all three diagnosis positions;
- emergency department attendances: any; mental health; alcohol or drugs; injury.

Fathers have no comparison group in this workspace (the births dataset names mothers
only); a population-register dataset in the project scope would give one.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fjdp.analysis.measures._frames import Frames
from fjdp.analysis.measures._result import MeasureResult
from fjdp.analysis.measures._workspace import Views

NAME = "parents_health_before_proceedings"
CONTROLS = 3
WINDOW_DAYS = 730
SEED = 20240601
GROUPS = ("proceedings", "comparison")


def _index_persons(f: Frames) -> pd.DataFrame:
    """Mothers in proceedings and their matched comparison mothers."""
    m = f.parents[(f.parents.parent == "mother")].dropna(subset=["person"])
    m = m.sort_values(["person", "issue_date"]).drop_duplicates("person")
    cases = pd.DataFrame(
        {
            "person": m.person,
            "index_date": m.issue_date,
            "age_band": (m.age_years // 5).astype("Int64"),
            "quintile": m.quintile.astype("Int64"),
        }
    )
    in_court = set(f.parents.person.dropna()) | set(f.children.person.dropna())
    b = f.births.dropna(subset=["mother", "mother_week_of_birth"])
    b = b[~b.mother.isin(in_court)]
    q = f.deprivation.set_index("lsoa").deprivation_quintile
    pool = pd.DataFrame(
        {
            "person": b.mother,
            "index_date": b.week_of_birth,
            "age_band": ((b.week_of_birth - b.mother_week_of_birth).dt.days / 365.25 // 5).astype(
                "Int64"
            ),
            "quintile": b.mother_lsoa.map(q).astype("Int64"),
        }
    ).drop_duplicates("person")
    key = ["year", "age_band", "quintile"]
    cases["year"] = cases.index_date.dt.year
    pool["year"] = pool.index_date.dt.year
    rng = np.random.default_rng(SEED)
    pool = pool.iloc[rng.permutation(len(pool))]
    # Each stratum's comparison mothers, shared out without replacement.
    pool["slot"] = pool.groupby(key).cumcount()
    need = cases.dropna(subset=key).groupby(key).size().mul(CONTROLS).rename("need")
    ctrl = pool.join(need, on=key, how="inner")
    ctrl = ctrl[ctrl.slot < ctrl.need]
    cases["group"], ctrl["group"] = GROUPS
    cols = ["person", "index_date", "group"]
    return pd.concat([cases[cols], ctrl[cols]], ignore_index=True)


def _flags(views: Views, idx: ir.Table, statuses: tuple[str, ...]) -> ir.Table:
    adm = views("hospital_admissions.admissions")
    ed = views("emergency_attendances.attendances")
    adm = adm.filter(adm.link_status.isin(statuses))
    ed = ed.filter(ed.link_status.isin(statuses))

    def window(ev_date: ir.DateColumn) -> ir.BooleanColumn:
        return (ev_date < idx.index_date) & (
            ev_date >= idx.index_date - ibis.interval(days=WINDOW_DAYS)
        )

    def codes(t: ir.Table, test: object) -> ir.BooleanColumn:
        cols = [t.diag_1, t.diag_2, t.diag_3]
        return ibis.or_(*(test(c) for c in cols))  # type: ignore[operator]

    mh = codes(adm, lambda c: c.startswith("F") & ~c.re_search(r"^F1[0-9]"))
    sub = codes(adm, lambda c: c.re_search(r"^F1[0-9]"))
    inj = codes(adm, lambda c: c.startswith("S") | c.startswith("T"))
    a = (
        idx.join(adm, [idx.person == adm.alf_pe, window(adm.admission_date)])
        .group_by([idx.person, idx.group])
        .aggregate(
            admission=ibis.literal(True),
            admission_mental_health=mh.fill_null(False).any(),
            admission_substance_use=sub.fill_null(False).any(),
            admission_injury=inj.fill_null(False).any(),
        )
    )
    e = (
        idx.join(ed, [idx.person == ed.alf_pe, window(ed.arrival_date)])
        .group_by([idx.person, idx.group])
        .aggregate(
            emergency=ibis.literal(True),
            emergency_mental_health=(ed.diagnosis_group == "mental health").any(),
            emergency_alcohol_or_drugs=(ed.diagnosis_group == "alcohol or drugs").any(),
            emergency_injury=(ed.diagnosis_group == "injury").any(),
        )
    )
    flags = [c for c in (*a.columns, *e.columns) if c not in ("person", "group")]
    a = a.rename(a_person="person", a_group="group")
    e = e.rename(e_person="person", e_group="group")
    j = idx.left_join(a, [idx.person == a.a_person, idx.group == a.a_group])
    j = j.left_join(e, [j.person == e.e_person, j.group == e.e_group])
    return j.select("person", "group", *flags)


CONTACTS = (
    "admission",
    "admission_mental_health",
    "admission_substance_use",
    "admission_injury",
    "emergency",
    "emergency_mental_health",
    "emergency_alcohol_or_drugs",
    "emergency_injury",
)


def health_table(views: Views, f: Frames) -> pd.DataFrame:
    people = _index_persons(f)
    idx = ibis.memtable(people[["person", "index_date", "group"]])
    flags = _flags(views, idx, f.links.statuses).to_pandas()
    rows = []
    for group in GROUPS:
        g = flags[flags.group == group]
        for contact in CONTACTS:
            n = int((g[contact] == True).sum())  # noqa: E712 - NULL (no contact) is not True
            rows.append(
                {
                    "group": group,
                    "contact": contact.replace("_", " "),
                    "mothers": len(g),
                    "with_contact": n,
                    "percent": 100 * n / len(g) if len(g) else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def _percent(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    t["percent"] = 100 * t.with_contact / t.mothers.where(t.mothers > 0)
    return t


def plot(t: pd.DataFrame) -> Figure:
    wide = t.pivot(index="contact", columns="group", values="percent").reindex(
        [c.replace("_", " ") for c in CONTACTS]
    )
    fig, ax = plt.subplots(figsize=(10, 4.5))
    x = np.arange(len(wide))
    for i, group in enumerate(GROUPS):
        ax.barh(x + i * 0.4, wide[group], height=0.4, label=group)
    ax.set_yticks(x + 0.2, wide.index)
    ax.invert_yaxis()
    ax.set(
        xlabel="% of mothers with a contact in the 2 years before",
        title="Mothers' health before proceedings",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def parents_health(views: Views, f: Frames) -> MeasureResult:
    t = health_table(views, f)
    return MeasureResult(
        name=NAME,
        title="Mothers' hospital and emergency contacts in the two years before proceedings",
        description=(__doc__ or "").strip().split("\n\n")[1].replace("\n", " "),
        table=t,
        plot=plot,
        unit="mother",
        count_columns=("mothers", "with_contact"),
        derived_columns=("percent",),
        rederive=_percent,
        complements=(("with_contact", "mothers"),),
        links=f.links.value,
        notes=(f"Up to {CONTROLS} comparison mothers per mother, matched exactly.",),
    )
