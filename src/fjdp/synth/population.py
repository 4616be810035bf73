"""People and families of one chunk: mothers, their children, fathers and everyone else.

Families are generated whole within a chunk, so chunks are independent and a world of
any size streams in bounded memory. Public-law proceedings are planned here, with the
births, because a mother's return to court often concerns a baby born at that time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.synth import names as namelists
from fjdp.synth.config import WorldConfig
from fjdp.synth.dates import MISSING, YEAR, day, year_of

# Role of a person in the generated population (not a court role).
MOTHER, FATHER, CHILD, OTHER = 0, 1, 2, 3

PEOPLE_PER_MOTHER = 3.9
CHILDREN_DIST = np.array([0.30, 0.38, 0.18, 0.08, 0.04, 0.02])
# Mean age at first birth by deprivation quintile of home area (1 = most deprived).
AFB_MEAN = np.array([24.5, 26.5, 28.5, 30.0, 31.0])
# Relative chance of public-law proceedings by quintile and by age at first birth.
COURT_QUINTILE_WEIGHT = np.array([4.0, 2.2, 1.2, 0.7, 0.45])
# Public-law first proceedings per spine person-year (about 680 a year at Wales scale).
FIRST_CASES_PER_PERSON_YEAR = 2.1e-4
# Share of first proceedings that are about a newborn, before the year trend; likewise returns.
P_NEWBORN_FIRST = 0.14
P_NEWBORN_RETURN = 0.28
P_INFANT_FIRST = 0.12
P_SIBLING_IN_CASE = 0.75
# Chance a mother returns to court at all, by age at first proceedings (<20, <25, <30, 30+).
P_RETURN_BY_AGE = np.array([0.50, 0.38, 0.32, 0.25])
P_OFF_SPINE_MOTHER = 0.19
P_OFF_SPINE_FATHER = 0.28
P_OFF_SPINE_CHILD = 0.085


def newborn_trend(year: np.ndarray) -> np.ndarray:
    """Newborn proceedings rose by about two thirds from 2012 to 2019 (Born into Care, Wales)."""
    return 0.75 + 0.55 * np.clip((np.asarray(year) - 2012) / 7.0, -0.5, 1.0)


@dataclass
class Chunk:
    """Everyone generated in one chunk. Dates are days since 1970 (MISSING when absent)."""

    people: pd.DataFrame
    proceedings: pd.DataFrame  # public law: proc_id, mother, date, seq, newborn
    proceeding_children: pd.DataFrame  # proc_id, child


def _zipf_choice(
    rng: np.random.Generator, values: tuple[str, ...], n: int, a: float = 0.9
) -> np.ndarray:
    w = namelists.zipf_weights(len(values), a)
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=w)]


def _names(rng: np.random.Generator, sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(sex)
    f1 = np.where(
        sex == "F",
        _zipf_choice(rng, namelists.FEMALE_FORENAMES, n),
        _zipf_choice(rng, namelists.MALE_FORENAMES, n),
    )
    f2 = np.where(
        sex == "F",
        _zipf_choice(rng, namelists.FEMALE_FORENAMES, n),
        _zipf_choice(rng, namelists.MALE_FORENAMES, n),
    )
    f2 = f2.copy()
    f2[~((rng.random(n) < 0.45) & (f2 != f1))] = None
    return f1, f2


def generate_chunk(
    rng: np.random.Generator, cfg: WorldConfig, chunk_people: int, first_id: int
) -> Chunk:
    end = day(cfg.end_year, 12, 31)
    n_years = cfg.end_year - cfg.start_year + 1

    # --- mothers -------------------------------------------------------------------
    m = max(50, round(chunk_people / PEOPLE_PER_MOTHER))
    quint = rng.integers(1, 6, m)
    afb = np.clip(rng.normal(AFB_MEAN[quint - 1], 5.0), 15.2, 44.0)
    fb = rng.integers(day(1975), day(cfg.end_year + 2), m)
    m_dob = fb - (afb * YEAR).astype(np.int64)
    k = 1 + rng.choice(len(CHILDREN_DIST), m, p=CHILDREN_DIST)

    # Choose who will face public-law proceedings, year by year so that first sets spread
    # evenly over the provider's records: each year, among families whose first child was
    # born in the twelve years before, weighted towards deprivation, youth at first birth
    # and a young family (first proceedings cluster early in a family's life).
    young = np.select([afb < 20, afb < 25, afb < 30], [5.0, 2.5, 1.0], 0.5)
    base_w = COURT_QUINTILE_WEIGHT[quint - 1] * young
    n_court = int(rng.poisson(FIRST_CASES_PER_PERSON_YEAR * chunk_people * n_years))
    per_year = rng.multinomial(n_court, np.full(n_years, 1.0 / n_years))
    court = np.zeros(m, dtype=bool)
    planned = np.full(m, MISSING, dtype=np.int64)
    for j, quota in enumerate(per_year):
        y0, y1 = day(cfg.start_year + j), day(cfg.start_year + j + 1) - 1
        eligible = ~court & (fb >= y0 - int(12 * YEAR)) & (fb <= y1 - 400)
        if not quota or not eligible.any():
            continue
        since = np.maximum(y0 - fb, 0) / YEAR
        w = np.where(eligible, base_w * np.exp(-since / 5.0), 0.0)
        take = rng.choice(m, min(int(quota), int(eligible.sum())), replace=False, p=w / w.sum())
        court[take] = True
        lo = np.maximum(y0, fb[take] + 380)
        planned[take] = lo + (rng.random(len(take)) * np.maximum(y1 - lo, 1)).astype(np.int64)
    k = np.where(court, k + 1 + (rng.random(m) < 0.3), k)

    # --- children ------------------------------------------------------------------
    mother_of_birth = np.repeat(np.arange(m), k)
    order = np.concatenate([np.arange(x) for x in k]) if m else np.zeros(0, dtype=np.int64)
    gaps = (300 + rng.gamma(2.0, 500.0, len(order))).astype(np.int64)
    gaps[order == 0] = 0
    # cumulative gaps within each mother
    csum = np.cumsum(gaps)
    base = np.repeat(csum[np.cumsum(k) - k], k)
    birth = fb[mother_of_birth] + (csum - base)
    keep = (birth <= end) & (birth - m_dob[mother_of_birth] < int(46 * YEAR))
    mother_of_birth, birth, order = mother_of_birth[keep], birth[keep], order[keep]
    twin = rng.random(len(birth)) < 0.014
    mother_of_birth = np.concatenate([mother_of_birth, mother_of_birth[twin]])
    birth = np.concatenate([birth, birth[twin]])
    twin_flag = np.concatenate([twin, twin[twin]])

    # --- public-law proceedings ------------------------------------------------------
    procs, proc_children, extra_babies = _plan_public_law(
        rng, cfg, court, planned, m_dob, mother_of_birth, birth
    )
    if len(extra_babies):
        mother_of_birth = np.concatenate([mother_of_birth, extra_babies[:, 0]])
        birth = np.concatenate([birth, extra_babies[:, 1]])
        twin_flag = np.concatenate([twin_flag, np.zeros(len(extra_babies), dtype=bool)])
    n_child = len(birth)

    # --- fathers ---------------------------------------------------------------------
    p_known = np.where(court, 0.82, 0.95)
    f1_known = rng.random(m) < p_known
    has_f2 = rng.random(m) < np.where(court, 0.6, 0.18)
    first_b = np.full(m, np.iinfo(np.int64).max)
    last_b = np.full(m, np.iinfo(np.int64).min)
    np.minimum.at(first_b, mother_of_birth, birth)
    np.maximum.at(last_b, mother_of_birth, birth)
    span = np.maximum(last_b - first_b, 0)
    switch = first_b + (rng.uniform(0.3, 1.0, m) * (span + 700)).astype(np.int64)
    slot = np.where(has_f2[mother_of_birth] & (birth >= switch[mother_of_birth]), 2, 1)
    unregistered = rng.random(n_child) < 0.04
    f_dob1 = m_dob + (rng.normal(2.5, 4.0, m) * YEAR).astype(np.int64)
    f_dob2 = m_dob + (rng.normal(2.0, 5.0, m) * YEAR).astype(np.int64)
    f_dob1 = np.minimum(f_dob1, first_b - int(16.5 * YEAR))
    f_dob2 = np.minimum(f_dob2, switch - int(16.5 * YEAR))

    # --- assign ids -------------------------------------------------------------------
    # Layout within the chunk: mothers, children, fathers 1, fathers 2, others.
    mid = first_id + np.arange(m)
    cid = first_id + m + np.arange(n_child)
    f1_idx = np.flatnonzero(f1_known)
    f2_idx = np.flatnonzero(has_f2)
    f1id = np.full(m, -1, dtype=np.int64)
    f2id = np.full(m, -1, dtype=np.int64)
    nxt = first_id + m + n_child
    f1id[f1_idx] = nxt + np.arange(len(f1_idx))
    nxt += len(f1_idx)
    f2id[f2_idx] = nxt + np.arange(len(f2_idx))
    nxt += len(f2_idx)
    child_father = np.where(slot == 2, f2id[mother_of_birth], f1id[mother_of_birth])
    child_father = np.where(unregistered, -1, child_father)

    # --- off-spine people (moved in from elsewhere, never registered here) -------------
    court_mother_child = court[mother_of_birth]
    # Parents and children who appear in court but are not on this register: about a fifth
    # of adults and a tenth of children (the published 80% linkage rate).
    m_off = rng.random(m) < P_OFF_SPINE_MOTHER
    c_off = rng.random(n_child) < P_OFF_SPINE_CHILD
    f1_off = rng.random(len(f1_idx)) < P_OFF_SPINE_FATHER
    f2_off = rng.random(len(f2_idx)) < P_OFF_SPINE_FATHER
    on_spine_so_far = (~m_off).sum() + (~c_off).sum() + (~f1_off).sum() + (~f2_off).sum()
    n_other = max(int(chunk_people - on_spine_so_far), 0)
    oid = nxt + np.arange(n_other)
    o_year = 2003.0 - 80.0 * rng.beta(1.25, 1.0, n_other)
    o_dob = day(1900) + ((o_year - 1900) * YEAR).astype(np.int64) + rng.integers(0, 365, n_other)

    sex_child = np.where(rng.random(n_child) < 0.512, "M", "F")
    people = pd.DataFrame(
        {
            "person_id": np.concatenate([mid, cid, f1id[f1_idx], f2id[f2_idx], oid]),
            "kind": np.concatenate(
                [
                    np.full(m, MOTHER),
                    np.full(n_child, CHILD),
                    np.full(len(f1_idx) + len(f2_idx), FATHER),
                    np.full(n_other, OTHER),
                ]
            ).astype(np.int8),
            "sex": np.concatenate(
                [
                    np.full(m, "F", dtype=object),
                    sex_child.astype(object),
                    np.full(len(f1_idx) + len(f2_idx), "M", dtype=object),
                    np.where(rng.random(n_other) < 0.5, "F", "M").astype(object),
                ]
            ),
            "dob": np.concatenate([m_dob, birth, f_dob1[f1_idx], f_dob2[f2_idx], o_dob]),
            "mother_id": np.concatenate(
                [
                    np.full(m, -1),
                    mid[mother_of_birth],
                    np.full(len(f1_idx) + len(f2_idx) + n_other, -1),
                ]
            ),
            "father_id": np.concatenate(
                [np.full(m, -1), child_father, np.full(len(f1_idx) + len(f2_idx) + n_other, -1)]
            ),
            # the mother (row in this chunk's mothers) whose household this person belongs to
            "family": np.concatenate(
                [np.arange(m), mother_of_birth, f1_idx, f2_idx, np.full(n_other, -1)]
            ),
            "court_family": np.concatenate(
                [court, court_mother_child, court[f1_idx], court[f2_idx], np.zeros(n_other, bool)]
            ),
            "quintile_pref": np.concatenate(
                [
                    quint,
                    quint[mother_of_birth],
                    quint[f1_idx],
                    quint[f2_idx],
                    rng.integers(1, 6, n_other),
                ]
            ),
            "twin": np.concatenate(
                [np.zeros(m, bool), twin_flag, np.zeros(len(f1_idx) + len(f2_idx) + n_other, bool)]
            ),
            "on_spine": np.concatenate([~m_off, ~c_off, ~f1_off, ~f2_off, np.ones(n_other, bool)]),
            "partner_slot": np.concatenate(
                [
                    np.zeros(m, np.int8),
                    np.zeros(n_child, np.int8),
                    np.ones(len(f1_idx), np.int8),
                    np.full(len(f2_idx), 2, np.int8),
                    np.zeros(n_other, np.int8),
                ]
            ),
        }
    )
    _add_names(rng, people, f1id)
    _add_deaths(rng, cfg, people)
    procs["mother"] = mid[procs["mother"].to_numpy()]
    proc_children["child"] = cid[proc_children["child"].to_numpy()]
    return Chunk(people=people, proceedings=procs, proceeding_children=proc_children)


def _plan_public_law(
    rng: np.random.Generator,
    cfg: WorldConfig,
    court: np.ndarray,
    planned: np.ndarray,
    m_dob: np.ndarray,
    mother_of_birth: np.ndarray,
    birth: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Proceedings for the chosen mothers: a first set, then returns (often a new baby).

    Returns the proceedings (mother row, date, sequence, newborn flag), the children in
    each, and babies to add (mother row, birth day) for returns about a newborn.
    """
    start, end = day(cfg.start_year), day(cfg.end_year, 12, 31)
    adult = int(18 * YEAR)
    cm = np.flatnonzero(court)
    births = pd.DataFrame(
        {"mother": mother_of_birth, "birth": birth, "child": np.arange(len(birth))}
    )
    cb = births[court[births["mother"].to_numpy()]]
    # A random child per mother born in the window (for a newborn first set) ...
    in_win = cb[(cb["birth"] >= start) & (cb["birth"] <= end - 14)]
    pick_nb = in_win.assign(r=rng.random(len(in_win))).sort_values("r").drop_duplicates("mother")
    nb_child = pd.Series(pick_nb["child"].to_numpy(), index=pick_nb["mother"].to_numpy())
    # ... and a random child per mother under 18 at some time in the window.
    live = cb[(cb["birth"] + adult > start) & (cb["birth"] <= end - 30)]
    pick_any = live.assign(r=rng.random(len(live))).sort_values("r").drop_duplicates("mother")
    any_child = pd.Series(pick_any["child"].to_numpy(), index=pick_any["mother"].to_numpy())
    cm = cm[np.isin(cm, any_child.index.to_numpy())]

    fallback = any_child.reindex(cm).to_numpy()
    fb_nb = nb_child.reindex(cm)
    has_nb = fb_nb.notna().to_numpy()
    nb_c = fb_nb.fillna(0).astype(np.int64).to_numpy()
    u = rng.random(len(cm))
    p_nb = P_NEWBORN_FIRST * newborn_trend(year_of(birth[nb_c]))
    is_nb = has_nb & (u < p_nb)
    # Otherwise on the planned day, about one of the children under 18 then (the first
    # child was born at least a year before); sometimes about the youngest as an infant.
    date = planned[cm]
    cand = cb.merge(pd.DataFrame({"mother": cm, "d": date, "i": np.arange(len(cm))}), on="mother")
    cand = cand[(cand["birth"] < cand["d"] - 14) & (cand["birth"] + adult > cand["d"])]
    pick = cand.assign(r=rng.random(len(cand))).sort_values("r").drop_duplicates("i")
    focus = fallback.copy()
    focus[pick["i"].to_numpy()] = pick["child"].to_numpy()
    youngest = cand.sort_values("birth").drop_duplicates("i", keep="last")
    last_child = fallback.copy()
    last_child[youngest["i"].to_numpy()] = youngest["child"].to_numpy()
    infant_day = birth[last_child] + rng.integers(14, 365, len(cm))
    infant = (~is_nb) & (rng.random(len(cm)) < P_INFANT_FIRST) & (infant_day >= start)
    infant &= infant_day <= end
    focus = np.where(infant, last_child, focus)
    date = np.where(infant, infant_day, date)
    focus = np.where(is_nb, nb_c, focus)
    date = np.where(is_nb, birth[nb_c] + rng.integers(0, 14, len(cm)), date)

    rows_mother = [cm]
    rows_date = [date]
    rows_seq = [np.zeros(len(cm), np.int8)]
    rows_nb = [is_nb]
    rows_focus = [focus]
    babies: list[np.ndarray] = []
    next_baby = len(birth)

    age0 = (date - m_dob[cm]) / YEAR
    p_ret = P_RETURN_BY_AGE[np.digitize(age0, [20, 25, 30])]
    cur_m, cur_d, cur_p = cm, date, p_ret
    for seq in (1, 2, 3):
        ret = rng.random(len(cur_m)) < cur_p
        kind = rng.random(len(cur_m))
        gap = np.where(
            kind < 0.22,
            rng.integers(60, 290, len(cur_m)),
            np.where(
                kind < 0.50,
                rng.integers(300, 665, len(cur_m)),
                665 + rng.exponential(8.0 * YEAR, len(cur_m)).astype(np.int64),
            ),
        )
        d = cur_d + gap
        ok = ret & (d <= end)
        rm, rd = cur_m[ok], d[ok]
        if not len(rm):
            break
        m_age = (rd - m_dob[rm]) / YEAR
        want_nb = (rng.random(len(rm)) < P_NEWBORN_RETURN * newborn_trend(year_of(rd))) & (
            m_age < 45
        )
        # a non-newborn return is about a child under 18 at the time; failing that, a baby
        cand = births[births["mother"].isin(rm)]
        cand = cand.merge(
            pd.DataFrame({"mother": rm, "rd": rd, "i": np.arange(len(rm))}), on="mother"
        )
        cand = cand[(cand["birth"] < cand["rd"] - 14) & (cand["birth"] + adult > cand["rd"])]
        pick = cand.assign(r=rng.random(len(cand))).sort_values("r").drop_duplicates("i")
        older = np.full(len(rm), -1, dtype=np.int64)
        older[pick["i"].to_numpy()] = pick["child"].to_numpy()
        want_nb = want_nb | ((older < 0) & (m_age < 45))
        keep = want_nb | (older >= 0)
        rm, rd, want_nb, older = rm[keep], rd[keep], want_nb[keep], older[keep]
        n_nb = int(want_nb.sum())
        bday = rd[want_nb] - rng.integers(0, 14, n_nb)
        babies.append(np.column_stack([rm[want_nb], bday]))
        foc = older.copy()
        foc[want_nb] = next_baby + np.arange(n_nb)
        next_baby += n_nb
        rows_mother.append(rm)
        rows_date.append(rd)
        rows_seq.append(np.full(len(rm), seq, np.int8))
        rows_nb.append(want_nb)
        rows_focus.append(foc)
        cur_m, cur_d, cur_p = (
            rm,
            rd,
            P_RETURN_BY_AGE[np.digitize((rd - m_dob[rm]) / YEAR, [20, 25, 30])] * 0.9,
        )

    extra = np.concatenate(babies) if babies else np.zeros((0, 2), np.int64)
    procs = pd.DataFrame(
        {
            "mother": np.concatenate(rows_mother),
            "date": np.concatenate(rows_date),
            "seq": np.concatenate(rows_seq),
            "newborn": np.concatenate(rows_nb),
            "focus": np.concatenate(rows_focus),
        }
    )
    procs["proc"] = np.arange(len(procs))
    # Siblings under 18 at the time join the focus child with some chance.
    all_births = births
    if len(extra):
        all_births = pd.concat(
            [
                births,
                pd.DataFrame(
                    {
                        "mother": extra[:, 0],
                        "birth": extra[:, 1],
                        "child": len(birth) + np.arange(len(extra)),
                    }
                ),
            ],
            ignore_index=True,
        )
    sib = procs[["proc", "mother", "date", "focus", "newborn"]].merge(all_births, on="mother")
    sib = sib[
        (sib["child"] != sib["focus"])
        & (sib["birth"] < sib["date"] - 30)
        & (sib["birth"] + adult > sib["date"])
    ]
    p_sib = np.where(sib["newborn"].to_numpy(), 0.25, P_SIBLING_IN_CASE)
    sib = sib[rng.random(len(sib)) < p_sib]
    children = pd.concat(
        [
            pd.DataFrame({"proc": procs["proc"], "child": procs["focus"]}),
            sib[["proc", "child"]],
        ],
        ignore_index=True,
    ).drop_duplicates()
    return procs.drop(columns=["focus"]), children, extra


