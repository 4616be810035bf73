"""Children's pathways through the family courts, and the routes as a picture.

Public law, per subject child per case: the highest final order, by year of issue; the
days from the case's issue to that order; and whether the child is the subject of a
later public-law case within five years (linked children with five years of follow-up,
by final order). Private law, per application: applications by type and by outcome
(the highest order made on the application).

The routes diagram follows each public-law child from the case's first application,
through the final order, to a return within five years (or none, or follow-up too short
to tell); its counts table is the flows between the stages.
"""

from __future__ import annotations

import html as html_lib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MPath

from fjdp.analysis.measures._frames import PUBLIC_ORDER_RANK, Frames
from fjdp.analysis.measures._result import MeasureResult

NAME = "childrens_pathways"
SANKEY = "pathways_diagram"
RETURN_YEARS = 5
NO_FINAL = "no final order recorded"

APPLICATION_GROUPS = {
    "C1_CARE_S31": "care or supervision (s31)",
    "C1_SUPERVISION_S31": "care or supervision (s31)",
    "C1_EPO_S44": "emergency protection (s44)",
    "A_PLACEMENT_S21": "placement (s21)",
}


def _returns(f: Frames) -> pd.DataFrame:
    """Children with their later public-law case (if any) and whether follow-up suffices."""
    c = f.children.copy()
    c["final_order"] = c.final_order.fillna(NO_FINAL)
    linked = c.dropna(subset=["person"]).sort_values(["person", "issue_date"])
    nxt = linked.groupby("person").issue_date.shift(-1)
    c["next_issue"] = nxt.reindex(c.index)
    c["followed_up"] = c.person.notna() & (
        (f.data_end - c.issue_date).dt.days >= RETURN_YEARS * 365.25
    )
    c["returned"] = (c.next_issue - c.issue_date).dt.days <= RETURN_YEARS * 365.25
    return c


def pathways_table(f: Frames) -> pd.DataFrame:
    c = _returns(f)
    c["year"] = c.issue_date.dt.year
    parts = []
    orders = c.groupby(["year", "final_order"]).size().rename("children").reset_index()
    orders["share"] = orders.children / orders.groupby("year").children.transform("sum")
    parts.append(
        orders.rename(columns={"year": "group", "final_order": "category"}).assign(
            section="final order by year of issue"
        )
    )
    timed = c.dropna(subset=["final_order_date"])
    days = (timed.final_order_date - timed.issue_date).dt.days
    dur = (
        timed.assign(days=days)
        .groupby("year")
        .days.agg(children="size", median_days="median")
        .reset_index()
        .rename(columns={"year": "group"})
        .assign(section="days from issue to final order", category="all orders")
    )
    parts.append(dur)
    fu = c[c.followed_up]
    ret = (
        fu.groupby("final_order")
        .agg(children=("child_key", "size"), returned=("returned", "sum"))
        .reset_index()
        .rename(columns={"final_order": "category"})
    )
    ret["share"] = ret.returned / ret.children
    parts.append(ret.assign(section=f"returned within {RETURN_YEARS} years", group="all years"))
    p = f.private.copy()
    p["final_order"] = p.final_order.fillna(NO_FINAL)
    by_type = p.groupby("application_type").size().rename("applications").reset_index()
    parts.append(
        by_type.rename(columns={"application_type": "category"}).assign(
            section="private law applications by type", group="all years"
        )
    )
    counts = p.groupby(["application_type", "final_order"]).size().rename("applications")
    outcome = counts.reset_index().rename(
        columns={"application_type": "group", "final_order": "category"}
    )
    totals = outcome.groupby("group")["applications"].transform("sum")
    outcome["share"] = outcome["applications"] / totals
    parts.append(outcome.assign(section="private law outcome by application type"))
    t = pd.concat(parts, ignore_index=True)
    t["group"] = t.group.astype(str)
    cols = [
        "section",
        "group",
        "category",
        "children",
        "applications",
        "returned",
        "share",
        "median_days",
    ]
    t = t.reindex(columns=cols)
    for col in ("children", "applications", "returned"):
        t[col] = t[col].astype("Int64")
    return t


def plot(t: pd.DataFrame) -> Figure:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    o = t[t.section == "final order by year of issue"]
    wide = o.pivot(index="group", columns="category", values="share").fillna(0)
    wide = wide[[c for c in (*PUBLIC_ORDER_RANK, NO_FINAL) if c in wide.columns]]
    wide.plot.bar(stacked=True, ax=a1, width=0.85, legend=False)
    a1.set(title="Highest final order, by year of issue", xlabel="year", ylabel="share of children")
    a1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    r = t[t.section == f"returned within {RETURN_YEARS} years"]
    a2.barh(r.category, r.share.astype(float), color="#aa3377")
    a2.set(title=f"Back in court within {RETURN_YEARS} years, by final order", xlabel="share")
    fig.tight_layout()
    return fig


def childrens_pathways(f: Frames) -> MeasureResult:
    t = pathways_table(f)
    return MeasureResult(
        name=NAME,
        title="Children's pathways: orders, time to final order and return to court",
        description=(__doc__ or "").strip().split("\n\n")[1].replace("\n", " "),
        table=t,
        plot=plot,
        unit="child",
        count_columns=("children", "applications", "returned"),
        derived_columns=("share", "median_days"),
        lines=((("section", "group"), "children"), (("section", "group"), "applications")),
        complements=(("returned", "children"),),
        links=f.links.value,
        notes=("Private-law rows count applications; public-law rows count children.",),
    )


# --- the routes diagram -------------------------------------------------------------


