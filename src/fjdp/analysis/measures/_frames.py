"""Derived person-level views that every measure starts from.

Like the public analysis code for the family-court extracts (one row per subject child
per set of proceedings, one row per parent per set of proceedings), built once per run:

- ``children``: a subject child of a public-law case, with age at issue (from week of
  birth), area, deprivation quintile, the case's first application type, the highest
  final order and its date;
- ``parents``: a mother or father of such a child, per case, with age at issue;
- ``births``: one row per live birth, with the mother and the deprivation quintile;
- ``private``: one row per private-law application with its outcome.

Frames are small (one row per person per case), so they are pandas tables; the event
tables (admissions, attendances) stay in the database and are counted there.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from fjdp.analysis.measures._workspace import Views
from fjdp.analysis.options import Links

# Highest first: when a child has several final orders in a case, the highest counts
# (placement > care > special guardianship > child arrangements > supervision alone >
# family assistance > no order).
PUBLIC_ORDER_RANK: tuple[str, ...] = (
    "PLACEMENT_ORDER",
    "CARE_ORDER",
    "SPECIAL_GUARDIANSHIP_ORDER",
    "CHILD_ARRANGEMENTS_ORDER",
    "SUPERVISION_ORDER",
    "FAMILY_ASSISTANCE_ORDER",
    "NO_ORDER",
    "WITHDRAWN",
    "REFUSED",
)
PRIVATE_ORDER_RANK: tuple[str, ...] = (
    "SPECIAL_GUARDIANSHIP_ORDER",
    "CHILD_ARRANGEMENTS_ORDER",
    "PARENTAL_RESPONSIBILITY_ORDER",
    "PROHIBITED_STEPS_ORDER",
    "SPECIFIC_ISSUE_ORDER",
    "NO_ORDER",
    "WITHDRAWN",
    "REFUSED",
)
# Week of birth is the Monday of the birth week; the middle of the week is the best
# single guess of the date of birth (at most 3 days out either way).
MID_WEEK_DAYS = 3


@dataclass(frozen=True)
class Frames:
    """The person-level views of one workspace under one linkage option."""

    children: pd.DataFrame
    parents: pd.DataFrame
    births: pd.DataFrame
    private: pd.DataFrame
    deprivation: pd.DataFrame
    links: Links
    data_end: pd.Timestamp


def _t(views: Views, dataset: str, table: str) -> ir.Table:
    return views(f"{dataset}.{table}")


def _linked(t: ir.Table, statuses: tuple[str, ...], prefix: str = "") -> ir.Column:
    """The person's pseudonym when the link is accepted, else NULL (not linked)."""
    status = t[f"{prefix}link_status"]
    return ibis.ifelse(status.isin(statuses), t[f"{prefix}alf_pe"], ibis.null(str))


def _rank(col: ir.StringColumn, ranking: tuple[str, ...]) -> ir.IntegerColumn:
    return col.cases(*((o, i) for i, o in enumerate(ranking)), else_=len(ranking))


def _with_quintile(views: Views, t: ir.Table, lsoa: str = "lsoa") -> ir.Table:
    """``t`` with the deprivation quintile of its area (NULL where the area is unknown)."""
    ref = _t(views, "reference", "lsoa_deprivation")
    q = ref.select(_lsoa="lsoa", quintile="deprivation_quintile")
    t = t.view()  # a join boundary: joining onto a join chain extends that chain
    return t.left_join(q, t[lsoa] == q._lsoa).drop("_lsoa")


def _highest_order(
    views: Views, dataset: str, ranking: tuple[str, ...], by: tuple[str, ...]
) -> ir.Table:
    """Per ``by`` (person and case, or application): the highest-ranked order and when."""
    outs = _t(views, dataset, "legal_outputs")
    apps = _t(views, dataset, "applications")
    j = outs.join(apps, outs.application_system_id == apps.system_id).select(
        person_system_id=outs.person_system_id,
        application_system_id=outs.application_system_id,
        case_system_id=apps.case_system_id,
        order_type=outs.order_type,
        date_ordered=outs.date_ordered,
        rank=_rank(outs.order_type, ranking),
    )
    w = ibis.window(group_by=list(by), order_by=[j.rank, j.date_ordered.desc()])
    return (
        j.mutate(rn=ibis.row_number().over(w))
        .filter(lambda x: x.rn == 0)
        .select(*by, final_order="order_type", final_order_date="date_ordered")
    )


