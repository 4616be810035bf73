"""NHS numbers and the date swaps of the error model."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fjdp.synth.dates import day
from fjdp.synth.identifiers import _can_swap, _swap_day_month, is_valid_nhs, nhs_numbers


def test_generated_nhs_numbers_are_valid_distinct_ten_digit_strings() -> None:
    nums = nhs_numbers(np.random.default_rng(1), 50_000)
    assert len(set(nums)) == len(nums) == 50_000
    assert all(len(n) == 10 and n.isdigit() and is_valid_nhs(n) for n in nums[:5000])


def test_known_valid_and_invalid_numbers() -> None:
    assert is_valid_nhs("9434765919")  # the NHS's published example
    assert not is_valid_nhs("9434765918")
    assert not is_valid_nhs("943476591")
    assert not is_valid_nhs("94347659AB")


@given(st.integers(0, 49_999), st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_is_detected(i: int, pos: int, delta: int) -> None:
    number = nhs_numbers(np.random.default_rng(3), 50_000)[i]
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    assert not is_valid_nhs(changed)


@given(
    st.dates(
        min_value=__import__("datetime").date(1920, 1, 1),
        max_value=__import__("datetime").date(2030, 12, 31),
    )
)
def test_day_month_swap_round_trips(d) -> None:  # type: ignore[no-untyped-def]
    days = np.array([day(d.year, d.month, d.day)])
    if _can_swap(days)[0]:
        once = _swap_day_month(days)
        assert once[0] != days[0]
        assert _swap_day_month(once)[0] == days[0]
    else:
        assert d.day > 12 or d.day == d.month
