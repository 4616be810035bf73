"""Family-court records as the provider (a children's guardian service) holds them.

Case → applications → persons on each application with a role → person records;
relationships between persons; legal outputs per person × application; hearings with
notice in days. Public law comes from the proceedings planned with the families;
private law is drawn here from separated parents. Low-rate quirks of real extracts are
copied on purpose (duplicate person rows, conflicting ethnicity, more than two parents,
applications with no persons, persons on no application).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.synth import names as namelists
from fjdp.synth.dates import MISSING, YEAR, year_of
from fjdp.synth.geography import CIRCUIT, Geography
from fjdp.synth.households import Paths
from fjdp.synth.identifiers import COURT_ADULT, COURT_CHILD, recorded_identifiers
from fjdp.synth.population import CHILD, OTHER

PUBLIC_APPLICATION_TYPES = {
    "C1_CARE_S31": "Care order (Children Act 1989 s31)",
    "C1_SUPERVISION_S31": "Supervision order (s31)",
    "C1_EPO_S44": "Emergency protection order (s44)",
    "C1_CAO_S43": "Child assessment order (s43)",
    "C1_SECURE_S25": "Secure accommodation (s25)",
    "C1_DISCHARGE_S39": "Discharge of care order (s39)",
    "C1_CONTACT_S34": "Contact with child in care (s34)",
    "A_PLACEMENT_S21": "Placement order (Adoption and Children Act 2002 s21)",
}
PRIVATE_APPLICATION_TYPES = {
    "C100_CAO_LIVE": "Child arrangements: lives with",
    "C100_CAO_SPEND": "Child arrangements: spends time with",
    "C100_PSO": "Prohibited steps",
    "C100_SIO": "Specific issue",
    "C79_ENFORCEMENT": "Enforcement",
    "C1_PR": "Parental responsibility",
    "C1_SGO": "Special guardianship",
    "C2_LEAVE": "Leave to apply",
}
# Final orders, highest first: the rank used when a child has several.
ORDER_TYPES = (
    "PLACEMENT_ORDER",
    "CARE_ORDER",
    "SPECIAL_GUARDIANSHIP_ORDER",
    "CHILD_ARRANGEMENTS_ORDER",
    "SUPERVISION_ORDER",
    "FAMILY_ASSISTANCE_ORDER",
    "PROHIBITED_STEPS_ORDER",
    "SPECIFIC_ISSUE_ORDER",
    "PARENTAL_RESPONSIBILITY_ORDER",
    "NO_ORDER",
    "WITHDRAWN",
    "REFUSED",
)
ROLES = ("subject", "applicant", "respondent", "other")
HEARING_TYPES = ("first hearing", "case management", "issues resolution", "final hearing")

PRIVATE_FIRST_PER_PERSON_YEAR = 0.74e-3
PRIVATE_RETURN = 0.50


@dataclass
class CourtTables:
    cases: pd.DataFrame
    applications: pd.DataFrame
    persons: pd.DataFrame
    application_persons: pd.DataFrame
    relationships: pd.DataFrame
    legal_outputs: pd.DataFrame
    hearings: pd.DataFrame
    truth: pd.DataFrame  # person_ref -> person_id, errors, on_spine


def _public_orders(rng: np.random.Generator, year: np.ndarray, newborn: np.ndarray) -> np.ndarray:
    t = np.clip((year - 2010) / 6.5, 0, 1)
    p = np.column_stack(
        [
            np.where(newborn, 0.34, 0.20),  # placement
            np.full(len(year), 0.29),  # care
            0.11 + 0.06 * t,  # special guardianship
            np.full(len(year), 0.09),  # child arrangements
            0.14 + 0.01 * t,  # supervision alone
            np.full(len(year), 0.01),  # family assistance
        ]
    )
    rest = np.clip(1 - p.sum(axis=1), 0.02, None)
    p = np.column_stack([p, rest * 0.5, rest * 0.4, rest * 0.1])
    p = p / p.sum(axis=1, keepdims=True)
    cols = np.array([0, 1, 2, 3, 4, 5, 9, 10, 11])
    u = rng.random(len(year))[:, None]
    return cols[(u > np.cumsum(p, axis=1)).sum(axis=1).clip(0, 8)]


def _notice_days(rng: np.random.Generator, newborn: np.ndarray) -> np.ndarray:
    n = len(newborn)
    u = rng.random(n)
    nb = np.select(
        [u < 0.17, u < 0.52, u < 0.86],
        [0, rng.integers(1, 3, n), rng.integers(3, 7, n)],
        rng.integers(7, 15, n),
    )
    other = np.select(
        [u < 0.05, u < 0.20, u < 0.50],
        [0, rng.integers(1, 3, n), rng.integers(3, 7, n)],
        rng.integers(7, 22, n),
    )
    return np.where(newborn, nb, other)


class CourtBuilder:
    """Builds one chunk's public- and private-law tables; ids continue across chunks."""

    def __init__(self, rng: np.random.Generator, extract_day: int, start_day: int) -> None:
        self.rng = rng
        self.extract_day = extract_day
        self.start_day = start_day
        self.next_case = 1
        self.next_app = 1
        self.next_person = 1
        self.next_hearing = 1

    # -- public law ---------------------------------------------------------------------
    def public(
        self,
        people: pd.DataFrame,
        procs: pd.DataFrame,
        proc_children: pd.DataFrame,
        paths: Paths,
        geo: Geography,
    ) -> CourtTables:
        rng = self.rng
        idx = pd.Series(np.arange(len(people)), index=people["person_id"].to_numpy())
        n = len(procs)
        issue = procs["date"].to_numpy()
        dur = np.where(year_of(issue) >= 2014, 120 + rng.gamma(3, 45, n), 150 + rng.gamma(3, 60, n))
        close = issue + dur.astype(np.int64)
        open_ = close > self.extract_day
        mother_row = idx[procs["mother"].to_numpy()].to_numpy()
        addr = paths.at(people["path"].to_numpy()[mother_row], issue)
        lsoa = geo.addresses["lsoa_index"].to_numpy()[addr]
        la = geo.lsoas["local_authority"].to_numpy()[lsoa]
        cases = pd.DataFrame(
            {
                "case_key": np.arange(n),
                "law_type": "public",
                "local_authority": la,
                "dfj_area": geo.lsoas["dfj_area"].to_numpy()[lsoa],
                "issue_day": issue,
                "close_day": np.where(open_, MISSING, close),
                "newborn": procs["newborn"].to_numpy(),
            }
        )
        # Parties: subjects, the mother, the subjects' fathers, sometimes a grandparent.
        pc = proc_children.rename(columns={"proc": "case_key", "child": "person_id"})
        subj = pc.assign(role="subject", party=True)
        moth = pd.DataFrame(
            {
                "case_key": np.arange(n),
                "person_id": procs["mother"].to_numpy(),
                "role": "respondent",
                "party": True,
            }
        )
        fa = pc.assign(
            father=people["father_id"].to_numpy()[idx[pc["person_id"].to_numpy()].to_numpy()]
        )
        fa = fa[fa["father"] >= 0].drop_duplicates(["case_key", "father"])
        # Fathers are named less often when a mother returns (often with a new partner).
        named = np.where(procs["seq"].to_numpy()[fa["case_key"].to_numpy()] > 0, 0.55, 0.8)
        fa = fa[rng.random(len(fa)) < named]
        fath = pd.DataFrame(
            {
                "case_key": fa["case_key"].to_numpy(),
                "person_id": fa["father"].to_numpy(),
                "role": "respondent",
                "party": True,
            }
        )
        gp = self._grandparents(people, issue, 0.12)
        others = pd.DataFrame(
            {
                "case_key": gp[0],
                "person_id": gp[1],
                "role": "other",
                "party": rng.random(len(gp[0])) < 0.7,
            }
        )
        parties = pd.concat([subj, moth, fath, others], ignore_index=True)

        # Applications: the main one, sometimes an emergency protection order first.
        u = rng.random(n)
        main_type = np.select(
            [u < 0.86, u < 0.94, u < 0.96, u < 0.97, u < 0.98, u < 0.99],
            [
                "C1_CARE_S31",
                "C1_SUPERVISION_S31",
                "C1_EPO_S44",
                "C1_CAO_S43",
                "C1_SECURE_S25",
                "C1_DISCHARGE_S39",
            ],
            "C1_CONTACT_S34",
        )
        epo = (main_type == "C1_CARE_S31") & (rng.random(n) < 0.12)
        main_day = issue + np.where(epo, rng.integers(1, 8, n), 0)
        apps = [
            pd.DataFrame(
                {
                    "case_key": np.arange(n),
                    "application_type": main_type,
                    "issue_day": main_day,
                    "main": True,
                }
            )
        ]
        apps.append(
            pd.DataFrame(
                {
                    "case_key": np.flatnonzero(epo),
                    "application_type": "C1_EPO_S44",
                    "issue_day": issue[epo],
                    "main": False,
                }
            )
        )
        # Final order per subject child: mostly the case's order, sometimes the child's own.
        case_order = _public_orders(rng, year_of(issue), procs["newborn"].to_numpy())
        sj = subj[["case_key", "person_id"]].copy()
        own = _public_orders(
            rng,
            year_of(issue[sj["case_key"].to_numpy()]),
            procs["newborn"].to_numpy()[sj["case_key"].to_numpy()],
        )
        sj["order"] = np.where(
            rng.random(len(sj)) < 0.8, case_order[sj["case_key"].to_numpy()], own
        )
        placement_cases = np.unique(sj.loc[sj["order"] == 0, "case_key"].to_numpy())
        apps.append(
            pd.DataFrame(
                {
                    "case_key": placement_cases,
                    "application_type": "A_PLACEMENT_S21",
                    "issue_day": np.maximum(close[placement_cases] - 40, issue[placement_cases]),
                    "main": False,
                }
            )
        )
        return self._assemble(
            people, idx, cases, pd.concat(apps, ignore_index=True), parties, sj, paths, geo, "PL"
        )

    def _grandparents(
        self, people: pd.DataFrame, issue: np.ndarray, p: float
    ) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        pick = np.flatnonzero(rng.random(len(issue)) < p)
        olds = people.index[(people["kind"].to_numpy() == OTHER)].to_numpy()
        if not len(pick) or not len(olds):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        dob = people["dob"].to_numpy()[olds]
        cand = olds[rng.integers(0, len(olds), (len(pick), 8))]
        age = (issue[pick][:, None] - people["dob"].to_numpy()[cand]) / YEAR
        ok = (age > 40) & (age < 80)
        first = ok.argmax(axis=1)
        has = ok.any(axis=1)
        chosen = cand[np.arange(len(pick)), first][has]
        del dob
        return pick[has], people["person_id"].to_numpy()[chosen]

    # -- private law --------------------------------------------------------------------
    def private(
        self,
        people: pd.DataFrame,
        chunk_people: int,
        n_years: int,
        paths: Paths,
        geo: Geography,
        end_day: int,
    ) -> CourtTables:
        rng = self.rng
        idx = pd.Series(np.arange(len(people)), index=people["person_id"].to_numpy())
        kids = people[(people["kind"].to_numpy() == CHILD) & (people["father_id"].to_numpy() >= 0)]
        pairs = (
            kids.groupby(["mother_id", "father_id"], sort=False)["dob"]
            .agg(["min", "max"])
            .reset_index()
        )
        lo = np.maximum(pairs["min"].to_numpy() + 90, self.start_day)
        hi = np.minimum(pairs["max"].to_numpy() + int(15 * YEAR), end_day - 30)
        pairs = pairs[hi > lo]
        lo, hi = lo[hi > lo], hi[hi > lo]
        q = people["quintile_pref"].to_numpy()[idx[pairs["mother_id"].to_numpy()].to_numpy()]
        court = people["court_family"].to_numpy()[idx[pairs["mother_id"].to_numpy()].to_numpy()]
        w = np.array([0.33, 0.24, 0.19, 0.13, 0.108])[q - 1] * np.where(court, 1.5, 1.0)
        w = w * (hi - lo) / YEAR
        k = min(
            len(pairs), int(rng.poisson(PRIVATE_FIRST_PER_PERSON_YEAR * chunk_people * n_years))
        )
        if k == 0:
            return self._empty()
        sel = rng.choice(len(pairs), k, replace=False, p=w / w.sum())
        pairs, lo, hi = pairs.iloc[sel].reset_index(drop=True), lo[sel], hi[sel]
        date = lo + (rng.random(k) * (hi - lo)).astype(np.int64)
        # Returns: the same parents back in court some years later.
        ret = rng.random(k) < PRIVATE_RETURN
        rdate = date + (365 + rng.exponential(2.0 * YEAR, k)).astype(np.int64)
        ret &= rdate < end_day - 30
        fam = pd.concat(
            [pairs.assign(issue_day=date, seq=0), pairs[ret].assign(issue_day=rdate[ret], seq=1)],
            ignore_index=True,
        )
        n = len(fam)
        issue = fam["issue_day"].to_numpy()
        dur = 60 + rng.gamma(2, 90, n)
        close = issue + dur.astype(np.int64)
        open_ = close > self.extract_day
        mrow = idx[fam["mother_id"].to_numpy()].to_numpy()
        addr = paths.at(people["path"].to_numpy()[mrow], issue)
        lsoa = geo.addresses["lsoa_index"].to_numpy()[addr]
        cases = pd.DataFrame(
            {
                "case_key": np.arange(n),
                "law_type": "private",
                "local_authority": geo.lsoas["local_authority"].to_numpy()[lsoa],
                "dfj_area": geo.lsoas["dfj_area"].to_numpy()[lsoa],
                "issue_day": issue,
                "close_day": np.where(open_, MISSING, close),
                "newborn": False,
            }
        )
        # Subjects: the pair's children under 16 on the day.
        ch = (
            fam.reset_index()
            .rename(columns={"index": "case_key"})
            .merge(
                kids[["person_id", "mother_id", "father_id", "dob"]], on=["mother_id", "father_id"]
            )
        )
        ch = ch[(ch["dob"] < ch["issue_day"] - 30) & (ch["dob"] + int(16 * YEAR) > ch["issue_day"])]
        subj = pd.DataFrame(
            {
                "case_key": ch["case_key"].to_numpy(),
                "person_id": ch["person_id"].to_numpy(),
                "role": "subject",
                "party": True,
            }
        )
        u = rng.random(n)
        app_is = np.select([u < 0.74, u < 0.93], [1, 0], 2)  # 1 father, 0 mother, 2 other
        app_is[fam["seq"].to_numpy() == 1] = np.where(
            rng.random(int((fam["seq"] == 1).sum())) < 0.7,
            app_is[fam["seq"].to_numpy() == 1],
            1 - np.clip(app_is[fam["seq"].to_numpy() == 1], 0, 1),
        )
        mo = fam["mother_id"].to_numpy()
        fa = fam["father_id"].to_numpy()
        rows = [
            pd.DataFrame(
                {
                    "case_key": np.arange(n),
                    "person_id": mo,
                    "role": np.where(app_is == 0, "applicant", "respondent"),
                    "party": True,
                }
            ),
            pd.DataFrame(
                {
                    "case_key": np.arange(n),
                    "person_id": fa,
                    "role": np.where(app_is == 1, "applicant", "respondent"),
                    "party": True,
                }
            ),
        ]
        gp = self._grandparents(people, issue, 1.0)
        is_other = app_is[gp[0]] == 2
        rows.append(
            pd.DataFrame(
                {
                    "case_key": gp[0][is_other],
                    "person_id": gp[1][is_other],
                    "role": "applicant",
                    "party": True,
                }
            )
        )
        # Now and then a relative joins as a respondent (a grandparent, a step-parent).
        rel = self._grandparents(people, issue, 0.06)
        keep = app_is[rel[0]] != 2
        rows.append(
            pd.DataFrame(
                {
                    "case_key": rel[0][keep],
                    "person_id": rel[1][keep],
                    "role": "respondent",
                    "party": True,
                }
            )
        )
        parties = pd.concat([subj, *rows], ignore_index=True).drop_duplicates(
            ["case_key", "person_id"]
        )
        u = rng.random(n)
        app_type = np.select(
            [u < 0.30, u < 0.75, u < 0.85, u < 0.90, u < 0.94, u < 0.97, u < 0.98],
            [
                "C100_CAO_LIVE",
                "C100_CAO_SPEND",
                "C100_PSO",
                "C100_SIO",
                "C79_ENFORCEMENT",
                "C1_PR",
                "C1_SGO",
            ],
            "C2_LEAVE",
        )
        apps = [
            pd.DataFrame(
                {
                    "case_key": np.arange(n),
                    "application_type": app_type,
                    "issue_day": issue,
                    "main": True,
                }
            )
        ]
        second = rng.random(n) < 0.1
        apps.append(
            pd.DataFrame(
                {
                    "case_key": np.flatnonzero(second),
                    "application_type": "C100_PSO",
                    "issue_day": issue[second],
                    "main": False,
                }
            )
        )
        u = rng.random(len(subj))
        order = np.select(
            [u < 0.62, u < 0.70, u < 0.74, u < 0.76, u < 0.77, u < 0.87], [3, 6, 7, 8, 2, 9], 10
        )
        sj = subj[["case_key", "person_id"]].assign(order=order)
        return self._assemble(
            people, idx, cases, pd.concat(apps, ignore_index=True), parties, sj, paths, geo, "PR"
        )

    # -- shared ----------------------------------------------------------------------------
    def _empty(self) -> CourtTables:
        e = pd.DataFrame()
        return CourtTables(e, e, e, e, e, e, e, e)

    def _assemble(
        self,
        people: pd.DataFrame,
        idx: pd.Series,
        cases: pd.DataFrame,
        apps: pd.DataFrame,
        parties: pd.DataFrame,
        subject_orders: pd.DataFrame,
        paths: Paths,
        geo: Geography,
        prefix: str,
    ) -> CourtTables:
        rng = self.rng
        n = len(cases)
        case_id = np.array(
            [f"{prefix}{i:08d}" for i in range(self.next_case, self.next_case + n)], dtype=object
        )
        self.next_case += n
        apps = apps.sort_values(["case_key", "issue_day"], kind="stable").reset_index(drop=True)
        apps["application_id"] = [
            f"A{i:09d}" for i in range(self.next_app, self.next_app + len(apps))
        ]
        self.next_app += len(apps)
        # Persons go on every application of their case except the placement one, which is
        # about the subjects and the parents only (the same people here).
        ap = apps[["case_key", "application_id", "issue_day"]].merge(parties, on="case_key")

        # Person records: a new one at a person's first case, sometimes again later.
        pr = parties.drop_duplicates(["case_key", "person_id"])[["case_key", "person_id"]].copy()
        pr["issue_day"] = cases["issue_day"].to_numpy()[pr["case_key"].to_numpy()]
        pr = pr.sort_values(["person_id", "issue_day"], kind="stable")
        first = ~pr["person_id"].duplicated().to_numpy()
        new = first | (rng.random(len(pr)) < 0.4)
        pr["rec"] = np.cumsum(new) - 1
        base_ref = self.next_person
        pr["person_ref"] = [f"P{base_ref + i:09d}" for i in pr["rec"].to_numpy()]
        self.next_person += int(new.sum())
        recs = pr[new]
        rows = idx[recs["person_id"].to_numpy()].to_numpy()
        sp = people.iloc[rows]
        when = recs["issue_day"].to_numpy()
        path = sp["path"].to_numpy()
        a_now = paths.at(path, when)
        a_before = paths.before(path, when, sp["dob"].to_numpy())
        pcs = geo.addresses["postcode"].to_numpy()
        is_child = (when - sp["dob"].to_numpy()) < 18 * YEAR
        rec = recorded_identifiers(
            rng,
            sp.reset_index(drop=True),
            COURT_ADULT,
            COURT_CHILD,
            is_child,
            pcs[a_now],
            pcs[a_before],
            geo.addresses["address_line1"].to_numpy()[a_now],
        )
        yr = year_of(when)
        miss = np.clip(0.40 - 0.022 * (yr - 2005), 0.06, 0.40)
        eth = sp["ethnicity"].to_numpy().copy()
        eth[rng.random(len(eth)) < miss] = None
        dis = np.where(rng.random(len(eth)) < 0.08, "Y", "N").astype(object)
        dis[rng.random(len(eth)) < miss * 1.2] = None
        persons = pd.DataFrame(
            {
                "person_ref": recs["person_ref"].to_numpy(),
                "forename": rec["forename"],
                "middle_names": rec["middle_names"],
                "surname": rec["surname"],
                "date_of_birth": rec["dob"],
                "sex": rec["sex"],
                "nhs_number": rec["nhs_number"],
                "address_line1": rec["address_line1"],
                "postcode": rec["postcode"],
                "ethnicity": eth,
                "disability": dis,
            }
        )
        truth = pd.DataFrame(
            {
                "person_ref": recs["person_ref"].to_numpy(),
                "person_id": recs["person_id"].to_numpy(),
                "on_spine": sp["on_spine"].to_numpy(),
                "is_child": is_child,
                "errors": rec["errors"].to_numpy(),
                "quirk": "",
            }
        )
        # Quirks: exact duplicate rows, a second row with another ethnicity, persons on no
        # application (a stray record of a real person).
        dup = persons[rng.random(len(persons)) < 0.003]
        conflict = persons[rng.random(len(persons)) < 0.002].copy()
        conflict["ethnicity"] = np.asarray(namelists.ETHNICITIES, dtype=object)[
            rng.integers(0, 5, len(conflict))
        ]
        stray = persons[rng.random(len(persons)) < 0.003].copy()
        stray_truth = truth.set_index("person_ref").loc[stray["person_ref"]].reset_index()
        stray["person_ref"] = [
            f"P{i:09d}" for i in range(self.next_person, self.next_person + len(stray))
        ]
        stray_truth["person_ref"] = stray["person_ref"].to_numpy()
        stray_truth["quirk"] = "on_no_application"
        self.next_person += len(stray)
        persons = pd.concat([persons, dup, conflict, stray], ignore_index=True)
        truth = pd.concat([truth, stray_truth], ignore_index=True)

        ref_of = pr.set_index(["case_key", "person_id"])["person_ref"]
        ap["person_ref"] = ref_of.loc[
            list(zip(ap["case_key"], ap["person_id"], strict=True))
        ].to_numpy()
        placement = apps["application_type"].to_numpy() == "A_PLACEMENT_S21"
        placement_ids = set(apps.loc[placement, "application_id"])
        ap = ap[~(ap["application_id"].isin(placement_ids) & (ap["role"] == "other"))]
        # Quirk: an application with no persons now and then.
        bare = set(apps["application_id"].to_numpy()[rng.random(len(apps)) < 0.002])
        ap = ap[~ap["application_id"].isin(bare)]
        application_persons = ap[["application_id", "person_ref", "role", "party"]].reset_index(
            drop=True
        )

        # Legal outputs: per person × application, the order made when the case closed.
        close = cases["close_day"].to_numpy()
        so = subject_orders.copy()
        so["person_ref"] = ref_of.loc[
            list(zip(so["case_key"], so["person_id"], strict=True))
        ].to_numpy()
        case_top = so.groupby("case_key")["order"].min()
        lo = ap.merge(
            so[["case_key", "person_ref", "order"]], on=["case_key", "person_ref"], how="left"
        )
        top = case_top.reindex(lo["case_key"].to_numpy()).to_numpy()
        lo["order"] = np.where(lo["order"].isna(), top, lo["order"])
        lo = lo[~np.isnan(lo["order"].to_numpy(dtype=float))]
        lo = lo[close[lo["case_key"].to_numpy()] != MISSING]
        non_subject = lo["role"].to_numpy() != "subject"
        lo = lo[~(non_subject & (rng.random(len(lo)) < 0.06))]
        is_pl = lo["application_id"].isin(placement_ids).to_numpy()
        order_code = np.asarray(ORDER_TYPES, dtype=object)[lo["order"].to_numpy().astype(int)]
        order_code = np.where(is_pl, "PLACEMENT_ORDER", order_code)
        keep = ~is_pl | (lo["order"].to_numpy() == 0)
        legal_outputs = pd.DataFrame(
            {
                "application_id": lo["application_id"].to_numpy()[keep],
                "person_ref": lo["person_ref"].to_numpy()[keep],
                "order_type": order_code[keep],
                "date_ordered": close[lo["case_key"].to_numpy()][keep],
            }
        )

        # Relationships within each case: parent–child, siblings, grandparent.
        rel = self._relationships(people, idx, parties, ref_of)

        # Hearings: a first hearing after the notice given, then more until the case closes.
        newborn = cases["newborn"].to_numpy()[apps["case_key"].to_numpy()]
        notice = _notice_days(rng, newborn)
        first_day = apps["issue_day"].to_numpy() + notice
        extra = rng.poisson(2.5, len(apps))
        h_app = np.concatenate([np.arange(len(apps)), np.repeat(np.arange(len(apps)), extra)])
        c_close = close[apps["case_key"].to_numpy()]
        last = np.where(c_close == MISSING, self.extract_day, c_close)
        h_day = np.concatenate(
            [
                first_day,
                first_day[h_app[len(apps) :]]
                + (
                    rng.random(int(extra.sum()))
                    * np.maximum(last[h_app[len(apps) :]] - first_day[h_app[len(apps) :]], 1)
                ).astype(np.int64),
            ]
        )
        h_notice = np.concatenate([notice, rng.integers(14, 60, int(extra.sum()))])
        h_type = np.concatenate(
            [
                np.full(len(apps), HEARING_TYPES[0], dtype=object),
                np.asarray(HEARING_TYPES[1:], dtype=object)[rng.integers(0, 3, int(extra.sum()))],
            ]
        )
        hearings = pd.DataFrame(
            {
                "application_id": apps["application_id"].to_numpy()[h_app],
                "hearing_day": h_day,
                "hearing_type": h_type,
                "notice_days": h_notice,
            }
        )
        hearings = hearings[hearings["hearing_day"] <= self.extract_day].sort_values(
            ["application_id", "hearing_day"], kind="stable"
        )
        hearings.insert(
            0,
            "hearing_id",
            [f"H{i:09d}" for i in range(self.next_hearing, self.next_hearing + len(hearings))],
        )
        self.next_hearing += len(hearings)

        cases_out = pd.DataFrame(
            {
                "case_id": case_id,
                "law_type": cases["law_type"].to_numpy(),
                "local_authority": cases["local_authority"].to_numpy(),
                "dfj_area": cases["dfj_area"].to_numpy(),
                "circuit": CIRCUIT,
                "issue_date": cases["issue_day"].to_numpy(),
                "close_date": close,
            }
        )
        applications = pd.DataFrame(
            {
                "application_id": apps["application_id"].to_numpy(),
                "case_id": case_id[apps["case_key"].to_numpy()],
                "application_type": apps["application_type"].to_numpy(),
                "issue_date": apps["issue_day"].to_numpy(),
            }
        )
        return CourtTables(
            cases_out,
            applications,
            persons,
            application_persons,
            rel,
            legal_outputs,
            hearings.reset_index(drop=True),
            truth,
        )

    def _relationships(
        self, people: pd.DataFrame, idx: pd.Series, parties: pd.DataFrame, ref_of: pd.Series
    ) -> pd.DataFrame:
        rng = self.rng
        p = parties.drop_duplicates(["case_key", "person_id"])
        row = idx[p["person_id"].to_numpy()].to_numpy()
        p = p.assign(
            mother=people["mother_id"].to_numpy()[row],
            father=people["father_id"].to_numpy()[row],
            kind=people["kind"].to_numpy()[row],
        )
        kids = p[p["role"] == "subject"]
        adults = p[p["role"] != "subject"]
        pairs = kids.merge(adults, on="case_key", suffixes=("", "_a"))
        is_parent = (pairs["person_id_a"] == pairs["mother"]) | (
            pairs["person_id_a"] == pairs["father"]
        )
        relation = np.where(
            is_parent, "parent", np.where(pairs["kind_a"] == OTHER, "grandparent", "other family")
        )
        pr_ = np.where(
            pairs["person_id_a"] == pairs["mother"],
            True,
            np.where(pairs["person_id_a"] == pairs["father"], rng.random(len(pairs)) < 0.9, False),
        )
        # Quirk: a few children end up with a third recorded parent (a step-parent as parent).
        third = (relation != "parent") & (rng.random(len(pairs)) < 0.04)
        relation = np.where(third, "parent", relation)
        a = pd.DataFrame(
            {
                "case_key": pairs["case_key"],
                "from": pairs["person_id_a"],
                "to": pairs["person_id"],
                "relationship": relation,
                "parental_responsibility": pr_,
            }
        )
        sib = kids.merge(kids, on="case_key", suffixes=("", "_b"))
        sib = sib[sib["person_id"] < sib["person_id_b"]]
        full = (
            (sib["mother"] == sib["mother_b"])
            & (sib["father"] == sib["father_b"])
            & (sib["father"] >= 0)
        )
        s = pd.DataFrame(
            {
                "case_key": sib["case_key"],
                "from": sib["person_id"],
                "to": sib["person_id_b"],
                "relationship": np.where(full, "sibling", "half sibling"),
                "parental_responsibility": False,
            }
        )
        r = pd.concat([a, s], ignore_index=True)
        return pd.DataFrame(
            {
                "person_ref": ref_of.loc[
                    list(zip(r["case_key"], r["from"], strict=True))
                ].to_numpy(),
                "related_person_ref": ref_of.loc[
                    list(zip(r["case_key"], r["to"], strict=True))
                ].to_numpy(),
                "relationship": r["relationship"].to_numpy(),
                "parental_responsibility": r["parental_responsibility"].to_numpy(dtype=bool),
            }
        )
