"""Extracts of the ``deaths`` spec for the fuzz tests: its header, good rows (valid NHS
numbers, accented names, dates), and junk values to put in their place."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from fjdp.synth.identifiers import nhs_numbers

HEADER = [
    "death_id",
    "nhs_number",
    "forename",
    "surname",
    "date_of_birth",
    "sex",
    "postcode",
    "date_of_death",
    "underlying_cause",
]
MAX_ROWS = 15
NHS = [str(n) for n in nhs_numbers(np.random.default_rng(0), MAX_ROWS)]
BAD_DATES = ["2020-13-45", "31/02/2020", "yesterday", "0000-00-00", "2020-02-30", "1899-12-31"]
BAD_DATES += ["2999-01-01", "12/25/2020", "2020-1-1", "20200101", "NaN", "null", "-1"]


def good_row(i: int) -> list[str]:
    return [
        f"G{i:04d}",
        NHS[i],
        ["Siân", "Zoë", "Aled", "Mary", "Chloé"][i % 5],
        ["Jones", "O'Brien", "Müller", "Khan"][i % 4],
        f"19{50 + i}-0{1 + i % 9}-1{i % 10}",
        "MFU"[i % 3],
        ["SW1A 1AA", "CF10 3AT", "M1 1AE"][i % 3],
        f"20{10 + i % 10}-0{1 + i % 9}-2{i % 8}",
        ["I21.9", "C34.1", "F03"][i % 3],
    ]


junk = st.one_of(
    st.text(max_size=12),
    st.just(""),
    st.just("   "),
    st.sampled_from(BAD_DATES),
    st.from_regex(r"[0-9]{11,20}", fullmatch=True),  # overlong NHS numbers
    st.from_regex(r"[0-9]{3} [0-9]{3} [0-9]{4}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x80, codec="utf-8"), max_size=8),
    st.text(st.sampled_from([*",;\t|\"' \n\r", "a", "1"]), max_size=10),  # quoted junk
)
