"""The simplest protection of released counts: suppress small ones, round the rest.

A count of fewer than ``threshold`` contributors (zero included) is suppressed; every
other count is rounded to the nearest ``base``. Rates are computed from protected
counts, so a released rate never reveals a suppressed count.
"""

from __future__ import annotations

THRESHOLD = 10
BASE = 5


def protect(count: int, *, threshold: int = THRESHOLD, base: int = BASE) -> int | None:
    """``None`` when suppressed, else the count rounded to the nearest ``base``."""
    if count < threshold:
        return None
    return int(base * round(count / base))


def show(count: int | None) -> str:
    """How a protected count is printed: suppressed counts as '<10'."""
    return f"<{THRESHOLD}" if count is None else f"{count:,}"


def rate(numerator: int, denominator: int) -> float | None:
    """A rate from protected counts; ``None`` if either is suppressed."""
    n, d = protect(numerator), protect(denominator)
    if n is None or d is None or d == 0:
        return None
    return n / d
