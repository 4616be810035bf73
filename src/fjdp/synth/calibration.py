"""Measure a built world against the published figures it is calibrated to.

Every achieved value is computed from the files the world wrote (sources and truth),
with DuckDB, not from the generator's parameters: this is the check that the
generator does what it claims. Results go to ``truth/calibration.json``.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from fjdp.synth.config import WorldConfig

DAYS = 365.25


def load_targets() -> list[dict[str, Any]]:
    text = resources.files("fjdp.synth").joinpath("data/calibration_targets.json").read_text()
    targets: list[dict[str, Any]] = json.loads(text)["targets"]
    return targets


def _views(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    def p(name: str) -> str:
        return str(root / f"{name}.parquet").replace("'", "''")

    for view, name in {
        "tp": "truth/people",
        "plc": "truth/public_law_cases",
        "hrt": "truth/health_records",
        "addr": "spine/addresses",
        "lsoa": "deprivation/lsoa",
        "births": "births/births",
        "adm": "hospital/admissions",
        "ed": "emergency/attendances",
    }.items():
        con.execute(f"create view {view} as select * from read_parquet('{p(name)}')")
    for law, folder in (("pub", "court_public"), ("prv", "court_private")):
        for t in (
            "cases",
            "applications",
            "application_persons",
            "legal_outputs",
            "hearings",
            "relationships",
        ):
            con.execute(
                f"create view {law}_{t} as select * from read_parquet('{p(folder + '/' + t)}')"
            )
        con.execute(
            f"create view {law}_t as select * from read_parquet('{p('truth/' + folder + '_persons')}')"
        )
        # One row per person on each case with the role they held, ground-truth person id.
        con.execute(
            f"""create view {law}_party as
            select distinct c.case_id, c.issue_date, c.close_date, ap.role, t.person_id,
                   t.person_ref, p.sex, p.kind, p.date_of_birth as dob, p.on_spine
            from {law}_application_persons ap
            join {law}_applications a using (application_id)
            join {law}_cases c using (case_id)
            join {law}_t t using (person_ref)
            join tp p using (person_id)"""
        )


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, float]:
    row = con.execute(sql).fetchall()[0]
    return float(row[0] if row[0] is not None else math.nan), float(row[1] or 0)


def _km(times: np.ndarray, events: np.ndarray, at: float) -> tuple[float, int]:
    """Kaplan–Meier cumulative incidence 1 - S(at) and the number at risk at the start."""
    order = np.argsort(times)
    t, e = times[order], events[order]
    n = len(t)
    surv = 1.0
    at_risk = n
    i = 0
    while i < n and t[i] <= at:
        j = i
        d = 0
        while j < n and t[j] == t[i]:
            d += int(e[j])
            j += 1
        if at_risk > 0:
            surv *= 1 - d / at_risk
        at_risk -= j - i
        i = j
    return 1 - surv, n


def _return_times(con: duckdb.DuckDBPyConnection, who: str, end: str, filt: str = "") -> Any:
    return con.execute(
        f"""with c as (select distinct person_id, case_id, issue_date from pub_party where {who}),
        f as (select person_id, min(issue_date) first from c group by 1),
        n as (select f.person_id, f.first, min(c.issue_date) nxt
              from f left join c on c.person_id = f.person_id and c.issue_date > f.first
              group by 1, 2)
        select n.person_id, datediff('day', first, coalesce(nxt, date '{end}')) / {DAYS} as t,
               nxt is not null as ev,
               datediff('day', p.date_of_birth, first) / {DAYS} as age
        from n join tp p using (person_id) {filt}"""
    ).fetchnumpy()


def measure(root: Path, cfg: WorldConfig) -> dict[str, tuple[float, float, str]]:
    """Achieved value, sample size and kind ('p' proportion, 'r' Poisson rate, 'm' mean)."""
    con = duckdb.connect()
    _views(con, root)
    end = f"{cfg.end_year}-12-31"
    start2 = f"{cfg.start_year + 2}-01-01"
    out: dict[str, tuple[float, float, str]] = {}

    def put(name: str, sql: str, kind: str) -> None:
        v, n = _one(con, sql)
        out[name] = (v, n, kind)

    con.execute(
        """create temp table subj as select distinct case_id, issue_date, person_id, dob,
           datediff('day', dob, issue_date) as age_days from pub_party where role = 'subject'"""
    )
    put(
        "public_children_per_case",
        "select avg(k), count(*) from (select count(*) k from subj group by case_id)",
        "m",
    )
    out["public_children_per_case_sd"] = (
        float(
            con.execute(
                "select stddev(k) from (select count(*) k from subj group by case_id)"
            ).fetchall()[0][0]
            or 0
        ),
        0,
        "x",
    )
    put(
        "public_children_per_million_per_year",
        f"""select count(*) / 5.0 / {cfg.people / 1e6}, count(*) from subj
            where year(issue_date) between 2014 and 2018""",
        "r",
    )
    for label, y0, y1 in (("2012_2013", 2012, 2013), ("2018_2019", 2018, 2019)):
        put(
            f"newborn14_per_10k_births_{label}",
            f"""select 1e4 * (select count(*) from subj where age_days < 14
                                and year(issue_date) between {y0} and {y1})
                       / nullif((select count(*) from births where year(birth_date) between {y0} and {y1}), 0),
                       (select count(*) from subj where age_days < 14
                                and year(issue_date) between {y0} and {y1})""",
            "r",
        )
    put(
        "newborn14_share_of_infant_children",
        "select avg((age_days < 14)::int), count(*) from subj where age_days < 365",
        "p",
    )
    put(
        "infant_share_of_s31_children", "select avg((age_days < 365)::int), count(*) from subj", "p"
    )
    put(
        "newborn_mother_had_earlier_proceedings",
        f"""select avg((exists (select 1 from plc p2 join pub_cases c2 using (case_id)
                             where p2.mother_id = p.mother_id and c2.issue_date < s.issue_date))::int),
                   count(*)
            from subj s join plc p using (case_id)
            where s.age_days < 14 and s.issue_date >= date '{cfg.start_year + 10}-01-01'""",
        "p",
    )

    mothers = _return_times(con, "role = 'respondent' and sex = 'F' and kind = 0", end)
    for yrs in (5, 10):
        v, n = _km(mothers["t"], mothers["ev"], yrs)
        out[f"mother_return_within_{yrs}y"] = (v, n, "p")
    fathers = _return_times(con, "role = 'respondent' and sex = 'M' and kind = 1", end)
    v, n = _km(fathers["t"], fathers["ev"], 5)
    out["father_return_within_5y"] = (v, n, "p")
    young = mothers["age"] < 20
    old = mothers["age"] >= 30
    v_y, n_y = _km(mothers["t"][young], mothers["ev"][young], 5)
    v_o, n_o = _km(mothers["t"][old], mothers["ev"][old], 5)
    out["mother_return_5y_ratio_under20_to_over30"] = (
        v_y / v_o if v_o else math.nan,
        min(n_y, n_o),
        "m",
    )
    returned = mothers["age"][mothers["ev"].astype(bool)]
    out["recurrent_mother_first_age_under_25"] = (float(np.mean(returned < 25)), len(returned), "p")
    out["recurrent_mother_first_age_under_20"] = (float(np.mean(returned < 20)), len(returned), "p")
    put(
        "s31_children_per_mother",
        """select count(distinct s.person_id) / count(distinct p.mother_id), count(distinct p.mother_id)
           from subj s join plc p using (case_id)""",
        "m",
    )
    put(
        "private_to_public_applications",
        """select (select count(*) from prv_applications) / (select count(*) from pub_applications),
                  (select count(*) from pub_applications)""",
        "r",
    )
    put(
        "private_applicants_male",
        "select avg((sex = 'M')::int), count(*) from prv_party where role = 'applicant'",
        "p",
    )
    put(
        "private_respondents_female",
        "select avg((sex = 'F')::int), count(*) from prv_party where role = 'respondent'",
        "p",
    )
    put(
        "private_adult_parties_parents",
        "select avg((kind in (0, 1))::int), count(*) from prv_party where role <> 'subject'",
        "p",
    )
    con.execute(
        """create temp table app_q as select p.case_id, l.deprivation_quintile q
           from prv_party p join addr a on a.person_id = p.person_id
             and a.from_date <= p.issue_date and (a.to_date is null or a.to_date > p.issue_date)
           join lsoa l on l.lsoa_code = a.lsoa_code where p.role = 'applicant'"""
    )
    put(
        "private_applicants_most_deprived_quintile",
        "select avg((q = 1)::int), count(*) from app_q",
        "p",
    )
    put(
        "private_applicants_least_deprived_quintile",
        "select avg((q = 5)::int), count(*) from app_q",
        "p",
    )
    put(
        "private_cases_that_are_returns",
        """with m as (select distinct case_id, issue_date, person_id from prv_party
                      where kind = 0 and role <> 'subject')
           select avg((exists (select 1 from m m2 where m2.person_id = m.person_id
                                and m2.issue_date < m.issue_date))::int), count(*) from m""",
        "p",
    )
    con.execute(
        """create temp table recs as
           select on_spine, is_child, errors from pub_t where quirk = ''
           union all select on_spine, is_child, errors from prv_t where quirk = ''"""
    )
    linkable = "(on_spine and not ((errors & 1) > 0 and (errors & 128) > 0))::int"
    put("court_records_linkable", f"select avg({linkable}), count(*) from recs", "p")
    put(
        "court_child_records_linkable",
        f"select avg({linkable}), count(*) from recs where is_child",
        "p",
    )
    put(
        "court_adult_records_linkable",
        f"select avg({linkable}), count(*) from recs where not is_child",
        "p",
    )
    put(
        "court_adult_records_with_nhs_number",
        "select avg(((errors & 1) = 0)::int), count(*) from recs where not is_child",
        "p",
    )
    put(
        "court_child_records_with_nhs_number",
        "select avg(((errors & 1) = 0)::int), count(*) from recs where is_child",
        "p",
    )
    put(
        "births_per_1000_people",
        f"""select count(*) / 10.0 / {cfg.people / 1000}, count(*) from births
            where year(birth_date) between 2010 and 2019""",
        "r",
    )

    # Parents' health in the two years before their first proceedings, against other parents.
    con.execute(
        f"""create temp table idx as
        select person_id, min(issue_date) as index_date, true as court from pub_party
        where role = 'respondent' and kind in (0, 1) and on_spine group by person_id
        having min(issue_date) >= date '{start2}'
        union all
        select person_id, date '{cfg.start_year + 8}-07-01', false from tp
        where kind in (0, 1) and on_spine and not court_family
          and datediff('day', date_of_birth, date '{cfg.start_year + 8}-07-01') between 18 * 365 and 45 * 365"""
    )
    con.execute(
        """create temp table ev as
        select t.person_id, e.arrival_date as d, 'ed' as src,
               e.diagnosis_group = 'injury' as inj, e.diagnosis_group = 'mental health' as mh,
               e.diagnosis_group = 'alcohol or drugs' as sub
        from ed e join hrt t on t.record_id = e.attendance_id
        union all
        select t.person_id, a.admission_date, 'adm',
               (a.diag_1 like 'S%' or a.diag_1 like 'T%') and a.diag_1 not like 'T51%',
               regexp_matches(concat_ws(' ', a.diag_1, a.diag_2, a.diag_3), '(F[02-9]|X[67]|X8[0-4])'),
               regexp_matches(concat_ws(' ', a.diag_1, a.diag_2, a.diag_3), '(F1|T51)')
        from adm a join hrt t on t.record_id = a.admission_id"""
    )
    con.execute(
        """create temp table flags as
        select i.person_id, i.court,
               coalesce(bool_or(e.src = 'ed'), false) ed_any, coalesce(bool_or(e.mh), false) mh,
               coalesce(bool_or(e.sub), false) sub, coalesce(bool_or(e.inj), false) inj
        from idx i left join ev e on e.person_id = i.person_id
          and e.d >= i.index_date - interval 730 day and e.d < i.index_date
        group by 1, 2"""
    )
    for col, name in (
        ("ed_any", "ed"),
        ("mh", "mental_health"),
        ("sub", "substance"),
        ("inj", "injury"),
    ):
        put(
            f"parents_{name}_2y_before",
            f"select avg({col}::int), count(*) from flags where court",
            "p",
        )
        put(
            f"comparison_{name}_2y",
            f"select avg({col}::int), count(*) from flags where not court",
            "p",
        )
    put(
        "parents_most_deprived_quintile",
        """select avg((l.deprivation_quintile = 1)::int), count(*) from idx i
           join addr a on a.person_id = i.person_id and a.from_date <= i.index_date
             and (a.to_date is null or a.to_date > i.index_date)
           join lsoa l using (lsoa_code) where i.court""",
        "p",
    )
    put(
        "infant_mothers_most_deprived_quintile",
        """with m as (select distinct p.mother_id as person_id, s.issue_date from subj s
                      join plc p using (case_id) where s.age_days < 365)
           select avg((l.deprivation_quintile = 1)::int), count(*) from m
           join addr a on a.person_id = m.person_id and a.from_date <= m.issue_date
             and (a.to_date is null or a.to_date > m.issue_date)
           join lsoa l using (lsoa_code)""",
        "p",
    )
    put(
        "court_mothers_smoking_at_booking",
        """select avg(b.smoking_at_booking::int), count(*) from births b
           join hrt t on t.record_id = b.birth_id and t.source = 'births'
           where t.person_id in (select person_id from subj where age_days < 365)""",
        "p",
    )
    con.execute(
        """create temp table final as
        select p.person_id, max(o.date_ordered) d,
               arg_min(o.order_type, case o.order_type
                 when 'PLACEMENT_ORDER' then 0 when 'CARE_ORDER' then 1
                 when 'SPECIAL_GUARDIANSHIP_ORDER' then 2 when 'CHILD_ARRANGEMENTS_ORDER' then 3
                 when 'SUPERVISION_ORDER' then 4 when 'FAMILY_ASSISTANCE_ORDER' then 5 else 9 end) o
        from pub_legal_outputs o join pub_t p using (person_ref)
        join pub_application_persons ap on ap.application_id = o.application_id
          and ap.person_ref = o.person_ref and ap.role = 'subject'
        join pub_applications a on a.application_id = o.application_id
        group by p.person_id, a.case_id"""
    )
    for label, y0, y1 in (("2010_2011", 2010, 2011), ("2016_2017", 2016, 2017)):
        put(
            f"special_guardianship_share_{label}",
            f"""select avg((o = 'SPECIAL_GUARDIANSHIP_ORDER')::int), count(*) from final
                where year(d) between {y0} and {y1}""",
            "p",
        )
    put(
        "supervision_alone_share",
        "select avg((o = 'SUPERVISION_ORDER')::int), count(*) from final",
        "p",
    )
    con.execute(
        """create temp table nb_first as
        select c.case_id, arg_min(h.notice_days, h.hearing_date) notice
        from pub_cases c join plc p using (case_id)
        join pub_applications a using (case_id) join pub_hearings h using (application_id)
        where p.newborn group by c.case_id"""
    )
    put(
        "newborn_first_hearing_same_day",
        "select avg((notice = 0)::int), count(*) from nb_first",
        "p",
    )
    put(
        "newborn_first_hearing_under_7_days",
        "select avg((notice < 7)::int), count(*) from nb_first",
        "p",
    )
    put(
        "person_application_rows_without_legal_output",
        """with ap as (select application_id, person_ref from pub_application_persons
                       union all select application_id, person_ref from prv_application_persons),
           lo as (select application_id, person_ref from pub_legal_outputs
                  union all select application_id, person_ref from prv_legal_outputs)
           select avg((lo.person_ref is null)::int), count(*) from ap
           left join (select distinct * from lo) lo using (application_id, person_ref)""",
        "p",
    )
    put(
        "children_with_more_than_two_parents",
        """with k as (select distinct person_ref from pub_application_persons where role = 'subject'),
           r as (select r.related_person_ref, count(distinct t.person_id) n from pub_relationships r
                 join pub_t t on t.person_ref = r.person_ref
                 where relationship = 'parent' group by 1)
           select avg((coalesce(n, 0) > 2)::int), count(*) from k
           left join r on r.related_person_ref = k.person_ref""",
        "p",
    )
    con.execute(
        f"""create temp table infants as
        select p.person_id, p.date_of_birth dob,
               p.person_id in (select person_id from subj where age_days < 365) as court
        from tp p where p.kind = 2 and p.on_spine
          and p.date_of_birth between date '{cfg.start_year + 1}-01-01' and date '{cfg.end_year - 1}-12-31'"""
    )
    row = con.execute(
        """with e as (select i.court, count(a.admission_id) n from infants i
             left join hrt t on t.person_id = i.person_id and t.source = 'admissions'
             left join adm a on a.admission_id = t.record_id and a.admission_method = 'emergency'
               and a.admission_date < i.dob + interval 365 day
             group by i.person_id, i.court)
           select avg(n) filter (where court), avg(n) filter (where not court),
                  sum(n) filter (where court) from e"""
    ).fetchall()[0]
    ratio = (row[0] / row[1]) if row[0] is not None and row[1] else math.nan
    out["infant_emergency_admission_rate_ratio"] = (ratio, float(row[2] or 0), "r")
    con.close()
    return out


def write_calibration(root: Path, cfg: WorldConfig) -> dict[str, Any]:
    achieved = measure(root, cfg)
    sd_children = achieved["public_children_per_case_sd"][0]
    results = []
    for t in load_targets():
        value, n, kind = achieved[t["name"]]
        if kind == "p":
            se = math.sqrt(max(value * (1 - value), 1e-9) / n) if n else math.inf
        elif kind == "r":
            se = abs(value) / math.sqrt(n) if n else math.inf
        else:
            se = (
                (sd_children if t["name"] == "public_children_per_case" else abs(value) * 0.5)
                / math.sqrt(n)
                if n
                else math.inf
            )
        # Children of one case share their order and their case: inflate the error for that.
        se *= math.sqrt(t.get("design_effect", 1.0))
        allowed = max(t["tolerance"], 3 * se)
        ok = not math.isnan(value) and abs(value - t["target"]) <= allowed
        results.append(
            {
                **t,
                "achieved": None if math.isnan(value) else round(value, 4),
                "n": int(n),
                "allowed": round(allowed, 4),
                "ok": bool(ok),
            }
        )
    report = {"people": cfg.people, "seed": cfg.seed, "targets": results}
    (root / "truth").mkdir(exist_ok=True)
    (root / "truth" / "calibration.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
