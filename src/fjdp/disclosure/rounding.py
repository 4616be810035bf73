"""Rounding of released counts: to a base (every count), and midpoint-6 (rates, on request)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def round_to_base(values: npt.ArrayLike, base: int = 5) -> npt.NDArray[np.float64]:
    """Each value to the nearest multiple of ``base``, halves away from zero; NaN stays NaN.

    Halves go up rather than to even (numpy's default) so that 2.5 -> 5 and 7.5 -> 10
    match the published UK guidance and ACRO.
    """
    arr = np.asarray(values, dtype=float)
    out: npt.NDArray[np.float64] = np.sign(arr) * np.floor(np.abs(arr) / base + 0.5) * base
    return out


def midpoint6(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Midpoint-6 rounding: 0 stays 0, 1-6 -> 3, 7-12 -> 9, 13-18 -> 15, ...

    Each count is replaced by the midpoint of its band of six, so no released count
    says which of six true values it came from (OpenSAFELY's rounding for rates).
    """
    arr = np.asarray(values, dtype=float)
    out: npt.NDArray[np.float64] = np.where(arr == 0, 0.0, np.ceil(arr / 6) * 6 - 3)
    return out


def midpoint6_rate(numerator: int, denominator: int, per: float = 1.0) -> float | None:
    """A rate from midpoint-6 rounded counts; ``None`` when the denominator rounds to 0."""
    num, den = float(midpoint6(numerator)), float(midpoint6(denominator))
    if den == 0:
        return None
    return per * num / den
