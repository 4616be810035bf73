"""Dates as whole days since 1970-01-01 (int64), so every rule is a vectorised sum."""

from __future__ import annotations

import datetime as dt

import numpy as np

_EPOCH = dt.date(1970, 1, 1)
YEAR = 365.25


def day(year: int, month: int = 1, dom: int = 1) -> int:
    return (dt.date(year, month, dom) - _EPOCH).days


def to_datetime64(days: np.ndarray) -> np.ndarray:
    """Days (with a negative sentinel for missing) to datetime64[D] with NaT."""
    days = np.asarray(days)
    out = days.astype("datetime64[D]")
    out[days == MISSING] = np.datetime64("NaT")
    return out


def year_of(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


MISSING = np.iinfo(np.int64).min
