"""Health sources as their providers hold them: hospital admissions, emergency
attendances, maternity births and deaths, each with the identifiers the provider
recorded (nearly always an NHS number) and ICD-10 coded content.

Parents who later face public-law proceedings have raised rates of emergency,
mental-health, substance-use and injury contacts in the two years before, at the
sizes reported for Wales (CALIBRATION.md, parents' health before proceedings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.synth.dates import MISSING, YEAR, day
from fjdp.synth.geography import Geography
from fjdp.synth.households import Paths
from fjdp.synth.identifiers import HEALTH, recorded_identifiers

INJURY, MENTAL, SUBSTANCE, OTHER_CAT = 0, 1, 2, 3
CATEGORY_NAMES = ("injury", "mental_health", "substance_use", "other")
# Base yearly rates for adults: emergency department, then hospital admissions.
ED_RATE = np.array([0.115, 0.052, 0.005, 0.059])
ADM_RATE = np.array([0.020, 0.035, 0.003, 0.090])
# Extra contacts (expected count) in the two years before a parent's first proceedings.
ED_EXTRA = np.array([0.12, 0.12, 0.06, 0.03])
ADM_EXTRA = np.array([0.08, 0.28, 0.14, 0.0])

ICD10 = {
    INJURY: ("S525", "S060", "S009", "T141", "S610", "S827", "T149", "S422"),
    MENTAL: ("F329", "F411", "F431", "F603", "F209", "F322", "X619", "X781"),
    SUBSTANCE: ("F102", "F101", "F112", "F122", "F141", "F192", "T510", "F109"),
    OTHER_CAT: ("J069", "R074", "K359", "N390", "A099", "R104", "J189", "I209"),
}
ED_GROUP = {
    INJURY: "injury",
    MENTAL: "mental health",
    SUBSTANCE: "alcohol or drugs",
    OTHER_CAT: "other",
}
DEATH_CAUSES_OLD = ("I219", "C349", "J449", "F03X", "I639", "C509", "C189", "I500")
DEATH_CAUSES_YOUNG = ("X420", "V892", "X700", "C710", "I469", "W740")


def _codes(rng: np.random.Generator, cat: np.ndarray) -> np.ndarray:
    out = np.empty(len(cat), dtype=object)
    for c, codes in ICD10.items():
        sel = cat == c
        out[sel] = np.asarray(codes, dtype=object)[rng.integers(0, len(codes), int(sel.sum()))]
    return out


@dataclass
class HealthTables:
    admissions: pd.DataFrame
    emergency: pd.DataFrame
    births: pd.DataFrame
    deaths: pd.DataFrame
    truth: pd.DataFrame  # source, record_id, person_id, errors


class HealthBuilder:
    def __init__(self, rng: np.random.Generator, start_day: int, end_day: int) -> None:
        self.rng = rng
        self.start = start_day
        self.end = end_day
        self.next_id = {"admission": 1, "attendance": 1, "birth": 1, "death": 1}

    def _ids(self, prefix: str, kind: str, n: int) -> np.ndarray:
        first = self.next_id[kind]
        self.next_id[kind] = first + n
        return np.array([f"{prefix}{i:010d}" for i in range(first, first + n)], dtype=object)

    def _events(
        self, rows: np.ndarray, t0: np.ndarray, t1: np.ndarray, rate: np.ndarray, mult: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = self.rng
        years = np.maximum(t1 - t0, 0) / YEAR
        counts = rng.poisson(rate[None, :] * (years * mult)[:, None])
        per_person = counts.sum(axis=1)
        who = np.repeat(rows, per_person)
        cat = (
            np.concatenate([np.repeat(np.arange(4), c) for c in counts])
            if len(counts)
            else np.zeros(0, int)
        )
        lo = np.repeat(t0, per_person)
        span = np.repeat(np.maximum(t1 - t0, 1), per_person)
        when = lo + (rng.random(len(who)) * span).astype(np.int64)
        return who, cat, when

    def build(
        self,
        people: pd.DataFrame,
        index_day: np.ndarray,
        infant_subject: np.ndarray,
        paths: Paths,
        geo: Geography,
    ) -> HealthTables:
        """``index_day``: first proceedings day for parents in them (MISSING otherwise);
        ``infant_subject``: children who were subjects of proceedings before age one."""
        rng = self.rng
        on = np.flatnonzero(people["on_spine"].to_numpy())
        dob = people["dob"].to_numpy()
        dod = people["dod"].to_numpy()
        t0 = np.maximum(dob[on], self.start)
        t1 = np.minimum(np.where(dod[on] == MISSING, self.end, dod[on]), self.end)
        age = (day(2012) - dob[on]) / YEAR
        mult = np.where(age < 16, 0.6, np.where(age > 65, 1.8, 1.0))
        court = people["court_family"].to_numpy()[on]
        mult = mult * np.where(court, 1.4, 1.0)
        # Substance use and mental-health contacts are rare before adolescence.
        child_mask = np.where(age[:, None] < 12, np.array([1.0, 0.1, 0.0, 1.0]), 1.0)

        ed_w, ed_c, ed_t = self._events(on, t0, t1, ED_RATE, mult)
        ad_w, ad_c, ad_t = self._events(on, t0, t1, ADM_RATE, mult)
        keep_ed = rng.random(len(ed_w)) < child_mask[np.searchsorted(on, ed_w), ed_c]
        keep_ad = rng.random(len(ad_w)) < child_mask[np.searchsorted(on, ad_w), ad_c]
        ed_w, ed_c, ed_t = ed_w[keep_ed], ed_c[keep_ed], ed_t[keep_ed]
        ad_w, ad_c, ad_t = ad_w[keep_ad], ad_c[keep_ad], ad_t[keep_ad]

        # Parents before proceedings.
        par = np.flatnonzero((index_day != MISSING) & people["on_spine"].to_numpy())
        if len(par):
            lo = np.maximum(index_day[par] - 730, self.start)
            hi = index_day[par] - 1
            ok = hi > lo
            par, lo, hi = par[ok], lo[ok], hi[ok]
            ones = np.ones(len(par))  # rates per year over a two-year window
            w, c, t = self._events(par, lo, hi, ED_EXTRA / 2.0, ones)
            ed_w, ed_c, ed_t = (
                np.concatenate([ed_w, w]),
                np.concatenate([ed_c, c]),
                np.concatenate([ed_t, t]),
            )
            w, c, t = self._events(par, lo, hi, ADM_EXTRA / 2.0, ones)
            ad_w, ad_c, ad_t = (
                np.concatenate([ad_w, w]),
                np.concatenate([ad_c, c]),
                np.concatenate([ad_t, t]),
            )
        # Infants in proceedings: about four times the emergency admissions of other infants.
        inf = np.flatnonzero(infant_subject & people["on_spine"].to_numpy())
        if len(inf):
            lo = np.maximum(dob[inf], self.start)
            hi = np.minimum(dob[inf] + 365, self.end)
            w, c, t = self._events(inf, lo, hi, np.array([0.0, 0.0, 0.0, 0.27]), np.ones(len(inf)))
            ad_w, ad_c, ad_t = (
                np.concatenate([ad_w, w]),
                np.concatenate([ad_c, c]),
                np.concatenate([ad_t, t]),
            )

        admissions, adm_truth = self._admissions(people, ad_w, ad_c, ad_t, paths, geo)
        emergency, ed_truth = self._emergency(people, ed_w, ed_c, ed_t, paths, geo)
        births, b_truth = self._births(people, paths, geo)
        deaths, d_truth = self._deaths(people, paths, geo)
        return HealthTables(
            admissions,
            emergency,
            births,
            deaths,
            pd.concat([adm_truth, ed_truth, b_truth, d_truth], ignore_index=True),
        )

    def _identifiers(
        self, people: pd.DataFrame, rows: np.ndarray, when: np.ndarray, paths: Paths, geo: Geography
    ) -> pd.DataFrame:
        rng = self.rng
        sp = people.iloc[rows].reset_index(drop=True)
        path = sp["path"].to_numpy()
        now = paths.at(path, when)
        before = paths.before(path, when, sp["dob"].to_numpy())
        pcs = geo.addresses["postcode"].to_numpy()
        kids = np.zeros(len(rows), dtype=bool)
        return recorded_identifiers(
            rng,
            sp,
            HEALTH,
            HEALTH,
            kids,
            pcs[now],
            pcs[before],
            geo.addresses["address_line1"].to_numpy()[now],
        )

    def _truth(
        self,
        source: str,
        ids: np.ndarray,
        people: pd.DataFrame,
        rows: np.ndarray,
        errors: np.ndarray,
    ) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "source": source,
                "record_id": ids,
                "person_id": people["person_id"].to_numpy()[rows],
                "errors": errors,
            }
        )

    def _admissions(
        self,
        people: pd.DataFrame,
        w: np.ndarray,
        c: np.ndarray,
        t: np.ndarray,
        paths: Paths,
        geo: Geography,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        order = np.lexsort((t, w))
        w, c, t = w[order], c[order], t[order]
        n = len(w)
        ids = self._ids("ADM", "admission", n)
        rec = self._identifiers(people, w, t, paths, geo)
        emergency = (c != OTHER_CAT) | (rng.random(n) < 0.55)
        los = rng.geometric(np.where(c == MENTAL, 0.08, 0.35), n) - 1
        sec_cat = np.where(rng.random(n) < 0.5, c, OTHER_CAT)
        third = rng.random(n) < 0.3
        diag3 = _codes(rng, np.full(n, OTHER_CAT))
        diag3[~third] = None
        df = pd.DataFrame(
            {
                "admission_id": ids,
                "nhs_number": rec["nhs_number"],
                "forename": rec["forename"],
                "surname": rec["surname"],
                "date_of_birth": rec["dob"],
                "sex": rec["sex"],
                "postcode": rec["postcode"],
                "admission_date": t,
                "discharge_date": np.minimum(t + los, self.end),
                "admission_method": np.where(emergency, "emergency", "elective"),
                "diag_1": _codes(rng, c),
                "diag_2": _codes(rng, sec_cat),
                "diag_3": diag3,
            }
        )
        return df, self._truth("admissions", ids, people, w, rec["errors"].to_numpy())

    def _emergency(
        self,
        people: pd.DataFrame,
        w: np.ndarray,
        c: np.ndarray,
        t: np.ndarray,
        paths: Paths,
        geo: Geography,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        order = np.lexsort((t, w))
        w, c, t = w[order], c[order], t[order]
        ids = self._ids("ED", "attendance", len(w))
        rec = self._identifiers(people, w, t, paths, geo)
        group = np.asarray([ED_GROUP[i] for i in range(4)], dtype=object)[c]
        df = pd.DataFrame(
            {
                "attendance_id": ids,
                "nhs_number": rec["nhs_number"],
                "forename": rec["forename"],
                "surname": rec["surname"],
                "date_of_birth": rec["dob"],
                "sex": rec["sex"],
                "postcode": rec["postcode"],
                "arrival_date": t,
                "diagnosis_group": group,
                "diag_code": _codes(self.rng, c),
            }
        )
        return df, self._truth("emergency", ids, people, w, rec["errors"].to_numpy())

    def _births(
        self, people: pd.DataFrame, paths: Paths, geo: Geography
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        kind = people["kind"].to_numpy()
        dob = people["dob"].to_numpy()
        idx = pd.Series(np.arange(len(people)), index=people["person_id"].to_numpy())
        babies = np.flatnonzero(
            (kind == 2) & (dob >= self.start) & (dob <= self.end) & people["on_spine"].to_numpy()
        )
        moms = idx[people["mother_id"].to_numpy()[babies]].to_numpy()
        # A birth in this register's area is to a mother on the register.
        here = people["on_spine"].to_numpy()[moms]
        babies, moms = babies[here], moms[here]
        n = len(babies)
        court = people["court_family"].to_numpy()[moms]
        ids = self._ids("BIR", "birth", n)
        baby = self._identifiers(people, babies, dob[babies], paths, geo)
        mother = self._identifiers(people, moms, dob[babies], paths, geo)
        gest = np.clip(np.round(rng.normal(np.where(court, 38.3, 39.2), 2.0)), 23, 43).astype(
            np.int64
        )
        weight = np.clip(
            rng.normal(3400 + (gest - 39) * 180 - np.where(court, 150, 0), 420), 450, 5600
        )
        twins = people["twin"].to_numpy()[babies]
        weight = np.where(twins, weight * 0.78, weight).round().astype(np.int64)
        df = pd.DataFrame(
            {
                "birth_id": ids,
                "baby_nhs_number": baby["nhs_number"],
                "baby_sex": baby["sex"],
                "birth_date": dob[babies],
                "mother_nhs_number": mother["nhs_number"],
                "mother_forename": mother["forename"],
                "mother_surname": mother["surname"],
                "mother_date_of_birth": mother["dob"],
                "mother_postcode": mother["postcode"],
                "mother_age": ((dob[babies] - dob[moms]) / YEAR).astype(np.int64),
                "gestation_weeks": gest,
                "birth_weight_g": weight,
                "multiple_birth": twins,
                "smoking_at_booking": rng.random(n) < np.where(court, 0.627, 0.248),
                "mental_health_at_booking": rng.random(n) < np.where(court, 0.53, 0.17),
            }
        )
        truth = pd.DataFrame(
            {
                "source": "births",
                "record_id": ids,
                "person_id": people["person_id"].to_numpy()[babies],
                "errors": baby["errors"].to_numpy(),
            }
        )
        mtruth = pd.DataFrame(
            {
                "source": "births_mother",
                "record_id": ids,
                "person_id": people["person_id"].to_numpy()[moms],
                "errors": mother["errors"].to_numpy(),
            }
        )
        return df, pd.concat([truth, mtruth], ignore_index=True)

    def _deaths(
        self, people: pd.DataFrame, paths: Paths, geo: Geography
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        dod = people["dod"].to_numpy()
        rows = np.flatnonzero(
            (dod != MISSING)
            & (dod >= self.start)
            & (dod <= self.end)
            & people["on_spine"].to_numpy()
        )
        n = len(rows)
        ids = self._ids("DTH", "death", n)
        rec = self._identifiers(people, rows, dod[rows] - 1, paths, geo)
        age = (dod[rows] - people["dob"].to_numpy()[rows]) / YEAR
        old = np.asarray(DEATH_CAUSES_OLD, dtype=object)[rng.integers(0, len(DEATH_CAUSES_OLD), n)]
        young = np.asarray(DEATH_CAUSES_YOUNG, dtype=object)[
            rng.integers(0, len(DEATH_CAUSES_YOUNG), n)
        ]
        df = pd.DataFrame(
            {
                "death_id": ids,
                "nhs_number": rec["nhs_number"],
                "forename": rec["forename"],
                "surname": rec["surname"],
                "date_of_birth": rec["dob"],
                "sex": rec["sex"],
                "postcode": rec["postcode"],
                "date_of_death": dod[rows],
                "underlying_cause": np.where(age >= 50, old, young),
            }
        )
        return df, self._truth("deaths", ids, people, rows, rec["errors"].to_numpy())
