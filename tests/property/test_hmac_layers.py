"""The HMAC layers computed in DuckDB SQL and in bulk by DataFusion are exactly
HMAC-SHA256 (RFC 2104)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from fjdp.keys.bulk import create_map, hmac_chain
from fjdp.keys.layers import hmac_hex, hmac_sql


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=1, max_size=100), value=st.text(max_size=80))
def test_sql_hmac_equals_python_hmac(key: bytes, value: str) -> None:
    got = duckdb.execute(f"select {hmac_sql(key, '?')}", [value]).fetchall()[0][0]
    assert got == hmac_hex(key, value)


def test_null_stays_null_and_keys_differ() -> None:
    k1, k2 = b"a" * 32, b"b" * 32
    x = "'x'"
    row = duckdb.execute(
        f"select {hmac_sql(k1, 'null::varchar')}, {hmac_sql(k1, x)}, {hmac_sql(k2, x)}"
    ).fetchall()[0]
    assert row[0] is None
    assert row[1] != row[2]


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=1, max_size=100), min_size=1, max_size=3),
    values=st.lists(st.text(max_size=80) | st.none(), max_size=40),
    partitions=st.integers(min_value=1, max_value=4),
)
def test_bulk_hmac_chain_equals_python_hmac(
    keys: list[bytes], values: list[str | None], partitions: int
) -> None:
    """DataFusion's bulk chain HMAC(K_n, ... HMAC(K_1, v)) is RFC 2104's, layer on layer,
    however the values are split between partitions; a missing value has no pseudonym
    (not the HMAC of the empty string)."""
    table = pa.table({"v": pa.array(values, pa.string())})
    out = hmac_chain(table, keys, partitions=partitions)
    expected: list[str | None] = []
    for v in values:
        for k in keys:
            v = None if v is None else hmac_hex(k, v)
        expected.append(v)

    def order(v: str | None) -> tuple[bool, str]:
        return (v is None, v or "")

    assert sorted(out.column("v").to_pylist(), key=order) == sorted(values, key=order)
    assert dict(
        zip(out.column("v").to_pylist(), out.column("pe").to_pylist(), strict=True)
    ) == dict(zip(values, expected, strict=True))


def test_bulk_map_is_distinct_skips_nulls_and_agrees_with_sql() -> None:
    """Hashed two values at a time, so that the chunks are put together too."""
    con = duckdb.connect()
    key = b"k" * 32
    con.execute(
        "create table src as select * from (values ('a'), ('b'), ('a'), (null), ('é')) t(alf)"
    )
    n = create_map(
        con, "amap", "select alf from src", [key], value="alf", pseudonym="alf_e", chunk=2
    )
    assert n == 3
    rows = con.execute(
        f"select alf, alf_e, {hmac_sql(key, 'alf')} from amap order by alf"
    ).fetchall()
    assert [r[0] for r in rows] == ["a", "b", "é"]
    assert all(r[1] == r[2] == hmac_hex(key, r[0]) for r in rows)
    assert con.execute("describe amap").fetchall()[1][1] == "VARCHAR"


def test_bulk_map_of_nothing_is_an_empty_table() -> None:
    con = duckdb.connect()
    con.execute("create table src (alf varchar)")
    assert create_map(con, "amap", "select alf from src", [b"k"], value="alf") == 0
    assert con.execute("select count(*) from amap").fetchall() == [(0,)]
