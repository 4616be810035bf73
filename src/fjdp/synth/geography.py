"""Small areas, deprivation, postcodes and addresses of a synthetic Wales.

LSOAs (about 1,500 people each) sit in the 22 Welsh local authorities in proportion to
their populations; each LSOA gets a deprivation rank from a local-authority effect plus
noise, so deprived areas cluster as they do in the real index. Addresses carry a
UPRN-like id and a postcode in valid UK format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# name, population (thousands, 2011 census, rounded), region, postcode area, deprivation effect
LOCAL_AUTHORITIES: tuple[tuple[str, int, str, str, float], ...] = (
    ("Isle of Anglesey", 70, "North Wales", "LL", 0.1),
    ("Gwynedd", 122, "North Wales", "LL", 0.0),
    ("Conwy", 115, "North Wales", "LL", 0.0),
    ("Denbighshire", 94, "North Wales", "LL", 0.2),
    ("Flintshire", 153, "North Wales", "CH", -0.3),
    ("Wrexham", 135, "North Wales", "LL", 0.1),
    ("Powys", 133, "Mid and West Wales", "LD", -0.4),
    ("Ceredigion", 75, "Mid and West Wales", "SY", -0.4),
    ("Pembrokeshire", 123, "Mid and West Wales", "SA", -0.1),
    ("Carmarthenshire", 184, "Mid and West Wales", "SA", 0.0),
    ("Swansea", 239, "South West Wales", "SA", 0.2),
    ("Neath Port Talbot", 140, "South West Wales", "SA", 0.5),
    ("Bridgend", 139, "South West Wales", "CF", 0.2),
    ("Vale of Glamorgan", 126, "South Central Wales", "CF", -0.5),
    ("Cardiff", 346, "South Central Wales", "CF", 0.1),
    ("Rhondda Cynon Taf", 234, "South Central Wales", "CF", 0.6),
    ("Merthyr Tydfil", 59, "South Central Wales", "CF", 0.9),
    ("Caerphilly", 178, "South East Wales", "NP", 0.5),
    ("Blaenau Gwent", 70, "South East Wales", "NP", 1.0),
    ("Torfaen", 91, "South East Wales", "NP", 0.4),
    ("Monmouthshire", 91, "South East Wales", "NP", -0.8),
    ("Newport", 146, "South East Wales", "NP", 0.3),
)

# Designated family judge areas in Wales, all on the Wales circuit.
DFJ_AREA_OF_REGION: dict[str, str] = {
    "North Wales": "North Wales",
    "Mid and West Wales": "Swansea",
    "South West Wales": "Swansea",
    "South Central Wales": "Cardiff",
    "South East Wales": "Cardiff",
}
CIRCUIT = "Wales"

PEOPLE_PER_LSOA = 1_500
ADDRESSES_PER_LSOA_PERSON = 0.55
ADDRESSES_PER_POSTCODE = 15
# Postcode unit letters: the real inward code excludes C, I, K, M, O and V.
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


@dataclass(frozen=True)
class Geography:
    """Every LSOA and address of the world, held in memory (a few percent of the people)."""

    lsoas: pd.DataFrame  # lsoa_code, lsoa_name, local_authority, region, dfj_area, rank, ...
    addresses: pd.DataFrame  # address_id, address_line1, postcode, lsoa_index
    # For each deprivation quintile (index 0 = most deprived), the LSOA indices in it.
    lsoas_by_quintile: tuple[np.ndarray, ...]
    # For each LSOA index, the slice of ``addresses`` rows it owns.
    address_start: np.ndarray
    address_count: np.ndarray

    def random_address(
        self, rng: np.random.Generator, quintile: np.ndarray, p_own: float = 0.7
    ) -> np.ndarray:
        """One address row index per entry of ``quintile`` (1..5): mostly in that quintile."""
        n = len(quintile)
        q = np.where(rng.random(n) < p_own, quintile, rng.integers(1, 6, n)) - 1
        lsoa = np.empty(n, dtype=np.int64)
        for k, members in enumerate(self.lsoas_by_quintile):
            sel = q == k
            lsoa[sel] = members[rng.integers(0, len(members), int(sel.sum()))]
        offset = (rng.random(n) * self.address_count[lsoa]).astype(np.int64)
        return self.address_start[lsoa] + offset


def _postcodes(rng: np.random.Generator, area: str, count: int, start: int) -> np.ndarray:
    """``count`` distinct postcodes in ``area``, numbered from ``start`` within the area."""
    idx = np.arange(start, start + count)
    district = 1 + (idx // 4000) % 99
    sector = (idx // 400) % 10
    unit = idx % 400
    first = _UNIT_LETTERS[unit // 20]
    second = _UNIT_LETTERS[unit % 20]
    out = np.char.add(np.char.add(area, district.astype(str)), " ")
    out = np.char.add(np.char.add(out, sector.astype(str)), np.char.add(first, second))
    return out.astype(object)


def build_geography(
    rng: np.random.Generator, people: int, street_names: tuple[str, ...]
) -> Geography:
    n_lsoa = max(25, round(people / PEOPLE_PER_LSOA))
    la_pop = np.array([la[1] for la in LOCAL_AUTHORITIES], dtype=float)
    # Every LA gets at least one LSOA; the rest in proportion to population.
    la_counts = 1 + np.floor((n_lsoa - len(la_pop)) * la_pop / la_pop.sum()).astype(int)
    la_counts[np.argmax(la_pop)] += n_lsoa - la_counts.sum()
    la_index = np.repeat(np.arange(len(LOCAL_AUTHORITIES)), la_counts)
    effect = np.array([la[4] for la in LOCAL_AUTHORITIES])[la_index]
    score = effect + rng.normal(0, 1.0, n_lsoa)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n_lsoa, dtype=np.int64)
    rank[order] = np.arange(1, n_lsoa + 1)  # rank 1 = most deprived, as in WIMD
    decile = 1 + (rank - 1) * 10 // n_lsoa
    quintile = 1 + (rank - 1) * 5 // n_lsoa
    names = np.array([la[0] for la in LOCAL_AUTHORITIES], dtype=object)[la_index]
    within = np.concatenate([np.arange(c) for c in la_counts])
    suffix = np.array(list("ABCDEFGH"))[within % 8]
    lsoa_name = [f"{n} {1 + w // 8:03d}{s}" for n, w, s in zip(names, within, suffix, strict=True)]
    regions = np.array([la[2] for la in LOCAL_AUTHORITIES], dtype=object)[la_index]
    lsoas = pd.DataFrame(
        {
            "lsoa_code": [f"W01{i + 1:06d}" for i in range(n_lsoa)],
            "lsoa_name": lsoa_name,
            "local_authority": names,
            "region": regions,
            "dfj_area": [DFJ_AREA_OF_REGION[r] for r in regions],
            "deprivation_rank": rank,
            "deprivation_decile": decile,
            "deprivation_quintile": quintile,
        }
    )

    per_lsoa = max(ADDRESSES_PER_POSTCODE, round(PEOPLE_PER_LSOA * ADDRESSES_PER_LSOA_PERSON))
    per_lsoa = max(per_lsoa, round(people * ADDRESSES_PER_LSOA_PERSON / n_lsoa))
    n_addr = per_lsoa * n_lsoa
    address_lsoa = np.repeat(np.arange(n_lsoa), per_lsoa)
    postcode_of_addr = np.empty(n_addr, dtype=object)
    area_of_la = np.array([la[3] for la in LOCAL_AUTHORITIES])
    area_next: dict[str, int] = {}
    pc_per_lsoa = -(-per_lsoa // ADDRESSES_PER_POSTCODE)
    for i in range(n_lsoa):
        area = str(area_of_la[la_index[i]])
        start = area_next.get(area, 0)
        codes = _postcodes(rng, area, pc_per_lsoa, start)
        area_next[area] = start + pc_per_lsoa
        block = slice(i * per_lsoa, (i + 1) * per_lsoa)
        postcode_of_addr[block] = codes[np.arange(per_lsoa) // ADDRESSES_PER_POSTCODE]
    streets = np.array(street_names, dtype=object)
    street_of_postcode = rng.integers(0, len(streets), n_addr // ADDRESSES_PER_POSTCODE + 1)
    house = 1 + (np.arange(n_addr) % ADDRESSES_PER_POSTCODE) * 2 + rng.integers(0, 2, n_addr)
    lines = np.char.add(
        np.char.add(house.astype(str), " "),
        streets[street_of_postcode[np.arange(n_addr) // ADDRESSES_PER_POSTCODE]].astype(str),
    )
    # UPRN-like: unique 12-digit ids, not in address order.
    address_id = 100_000_000_000 + rng.permutation(n_addr).astype(np.int64) * 7 + 3
    addresses = pd.DataFrame(
        {
            "address_id": address_id,
            "address_line1": lines.astype(object),
            "postcode": postcode_of_addr,
            "lsoa_index": address_lsoa,
        }
    )
    by_q = tuple(np.flatnonzero(quintile == q) for q in range(1, 6))
    return Geography(
        lsoas=lsoas,
        addresses=addresses,
        lsoas_by_quintile=by_q,
        address_start=np.arange(n_lsoa, dtype=np.int64) * per_lsoa,
        address_count=np.full(n_lsoa, per_lsoa, dtype=np.int64),
    )