def flows_table(f: Frames) -> pd.DataFrame:
    c = _returns(f)
    start = c.first_application.map(APPLICATION_GROUPS).fillna("other application")
    end = np.where(
        ~c.followed_up,
        "follow-up under 5 years or not linked",
        np.where(c.returned, f"back in court within {RETURN_YEARS} years", "no return"),
    )
    order = c.final_order.str.replace("_", " ").str.lower()
    first = pd.DataFrame({"source": start, "target": order}).value_counts().rename("children")
    second = pd.DataFrame({"source": order, "target": end}).value_counts().rename("children")
    flows = pd.concat(
        [
            first.reset_index().assign(stage="application to final order"),
            second.reset_index().assign(stage="final order to return"),
        ],
        ignore_index=True,
    )
    return flows[["stage", "source", "target", "children"]]


def _stage_nodes(t: pd.DataFrame) -> list[list[tuple[str, int]]]:
    t = t.dropna(subset=["children"])  # suppressed flows are not drawn
    s1 = t[t.stage == "application to final order"]
    s2 = t[t.stage == "final order to return"]
    col0 = s1.groupby("source").children.sum().sort_values(ascending=False)
    # a middle node's size: its flows in or out, whichever is larger (they differ only
    # when some flows are suppressed)
    col1 = (
        pd.concat(
            [s1.groupby("target").children.sum(), s2.groupby("source").children.sum()], axis=1
        )
        .max(axis=1)
        .sort_values(ascending=False)
    )
    col2 = s2.groupby("target").children.sum().sort_values(ascending=False)
    return [[(str(k), int(v)) for k, v in col.items()] for col in (col0, col1, col2)]


def _draw(t: pd.DataFrame) -> Figure:
    """An alluvial picture of the flows: node bars in three columns joined by ribbons."""
    cols = _stage_nodes(t)
    gap = sum(n for _, n in cols[0]) * 0.02
    fig, ax = plt.subplots(figsize=(12, 6))
    pos: dict[tuple[int, str], list[float]] = {}
    colour: dict[tuple[int, str], tuple[float, ...]] = {}
    palette = plt.get_cmap("tab20")
    for ci, nodes in enumerate(cols):
        y = 0.0
        for ni, (name, count) in enumerate(nodes):
            n = float(count)
            colour[(ci, name)] = palette(ni % 20)
            ax.add_patch(Rectangle((ci - 0.02, y), 0.04, n, color=colour[(ci, name)]))
            ha = "right" if ci == 2 else "left"
            x = ci - 0.03 if ci == 2 else ci + 0.03
            ax.text(x, y + n / 2, f"{name} ({count:,})", va="center", ha=ha, fontsize=7)
            pos[(ci, name)] = [y, y]  # next free y for outgoing, incoming ribbons
            y += n + gap
    stages = ("application to final order", "final order to return")
    shown = t.dropna(subset=["children"])
    for si, stage in enumerate(stages):
        flows = shown[shown.stage == stage].sort_values("children", ascending=False)
        for _, row in flows.iterrows():
            n = float(row.children)
            src, dst = pos[(si, row.source)], pos[(si + 1, row.target)]
            y0, y1 = src[0], dst[1]
            src[0] += n
            dst[1] += n
            x0, x1 = si + 0.02, si + 0.98
            xm = (x0 + x1) / 2
            verts = [
                (x0, y0),
                (xm, y0),
                (xm, y1),
                (x1, y1),
                (x1, y1 + n),
                (xm, y1 + n),
                (xm, y0 + n),
                (x0, y0 + n),
                (x0, y0),
            ]
            codes = [
                MPath.MOVETO,
                MPath.CURVE4,
                MPath.CURVE4,
                MPath.CURVE4,
                MPath.LINETO,
                MPath.CURVE4,
                MPath.CURVE4,
                MPath.CURVE4,
                MPath.CLOSEPOLY,
            ]
            ribbon = PathPatch(
                MPath(verts, codes), alpha=0.35, lw=0, color=colour[(si, row.source)]
            )
            ax.add_patch(ribbon)
    ax.set_xlim(-0.1, 2.1)
    ax.set_ylim(0, max(sum(n for _, n in c) + gap * len(c) for c in cols))
    ax.invert_yaxis()
    ax.axis("off")
    ax.set_title("Routes of public-law children: first application → final order → return")
    return fig


def _plotly(t: pd.DataFrame) -> str:
    cols = _stage_nodes(t)
    labels = [name for nodes in cols for name, _ in nodes]
    index = {
        (ci, name): i
        for i, (ci, name) in enumerate((ci, n) for ci, nodes in enumerate(cols) for n, _ in nodes)
    }
    src, dst, val = [], [], []
    shown = t.dropna(subset=["children"])
    for si, stage in enumerate(("application to final order", "final order to return")):
        for _, row in shown[shown.stage == stage].iterrows():
            src.append(index[(si, row.source)])
            dst.append(index[(si + 1, row.target)])
            val.append(int(row.children))
    fig = go.Figure(
        go.Sankey(
            node={"label": labels, "pad": 12},
            link={"source": src, "target": dst, "value": val},
        )
    )
    fig.update_layout(title_text="Routes (interactive)", font_size=11, height=600)
    body = fig.to_html(full_html=False, include_plotlyjs="inline")
    return f"<h2>{html_lib.escape('Interactive diagram')}</h2>{body}"


def pathways_diagram(f: Frames) -> MeasureResult:
    t = flows_table(f)
    return MeasureResult(
        name=SANKEY,
        title="Children's routes through public-law proceedings",
        description=(__doc__ or "").strip().split("\n\n")[2].replace("\n", " "),
        table=t,
        plot=_draw,
        unit="child",
        count_columns=("children",),
        links=f.links.value,
        html_extra=_plotly,
        grids=(("stage", "source", "target", "children"),),
    )
