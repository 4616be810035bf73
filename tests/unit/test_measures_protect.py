"""The disclosure checks of a measure's table (fjdp.analysis.measures._protect), on
tables small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from fjdp.analysis.measures._protect import protect
from fjdp.analysis.measures._result import MeasureResult
from fjdp.disclosure.policy import default_policy
from fjdp.disclosure.record import Status
from fjdp.disclosure.suppression import exposed_cells

POLICY = default_policy()


def _result(table: pd.DataFrame, **kw: object) -> MeasureResult:
    args: dict[str, object] = {
        "name": "m",
        "title": "m",
        "description": "",
        "table": table,
        "plot": lambda _t: Figure(),
        "unit": "child",
        "count_columns": ("n",),
        "links": "accepted",
    }
    args.update(kw)
    return MeasureResult(**args)  # type: ignore[arg-type]


def test_a_clean_table_passes_and_is_rounded() -> None:
    p = protect(_result(pd.DataFrame({"g": ["a", "b"], "n": [12, 33]})), POLICY)
    assert (p.status_before, p.status) == (Status.PASS, Status.PASS)
    assert p.table.n.tolist() == [10, 35]
    assert p.mitigations == ("counts rounded to base 5",)


def test_small_counts_and_zeros_are_suppressed() -> None:
    p = protect(_result(pd.DataFrame({"g": list("abc"), "n": [3, 0, 40]})), POLICY)
    assert (p.status_before, p.status) == (Status.FAIL, Status.REVIEW)
    assert p.table.n.isna().tolist() == [True, True, False]
    assert {c["reason"] for c in p.flagged} == {"fewer than 10 contributors (child)", "zero"}


def test_a_line_with_one_hidden_cell_hides_another_until_the_hidden_sum_reaches_10() -> None:
    t = pd.DataFrame({"line": ["x"] * 4, "g": list("abcd"), "n": [4, 11, 12, 50]})
    p = protect(_result(t, lines=((("line",), "n"),)), POLICY)
    # 4 alone is recoverable from the total; 4 + 11 = 15 >= 10 with two cells hidden
    assert p.table.n.isna().tolist() == [True, True, False, False]


def test_a_small_complement_hides_the_part() -> None:
    t = pd.DataFrame({"g": ["a"], "with": [95], "all": [100]})
    p = protect(_result(t, count_columns=("with", "all"), complements=(("with", "all"),)), POLICY)
    assert np.isnan(p.table["with"][0]) and p.table["all"][0] == 100


def test_rates_are_recomputed_from_protected_counts_and_hidden_with_them() -> None:
    t = pd.DataFrame({"g": ["a", "b"], "n": [12, 3], "d": [101, 200], "rate": [0.0, 0.0]})

    def rates(x: pd.DataFrame) -> pd.DataFrame:
        x = x.copy()
        x["rate"] = x.n / x.d
        return x

    p = protect(
        _result(t, count_columns=("n", "d"), derived_columns=("rate",), rederive=rates), POLICY
    )
    assert p.table.rate[0] == pytest.approx(10 / 100)  # from rounded 10 / 100, not 12 / 101
    assert np.isnan(p.table.rate[1])


def test_a_two_way_table_leaves_no_hidden_flow_recoverable_from_its_margins() -> None:
    flows = [
        ("s", a, b, n)
        for a, b, n in [
            ("A", "X", 3),
            ("A", "Y", 40),
            ("A", "Z", 25),
            ("B", "X", 30),
            ("B", "Y", 22),
            ("B", "Z", 41),
            ("C", "X", 18),
            ("C", "Y", 27),
            ("C", "Z", 33),
        ]
    ]
    t = pd.DataFrame(flows, columns=["stage", "source", "target", "n"])
    p = protect(_result(t, grids=(("stage", "source", "target", "n"),)), POLICY)
    hidden = p.table.n.isna().to_numpy().reshape(3, 3)
    assert hidden[0, 0] and hidden.sum() >= 4  # a hidden cell needs partners in its row and column
    grid = np.zeros((4, 4), dtype=bool)
    grid[:3, :3] = hidden
    assert exposed_cells(grid) == []
