"""What a measure gives back, and how it is written: a tidy table and a plot.

Each result is written as ``<name>.csv`` (the tidy table), ``<name>.png`` (the plot) and
``<name>.html`` (one self-contained page: title, what was counted, the plot and the
table). The counts stay unprotected inside the workspace; before anything leaves, the
table goes through the disclosure checks (``count_columns`` and ``unit`` say which
columns are counts of what, for those checks).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen in a trusted research environment

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


@dataclass(frozen=True)
class MeasureResult:
    name: str
    title: str
    description: str
    table: pd.DataFrame
    figure: Figure
    unit: str  # the contributor each count counts (child, mother, application, ...)
    count_columns: tuple[str, ...]
    links: str
    html_extra: str = ""  # an interactive figure, where one helps (the pathways diagram)
    notes: tuple[str, ...] = field(default_factory=tuple)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _page(r: MeasureResult, png: bytes) -> str:
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    img = base64.b64encode(png).decode()
    table = r.table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.2f}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(r.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1b1b }}
table {{ border-collapse: collapse; font-size: .9rem }}
th, td {{ border: 1px solid #ccc; padding: .2rem .5rem; text-align: right }}
th {{ background: #f0f0f0 }}
.note {{ color: #555 }}
</style></head><body>
<h1>{html.escape(r.title)}</h1>
<p>{html.escape(r.description)}</p>
<p class="note">Links counted: {html.escape(r.links)}. Counts are of {html.escape(r.unit)}s and
are not yet protected: request the table for release to have it checked.</p>
<ul class="note">{notes}</ul>
{r.html_extra}
<img alt="{html.escape(r.title)}" src="data:image/png;base64,{img}" style="max-width:100%">
<h2>Table</h2>
{table}
</body></html>
"""


def write_result(r: MeasureResult, out: Path) -> dict[str, Path]:
    """Write the table, plot and page of ``r`` into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"{r.name}.{kind}" for kind in ("csv", "png", "html")}
    r.table.to_csv(paths["csv"], index=False)
    png = _png(r.figure)
    paths["png"].write_bytes(png)
    paths["html"].write_text(_page(r, png), encoding="utf-8")
    plt.close(r.figure)
    return paths
