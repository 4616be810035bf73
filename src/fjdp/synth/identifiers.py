"""NHS numbers, and the error model that turns spine identifiers into a provider's record.

What a provider records about a person drifts from the register in known ways: no NHS
number (most adults in family-court records), typos, nicknames and initials, a former
surname, day and month swapped, an old postcode after a move, and now and then no date
of birth at all. Each error applied is recorded in truth, so tests can check the shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fjdp.synth import names as namelists
from fjdp.synth.dates import MISSING, YEAR

_WEIGHTS = np.arange(10, 1, -1)

# Error bits kept in truth (column ``errors``).
E_NO_NHS = 1
E_NHS_TYPO = 2
E_NICKNAME = 4
E_INITIAL = 8
E_FORENAME_TYPO = 16
E_SURNAME_TYPO = 32
E_FORMER_SURNAME = 64
E_DOB_MISSING = 128
E_DOB_SWAP = 256
E_DOB_TYPO = 512
E_POSTCODE_MISSING = 1024
E_POSTCODE_OLD = 2048
E_BIRTH_YEAR_18XX = 4096


def nhs_check_digit(base9: np.ndarray) -> np.ndarray:
    """Modulus-11 check digit of 9-digit bases; 10 means the base cannot be used."""
    digits = (np.asarray(base9, dtype=np.int64)[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    remainder = (digits * _WEIGHTS).sum(axis=1) % 11
    check = 11 - remainder
    return np.where(check == 11, 0, check)


def is_valid_nhs(number: str) -> bool:
    """True for a 10-digit string whose last digit is its modulus-11 check digit."""
    if len(number) != 10 or not number.isdigit():
        return False
    check = nhs_check_digit(np.array([int(number[:9])]))[0]
    return bool(check != 10 and check == int(number[9]))


def nhs_numbers(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct valid NHS numbers (strings) in the 400–499 million range."""
    # A multiplicative permutation of the range gives distinct bases in random-looking order.
    span = 100_000_000
    mult = 48_271 * 2 + 1
    offset = int(rng.integers(0, span))
    out: list[np.ndarray] = []
    have, i = 0, 0
    while have < count:
        idx = np.arange(i, i + int((count - have) * 1.15) + 100, dtype=np.int64)
        i = int(idx[-1]) + 1
        base = 400_000_000 + (idx * mult + offset) % span
        check = nhs_check_digit(base)
        good = check != 10
        vals = base[good] * 10 + check[good]
        out.append(vals)
        have += len(vals)
    return np.concatenate(out)[:count].astype(str).astype(object)


@dataclass(frozen=True)
class ErrorRates:
    """Chances of each error for one kind of record (adult or child, court or health)."""

    nhs_present: float
    nhs_typo: float = 0.015
    nickname: float = 0.08
    initial: float = 0.02
    forename_typo: float = 0.03
    surname_typo: float = 0.03
    former_surname: float = 0.30  # of women whose surname changed
    dob_missing: float = 0.05
    dob_swap: float = 0.025
    dob_typo: float = 0.01
    birth_year_18xx: float = 0.001
    postcode_missing: float = 0.08
    postcode_old: float = 0.15
    middle_name_kept: float = 0.6


COURT_ADULT = ErrorRates(nhs_present=0.10)
COURT_CHILD = ErrorRates(
    nhs_present=0.40,
    nickname=0.03,
    dob_missing=0.01,
    postcode_missing=0.05,
    postcode_old=0.10,
    former_surname=0.0,
)
HEALTH = ErrorRates(
    nhs_present=0.97,
    nhs_typo=0.003,
    nickname=0.02,
    initial=0.005,
    forename_typo=0.005,
    surname_typo=0.005,
    former_surname=0.05,
    dob_missing=0.002,
    dob_swap=0.002,
    dob_typo=0.002,
    birth_year_18xx=0.0,
    postcode_missing=0.01,
    postcode_old=0.05,
    middle_name_kept=0.3,
)

