"""The linkage-quality report of a run (GUILD; Harron et al. 2017): JSON and a
self-contained HTML page with the score distribution as an embedded PNG.

Every count in it is protected (fewer than 10 suppressed, the rest rounded to 5), so
the report can leave the TTP zone; rates are computed from protected counts.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import duckdb

from fjdp.disclosure.protect import protect, rate, show
from fjdp.types import LinkStatus

LINKED = (LinkStatus.DET_STRONG_ID, LinkStatus.DET_DEMOG, LinkStatus.PROB_ACCEPT)


def _hist_png(scores: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.hist(scores, bins=20, range=(0, 1), color="#4a78a8")
    ax.set_xlabel("match probability (probabilistic step)")
    ax.set_ylabel("records")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    dataset: str,
    extract_id: str,
    config: dict[str, Any],
    versions: dict[str, str],
    out_dir: Path,
) -> dict[str, Any]:
    """From tables ``rec`` and ``links`` on ``con``; writes report.json and report.html."""
    linked = ", ".join(f"'{s}'" for s in LINKED)
    total = int(con.execute("select count(*) from links").fetchall()[0][0])
    by_status = {
        k: int(v)
        for k, v in con.execute(
            "select status, count(*) from links group by 1 order by 1"
        ).fetchall()
    }
    groups: dict[str, list[dict[str, Any]]] = {}
    for name, expr in (
        ("sex", "coalesce(r.sex, 'unknown')"),
        (
            "age band at 2020",
            "case when r.dob is null then 'unknown' when date_diff('year', r.dob, date '2020-12-31') < 18 "
            "then 'under 18' when date_diff('year', r.dob, date '2020-12-31') < 40 then '18-39' else '40+' end",
        ),
        ("NHS number", "case when r.nhs is null then 'absent or invalid' else 'valid' end"),
        ("postcode", "case when r.pc is null then 'absent or invalid' else 'present' end"),
    ):
        rows = con.execute(
            f"select {expr} as g, count(*), sum((l.status in ({linked}))::int) from rec r join links l using (uid)"
            " group by 1 order by 1"
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
    scores = [
        float(s)
        for (s,) in con.execute("select score from links where step = 'probabilistic'").fetchall()
    ]
    report: dict[str, Any] = {
        "dataset": dataset,
        "extract_id": extract_id,
        "method": {
            "steps": ["DET_STRONG_ID", "DET_DEMOG", "Splink (Fellegi-Sunter, EM)"],
            "config": config,
            "versions": versions,
        },
        "records": protect(total),
        "by_status": {k: protect(v) for k, v in by_status.items()},
        "linkage_rate": rate(sum(by_status.get(s, 0) for s in LINKED), total),
        "by_group": groups,
        "note": "Counts under 10 are suppressed and the rest rounded to 5; rates use protected counts.",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.html").write_text(_html(report, _hist_png(scores) if scores else None))
    return report


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _html(r: dict[str, Any], png: str | None) -> str:
    e = html.escape
    status_rows = "".join(
        f"<tr><td>{e(k)}</td><td>{show(v)}</td></tr>" for k, v in r["by_status"].items()
    )
    group_html = ""
    for name, rows in r["by_group"].items():
        body = "".join(
            f"<tr><td>{e(str(g['group']))}</td><td>{show(g['records'])}</td><td>{show(g['linked'])}</td>"
            f"<td>{_pct(g['rate'])}</td></tr>"
            for g in rows
        )
        group_html += f"<h3>By {e(name)}</h3><table><tr><th>group</th><th>records</th><th>linked</th><th>rate</th></tr>{body}</table>"
    img = (
        f'<img alt="score distribution" src="data:image/png;base64,{png}">'
        if png
        else "<p>No records reached the probabilistic step.</p>"
    )
    rate_txt = "suppressed" if r["linkage_rate"] is None else f"{r['linkage_rate']:.1%}"
    cfg = e(json.dumps(r["method"]["config"]))
    ver = e(json.dumps(r["method"]["versions"]))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Linkage quality: {e(r["dataset"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>
</head><body><h1>Linkage quality: {e(r["dataset"])}</h1>
<p>Extract {e(r["extract_id"])}. Records: {show(r["records"])}. Linked (DET_STRONG_ID, DET_DEMOG, PROB_ACCEPT): {rate_txt}.</p>
<h2>Method</h2><p>Deterministic steps, then Splink. Settings: <code>{cfg}</code>. Versions: <code>{ver}</code>.</p>
<h2>Records by link status</h2><table><tr><th>status</th><th>records</th></tr>{status_rows}</table>
<h2>Match rate by subgroup</h2>{group_html}
<h2>Score distribution</h2>{img}
<p><small>{e(r["note"])}</small></p></body></html>
"""
