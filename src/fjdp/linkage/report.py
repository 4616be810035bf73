"""The linkage-quality report of a run (GUILD; Harron et al. 2017): JSON and a
self-contained HTML page with its plots as embedded PNGs.

It covers what the trusted third party can see, which is identifiers and no content:

- sources and coverage: the dataset (for the family court, the law type), the extract,
  records received by source table and person, the spine's size, records linked;
- the method: steps, thresholds, versions;
- records by link status and the distribution of match probabilities;
- the match rate by sex, age band, year of birth, deprivation quintile and local
  authority (from the record's LSOA: the linked spine person's, else that of the
  record's postcode, as in File 3, through the public LSOA lookup), and by the presence
  of a valid NHS number and a postcode;
- linked against unlinked records on the same characteristics;
- implausible links visible from identifiers: one spine person linked from records of
  the extract with different dates of birth; a system_id with several alfs (must be
  none); several records linked to one person where the dataset holds one per person;
- the false-match and missed-match rates estimated from clerical review.

Checks that need content (party role, law type by case, events after death, one alf on
several children of one case) belong at the databank.

Every count is protected (fewer than 10 suppressed, the rest rounded to 5), so the
report can leave the TTP zone; rates are computed from protected counts. The clerical
review's estimates are proportions within a review sample: they are released with the
sample size rounded to 5 and only when at least 10 were reviewed.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import duckdb

from fjdp.disclosure.protect import THRESHOLD, protect, rate, show
from fjdp.linkage.review import false_match_estimate, missed_match_estimate, missed_rate
from fjdp.sql import lit
from fjdp.types import LinkStatus

LINKED = (LinkStatus.DET_STRONG_ID, LinkStatus.DET_DEMOG, LinkStatus.PROB_ACCEPT)
# Datasets that hold at most one record per person in the given (source table, person
# group) of File 1: a person dies once and is born once. Several records linked to one
# spine person there are implausible.
ONE_RECORD_PER_PERSON: dict[str, tuple[tuple[str, str], ...]] = {
    "deaths": (("deaths", "person"),),
    "births": (("births", "baby"),),
}
UNKNOWN = "unknown"
QUINTILE_LABELS = {1: "1 (most deprived)", 5: "5 (least deprived)"}

_AGE = "date_diff('year', r.dob, date '2020-12-31')"
_COHORT = "(year(r.dob) // 5 * 5)"
# (name, SQL over r = rec, a = rec_area) of each subgroup; every one has an 'unknown'
# level so its records add up to the total.
SUBGROUPS: tuple[tuple[str, str], ...] = (
    ("sex", f"coalesce(r.sex, '{UNKNOWN}')"),
    (
        "age band at 2020",
        f"case when r.dob is null then '{UNKNOWN}' when {_AGE} < 18 then 'under 18'"
        f" when {_AGE} < 40 then '18-39' else '40+' end",
    ),
    (
        "year of birth",
        f"case when r.dob is null then '{UNKNOWN}'"
        f" else {_COHORT}::varchar || '-' || ({_COHORT} + 4)::varchar end",
    ),
    (
        "deprivation quintile",
        f"case when a.deprivation_quintile is null then '{UNKNOWN}'"
        " when a.deprivation_quintile = 1 then '1 (most deprived)'"
        " when a.deprivation_quintile = 5 then '5 (least deprived)'"
        " else a.deprivation_quintile::varchar end",
    ),
    ("local authority", f"coalesce(a.la_name, '{UNKNOWN}')"),
    ("NHS number", "case when r.nhs is null then 'absent or invalid' else 'valid' end"),
    ("postcode", "case when r.pc is null then 'absent or invalid' else 'present' end"),
)
AREA_GROUPS = ("deprivation quintile", "local authority")
# What linked and unlinked records are compared on.
COMPARED = ("NHS number", "postcode", "sex", "age band at 2020", "deprivation quintile")


def _linked_sql() -> str:
    return ", ".join(f"'{s}'" for s in LINKED)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0] or 0)


def _subgroups(con: duckdb.DuckDBPyConnection, with_areas: bool) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, expr in SUBGROUPS:
        if name in AREA_GROUPS and not with_areas:
            continue
        rows = con.execute(
            f"""select {expr} as g, count(*), sum((l.status in ({_linked_sql()}))::int)
            from rec r join links l using (uid) left join rec_area a using (uid)
            group by 1 order by (g = '{UNKNOWN}'), g"""
        ).fetchall()
        groups[name] = [
            {
                "group": g,
                "records": protect(int(n)),
                "linked": protect(int(k or 0)),
                "rate": rate(int(k or 0), int(n)),
            }
            for g, n, k in rows
        ]
    return groups


def _comparison(con: duckdb.DuckDBPyConnection, with_areas: bool) -> dict[str, Any]:
    """Linked against unlinked records: counts and column shares, all protected."""
    totals = dict(
        con.execute(
            f"select (status in ({_linked_sql()})) as linked, count(*) from links group by 1"
        ).fetchall()
    )
    n_linked, n_unlinked = int(totals.get(True, 0)), int(totals.get(False, 0))
    rows = []
    for name, expr in SUBGROUPS:
        if name not in COMPARED or (name in AREA_GROUPS and not with_areas):
            continue
        for g, k_l, k_u in con.execute(
            f"""select {expr} as g, sum((l.status in ({_linked_sql()}))::int),
                       sum((l.status not in ({_linked_sql()}))::int)
            from rec r join links l using (uid) left join rec_area a using (uid)
            group by 1 order by (g = '{UNKNOWN}'), g"""
        ).fetchall():
            rows.append(
                {
                    "characteristic": name,
                    "value": g,
                    "linked": protect(int(k_l or 0)),
                    "linked_share": rate(int(k_l or 0), n_linked),
                    "unlinked": protect(int(k_u or 0)),
                    "unlinked_share": rate(int(k_u or 0), n_unlinked),
                }
            )
    return {
        "linked": protect(n_linked),
        "unlinked": protect(n_unlinked),
        "unlinked_statuses": sorted(s.value for s in LinkStatus if s not in LINKED),
        "rows": rows,
    }


def _implausible(con: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, Any]:
    persons, records = con.execute(
        f"""select count(*), coalesce(sum(n), 0) from (
              select l.pid, count(*) as n from links l join rec r using (uid)
              where l.status in ({_linked_sql()}) group by l.pid
              having count(distinct r.dob) > 1)"""
    ).fetchall()[0]
    several_alfs = _scalar(
        con,
        """select count(*) from (select system_id from file3 group by 1
           having count(*) > 1 or count(distinct alf) > 1)""",
    )
    out: dict[str, Any] = {
        "persons_linked_with_different_dates_of_birth": {
            "persons": protect(int(persons)),
            "records": protect(int(records)),
        },
        "system_ids_with_several_alfs": {
            "found": several_alfs > 0,
            "system_ids": protect(several_alfs),
        },
    }
    groups = ONE_RECORD_PER_PERSON.get(dataset)
    if groups:
        where = " or ".join(
            f"(s.source_table = {lit(t)} and s.person = {lit(g)})" for t, g in groups
        )
        persons, records = con.execute(
            f"""select count(*), coalesce(sum(n), 0) from (
                  select l.pid, count(*) as n from links l join rec_src s using (uid)
                  where l.status in ({_linked_sql()}) and ({where}) group by l.pid
                  having count(*) > 1)"""
        ).fetchall()[0]
        out["several_records_for_one_person"] = {
            "applies_to": [f"{t}/{g}" for t, g in groups],
            "persons": protect(int(persons)),
            "records": protect(int(records)),
        }
    else:
        out["several_records_for_one_person"] = None  # the dataset may hold several
    return out


def _sources(
    con: duckdb.DuckDBPyConnection, dataset: str, extract_id: str, spine_people: int
) -> dict[str, Any]:
    total = _scalar(con, "select count(*) from links")
    linked = _scalar(con, f"select count(*) from links where status in ({_linked_sql()})")
    by_source = [
        {
            "source_table": t,
            "person": g,
            "records": protect(int(n)),
            "linked": protect(int(k or 0)),
            "rate": rate(int(k or 0), int(n)),
        }
        for t, g, n, k in con.execute(
            f"""select s.source_table, s.person, count(*), sum((l.status in ({_linked_sql()}))::int)
            from links l join rec_src s using (uid) group by 1, 2 order by 1, 2"""
        ).fetchall()
    ]
    return {
        "dataset": dataset,
        "extract_id": extract_id,
        "records_received": protect(total),
        "spine_people": protect(spine_people),
        "records_linked": protect(linked),
        "coverage": rate(linked, total),
        "by_source": by_source,
    }


def released_review(review: dict[str, Any]) -> dict[str, Any]:
    """The clerical review's estimates as they may leave the zone: sample sizes
    protected; a rate and its interval only when at least 10 were reviewed; the
    missed-match rate from protected counts of linked and unmatched records."""
    fm, mm = review["false_match"], review["missed_match"]
    fm_ok = fm["reviewed"] >= THRESHOLD
    mm_ok = mm["reviewed"] >= THRESHOLD
    linked, unmatched = protect(mm["linked"]), protect(mm["unmatched"])
    missed = None
    interval = None
    if mm_ok and mm["unmatched_match_share"] is not None and linked and unmatched is not None:
        missed = missed_rate(mm["unmatched_match_share"], linked, unmatched)
        lo, hi = mm["share_interval"]
        interval = [missed_rate(lo, linked, unmatched), missed_rate(hi, linked, unmatched)]
    return {
        "false_match": {
            "of": "PROB_ACCEPT links (random sample)",
            "sampled": protect(fm["sampled"]),
            "reviewed": protect(fm["reviewed"]),
            "false_match_rate": fm["false_match_rate"] if fm_ok else None,
            "interval": fm["interval"] if fm_ok else None,
        },
        "missed_match": {
            "of": "UNMATCHED records (random sample) with their best candidate",
            "sampled": protect(mm["sampled"]),
            "reviewed": protect(mm["reviewed"]),
            "unmatched_match_share": mm["unmatched_match_share"] if mm_ok else None,
            "share_interval": mm["share_interval"] if mm_ok else None,
            "missed_match_rate": missed,
            "interval": interval,
        },
        "note": (
            "Estimates from clerical decisions on this run's samples, before decisions"
            " change any status; 95% Wilson intervals. Shown when at least 10 were reviewed."
        ),
    }


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    dataset: str,
    extract_id: str,
    config: dict[str, Any],
    versions: dict[str, str],
    out_dir: Path,
    spine_people: int,
    review: dict[str, Any],
) -> dict[str, Any]:
    """From tables ``rec``, ``links``, ``rec_area``, ``rec_src`` and ``file3`` on ``con``
    and the clerical ``review`` estimates (``false_match``, ``missed_match``); writes
    report.json and report.html to ``out_dir``."""
    total = _scalar(con, "select count(*) from links")
    by_status = {
        k: int(v)
        for k, v in con.execute(
            "select status, count(*) from links group by 1 order by 1"
        ).fetchall()
    }
    with_areas = bool(_scalar(con, "select count(la_name) from rec_area"))
    report: dict[str, Any] = {
        "dataset": dataset,
        "extract_id": extract_id,
        "sources": _sources(con, dataset, extract_id, spine_people),
        "method": {
            "steps": ["DET_STRONG_ID", "DET_DEMOG", "Splink (Fellegi-Sunter, EM)"],
            "linked_statuses": [s.value for s in LINKED],
            "config": config,
            "versions": versions,
        },
        "records": protect(total),
        "by_status": {k: protect(v) for k, v in by_status.items()},
        "linkage_rate": rate(sum(by_status.get(s, 0) for s in LINKED), total),
        "by_group": _subgroups(con, with_areas),
        "areas": (
            "from the linked spine person's LSOA, else the record's postcode"
            if with_areas
            else "no LSOA lookup loaded at the TTP: no deprivation or local authority subgroups"
        ),
        "linked_vs_unlinked": _comparison(con, with_areas),
        "implausible": _implausible(con, dataset),
        "clerical_review": released_review(review),
        "note": (
            "Counts under 10 are suppressed and the rest rounded to 5; rates use"
            " protected counts. Checks that need content (party role, law type by case,"
            " events after death, children of one case) are made at the databank."
        ),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    render(out_dir)
    return report


def refresh_review(run_dir: Path, zone_dir: Path) -> dict[str, Any]:
    """Recompute a run's clerical estimates from the decisions so far; update its
    summary.json, report.json and report.html. Returns the (unprotected) estimates."""
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    counts = summary.get("by_status_cascade", summary["by_status"])
    review = review_estimates(run_dir, zone_dir, counts)
    summary.update(review)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    report_path = run_dir / "report.json"
    report = json.loads(report_path.read_text())
    report["clerical_review"] = released_review(review)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    render(run_dir)
    return review


def review_estimates(run_dir: Path, zone_dir: Path, counts: dict[str, int]) -> dict[str, Any]:
    """Both estimates for a run, given its counts by status before review."""
    return {
        "false_match": false_match_estimate(run_dir, zone_dir),
        "missed_match": missed_match_estimate(
            run_dir,
            zone_dir,
            linked=sum(int(counts.get(s, 0)) for s in LINKED),
            unmatched=int(counts.get(LinkStatus.UNMATCHED, 0)),
        ),
    }


# ---------------------------------------------------------------- rendering


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _hist_png(scores: list[float]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.hist(scores, bins=20, range=(0, 1), color="#4a78a8")
    ax.set_xlabel("match probability (probabilistic step)")
    ax.set_ylabel("records")
    return _png(fig)


def _bars_png(rows: list[dict[str, Any]]) -> str | None:
    """Match rate by deprivation quintile, each bar labelled with its protected counts."""
    shown = [r for r in rows if r["rate"] is not None]
    if not shown:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    labels = [str(r["group"]) for r in shown]
    bars = ax.bar(labels, [r["rate"] for r in shown], color="#4a78a8")
    for bar, r in zip(bars, shown, strict=True):
        ax.annotate(
            f"{show(r['linked'])}/{show(r['records'])}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_ylim(0, 1.1)
    ax.set_xlabel("deprivation quintile")
    ax.set_ylabel("match rate")
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


def _scores(run_dir: Path) -> list[float]:
    links = run_dir / "links.parquet"
    if not links.exists():
        return []
    con = duckdb.connect()
    try:
        return [
            float(s)
            for (s,) in con.execute(
                f"select score from read_parquet({lit(str(links))}) where step = 'probabilistic'"
            ).fetchall()
        ]
    finally:
        con.close()


def render(run_dir: Path) -> None:
    """report.html from report.json (and the scores in links.parquet)."""
    report = json.loads((run_dir / "report.json").read_text())
    scores = _scores(run_dir)
    hist = _hist_png(scores) if scores else None
    bars = _bars_png(report["by_group"].get("deprivation quintile", []))
    (run_dir / "report.html").write_text(_html(report, hist, bars))


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _interval(value: float | None, interval: list[float | None] | None) -> str:
    if value is None:
        return "not estimated (fewer than 10 reviewed)"
    if not interval or interval[0] is None or interval[1] is None:
        return _pct(value)
    return f"{_pct(value)} (95% CI {_pct(interval[0])} to {_pct(interval[1])})"


def _table(head: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _img(png: str | None, alt: str, missing: str) -> str:
    if png is None:
        return f"<p>{html.escape(missing)}</p>"
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _html(r: dict[str, Any], hist: str | None, bars: str | None) -> str:
    e = html.escape
    src = r["sources"]
    sources = _table(
        ["", "count"],
        [
            ["dataset (law type for the family court)", src["dataset"]],
            ["extract", src["extract_id"]],
            ["records received", show(src["records_received"])],
            ["people on the spine", show(src["spine_people"])],
            ["records linked", show(src["records_linked"])],
            ["coverage (linked / received)", _pct(src["coverage"]) or "suppressed"],
        ],
    ) + _table(
        ["source table", "person", "records", "linked", "rate"],
        [
            [g["source_table"], g["person"], show(g["records"]), show(g["linked"]), _pct(g["rate"])]
            for g in src["by_source"]
        ],
    )
    status_rows = _table(["status", "records"], [[k, show(v)] for k, v in r["by_status"].items()])
    group_html = ""
    for name, rows in r["by_group"].items():
        group_html += f"<h3>By {e(name)}</h3>" + _table(
            ["group", "records", "linked", "rate"],
            [
                [str(g["group"]), show(g["records"]), show(g["linked"]), _pct(g["rate"])]
                for g in rows
            ],
        )
        if name == "deprivation quintile":
            group_html += _img(bars, "match rate by deprivation quintile", "No rate to plot.")
    cmp_ = r["linked_vs_unlinked"]
    comparison = _table(
        ["characteristic", "value", "linked", "% of linked", "unlinked", "% of unlinked"],
        [
            [
                c["characteristic"],
                str(c["value"]),
                show(c["linked"]),
                _pct(c["linked_share"]),
                show(c["unlinked"]),
                _pct(c["unlinked_share"]),
            ]
            for c in cmp_["rows"]
        ],
    )
    imp = r["implausible"]
    dob = imp["persons_linked_with_different_dates_of_birth"]
    alfs = imp["system_ids_with_several_alfs"]
    several = imp["several_records_for_one_person"]
    imp_rows = [
        [
            "spine people linked from records of this extract with different dates of birth",
            show(dob["persons"]),
            show(dob["records"]),
        ],
        [
            "system_ids with several alfs (must be none)",
            show(alfs["system_ids"]) if alfs["found"] else "none",
            "",
        ],
    ]
    if several is not None:
        imp_rows.append(
            [
                "spine people linked from several records where the dataset holds one per"
                f" person ({', '.join(several['applies_to'])})",
                show(several["persons"]),
                show(several["records"]),
            ]
        )
    implausible = _table(["check", "people", "records"], imp_rows)
    cr = r["clerical_review"]
    fm, mm = cr["false_match"], cr["missed_match"]
    review = _table(
        ["estimate", "of", "sampled", "reviewed", "value"],
        [
            [
                "false-match rate",
                fm["of"],
                show(fm["sampled"]),
                show(fm["reviewed"]),
                _interval(fm["false_match_rate"], fm["interval"]),
            ],
            [
                "unmatched records that match their candidate",
                mm["of"],
                show(mm["sampled"]),
                show(mm["reviewed"]),
                _interval(mm["unmatched_match_share"], mm["share_interval"]),
            ],
            [
                "missed-match rate (missed / (linked + missed))",
                "all true matches, estimated",
                "",
                "",
                _interval(mm["missed_match_rate"], mm["interval"]),
            ],
        ],
    )
    rate_txt = "suppressed" if r["linkage_rate"] is None else f"{r['linkage_rate']:.1%}"
    linked_statuses = ", ".join(r["method"]["linked_statuses"])
    cfg = e(json.dumps(r["method"]["config"]))
    ver = e(json.dumps(r["method"]["versions"]))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Linkage quality: {e(r["dataset"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>
</head><body><h1>Linkage quality: {e(r["dataset"])}</h1>
<p>Extract {e(r["extract_id"])}. Records: {show(r["records"])}. Linked ({e(linked_statuses)}): {rate_txt}.</p>
<h2>Sources and coverage</h2>{sources}
<h2>Method</h2><p>Deterministic steps, then Splink. Settings: <code>{cfg}</code>. Versions: <code>{ver}</code>.</p>
<h2>Records by link status</h2>{status_rows}
<h2>Score distribution</h2>{_img(hist, "score distribution", "No records reached the probabilistic step.")}
<h2>Match rate by subgroup</h2><p>Areas: {e(r["areas"])}.</p>{group_html}
<h2>Linked and unlinked records compared</h2>
<p>Linked: {show(cmp_["linked"])}; unlinked ({e(", ".join(cmp_["unlinked_statuses"]))}): {show(cmp_["unlinked"])}.</p>{comparison}
<h2>Implausible links</h2>{implausible}
<h2>Clerical review</h2>{review}<p><small>{e(cr["note"])}</small></p>
<p><small>{e(r["note"])}</small></p></body></html>
"""
