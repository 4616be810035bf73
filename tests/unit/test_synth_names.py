"""The reference data of the synthetic population: well-formed, unique, usable as weights."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fjdp.synth import names

NAME = re.compile(r"^[A-Z]+$")
STREET = re.compile(r"^[A-Z ]+$")

NAME_LISTS = {
    "FEMALE_FORENAMES": names.FEMALE_FORENAMES,
    "MALE_FORENAMES": names.MALE_FORENAMES,
    "SURNAMES": names.SURNAMES,
}


@pytest.mark.parametrize("list_name", [*NAME_LISTS, "STREET_NAMES"])
def test_no_duplicates(list_name: str) -> None:
    values = getattr(names, list_name)
    duplicates = sorted({v for v in values if values.count(v) > 1})
    assert duplicates == [], f"{list_name} has duplicates: {duplicates}"


@pytest.mark.parametrize("list_name", list(NAME_LISTS))
def test_names_are_upper_case_ascii_letters(list_name: str) -> None:
    bad = [v for v in NAME_LISTS[list_name] if not NAME.fullmatch(v)]
    assert bad == []


def test_street_names_are_upper_case_letters_and_spaces() -> None:
    bad = [v for v in names.STREET_NAMES if not STREET.fullmatch(v) or v != v.strip()]
    assert bad == []
    assert all("  " not in v for v in names.STREET_NAMES)


def test_list_sizes() -> None:
    assert len(names.FEMALE_FORENAMES) >= 100
    assert len(names.MALE_FORENAMES) >= 100
    assert len(names.SURNAMES) >= 250
    assert len(names.STREET_NAMES) >= 120


def test_lists_start_with_the_most_common_names() -> None:
    assert names.SURNAMES[:4] == ("JONES", "WILLIAMS", "DAVIES", "EVANS")
    assert names.FEMALE_FORENAMES[0] == "MARGARET"
    assert names.MALE_FORENAMES[0] == "JOHN"


def test_forename_lists_do_not_overlap() -> None:
    assert set(names.FEMALE_FORENAMES).isdisjoint(names.MALE_FORENAMES)


def test_enough_long_surnames() -> None:
    assert sum(len(s) >= 6 for s in names.SURNAMES) >= 150


def test_nicknames_well_formed() -> None:
    forenames = set(names.FEMALE_FORENAMES) | set(names.MALE_FORENAMES)
    assert len(names.NICKNAMES) >= 60
    for formal, variants in names.NICKNAMES.items():
        assert formal in forenames or NAME.fullmatch(formal), formal
        assert NAME.fullmatch(formal), formal
        assert variants, formal
        assert len(set(variants)) == len(variants), formal
        for variant in variants:
            assert NAME.fullmatch(variant), (formal, variant)
            assert variant != formal, formal


def test_nicknames_cover_the_usual_examples() -> None:
    assert {"LIZ", "BETH"} <= set(names.NICKNAMES["ELIZABETH"])
    assert "BILL" in names.NICKNAMES["WILLIAM"]
    assert "BOB" in names.NICKNAMES["ROBERT"]
    assert "KATE" in names.NICKNAMES["KATHERINE"]


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.2])
@pytest.mark.parametrize("n", [1, 2, 10, 300])
def test_zipf_weights_sum_to_one_and_decrease(n: int, exponent: float) -> None:
    w = names.zipf_weights(n, exponent)
    assert w.shape == (n,)
    assert w.dtype == np.float64
    assert math.isclose(float(w.sum()), 1.0, rel_tol=0, abs_tol=1e-12)
    assert np.all(np.diff(w) < 0)
    assert np.all(w > 0)


def test_zipf_weights_are_proportional_to_inverse_rank() -> None:
    w = names.zipf_weights(4)
    np.testing.assert_allclose(w / w[0], [1.0, 1 / 2, 1 / 3, 1 / 4])


def test_zipf_weights_usable_as_choice_probabilities() -> None:
    rng = np.random.default_rng(0)
    drawn = rng.choice(names.SURNAMES, size=10, p=names.zipf_weights(len(names.SURNAMES)))
    assert set(drawn) <= set(names.SURNAMES)


@pytest.mark.parametrize(("n", "exponent"), [(0, 1.0), (-3, 1.0), (5, -1.0)])
def test_zipf_weights_rejects_bad_arguments(n: int, exponent: float) -> None:
    with pytest.raises(ValueError):
        names.zipf_weights(n, exponent)


def test_ethnicity_shares() -> None:
    assert names.ETHNICITIES == ("WHITE", "MIXED", "ASIAN", "BLACK", "OTHER")
    assert len(names.ETHNICITY_SHARES) == len(names.ETHNICITIES)
    assert set(names.ETHNICITY_LABELS) == set(names.ETHNICITIES)
    assert all(share > 0 for share in names.ETHNICITY_SHARES)
    assert math.isclose(sum(names.ETHNICITY_SHARES), 1.0, abs_tol=1e-9)