def _add_names(rng: np.random.Generator, people: pd.DataFrame, f1id: np.ndarray) -> None:
    """Forenames, surnames and birth surnames; ``f1id`` is each mother's first partner."""
    n = len(people)
    sex = people["sex"].to_numpy()
    f1, f2 = _names(rng, sex)
    surname = _zipf_choice(rng, namelists.SURNAMES, n, 0.8)
    people["forename1"] = f1
    people["forename2"] = f2
    people["birth_surname"] = surname
    idx = pd.Series(np.arange(n), index=people["person_id"].to_numpy())
    kind = people["kind"].to_numpy()
    # Mothers take their first partner's surname about half the time.
    mothers = np.flatnonzero(kind == MOTHER)
    fam = people["family"].to_numpy()
    partner = f1id[fam[mothers]]
    take = (partner >= 0) & (rng.random(len(mothers)) < 0.5)
    current = surname.copy()
    current[mothers[take]] = surname[idx[partner[take]].to_numpy()]
    # Children take their father's surname mostly, else their mother's current one.
    kids = np.flatnonzero(kind == CHILD)
    fa = people["father_id"].to_numpy()[kids]
    mo = idx[people["mother_id"].to_numpy()[kids]].to_numpy()
    use_f = (fa >= 0) & (rng.random(len(kids)) < 0.7)
    kid_surname = current[mo].copy()
    kid_surname[use_f] = surname[idx[fa[use_f]].to_numpy()]
    current[kids] = kid_surname
    # A son named after his father (the junior trap) now and then.
    sons = kids[(sex[kids] == "M") & use_f & (rng.random(len(kids)) < 0.03)]
    f1[sons] = f1[idx[people["father_id"].to_numpy()[sons]].to_numpy()]
    people["forename1"] = f1
    # Children's birth surname is the one they were registered with.
    surname_b = surname.copy()
    surname_b[kids] = current[kids]
    people["birth_surname"] = surname_b
    people["surname"] = current


def _add_deaths(rng: np.random.Generator, cfg: WorldConfig, people: pd.DataFrame) -> None:
    """Gompertz mortality from 2000 (or birth) to the end of the world."""
    dob = people["dob"].to_numpy()
    t0 = np.maximum(dob, day(2000))
    end = day(cfg.end_year, 12, 31)
    age_mid = (day(2010) - dob) / YEAR
    hazard = np.exp(-10.2 + 0.092 * np.clip(age_mid, 0, 105)) + 0.0002
    t = (rng.exponential(1.0, len(dob)) / hazard * YEAR).astype(np.int64)
    dod = t0 + t
    # Parents in families must outlive their last child's birth; keep it simple and spare them.
    spare = people["kind"].to_numpy() != OTHER
    dod = np.where((dod <= end) & ~(spare & (age_mid < 60)), dod, MISSING)
    people["dod"] = dod
