"""The HMAC layers computed in DuckDB SQL are exactly HMAC-SHA256 (RFC 2104)."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

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