_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _typo(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """One or two character edits: substitution, deletion, insertion or transposition."""
    out = values.copy()
    for j, v in enumerate(values):
        s = str(v)
        for _ in range(1 + int(rng.random() < 0.25)):
            if len(s) < 3:
                break
            p = int(rng.integers(1, len(s)))
            op = rng.integers(0, 4)
            c = str(_LETTERS[rng.integers(0, 26)])
            if op == 0:
                s = s[:p] + c + s[p + 1 :]
            elif op == 1:
                s = s[:p] + s[p + 1 :]
            elif op == 2:
                s = s[:p] + c + s[p:]
            else:
                s = s[: p - 1] + s[p] + s[p - 1] + s[p + 1 :]
        out[j] = s
    return out


def _swap_day_month(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    month = (d.astype("datetime64[M]") - y).astype(int) + 1
    dom = (d - d.astype("datetime64[M]")).astype(int) + 1
    swapped = y + (dom - 1).astype("timedelta64[M]")
    swapped = swapped.astype("datetime64[M]").astype("datetime64[D]") + (month - 1)
    return swapped.astype(np.int64)


def _can_swap(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    month = (d.astype("datetime64[M]") - d.astype("datetime64[Y]")).astype(int) + 1
    dom = (d - d.astype("datetime64[M]")).astype(int) + 1
    return (dom <= 12) & (dom != month)


def recorded_identifiers(
    rng: np.random.Generator,
    persons: pd.DataFrame,
    rates_adult: ErrorRates,
    rates_child: ErrorRates,
    is_child: np.ndarray,
    postcode_now: np.ndarray,
    postcode_before: np.ndarray,
    address_now: np.ndarray,
) -> pd.DataFrame:
    """What the provider recorded for each row of ``persons`` (spine identifiers).

    ``persons`` needs nhs_number, forename1, forename2, surname, birth_surname, sex, dob.
    Returns the recorded columns plus ``errors`` (bit mask, truth only).
    """
    n = len(persons)
    r = rng.random((n, 14))

    def rate(field: str) -> np.ndarray:
        return np.where(is_child, getattr(rates_child, field), getattr(rates_adult, field))

    err = np.zeros(n, dtype=np.int64)

    nhs = persons["nhs_number"].to_numpy().copy()
    no_nhs = r[:, 0] >= rate("nhs_present")
    nhs_typo = ~no_nhs & (r[:, 1] < rate("nhs_typo"))
    if nhs_typo.any():
        s = nhs[nhs_typo].astype(str)
        pos = rng.integers(0, 9, len(s))
        new = [
            x[:p] + str((int(x[p]) + 1 + int(rng.integers(0, 8))) % 10) + x[p + 1 :]
            for x, p in zip(s, pos, strict=True)
        ]
        nhs[nhs_typo] = np.array(new, dtype=object)
    nhs[no_nhs] = None
    err |= np.where(no_nhs, E_NO_NHS, 0) | np.where(nhs_typo, E_NHS_TYPO, 0)

    fore = persons["forename1"].to_numpy().copy()
    nick_ok = pd.Series(fore).isin(namelists.NICKNAMES.keys()).to_numpy()
    nick = nick_ok & (r[:, 2] < rate("nickname"))
    for j in np.flatnonzero(nick):
        opts = namelists.NICKNAMES[fore[j]]
        fore[j] = opts[int(rng.integers(0, len(opts)))]
    initial = ~nick & (r[:, 3] < rate("initial"))
    fore[initial] = np.array([str(f)[0] for f in fore[initial]], dtype=object)
    ftypo = ~nick & ~initial & (r[:, 4] < rate("forename_typo"))
    fore[ftypo] = _typo(rng, fore[ftypo])
    err |= np.where(nick, E_NICKNAME, 0) | np.where(initial, E_INITIAL, 0)
    err |= np.where(ftypo, E_FORENAME_TYPO, 0)
    middle = persons["forename2"].to_numpy().copy()
    middle[r[:, 5] >= rate("middle_name_kept")] = None

    sur = persons["surname"].to_numpy().copy()
    birth_sur = persons["birth_surname"].to_numpy()
    former = (sur != birth_sur) & (r[:, 6] < rate("former_surname"))
    sur[former] = birth_sur[former]
    styp = r[:, 7] < rate("surname_typo")
    sur[styp] = _typo(rng, sur[styp])
    err |= np.where(former, E_FORMER_SURNAME, 0) | np.where(styp, E_SURNAME_TYPO, 0)

    dob = persons["dob"].to_numpy().copy()
    dmiss = r[:, 8] < rate("dob_missing")
    swap = ~dmiss & (r[:, 9] < rate("dob_swap")) & _can_swap(dob)
    dob[swap] = _swap_day_month(dob[swap])
    dtypo = ~dmiss & ~swap & (r[:, 10] < rate("dob_typo"))
    dob[dtypo] = dob[dtypo] + rng.choice([-10, -1, 1, 10, 365, -365], int(dtypo.sum()))
    y18 = ~dmiss & (r[:, 11] < rate("birth_year_18xx")) & (dob < 0) & (dob > -25_000)
    dob[y18] = dob[y18] - int(100 * YEAR)
    dob[dmiss] = MISSING
    err |= np.where(dmiss, E_DOB_MISSING, 0) | np.where(swap, E_DOB_SWAP, 0)
    err |= np.where(dtypo, E_DOB_TYPO, 0) | np.where(y18, E_BIRTH_YEAR_18XX, 0)

    pc = postcode_now.copy()
    pmiss = r[:, 12] < rate("postcode_missing")
    old = ~pmiss & (r[:, 13] < rate("postcode_old")) & (postcode_before != postcode_now)
    pc[old] = postcode_before[old]
    line = address_now.copy()
    line[old] = None  # the old address line went with the old postcode: keep it simple
    pc[pmiss] = None
    line[pmiss] = None
    err |= np.where(pmiss, E_POSTCODE_MISSING, 0) | np.where(old, E_POSTCODE_OLD, 0)

    return pd.DataFrame(
        {
            "nhs_number": nhs,
            "forename": fore,
            "middle_names": middle,
            "surname": sur,
            "dob": dob,
            "sex": persons["sex"].to_numpy(),
            "postcode": pc,
            "address_line1": line,
            "errors": err,
        }
    )
