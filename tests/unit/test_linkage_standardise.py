"""Standardisation of identifiers for linkage, and the linking fields."""

from __future__ import annotations

import duckdb
import pytest

from fjdp.linkage.fields import alf, ralf
from fjdp.linkage.standardise import (
    clean_name,
    load_nicknames,
    std_nhs,
    std_postcode,
    std_sex,
    with_canonical_forename,
)


def one(sql: str) -> object:
    con = duckdb.connect()
    load_nicknames(con)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Mrs  Siân  O'Brien ", "SIAN OBRIEN"),
        ("DR. John-Paul", "JOHN PAUL"),
        ("smith-jones", "SMITH JONES"),
        ("Mr", None),
        ("", None),
        (None, None),
        ("ann--marie", "ANN MARIE"),
    ],
)
def test_clean_name(raw: str | None, clean: str | None) -> None:
    value = "null" if raw is None else "'" + raw.replace("'", "''") + "'"
    assert one(f"select {clean_name(value)}") == clean


@pytest.mark.parametrize(
    ("raw", "std"),
    [
        ("cf103at", "CF10 3AT"),
        ("CF10  3AT", "CF10 3AT"),
        ("sw1a 1aa", "SW1A 1AA"),
        ("12345", None),
        (None, None),
    ],
)
def test_postcode(raw: str | None, std: str | None) -> None:
    value = "null" if raw is None else f"'{raw}'"
    assert one(f"select {std_postcode(value)}") == std


def test_nhs_numbers_kept_only_when_valid() -> None:
    assert one(f"select {std_nhs(chr(39) + '943 476 5919' + chr(39))}") == "9434765919"
    assert one(f"select {std_nhs(chr(39) + '9434765918' + chr(39))}") is None
    assert one(f"select {std_nhs(chr(39) + '12' + chr(39))}") is None


def test_sex() -> None:
    assert one(f"select {std_sex(chr(39) + ' f ' + chr(39))}") == "F"
    assert one(f"select {std_sex(chr(39) + 'U' + chr(39))}") is None


def test_nicknames_keep_every_name_they_may_stand_for() -> None:
    con = duckdb.connect()
    load_nicknames(con)
    con.execute(
        "create table t as select * from (values ('NELL'), ('HELEN'), ('GAZ'), ('GARY'), ('ZYX')) v(fn1)"
    )
    rows = dict(
        con.execute(f"select fn1, fn_alts from ({with_canonical_forename('t')})").fetchall()
    )
    assert "HELEN" in rows["NELL"] and "NELL" in rows["NELL"]
    assert set(rows["NELL"]) & set(rows["HELEN"])
    assert set(rows["GAZ"]) & set(rows["GARY"])
    assert rows["ZYX"] == ["ZYX"]


def test_linking_fields_are_keyed_and_labelled() -> None:
    k1, k2 = b"1" * 32, b"2" * 32
    assert alf(k1, "42") == alf(k1, "42")
    assert alf(k1, "42") != alf(k2, "42")  # another TTP key: unrelated values
    assert alf(k1, "42") != ralf(k1, "42")  # a person id and an address id never collide
    assert len(alf(k1, "42")) == 64
