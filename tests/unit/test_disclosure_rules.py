"""Each disclosure rule on hand-computed tables (DESIGN.md section 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fjdp.disclosure import Mitigation, Register, Session, Status, default_policy, project_policy
from fjdp.disclosure.population import apply_filter
from fjdp.disclosure.rounding import midpoint6, midpoint6_rate, round_to_base
from fjdp.disclosure.suppression import exposed_cells, secondary_suppression
from fjdp.disclosure.tables import TableRequest, check_table
from fjdp.errors import GovernanceError, InputError

POLICY = default_policy()


def _rows(spec: dict[tuple[str, str], int]) -> pd.DataFrame:
    """One row per contributor: {(row label, col label): count}."""
    recs = [(r, c) for (r, c), n in spec.items() for _ in range(n)]
    return pd.DataFrame(recs, columns=["a", "b"])


def _cells(out: object) -> dict[tuple[object, object], str]:
    return {(c.row[0], c.col[0]): c.reason for c in out.flagged_cells}  # type: ignore[attr-defined]


# -- policy -------------------------------------------------------------------------------


def test_the_shipped_policy_has_design_section_7_defaults() -> None:
    p = POLICY
    assert (p.threshold, p.dominance_n, p.dominance_k, p.p_percent) == (10, 2, 0.90, 0.10)
    assert (p.min_residual_df, p.min_contributors_summary, p.rounding_base) == (10, 10, 5)
    assert p.zeros_disclosive and not p.allow_min_max and p.survival_per_time_point
    assert p.differencing_threshold == 10
    assert set(p.releasable_types) == {"csv", "txt", "json", "png", "md", "html"}
    assert p.version and p.is_releasable("t.csv") and not p.is_releasable("t.xlsx")


def test_a_project_may_tighten_and_the_version_says_so() -> None:
    p = project_policy({"threshold": 20, "dominance_k": 0.8})
    assert p.threshold == 20 and p.dominance_k == 0.8
    assert p.version.startswith(POLICY.version + "+project.")


@pytest.mark.parametrize(
    "override",
    [{"threshold": 5}, {"dominance_k": 0.95}, {"allow_min_max": True}, {"zeros_disclosive": False},
     {"releasable_types": ["csv", "xlsx"]}, {"rounding_base": 3}, {"p_percent": 0.05}],
)  # fmt: skip
def test_loosening_is_refused_without_a_governance_decision(override: dict[str, object]) -> None:
    with pytest.raises(GovernanceError, match="loosens"):
        project_policy(override)
    p = project_policy(override, governance_decision="GD-2026-014")
    assert p.governance_decision == "GD-2026-014" and "GD-2026-014" in p.version


def test_an_unknown_policy_key_is_a_user_error() -> None:
    with pytest.raises(InputError, match="unknown policy key 'treshold'"):
        project_policy({"treshold": 20})


# -- threshold, zeros, contributors --------------------------------------------------------


def test_threshold_flags_nine_contributors_not_ten() -> None:
    df = _rows({("x", "p"): 9, ("x", "q"): 10, ("y", "p"): 30, ("y", "q"): 40})
    out = Session(mitigate="none").crosstab(df, ["a"], ["b"])
    assert out.status is Status.FAIL
    assert _cells(out) == {("x", "p"): "threshold: 9 contributors, fewer than 10"}


def test_zeros_are_flagged() -> None:
    df = _rows({("x", "p"): 20, ("y", "q"): 40, ("y", "p"): 15})
    out = Session(mitigate="none").crosstab(df, ["a"], ["b"])
    assert _cells(out) == {("x", "q"): "zero: no contributors (zeros are disclosive; threshold 10)"}


def test_contributors_are_units_not_rows() -> None:
    # 30 rows but only 3 children in cell (x, p): disclosive.
    df = _rows({("x", "p"): 30, ("y", "p"): 30})
    df["child"] = [i % 3 for i in range(30)] + list(range(100, 130))
    s = Session(mitigate="none")
    assert s.crosstab(df, ["a"], ["b"]).status is Status.PASS
    out = s.crosstab(df, ["a"], ["b"], unit="child")
    assert _cells(out) == {("x", "p"): "threshold: 3 contributors, fewer than 10"}
    # Released counts stay rows (pandas), only the checks count children.
    assert out.table.data[0] == [30]


# -- dominance -----------------------------------------------------------------------------


def _magnitudes(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"a": "x", "b": "p", "v": values, "u": range(len(values))})


def test_nk_dominance_two_largest_make_90_percent() -> None:
    # 100 + 80 = 180 of 190 total = 94.7% >= 90%.
    df = _magnitudes([100, 80] + [1.0] * 10)
    out = Session(mitigate="none").pivot_table(
        df, values="v", index=["a"], columns=["b"], aggfunc="sum"
    )
    assert "dominance" in _cells(out)[("x", "p")]
    # 100 + 80 = 180 of 240 = 75%: fine; the rest (60) is over 10% of 100: fine.
    df = _magnitudes([100, 80] + [6.0] * 10)
    out = Session(mitigate="none").pivot_table(
        df, values="v", index=["a"], columns=["b"], aggfunc="sum"
    )
    assert out.status is Status.PASS


def test_p_percent_rule() -> None:
    # largest 100, second 5, the other ten add to 9 < 10% of 100 -> flagged (n,k: 105/114 = 92%).
    df = _magnitudes([100, 5] + [0.9] * 10)
    reasons = _cells(
        Session(mitigate="none").pivot_table(
            df, values="v", index=["a"], columns=["b"], aggfunc="mean"
        )
    )
    assert "p%" in reasons[("x", "p")]
    # largest 100, second 50, others add to 20: n,k 150/170 = 88%, p% 20 >= 10 -> passes.
    df = _magnitudes([100, 50] + [2.0] * 10)
    out = Session(mitigate="none").pivot_table(
        df, values="v", index=["a"], columns=["b"], aggfunc="mean"
    )
    assert out.status is Status.PASS


def test_a_negative_value_cannot_hide_dominance() -> None:
    # Signed sum: 1000 - 990 + 10*1 = 20, the largest is 1000: by absolute values the
    # two largest make 1990 / 2000 of the cell, which is dominated.
    df = _magnitudes([1000, -990] + [1.0] * 10)
    out = Session(mitigate="none").pivot_table(
        df, values="v", index=["a"], columns=["b"], aggfunc="sum"
    )
    assert "dominance" in _cells(out)[("x", "p")]
    assert any("negative values" in r for r in out.reasons)


def test_dominance_adds_up_each_contributors_rows_first() -> None:
    # Unit 0 has ten rows of 50: one contributor of 500 among eleven.
    df = pd.DataFrame(
        {"a": "x", "b": "p", "v": [50.0] * 10 + [1.0] * 10, "u": [0] * 10 + list(range(1, 11))}
    )
    s = Session(mitigate="none")
    by_row = s.pivot_table(df, values="v", index=["a"], columns=["b"], aggfunc="sum")
    by_unit = s.pivot_table(df, values="v", index=["a"], columns=["b"], aggfunc="sum", unit="u")
    assert by_row.status is Status.PASS
    assert "dominance" in _cells(by_unit)[("x", "p")]


# -- summaries, extremes, percentages ------------------------------------------------------


def test_min_and_max_are_never_released() -> None:
    df = _magnitudes([float(v) for v in range(1, 40)])
    for how in ("none", "suppress", "suppress_round"):
        out = Session(mitigate=how).pivot_table(
            df, values="v", index=["a"], columns=["b"], aggfunc="max"
        )
        assert out.status is Status.FAIL
        assert any(r.startswith("min/max") for r in out.reasons)
    assert out.table.data == [[None]]


def test_means_need_ten_contributors() -> None:
    df = _magnitudes([10.0] * 9)
    out = Session(mitigate="none").pivot_table(df, values="v", index=["a"], aggfunc="median")
    assert out.status is Status.FAIL


def test_percentages_are_checked_on_counts_and_computed_from_protected_counts() -> None:
    df = _rows({("x", "p"): 3, ("x", "q"): 40, ("x", "r"): 12, ("y", "p"): 30, ("y", "q"): 27,
                ("y", "r"): 33, ("z", "p"): 21, ("z", "q"): 22, ("z", "r"): 23})  # fmt: skip
    none = Session(mitigate="none").crosstab(df, ["a"], ["b"], normalize="all")
    assert none.status is Status.FAIL  # 3% is a proportion, but of three children
    out = Session(mitigate="suppress_round").crosstab(
        df, ["a"], ["b"], normalize="all", margins=True
    )
    data = np.array(out.table.data, dtype=float)
    # Released proportions are of the protected total: the cells shown add up to 1.
    assert np.isnan(data[0, 0])
    assert np.nansum(data[:-1, :-1]) == pytest.approx(1.0)
    assert data[-1, -1] == pytest.approx(1.0)


# -- suppression and rounding --------------------------------------------------------------


def test_one_suppressed_cell_in_a_row_is_exposed_by_the_total() -> None:
    mask = np.zeros((3, 3), dtype=bool)
    mask[0, 0] = True
    assert exposed_cells(mask) == [(0, 0)]
    mask[0, 1] = mask[1, 0] = mask[1, 1] = True
    assert exposed_cells(mask) == []


def test_secondary_suppression_hand_example() -> None:
    inner = np.array([[3, 20, 30], [25, 40, 50], [12, 15, 18]], dtype=float)
    grid = np.zeros((4, 4))
    grid[:3, :3] = inner
    grid[:3, 3] = inner.sum(1)
    grid[3, :3] = inner.sum(0)
    grid[3, 3] = inner.sum()
    mask = secondary_suppression(grid, grid < 10)
    # The 3 needs a partner in its row and column: the cheapest are 20 and 12, and the
    # 15 closes the rectangle.
    assert mask[:3, :3].astype(int).tolist() == [[1, 1, 0], [0, 0, 0], [1, 1, 0]]
    assert exposed_cells(mask) == []


def test_rounding_to_base_and_midpoint6() -> None:
    assert round_to_base([0, 2, 2.5, 7, 7.5, 12, 13]).tolist() == [0, 0, 5, 5, 10, 10, 15]
    assert midpoint6([0, 1, 6, 7, 12, 13]).tolist() == [0, 3, 3, 9, 9, 15]
    assert midpoint6_rate(7, 13) == pytest.approx(9 / 15)


def test_suppress_round_recomputes_totals_from_the_protected_cells() -> None:
    df = _rows(
        {
            ("x", "p"): 3,
            ("x", "q"): 41,
            ("y", "p"): 32,
            ("y", "q"): 27,
            ("z", "p"): 18,
            ("z", "q"): 22,
        }
    )
    req = TableRequest(["a"], ["b"], margins=True, mitigate=Mitigation.SUPPRESS_ROUND)
    res = check_table(df, req, POLICY)
    data = np.array(res.table.data, dtype=float)
    assert res.status is Status.REVIEW and res.status_before is Status.FAIL
    inner = data[:-1, :-1]
    assert np.all(np.isnan(inner) | (inner % 5 == 0))
    assert np.all(np.isnan(inner) | (inner >= 10))
    # A total is the sum of the released cells it covers; none released, none shown.
    shown = ~np.isnan(inner)
    np.testing.assert_allclose(data[:-1, -1], np.where(shown.any(1), np.nansum(inner, 1), np.nan))
    np.testing.assert_allclose(data[-1, :-1], np.where(shown.any(0), np.nansum(inner, 0), np.nan))
    assert data[-1, -1] == np.nansum(inner)
    assert any("secondary" in m for m in res.mitigations)


def test_a_clean_table_passes_under_every_mitigation() -> None:
    df = _rows({("x", "p"): 11, ("x", "q"): 41, ("y", "p"): 32, ("y", "q"): 27})
    for how in ("none", "suppress", "suppress_round"):
        out = Session(mitigate=how).crosstab(df, ["a"], ["b"], margins=True)
        assert out.status is Status.PASS and out.status_before is Status.PASS
    assert out.table.data == [[10, 40, 50], [30, 25, 55], [40, 65, 105]]


# -- models, survival, histograms ---------------------------------------------------------


def test_regression_with_too_few_residual_df_fails() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=11), "y": rng.normal(size=11)})
    s = Session()
    assert s.ols(df, "y", ["x"]).status is Status.FAIL  # 11 - 2 = 9
    df = pd.DataFrame({"x": rng.normal(size=12), "y": rng.normal(size=12)})
    out = s.ols(df, "y", ["x"])
    assert out.status is Status.PASS and out.table.index == ["const", "x"]


def test_survival_is_checked_per_time_point_and_mitigated_by_grouping() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"t": rng.integers(1, 60, 300), "e": rng.integers(0, 2, 300)})
    s = Session()
    raw = s.survival(df, "t", "e", mitigate="none")
    assert raw.status is Status.FAIL
    out = s.survival(df, "t", "e", mitigate="suppress_round")
    assert out.status is Status.REVIEW and out.status_before is Status.FAIL
    assert out.table.columns == ["at_risk", "events", "survival"]
    for at_risk, events, _ in out.table.data:
        assert at_risk >= 10 and events >= 10 and at_risk % 5 == 0 and events % 5 == 0


def test_histogram_with_data_driven_edges_is_refused() -> None:
    df = pd.DataFrame({"age": np.arange(200) % 18})
    s = Session()
    assert s.hist(df, "age", 10).status is Status.FAIL
    out = s.hist(df, "age", [0, 6, 12, 18])
    assert out.status is Status.PASS and out.table.index == ["[0, 6)", "[6, 12)", "[12, 18]"]


# -- provenance, results.json, register, filters -------------------------------------------


def test_every_output_records_its_code_line_population_and_policy(tmp_path: Path) -> None:
    df = _rows({("x", "p"): 3, ("x", "q"): 41, ("y", "p"): 32, ("y", "q"): 27})
    s = Session()
    out = s.crosstab(df, ["a"], ["b"], margins=True, filter="a != 'z'")  # the line recorded
    assert "the line recorded" in out.command and __file__ in out.command
    assert out.population == "a != 'z'" and out.policy_version == POLICY.version
    path = s.finalise(tmp_path / "outputs")
    doc = json.loads(path.read_text())
    rec = doc["results"]["output_0"]
    assert {"uid", "status", "type", "properties", "files", "outcome", "command", "summary",
            "timestamp", "comments", "exception"} <= set(rec)  # fmt: skip
    assert rec["status"] == "review" and rec["type"] == "table"
    assert rec["properties"]["status_before_mitigation"] == "fail"
    assert rec["files"][0]["name"] == "output_0_0.csv"
    assert (tmp_path / "outputs/output_0_0.csv").exists()
    assert (tmp_path / "outputs/checksums/output_0_0.csv.txt").exists()


def test_register_flags_a_population_differing_by_fewer_than_ten(tmp_path: Path) -> None:
    df = pd.DataFrame({"la": ["A"] * 60 + ["B"] * 60 + ["X"] * 4, "sex": ["F", "M"] * 62,
                       "child": range(124), "all": "children"})  # fmt: skip
    reg = Register(tmp_path / "register.json")
    s = Session(register=reg)
    first = s.crosstab(df, ["sex"], ["all"], unit="child")
    s.release(first, "all-children")
    again = Register(tmp_path / "register.json")  # persisted, and reloaded
    s2 = Session(register=again)
    out = s2.crosstab(df, ["sex"], ["all"], unit="child", filter="la != 'X'")
    assert out.status is Status.REVIEW
    assert any("all-children" in r and "4 contributors" in r for r in out.reasons)
    # A population ten or more away, or the same one, does not collide.
    assert (
        s2.crosstab(df, ["sex"], ["all"], unit="child", filter="la != 'B'").status
        is not Status.REVIEW
    )
    assert "child" not in (tmp_path / "register.json").read_text().split('"units"')[1][:40]


def test_filters_cannot_call_functions_or_read_files() -> None:
    df = pd.DataFrame({"year": [2021, 2022], "la": ["X", "Y"]})
    assert apply_filter(df, "year == 2022 and la != 'X'")["la"].tolist() == ["Y"]
    assert apply_filter(df, 'la in ["X"]')["year"].tolist() == [2021]
    for bad in ("read_csv('/etc/passwd') is not null", "(select 1) = 1", "nope == 1"):
        with pytest.raises(InputError):
            apply_filter(df, bad)


def test_a_figure_carries_its_counts_and_only_releasable_files_are_written(tmp_path: Path) -> None:
    df = _rows({("x", "p"): 12, ("y", "p"): 30, ("z", "p"): 22})
    s = Session()
    out = s.crosstab(df, ["a"], ["b"])
    png = s.figure(out, tmp_path / "by_a.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert pd.read_csv(png.with_suffix(".csv"), index_col=0).iloc[:, 0].tolist() == [10, 30, 20]
    folder = tmp_path / "outputs"
    doc = json.loads(s.finalise(folder).read_text())
    names = [f["name"] for f in doc["results"]["output_0"]["files"]]
    assert names == ["output_0_0.csv", "by_a.png", "by_a.csv"]


def test_a_time_series_extended_by_one_period_that_adds_a_few_people_collides() -> None:
    df = pd.DataFrame({"year": [2020] * 60 + [2021] * 60 + [2022] * 4, "child": range(124),
                       "sex": ["F", "M"] * 62})  # fmt: skip
    s = Session(register=Register())
    s.release(s.crosstab(df, ["sex"], ["year"], unit="child", filter="year <= 2021"), "to-2021")
    out = s.crosstab(
        df, ["sex"], ["year"], unit="child", filter="year <= 2022", mitigate="suppress"
    )
    assert out.status is Status.REVIEW
    assert any(r.startswith("differencing") and "to-2021" in r for r in out.reasons)
