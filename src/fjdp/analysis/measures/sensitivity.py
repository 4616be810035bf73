"""Linkage sensitivity: the headline figure of each measure, with and without possible
matches (``PROB_POSSIBLE``) counted as links.

A measure that depends on following people across datasets moves when more links are
accepted: more children get an area, more mothers are followed to a later case or to a
hospital record. The difference is the part of each figure that rests on uncertain
links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fjdp.analysis.measures._frames import Frames
from fjdp.analysis.measures._result import MeasureResult
from fjdp.analysis.measures._workspace import Views
from fjdp.analysis.measures.infants import infant_table
from fjdp.analysis.measures.parents_health import health_table
from fjdp.analysis.measures.pathways import RETURN_YEARS, pathways_table
from fjdp.analysis.measures.recurrence import recurrence_table

NAME = "linkage_sensitivity"


def headlines(
    views: Views, f: Frames, tables: Mapping[str, pd.DataFrame] | None = None
) -> list[tuple[str, str, float, int]]:
    """(measure, figure, value, contributors) for the headline figures of ``f``.
    ``tables``: the measures' tables already computed on ``f``, by measure name, so a
    run that has them does not compute them again."""
    done = tables or {}

    def table(name: str, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        return done[name] if name in done else make()

    out: list[tuple[str, str, float, int]] = []
    inf = table("infants_per_10k_births", lambda: infant_table(f))
    y = inf[inf.breakdown == "year"]
    out.append(
        (
            "infants",
            "infants per 10,000 births",
            1e4 * y.infants.sum() / y.births.sum(),
            int(y.infants.sum()),
        )
    )
    q = inf[(inf.breakdown == "deprivation quintile") & (inf.group == "1")]
    out.append(
        (
            "infants",
            "infants per 10,000 births, most deprived quintile",
            float(q.infants_per_10k.iloc[0]) if len(q) else float("nan"),
            int(q.infants.sum()),
        )
    )
    rec = table("recurrent_proceedings", lambda: recurrence_table(f))
    m = rec[(rec.parent == "mother") & (rec.age_at_first == "all ages") & (rec.years == 5)]
    out.append(
        (
            "recurrence",
            "mothers returning within 5 years (%)",
            100 * float(m.cumulative_share_returned.iloc[0]),
            int(m.parents.iloc[0]),
        )
    )
    h = table("parents_health_before_proceedings", lambda: health_table(views, f))
    for contact in ("admission mental health", "emergency"):
        r = h[(h.group == "proceedings") & (h.contact == contact)]
        out.append(
            (
                "parents' health",
                f"mothers with {contact} contact (%)",
                float(r.percent.iloc[0]),
                int(r.mothers.iloc[0]),
            )
        )
    p = table("childrens_pathways", lambda: pathways_table(f))
    r = p[p.section == f"returned within {RETURN_YEARS} years"]
    n = int(r.children.sum())
    out.append(
        (
            "pathways",
            f"children back in court within {RETURN_YEARS} years (%)",
            100 * float(r.returned.sum()) / n if n else float("nan"),
            n,
        )
    )
    return out


def linkage_sensitivity(
    views: Views,
    accepted: Frames,
    possible: Frames,
    accepted_tables: Mapping[str, pd.DataFrame] | None = None,
) -> MeasureResult:
    a, b = headlines(views, accepted, accepted_tables), headlines(views, possible)
    t = pd.DataFrame(
        [
            {
                "measure": m,
                "figure": fig,
                "accepted_links": va,
                "with_possible_links": vb,
                "difference": vb - va,
                "contributors_accepted": na,
                "contributors_with_possible": nb,
            }
            for (m, fig, va, na), (_, _, vb, nb) in zip(a, b, strict=True)
        ]
    )
    return MeasureResult(
        name=NAME,
        title="Linkage sensitivity: each headline figure with possible matches included",
        description=(__doc__ or "").strip().split("\n\n")[1].replace("\n", " "),
        table=t,
        plot=plot,
        unit="person",
        count_columns=("contributors_accepted", "contributors_with_possible"),
        derived_columns=("accepted_links", "with_possible_links", "difference"),
        links="accepted, and accepted + possible",
    )


def plot(t: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 4))
    rel = 100 * t.difference / t.accepted_links.replace(0, np.nan)
    ax.barh(t.figure, rel, color="#228833")
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set(
        xlabel="change when possible matches count (% of the default figure)",
        title="Linkage sensitivity",
    )
    fig.tight_layout()
    return fig