def _children(views: Views, statuses: tuple[str, ...]) -> ir.Table:
    ds = "court_public"
    ap, apps, cases, persons = (
        _t(views, ds, n) for n in ("application_persons", "applications", "cases", "persons")
    )
    first_app = (
        apps.mutate(
            rn=ibis.row_number().over(
                ibis.window(group_by="case_system_id", order_by=["issue_date", "system_id"])
            )
        )
        .filter(lambda x: x.rn == 0)
        .select("case_system_id", first_application="application_type")
    )
    subj = (
        ap.filter(ap.role == "subject")
        .join(apps, ap.application_system_id == apps.system_id)
        .select(person_system_id=ap.person_system_id, case_system_id=apps.case_system_id)
        .distinct()
    )
    c = (
        subj.join(cases, subj.case_system_id == cases.system_id)
        .join(persons, subj.person_system_id == persons.system_id)
        .select(
            child_key=subj.person_system_id,
            case_id=subj.case_system_id,
            person=_linked(persons, statuses),
            link_status=persons.link_status,
            issue_date=cases.issue_date,
            close_date=cases.close_date,
            local_authority=cases.local_authority,
            week_of_birth=persons.week_of_birth,
            sex=persons.sex,
            lsoa=ibis.ifelse(persons.link_status.isin(statuses), persons.lsoa, ibis.null(str)),
        )
    )
    c = c.join(first_app, c.case_id == first_app.case_system_id, how="left").drop("case_system_id")
    orders = _highest_order(views, ds, PUBLIC_ORDER_RANK, ("person_system_id", "case_system_id"))
    c = c.join(
        orders,
        [c.child_key == orders.person_system_id, c.case_id == orders.case_system_id],
        how="left",
    ).drop("person_system_id", "case_system_id")
    return _with_quintile(views, c)


def _parents(views: Views, statuses: tuple[str, ...]) -> ir.Table:
    ds = "court_public"
    rel, persons = _t(views, ds, "relationships"), _t(views, ds, "persons")
    ap, apps, cases = (_t(views, ds, n) for n in ("application_persons", "applications", "cases"))
    subj = (
        ap.filter(ap.role == "subject")
        .join(apps, ap.application_system_id == apps.system_id)
        .select(child=ap.person_system_id, case_system_id=apps.case_system_id)
        .distinct()
    )
    par = rel.filter(rel.relationship == "parent")
    p = (
        par.join(subj, par.related_person_system_id == subj.child)
        .select(parent_key=par.person_system_id, case_system_id=subj.case_system_id)
        .distinct()
    )
    pc = p.join(cases, p.case_system_id == cases.system_id).select(
        p.parent_key,
        case_id=p.case_system_id,
        issue_date=cases.issue_date,
        close_date=cases.close_date,
    )
    p = pc.join(persons, pc.parent_key == persons.system_id).select(
        pc.parent_key,
        pc.case_id,
        person=_linked(persons, statuses),
        link_status=persons.link_status,
        parent=ibis.ifelse(persons.sex == "F", "mother", "father"),
        week_of_birth=persons.week_of_birth,
        issue_date=pc.issue_date,
        close_date=pc.close_date,
        lsoa=ibis.ifelse(persons.link_status.isin(statuses), persons.lsoa, ibis.null(str)),
    )
    return _with_quintile(views, p)


def _births(views: Views, statuses: tuple[str, ...]) -> ir.Table:
    b = _t(views, "births", "births")
    out = b.select(
        baby=_linked(b, statuses, "baby_"),
        mother=_linked(b, statuses, "mother_"),
        week_of_birth=b.baby_week_of_birth,
        mother_week_of_birth=b.mother_week_of_birth,
        mother_age=b.mother_age,
        lsoa=b.baby_lsoa,
        mother_lsoa=b.mother_lsoa,
    )
    return _with_quintile(views, out)


def _private(views: Views) -> ir.Table:
    ds = "court_private"
    apps, cases = _t(views, ds, "applications"), _t(views, ds, "cases")
    orders = _highest_order(views, ds, PRIVATE_ORDER_RANK, ("application_system_id",))
    a = apps.join(cases, apps.case_system_id == cases.system_id).select(
        application_id=apps.system_id,
        application_type=apps.application_type,
        issue_date=apps.issue_date,
        local_authority=cases.local_authority,
    )
    return a.join(orders, a.application_id == orders.application_system_id, how="left").drop(
        "application_system_id", "final_order_date"
    )


def _dates(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for c in cols:
        if c in df:
            df[c] = pd.to_datetime(df[c])
    return df


def build_frames(views: Views, links: Links = Links.ACCEPTED) -> Frames:
    """The person-level views of a workspace (``views`` reads its tables by name) with
    the links ``links`` accepts."""
    st = links.statuses
    children = _dates(
        _children(views, st).to_pandas(),
        "issue_date",
        "close_date",
        "week_of_birth",
        "final_order_date",
    )
    children["age_days"] = (children.issue_date - children.week_of_birth).dt.days - MID_WEEK_DAYS
    parents = _dates(_parents(views, st).to_pandas(), "issue_date", "close_date", "week_of_birth")
    parents["age_years"] = (parents.issue_date - parents.week_of_birth).dt.days / 365.25
    births = _dates(_births(views, st).to_pandas(), "week_of_birth", "mother_week_of_birth")
    private = _dates(_private(views).to_pandas(), "issue_date")
    deprivation = _t(views, "reference", "lsoa_deprivation").to_pandas()
    ends = [children.issue_date.max(), private.issue_date.max(), births.week_of_birth.max()]
    return Frames(
        children=children,
        parents=parents,
        births=births,
        private=private,
        deprivation=deprivation,
        links=links,
        data_end=max(e for e in ends if pd.notna(e)),
    )
