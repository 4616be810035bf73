"""Where people live over time: address histories shared by households.

A mother, her children and a co-resident partner share one *path* (a sequence of
addresses with move dates); everyone else has a path of their own. Families under
court proceedings move more often, which is what leaves provider records holding an
out-of-date postcode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.synth.config import WorldConfig
from fjdp.synth.dates import MISSING, YEAR, day
from fjdp.synth.geography import Geography
from fjdp.synth.population import CHILD, FATHER, MOTHER

_KEY = 1 << 20  # days fit well below this; path * _KEY + day orders by path then date


@dataclass
class Paths:
    """Address segments of every path in a chunk, sorted by path then start date."""

    path: np.ndarray
    start: np.ndarray
    address: np.ndarray  # row index into Geography.addresses

    def _segment(self, path: np.ndarray, when: np.ndarray) -> np.ndarray:
        key = self.path * _KEY + (self.start - day(1900))
        q = np.asarray(path) * _KEY + (np.asarray(when) - day(1900))
        i = np.maximum(np.searchsorted(key, q, side="right") - 1, 0)
        # if the date is before the path began, searchsorted lands on the previous path
        first = np.searchsorted(self.path, path, side="left")
        return np.where(self.path[i] != path, first, i)

    def at(self, path: np.ndarray, when: np.ndarray) -> np.ndarray:
        """The address row each path was at on each date (its first address if earlier)."""
        return self.address[self._segment(path, when)]

    def before(self, path: np.ndarray, when: np.ndarray, born: np.ndarray) -> np.ndarray:
        """The address each path had before the one it was at on each date, if the person
        (born on ``born``) lived there; else the current one. What an out-of-date record holds."""
        i = self._segment(path, when)
        prev = np.maximum(i - 1, 0)
        had = (self.path[prev] == np.asarray(path)) & (self.start[i] > np.asarray(born))
        return np.where(had, self.address[prev], self.address[i])


def assign_paths(
    rng: np.random.Generator, cfg: WorldConfig, people: pd.DataFrame, geo: Geography
) -> Paths:
    """Give every person a ``path`` column and build the paths' address segments."""
    kind = people["kind"].to_numpy()
    fam = people["family"].to_numpy()
    n = len(people)
    court = people["court_family"].to_numpy()
    dob = people["dob"].to_numpy()
    slot = people["partner_slot"].to_numpy()

    mothers = np.flatnonzero(kind == MOTHER)
    n_m = len(mothers)
    path = np.full(n, -1, dtype=np.int64)
    path[mothers] = fam[mothers]  # a mother's path number is her family number
    kids = kind == CHILD
    path[kids] = fam[kids]
    coresident = (kind == FATHER) & (slot == 1) & (rng.random(n) < np.where(court, 0.4, 0.65))
    path[coresident] = fam[coresident]
    own = np.flatnonzero(path < 0)
    path[own] = n_m + np.arange(len(own))
    people["path"] = path
    n_paths = n_m + len(own)

    # Each path's owner decides its span, moving rate and preferred deprivation.
    owner = np.empty(n_paths, dtype=np.int64)
    owner[path[mothers]] = mothers
    owner[path[own]] = own
    o_dob = dob[owner]
    first_child = np.full(n_paths, np.iinfo(np.int64).max)
    np.minimum.at(first_child, path[kids], dob[kids])
    p_start = np.maximum(o_dob + int(17 * YEAR), day(1990))
    p_start = np.minimum(p_start, first_child - 200)
    p_start = np.maximum(p_start, o_dob)
    p_end = day(cfg.end_year, 12, 31)
    rate = np.select(
        [court[owner] & (kind[owner] == MOTHER), kind[owner] == MOTHER, kind[owner] == FATHER],
        [0.35, 0.12, 0.15],
        0.07,
    )
    years = np.maximum(p_end - p_start, 1) / YEAR
    moves = rng.poisson(rate * years)
    seg_path = np.repeat(np.arange(n_paths), moves + 1)
    u = rng.random(len(seg_path))
    first = np.cumsum(moves + 1) - (moves + 1)
    u[first] = 0.0  # each path's first segment starts at the path start
    seg_start = p_start[seg_path] + (u * (p_end - p_start[seg_path])).astype(np.int64)
    order = np.lexsort((seg_start, seg_path))
    seg_path, seg_start = seg_path[order], seg_start[order]
    quint = people["quintile_pref"].to_numpy()[owner]
    addr = geo.random_address(rng, quint[seg_path])
    return Paths(path=seg_path, start=seg_start, address=addr)


def spine_addresses(people: pd.DataFrame, paths: Paths, geo: Geography) -> pd.DataFrame:
    """Address history rows for people on the spine, clipped to their own lifetime."""
    on = people[people["on_spine"].to_numpy()]
    seg = pd.DataFrame({"path": paths.path, "from_day": paths.start, "address": paths.address})
    seg["to_day"] = np.append(seg["from_day"].to_numpy()[1:], 0)
    last = np.append(seg["path"].to_numpy()[1:] != seg["path"].to_numpy()[:-1], True)
    seg.loc[last, "to_day"] = MISSING
    rows = on[["person_id", "path", "dob", "dod"]].merge(seg, on="path")
    life_start = rows["dob"].to_numpy()
    to = rows["to_day"].to_numpy()
    dod = rows["dod"].to_numpy()
    keep = (to == MISSING) | (to > life_start)
    keep &= (dod == MISSING) | (rows["from_day"].to_numpy() <= dod)
    rows = rows[keep]
    from_day = np.maximum(rows["from_day"].to_numpy(), rows["dob"].to_numpy())
    to_day = rows["to_day"].to_numpy()
    dod = rows["dod"].to_numpy()
    died_there = (dod != MISSING) & ((to_day == MISSING) | (to_day > dod))
    to_day = np.where(died_there, dod, to_day)
    a = geo.addresses.iloc[rows["address"].to_numpy()]
    lsoa = geo.lsoas["lsoa_code"].to_numpy()[a["lsoa_index"].to_numpy()]
    return pd.DataFrame(
        {
            "person_id": rows["person_id"].to_numpy(),
            "address_id": a["address_id"].to_numpy(),
            "address_line1": a["address_line1"].to_numpy(),
            "postcode": a["postcode"].to_numpy(),
            "lsoa_code": lsoa,
            "from_day": from_day,
            "to_day": to_day,
        }
    )
