"""The family-justice measures library.

Each measure is a documented function of a workspace's person-level views (and, where it
counts events, of the workspace itself) returning a tidy table and a plot. They
reproduce in shape the published analyses listed in the calibration notes: infants in
proceedings per 10,000 births, recurrent proceedings, parents' health before
proceedings, children's pathways and their routes diagram, and the linkage sensitivity
of each headline figure.

``run_measures`` computes them all on a workspace and writes each one's CSV, PNG and
self-contained HTML page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fjdp.analysis.engines import Engine
from fjdp.analysis.measures._frames import Frames, build_frames
from fjdp.analysis.measures._result import MeasureResult, write_result
from fjdp.analysis.measures._workspace import Views, workspace_views
from fjdp.analysis.measures.infants import infants_per_10k
from fjdp.analysis.measures.parents_health import parents_health
from fjdp.analysis.measures.pathways import childrens_pathways, pathways_diagram
from fjdp.analysis.measures.recurrence import recurrent_proceedings
from fjdp.analysis.measures.sensitivity import linkage_sensitivity
from fjdp.analysis.options import MEASURE_NAMES, Links

__all__ = [
    "MEASURES",
    "Frames",
    "Links",
    "MeasureResult",
    "Written",
    "build_frames",
    "run_measures",
    "workspace_views",
    "write_result",
]

Measure = Callable[[Views, Frames], MeasureResult]

MEASURES: dict[str, Measure] = {
    "infants_per_10k_births": lambda _con, f: infants_per_10k(f),
    "recurrent_proceedings": lambda _con, f: recurrent_proceedings(f),
    "parents_health_before_proceedings": parents_health,
    "childrens_pathways": lambda _con, f: childrens_pathways(f),
    "pathways_diagram": lambda _con, f: pathways_diagram(f),
}
SENSITIVITY = "linkage_sensitivity"
assert tuple(MEASURES) == MEASURE_NAMES, "keep fjdp.analysis.options.MEASURE_NAMES in step"


@dataclass(frozen=True)
class Written:
    name: str
    title: str
    rows: int
    seconds: float
    paths: dict[str, Path]


def run_measures(
    workspace: Path,
    out: Path,
    *,
    links: Links = Links.ACCEPTED,
    names: list[str] | None = None,
    sensitivity: bool = True,
    engine: Engine = Engine.DUCKDB,
    step: Callable[[str], None] = lambda _n: None,
) -> list[Written]:
    """Compute the measures ``names`` (all by default) on ``workspace`` into ``out``, on
    DuckDB (the workspace's own database) or Spark local mode."""
    with workspace_views(workspace, engine) as views:
        return _run(views, out, links, names, sensitivity, step)


def _run(
    views: Views,
    out: Path,
    links: Links,
    names: list[str] | None,
    sensitivity: bool,
    step: Callable[[str], None],
) -> list[Written]:
    chosen = names or list(MEASURES)
    written: list[Written] = []
    tables = {}
    frames = build_frames(views, links)
    step("person-level views")
    for name in chosen:
        t = time.perf_counter()
        r = MEASURES[name](views, frames)
        tables[name] = r.table
        written.append(
            Written(name, r.title, len(r.table), time.perf_counter() - t, write_result(r, out))
        )
        step(name)
    if sensitivity and links is Links.ACCEPTED:
        t = time.perf_counter()
        r = linkage_sensitivity(views, frames, build_frames(views, Links.POSSIBLE), tables)
        written.append(
            Written(
                SENSITIVITY, r.title, len(r.table), time.perf_counter() - t, write_result(r, out)
            )
        )
        step(SENSITIVITY)
    return written
