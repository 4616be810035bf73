"""Secondary suppression on a two-way table with margins, and the check that proves it.

The table is a grid of ``(R+1) x (C+1)`` cells: ``R x C`` interior cells, a last column
of row totals and a last row of column totals (the bottom-right cell is the grand
total). The margins are always part of the problem, even when the released table
shows none: true totals are usually known from elsewhere (another table, a published
figure), and a suppressed cell must not be recoverable from them.

The method: every line (a row with its total, a column with its total) that holds
exactly one suppressed cell gets a second one, the cheapest candidate (smallest
count, interior before margins), repeated until stable. That pattern is then verified
with linear algebra: a suppressed cell is *exposed* when its unit vector lies in the
row space of the additivity constraints restricted to the suppressed cells, that is
when the released cells and totals determine it. While any cell is exposed, more
cells are suppressed (a candidate in the exposed cell's row or column that hides it,
else the cheapest cell left) and the check runs again.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Mask = npt.NDArray[np.bool_]
Grid = npt.NDArray[np.float64]

_TOL = 1e-9


def constraint_matrix(shape: tuple[int, int]) -> npt.NDArray[np.float64]:
    """The additivity constraints of a grid with margins, one row per equation.

    Variables are the grid's cells in row-major order. For every row ``i`` (the total
    row included) the interior cells sum to the row's total; for every column ``j``
    (the total column included) likewise.
    """
    rows, cols = shape
    r, c = rows - 1, cols - 1
    eqs: list[npt.NDArray[np.float64]] = []
    for i in range(rows):
        e = np.zeros(shape)
        e[i, :c] = 1.0
        e[i, c] = -1.0
        eqs.append(e.ravel())
    for j in range(cols):
        e = np.zeros(shape)
        e[:r, j] = 1.0
        e[r, j] = -1.0
        eqs.append(e.ravel())
    return np.vstack(eqs)


def exposed_cells(mask: Mask) -> list[tuple[int, int]]:
    """Suppressed cells whose value the released cells and totals determine exactly.

    Known cells move to the right-hand side, so only the columns of the constraint
    matrix for suppressed cells matter. Cell ``k`` is determined exactly when ``e_k``
    is in the row space of that restricted matrix: its squared projection onto an
    orthonormal basis of the row space is 1.
    """
    flat = mask.ravel()
    unknown = np.flatnonzero(flat)
    if unknown.size == 0:
        return []
    a = constraint_matrix(mask.shape)[:, unknown]
    a = a[np.any(a != 0, axis=1)]
    if a.shape[0] == 0:
        return []
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    rank = int(np.sum(s > _TOL * max(a.shape) * (s[0] if s.size else 1.0)))
    basis = vt[:rank]
    weight = np.sum(basis**2, axis=0)
    cols = mask.shape[1]
    return [divmod(int(unknown[k]), cols) for k in np.flatnonzero(weight > 1 - 1e-7)]


def _cost(values: Grid, shape: tuple[int, int]) -> Grid:
    # Suppress small interior cells first; margins only when a line has nothing else.
    rows, cols = shape
    cost = np.abs(np.nan_to_num(values, nan=0.0)).astype(float)
    big = float(cost.max() + 1.0) * 10.0
    cost[rows - 1, :] += big
    cost[:, cols - 1] += big
    return cost


def _lines(shape: tuple[int, int]) -> list[list[tuple[int, int]]]:
    rows, cols = shape
    out = [[(i, j) for j in range(cols)] for i in range(rows)]
    out += [[(i, j) for i in range(rows)] for j in range(cols)]
    return out


def _line_needs_more(mask: Mask, values: Grid, line: list[tuple[int, int]], minimum: float) -> bool:
    """One hidden cell, or hidden cells whose sum the line's released total gives away
    (total minus the released cells) and which is under ``minimum``."""
    hidden = [cell for cell in line if mask[cell]]
    if not hidden or len(hidden) == len(line):
        return False
    if len(hidden) == 1:
        return True
    total = line[-1]  # each line ends with its total
    if minimum <= 0 or mask[total]:
        return False
    hidden_sum = float(np.nansum([values[cell] for cell in hidden]))
    return hidden_sum < minimum


def _pair_lines(mask: Mask, cost: Grid, values: Grid, minimum: float) -> bool:
    """Suppress more cells until no line exposes a cell, or a small hidden sum, through
    its total; True if anything changed."""
    changed = False
    again = True
    while again:
        again = False
        for line in _lines(mask.shape):
            if not _line_needs_more(mask, values, line, minimum):
                continue
            open_cells = [cell for cell in line if not mask[cell]]
            pick = min(open_cells, key=lambda cell: (cost[cell], cell))
            mask[pick] = True
            again = changed = True
    return changed


def secondary_suppression(
    values: Grid, primary: Mask, *, minimum: float = 0, max_rounds: int = 10_000
) -> Mask:
    """The primary cells plus enough others that no suppressed cell is exposed.

    ``values`` and ``primary`` are ``(R+1) x (C+1)`` grids with margins last. With
    ``minimum`` (the threshold), the hidden cells of a line whose total is released
    must also add up to at least that much, since their sum is the total minus the
    released cells. The result is verified with :func:`exposed_cells`; it never
    returns an exposed pattern.
    """
    mask = primary.astype(bool).copy()
    if not mask.any():
        return mask
    cost = _cost(values, mask.shape)
    _pair_lines(mask, cost, values, minimum)
    for _ in range(max_rounds):
        exposed = exposed_cells(mask)
        if not exposed:
            return mask
        target = exposed[0]
        i, j = target
        candidates = [(i, jj) for jj in range(mask.shape[1]) if not mask[i, jj]]
        candidates += [(ii, j) for ii in range(mask.shape[0]) if not mask[ii, j]]
        candidates.sort(key=lambda cell: (cost[cell], cell))
        chosen = None
        for cell in candidates[:25]:
            mask[cell] = True
            if target not in exposed_cells(mask):
                chosen = cell
                break
            mask[cell] = False
        if chosen is None:
            open_cells = np.argwhere(~mask)
            if open_cells.size == 0:
                return mask
            pick = min((tuple(int(x) for x in cell) for cell in open_cells), key=lambda c: cost[c])
            mask[pick] = True
        _pair_lines(mask, cost, values, minimum)
    raise RuntimeError("secondary suppression did not converge")  # a bug, not a user error
