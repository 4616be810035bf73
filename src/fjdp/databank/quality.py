"""Linkage quality the databank can judge and the TTP cannot: checks that need content.

The TTP's report (``fjdp.linkage.report``) covers what identifiers show. Here, on the
current dataset versions, the databank adds (GUILD; Harron et al. 2017):

- match rate of court parties by role, by law type and by year the case was issued;
- linked against unlinked court parties, by role and law type;
- implausible links: events dated after the linked person's registered death (per
  dataset), two different persons of one court case linked to the same person, and
  more than one death record for one person.

Every count is protected (fewer than 10 suppressed, the rest rounded to 5) and rates
use protected counts, so the report can be shown to the partnership. It is written as
``quality/report.json`` and a self-contained ``quality/report.html`` in the databank.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import duckdb

from fjdp.databank.catalogue import Version, latest, now
from fjdp.disclosure.protect import protect, rate, show
from fjdp.specs import load_spec
from fjdp.specs.model import ColumnType, DatasetSpec, Role, TableSpec, reference_column
from fjdp.sql import lit, q
from fjdp.types import LinkStatus

LINKED = tuple(s.value for s in LinkStatus.default_included())
_LINKED_SQL = "(" + ", ".join(lit(s) for s in LINKED) + ")"
# A death registered a day after an event on the same day is not implausible.
TOLERANCE_DAYS = 1


def _path(bank: Path, v: Version, table: str) -> str:
    return f"read_parquet({lit(str(v.path(bank) / f'{table}.parquet'))})"


def _person_tables(spec: DatasetSpec) -> dict[str, TableSpec]:
    return {t.name: t for t in spec.tables if len(t.person_id_columns) == 1}


def _event_date(t: TableSpec) -> str | None:
    dates = [c for c in t.columns if c.role is Role.CONTENT and c.type is ColumnType.DATE]
    required = [c for c in dates if c.required]
    pick = (required or dates)[:1]
    return pick[0].name if pick else None


def _events(bank: Path, versions: dict[str, Version]) -> list[tuple[str, str]]:
    """(label, SQL giving alf_e, event_date) for every dated event tied to a person."""
    out = []
    for ds, v in versions.items():
        if ds == "deaths":
            continue
        spec = load_spec(ds)
        persons = _person_tables(spec)
        for t in spec.tables:
            when = _event_date(t)
            if when is None or t.name not in v.rows:
                continue
            if t.name in persons:
                out.append(
                    (
                        f"{ds}.{t.name}",
                        f"select alf_e, {q(when)} as d from {_path(bank, v, t.name)}"
                        f" where link_status in {_LINKED_SQL}",
                    )
                )
                continue
            for c in t.columns:
                if c.references in persons and c.references in v.rows:
                    ref = reference_column(c.name)
                    out.append(
                        (
                            f"{ds}.{t.name}",
                            f"select p.alf_e, e.{q(when)} as d from {_path(bank, v, t.name)} e"
                            f" join {_path(bank, v, c.references)} p on p.system_id = e.{q(ref)}"
                            f" where p.link_status in {_LINKED_SQL}",
                        )
                    )
                    break
    return out


def _court(con: duckdb.DuckDBPyConnection, bank: Path, ds: str, v: Version) -> dict[str, Any]:
    ap, persons = _path(bank, v, "application_persons"), _path(bank, v, "persons")
    apps, cases = _path(bank, v, "applications"), _path(bank, v, "cases")
    # one row per (case, person, role): the party's role in the case
    con.execute(
        f"""create or replace temp table parties as
            select distinct c.system_id as case_id, c.law_type, year(c.issue_date) as year,
                   ap.role, p.system_id as person, p.alf_e, p.link_status,
                   p.link_status in {_LINKED_SQL} as linked
            from {ap} ap join {persons} p on p.system_id = ap.person_system_id
            join {apps} a on a.system_id = ap.application_system_id
            join {cases} c on c.system_id = a.case_system_id"""
    )

    def by(expr: str) -> list[dict[str, Any]]:
        rows = con.execute(
            f"select {expr} as g, count(*), count(*) filter (where linked) from parties"
            " group by 1 order by 1"
        ).fetchall()
        return [
            {"group": str(g), "records": protect(n), "linked": protect(k), "rate": rate(k, n)}
            for g, n, k in rows
        ]

    shared = con.execute(
        """select count(distinct case_id) from (
             select case_id, alf_e from parties where linked and alf_e is not null
             group by 1, 2 having count(distinct person) > 1)"""
    ).fetchall()[0][0]
    return {
        "dataset": ds,
        "by_role": by("role"),
        "by_law_type": by("law_type"),
        "by_year": by("coalesce(year::varchar, 'unknown')"),
        "cases_with_two_persons_linked_to_one": protect(int(shared)),
        "cases": protect(
            int(con.execute("select count(distinct case_id) from parties").fetchall()[0][0])
        ),
    }


def quality_report(bank: Path, out_dir: Path | None = None) -> dict[str, Any]:
    versions = latest(bank)
    out_dir = out_dir or bank / "quality"
    con = duckdb.connect()
    try:
        report: dict[str, Any] = {
            "made": now().isoformat(),
            "versions": {d: v.version for d, v in versions.items()},
            "court": [
                _court(con, bank, ds, v)
                for ds, v in sorted(versions.items())
                if {"persons", "application_persons", "applications", "cases"} <= set(v.rows)
            ],
            "after_death": [],
            "several_deaths": None,
        }
        if "deaths" in versions:
            deaths = _path(bank, versions["deaths"], "deaths")
            con.execute(
                f"""create temp table died as select alf_e, min(date_of_death) as dod
                    from {deaths} where link_status in {_LINKED_SQL} and alf_e is not null
                    group by 1"""
            )
            several = con.execute(
                f"select count(*) from (select alf_e from {deaths} where link_status in"
                f" {_LINKED_SQL} and alf_e is not null group by 1 having count(*) > 1)"
            ).fetchall()[0][0]
            report["several_deaths"] = protect(int(several))
            for label, sql in _events(bank, versions):
                n, late = con.execute(
                    f"""select count(*), count(*) filter (
                          where e.d > d.dod + interval {TOLERANCE_DAYS} day)
                        from ({sql}) e left join died d using (alf_e)"""
                ).fetchall()[0]
                report["after_death"].append(
                    {
                        "events": label,
                        "linked_events": protect(int(n)),
                        "after_death": protect(int(late)),
                        "rate": rate(int(late), int(n)),
                    }
                )
    finally:
        con.close()
    report["note"] = (
        "Counts under 10 are suppressed and the rest rounded to 5; rates use protected counts."
        f" Linked means {', '.join(LINKED)}."
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.html").write_text(_html(report))
    return report


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def _html(r: dict[str, Any]) -> str:
    e = html.escape

    def table(rows: list[dict[str, Any]], title: str) -> str:
        body = "".join(
            f"<tr><td>{e(x['group'])}</td><td>{show(x['records'])}</td>"
            f"<td>{show(x['linked'])}</td><td>{_pct(x['rate'])}</td></tr>"
            for x in rows
        )
        return (
            f"<h3>{e(title)}</h3><table><tr><th>group</th><th>parties</th><th>linked</th>"
            f"<th>rate</th></tr>{body}</table>"
        )

    court = ""
    for c in r["court"]:
        court += f"<h2>{e(c['dataset'])}</h2>"
        court += table(c["by_role"], "Match rate by role")
        court += table(c["by_law_type"], "Match rate by law type")
        court += table(c["by_year"], "Match rate by year the case was issued")
        court += (
            f"<p>Cases in which two different persons are linked to one person: "
            f"{show(c['cases_with_two_persons_linked_to_one'])} of {show(c['cases'])}.</p>"
        )
    death_rows = "".join(
        f"<tr><td>{e(x['events'])}</td><td>{show(x['linked_events'])}</td>"
        f"<td>{show(x['after_death'])}</td><td>{_pct(x['rate'])}</td></tr>"
        for x in r["after_death"]
    )
    deaths = (
        "<h2>Events after a registered death</h2><table><tr><th>events</th><th>linked</th>"
        f"<th>after death</th><th>rate</th></tr>{death_rows}</table>"
        f"<p>People with more than one death record: {show(r['several_deaths'])}.</p>"
        if r["several_deaths"] is not None or r["after_death"]
        else "<p>No deaths dataset is loaded, so events after death cannot be checked.</p>"
    )
    versions = ", ".join(f"{e(d)} v{v}" for d, v in sorted(r["versions"].items()))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Linkage quality at the databank</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>
</head><body><h1>Linkage quality at the databank</h1>
<p>Made {e(r["made"])} from {versions}.</p>{court}{deaths}
<p><small>{e(r["note"])}</small></p></body></html>
"""
