"""The Splink model written for DuckDB and for Spark is one model: the same comparisons,
levels, labels and term-frequency adjustments, and the same blocking rules; each
dialect's SQL uses only its own engine's functions."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

from fjdp.errors import UsageError
from fjdp.linkage.probabilistic import DIALECTS, DUCKDB, SPARK, blocking_rules, comparisons
from fjdp.linkage.spark_session import driver_memory

DUCKDB_ONLY = ("jaro_winkler_similarity", "list_has_any", "list_contains", "strftime", "date_diff")
SPARK_ONLY = ("jaro_winkler(", "arrays_overlap", "array_contains", "date_format", "datediff")


def _shape(cs: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return [
        (
            c["output_column_name"],
            tuple(
                (
                    lvl["label_for_charts"],
                    lvl.get("is_null_level", False),
                    lvl.get("tf_adjustment_column"),
                    lvl.get("tf_adjustment_weight"),
                    lvl["sql_condition"] == "ELSE",
                )
                for lvl in c["comparison_levels"]
            ),
        )
        for c in cs
    ]


def _conditions(d: Any) -> list[str]:
    return [lvl["sql_condition"] for c in comparisons(d) for lvl in c["comparison_levels"]]


def test_both_dialects_have_the_same_comparisons_levels_and_labels() -> None:
    duck, spark = _shape(comparisons(DUCKDB)), _shape(comparisons(SPARK))
    assert duck == spark
    assert [c for c, _ in duck] == ["nhs", "forename", "surname", "dob", "sex", "postcode"]
    assert len(blocking_rules(DUCKDB)) == len(blocking_rules(SPARK)) == 12
    assert set(DIALECTS.values()) == {DUCKDB, SPARK}


def test_the_dialects_differ_only_where_the_engines_spell_a_function_differently() -> None:
    same = [a == b for a, b in zip(_conditions(DUCKDB), _conditions(SPARK), strict=True)]
    # nickname, two Jaro-Winkler levels each for forename and surname, one character,
    # within a year, earlier address
    assert same.count(False) == 8
    rules = list(zip(blocking_rules(DUCKDB), blocking_rules(SPARK), strict=True))
    assert sum(a != b for a, b in rules) == 1  # day and month swapped


@pytest.mark.parametrize(("dialect", "foreign"), [(DUCKDB, SPARK_ONLY), (SPARK, DUCKDB_ONLY)])
def test_each_dialect_uses_only_its_engines_functions(dialect: Any, foreign: tuple[str]) -> None:
    sqls = [s for s in _conditions(dialect) if s != "ELSE"] + list(blocking_rules(dialect))
    for sql in sqls:
        assert not any(f in sql.lower() for f in foreign), sql
        sqlglot.parse_one(sql, read=dialect.name)  # parses in the engine's own dialect


def test_spark_driver_memory_follows_the_configured_limit() -> None:
    assert driver_memory("6GB") == "6144m"
    assert driver_memory("512MB") == "512m"
    assert driver_memory("1.5GiB") == "1536m"
    assert driver_memory("100MB") == "512m"  # a floor the JVM can start with
    with pytest.raises(UsageError, match="is not a size"):
        driver_memory("lots")


def test_a_missing_java_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from fjdp import sparkutil as spark_session

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda _name: None)
    with pytest.raises(UsageError) as err:
        spark_session.check_available()
    assert "needs Java" in err.value.message()
    assert "openjdk-17-jre-headless" in err.value.message()
    assert "\n" not in err.value.message()
    assert "--engine duckdb" in err.value.message()
