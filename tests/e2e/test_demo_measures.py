"""The measures the demo computes in its workspace, against the same measures on the
synthetic world's truth (tests/lib/truth_workspace.py): the full pipeline (split,
linkage, load, provisioning) moves each headline figure by no more than the linkage
report predicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import pandas as pd

from fjdp.analysis.measures import MEASURES, build_frames, workspace_views
from fjdp.analysis.measures.pathways import pathways_table
from fjdp.analysis.measures.sensitivity import headlines
from lib.truth_workspace import truth_workspace

PROJECT = "demo-family-pathways"


def _missed_link_share(demo: Path) -> float:
    """What the linkage report predicts the pipeline misses: the share of court persons a
    perfect linkage would link (those on the spine) that the run left unlinked."""
    report = next((demo / "ttp" / "linkage").glob("court_public-*/report.json"))
    rate = float(json.loads(report.read_text())["linkage_rate"])
    on_spine = duckdb.sql(
        f"select avg(on_spine::int) from '{demo}/world/truth/court_public_persons.parquet'"
    ).fetchall()[0][0]
    return max(0.0, float(on_spine) - rate) + 0.01


def test_the_demo_writes_every_measure(demo: Path) -> None:
    results = demo / "analysis" / PROJECT / "measures"
    for name in [*MEASURES, "linkage_sensitivity"]:
        for kind in ("csv", "png", "html"):
            f = results / f"{name}.{kind}"
            assert f.stat().st_size > 0, f
        table = pd.read_csv(results / f"{name}.csv")
        assert len(table) > 0, name
        page = (results / f"{name}.html").read_text()
        assert "data:image/png;base64," in page and "<table" in page, name
        for kind in ("csv", "png", "html", "checks.json"):
            assert (results / "release" / f"{name}.{kind}").stat().st_size > 0, (name, kind)


def test_every_released_count_is_protected(demo: Path) -> None:
    """The release candidates: no count under the threshold, every count a multiple of
    5, and a verdict recorded under the policy's version."""
    from fjdp.disclosure.policy import default_policy

    policy = default_policy()
    release = demo / "analysis" / PROJECT / "measures" / "release"
    counts = {
        "infants_per_10k_births": ("births", "infants", "newborns"),
        "recurrent_proceedings": ("parents", "returned", "at_risk"),
        "parents_health_before_proceedings": ("mothers", "with_contact"),
        "childrens_pathways": ("children", "applications", "returned"),
        "pathways_diagram": ("children",),
    }
    assert set(counts) == set(MEASURES)
    for name, cols in counts.items():
        table = pd.read_csv(release / f"{name}.csv")
        for col in cols:
            shown = table[col].dropna()
            assert (shown >= policy.threshold).all(), (name, col)
            assert (shown % policy.rounding_base == 0).all(), (name, col)
        checks = json.loads((release / f"{name}.checks.json").read_text())
        assert checks["policy_version"] == policy.version
        assert checks["status"] in ("pass", "review")


def test_measures_agree_with_truth_within_the_predicted_linkage_error(demo: Path) -> None:
    truth = truth_workspace(demo / "world")
    with workspace_views(demo / "workspaces" / PROJECT) as ws:
        got = headlines(ws, build_frames(ws))
    want = headlines(truth, build_frames(truth))
    e = _missed_link_share(demo)
    assert e < 0.2, e
    for (_, figure, v, n), (_, _, tv, tn) in zip(got, want, strict=True):
        assert n > 0 and tn > 0, figure
        if figure.endswith("(%)"):
            p = tv / 100
            allowed = 100 * (e + 2 * math.sqrt(max(p * (1 - p), 0.01) * (1 / n + 1 / tn)))
            assert abs(v - tv) <= allowed, (figure, v, tv, allowed)
        else:
            # A rate or count: off by the missed links plus counting noise.
            assert abs(v - tv) <= tv * (e + 2 / math.sqrt(tn)) + 1, (figure, v, tv)
        # The pipeline can only lose people the truth links, never invent many.
        assert n <= tn * (1 + e), (figure, n, tn)


def test_court_only_figures_are_exact(demo: Path) -> None:
    """Orders by year need no linkage: the pipeline must reproduce the truth exactly."""
    truth = truth_workspace(demo / "world")
    section = "final order by year of issue"
    with workspace_views(demo / "workspaces" / PROJECT) as ws:
        a = pathways_table(build_frames(ws))
    b = pathways_table(build_frames(truth))
    key = ["group", "category"]
    a = a[a.section == section].set_index(key).children.sort_index()
    b = b[b.section == section].set_index(key).children.sort_index()
    pd.testing.assert_series_equal(a, b)
