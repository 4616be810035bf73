"""The cell-level rules of the policy, applied to the evidence of a table.

Each rule returns the reasons it flags a cell for; a cell may have several. Every
rule counts contributors, never rows, and dominance is measured on the absolute
values of each contributor's total, so a negative contributor cannot hide another
one's dominance by shrinking the cell's sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fjdp.disclosure.contributors import Evidence
from fjdp.disclosure.policy import Policy

Cell = tuple[int, int]

# Aggregations whose value is a magnitude a dominant contributor could reveal.
MAGNITUDES = frozenset({"sum", "mean", "std", "var"})
# Never released: they are one contributor's own value.
EXTREMES = frozenset({"min", "max"})
SUMMARIES = frozenset({"mean", "median", "sum", "std", "var"})


def is_percentile(func: str) -> bool:
    return func.startswith("p") and func[1:].isdigit()


def cell_threshold(policy: Policy, aggfuncs: Sequence[str]) -> int:
    """The contributors a cell needs: the summary minimum when any statistic is one."""
    if any(f in SUMMARIES or is_percentile(f) for f in aggfuncs):
        return max(policy.threshold, policy.min_contributors_summary)
    return policy.threshold


def flag_cells(
    evidence: Evidence, policy: Policy, aggfuncs: Sequence[str]
) -> dict[Cell, list[str]]:
    """Every cell (margins included) with the reasons the policy flags it."""
    flags: dict[Cell, list[str]] = {}
    need = cell_threshold(policy, aggfuncs)
    counts = evidence.contributors
    for i, j in np.ndindex(counts.shape):
        n = int(counts[i, j])
        if n == 0:
            if policy.zeros_disclosive:
                flags.setdefault((i, j), []).append(
                    f"zero: no contributors (zeros are disclosive; threshold {need})"
                )
        elif n < need:
            flags.setdefault((i, j), []).append(f"threshold: {n} contributors, fewer than {need}")
    magnitudes = any(f in MAGNITUDES for f in aggfuncs)
    if magnitudes and evidence.top is not None and evidence.abs_sums is not None:
        _dominance(evidence, policy, flags)
    return flags


def _dominance(evidence: Evidence, policy: Policy, flags: dict[Cell, list[str]]) -> None:
    assert evidence.top is not None and evidence.abs_sums is not None
    total = evidence.abs_sums
    top = evidence.top
    top_n = top[: policy.dominance_n].sum(axis=0)
    for i, j in np.ndindex(total.shape):
        if evidence.contributors[i, j] == 0 or total[i, j] <= 0:
            continue
        share = top_n[i, j] / total[i, j]
        if share >= policy.dominance_k:
            flags.setdefault((i, j), []).append(
                f"dominance: the {policy.dominance_n} largest contributors make "
                f"{share:.0%} of the cell (limit {policy.dominance_k:.0%})"
            )
        largest = top[0, i, j]
        second = top[1, i, j] if top.shape[0] > 1 else 0.0
        rest = total[i, j] - largest - second
        if largest > 0 and rest < policy.p_percent * largest:
            flags.setdefault((i, j), []).append(
                f"p%: dominance, the others add up to {rest / largest:.1%} of the largest "
                f"contributor (need {policy.p_percent:.0%})"
            )


def has_negatives(evidence: Evidence) -> bool:
    return evidence.negatives is not None and bool((evidence.negatives > 0).any())
