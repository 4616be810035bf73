"""What a measure gives back, and how it is written: a tidy table and a plot.

Each result is written twice:

- ``<name>.csv`` (the tidy table), ``<name>.png`` (the plot) and ``<name>.html`` (one
  self-contained page: title, what was counted, the plot and the table), with exact
  counts, for the researcher inside the environment;
- ``release/<name>.csv``, ``.png``, ``.html`` and ``.checks.json``: the same after the
  disclosure checks (:mod:`fjdp.analysis.measures._protect`), the plot drawn from the
  protected table, with the verdict, reasons, flagged cells and mitigations. Only these
  are candidates for an output request.

``count_columns`` and ``unit`` say which columns count what; ``derived_columns``,
``lines``, ``complements`` and ``grids`` tell the checks how the numbers hang together.
"""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # no screen in a trusted research environment

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from fjdp.disclosure.policy import Policy


@dataclass(frozen=True)
class MeasureResult:
    name: str
    title: str
    description: str
    table: pd.DataFrame
    plot: Callable[[pd.DataFrame], Figure]  # drawn from a table: exact, or protected
    unit: str  # the contributor each count counts (child, mother, application, ...)
    count_columns: tuple[str, ...]
    links: str
    # an interactive figure of a table, where one helps (the pathways diagram)
    html_extra: Callable[[pd.DataFrame], str] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    derived_columns: tuple[str, ...] = ()  # rates, shares, medians computed from counts
    rederive: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # recompute them
    # (columns grouping rows into a line whose total is known, the count column)
    lines: tuple[tuple[tuple[str, ...], str], ...] = ()
    complements: tuple[tuple[str, str], ...] = ()  # (part, whole): whole - part is shown too
    # two-way tables with known margins: (stage column, row column, column column, count)
    grids: tuple[tuple[str, str, str, str], ...] = ()


def _draw(r: MeasureResult, table: pd.DataFrame) -> bytes:
    """The plot of ``table`` as PNG. A protected table may hide every value of a panel;
    matplotlib then warns about empty axis limits, which is expected, not a fault."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig = r.plot(table)
        png = _png(fig)
    plt.close(fig)
    return png


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _page(r: MeasureResult, table: pd.DataFrame, png: bytes, note: str) -> str:
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in r.notes)
    img = base64.b64encode(png).decode()
    html_table = table.to_html(index=False, na_rep="", float_format=lambda v: f"{v:,.2f}")
    extra = r.html_extra(table) if r.html_extra is not None else ""
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
<p class="note">Links counted: {html.escape(r.links)}. Counts are of {html.escape(r.unit)}s.
{html.escape(note)}</p>
<ul class="note">{notes}</ul>
{extra}
<img alt="{html.escape(r.title)}" src="data:image/png;base64,{img}" style="max-width:100%">
<h2>Table</h2>
{html_table}
</body></html>
"""


EXACT_NOTE = (
    "Exact counts, for use inside the research environment only: the protected version "
    "in release/ is the one an output request can take."
)


def write_result(r: MeasureResult, out: Path, policy: Policy | None = None) -> dict[str, Path]:
    """Write the exact table, plot and page of ``r`` into ``out``, and its protected
    version with its checks into ``out/release``; returns the paths."""
    from fjdp.analysis.measures._protect import protect
    from fjdp.disclosure.policy import default_policy

    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / f"{r.name}.{kind}" for kind in ("csv", "png", "html")}
    r.table.to_csv(paths["csv"], index=False)
    png = _draw(r, r.table)
    paths["png"].write_bytes(png)
    paths["html"].write_text(_page(r, r.table, png, EXACT_NOTE), encoding="utf-8")

    checked = protect(r, policy or default_policy())
    rel = out / "release"
    rel.mkdir(exist_ok=True)
    for kind in ("csv", "png", "html"):
        paths[f"release_{kind}"] = rel / f"{r.name}.{kind}"
    paths["checks"] = rel / f"{r.name}.checks.json"
    checked.table.to_csv(paths["release_csv"], index=False)
    png = _draw(r, checked.table)
    paths["release_png"].write_bytes(png)
    note = (
        f"Protected under policy {checked.policy_version}: {checked.status.value} "
        f"({'; '.join(checked.mitigations) or 'nothing to hide'})."
    )
    paths["release_html"].write_text(_page(r, checked.table, png, note), encoding="utf-8")
    paths["checks"].write_text(json.dumps(checked.to_json(), indent=2) + "\n")
    return paths
