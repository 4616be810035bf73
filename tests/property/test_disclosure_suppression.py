"""After mitigation, for any table: no small cell is shown, no suppressed cell can be
recovered from the released cells and totals, and totals are sums of released cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fjdp.disclosure import Mitigation, default_policy
from fjdp.disclosure.suppression import constraint_matrix, exposed_cells, secondary_suppression
from fjdp.disclosure.tables import TableRequest, check_table

POLICY = default_policy()

counts = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
    lambda shape: arrays(np.int64, shape, elements=st.integers(0, 40))
)


def _frame(table: np.ndarray) -> pd.DataFrame:
    rows = [(f"r{i}", f"c{j}") for (i, j), n in np.ndenumerate(table) for _ in range(int(n))]
    # Every label appears at least once so the grid keeps its shape.
    rows += [(f"r{i}", "c0") for i in range(table.shape[0])]
    rows += [("r0", f"c{j}") for j in range(table.shape[1])]
    return pd.DataFrame(rows, columns=["a", "b"])


def _grid(inner: np.ndarray) -> np.ndarray:
    r, c = inner.shape
    g = np.zeros((r + 1, c + 1))
    g[:r, :c] = inner
    g[:r, c] = inner.sum(1)
    g[r, :c] = inner.sum(0)
    g[r, c] = inner.sum()
    return g


def _determined(mask: np.ndarray) -> set[tuple[int, int]]:
    """Brute-force rank test, independent of exposed_cells' SVD projection."""
    a_full = constraint_matrix(mask.shape)
    unknown = np.flatnonzero(mask.ravel())
    a = a_full[:, unknown]
    rank = np.linalg.matrix_rank(a) if a.size else 0
    out = set()
    for k, flat in enumerate(unknown):
        e = np.zeros((1, len(unknown)))
        e[0, k] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.add(divmod(int(flat), mask.shape[1]))
    return out


@settings(max_examples=60, deadline=None)
@given(counts)
def test_secondary_suppression_leaves_no_cell_recoverable(inner: np.ndarray) -> None:
    grid = _grid(inner.astype(float))
    primary = grid < POLICY.threshold
    mask = secondary_suppression(grid, primary, minimum=POLICY.threshold)
    assert (mask | ~primary).all()  # every primary cell stays suppressed
    assert exposed_cells(mask) == []
    assert _determined(mask) == set()
    # Where a line's total is released, its hidden cells cannot add up to a small count.
    rows, cols = mask.shape
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    for line in lines:
        hidden = [cell for cell in line[:-1] if mask[cell]]
        if hidden and not mask[line[-1]]:
            assert sum(grid[cell] for cell in hidden) >= POLICY.threshold


@settings(max_examples=40, deadline=None)
@given(counts, st.booleans())
def test_after_mitigation_no_small_cell_and_totals_add_up(inner: np.ndarray, margins: bool) -> None:
    df = _frame(inner)
    req = TableRequest(["a"], ["b"], margins=margins, mitigate=Mitigation.SUPPRESS_ROUND)
    res = check_table(df, req, POLICY)
    data = np.array(res.table.data, dtype=float)
    r, c = res.mask.shape[0] - 1, res.mask.shape[1] - 1
    cells = data[:r, :c]
    true = res.evidence.contributors[:r, :c]
    # No released cell came from fewer than the threshold (or zero) contributors.
    assert np.all(np.isnan(cells) | (true >= POLICY.threshold))
    assert np.all(np.isnan(cells) | (cells % POLICY.rounding_base == 0))
    assert exposed_cells(res.mask) == []
    if margins:
        shown = ~np.isnan(cells)
        totals = np.where(shown.any(1), np.nansum(cells, 1), np.nan)
        np.testing.assert_array_equal(data[:r, c], totals)
        np.testing.assert_array_equal(
            data[r, :c], np.where(shown.any(0), np.nansum(cells, 0), np.nan)
        )
        assert np.isnan(data[r, c]) == (not shown.any())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(-5, 40)),
        min_size=1,
        max_size=120,
    )
)
def test_contributor_counts_match_pandas_nunique(rows: list[tuple[int, int, int]]) -> None:
    from fjdp.disclosure.contributors import collect

    df = pd.DataFrame(rows, columns=["a", "b", "u"])
    ev = collect(df, ["a"], ["b"], unit="u")
    r, c = len(ev.rows.labels), len(ev.cols.labels)
    inner = df.groupby(["a", "b"])["u"].nunique().unstack(fill_value=0).to_numpy()
    np.testing.assert_array_equal(ev.contributors[:r, :c], inner)
    np.testing.assert_array_equal(ev.contributors[:r, c], df.groupby("a")["u"].nunique())
    np.testing.assert_array_equal(ev.contributors[r, :c], df.groupby("b")["u"].nunique())
    assert ev.contributors[r, c] == df["u"].nunique()
