"""The HMAC pseudonym layers of DESIGN.md 5 for millions of values at once.

A databank load, a provisioning or a key rotation maps every distinct ALF, RALF or ALF_E
it meets (3 million of them for a 10-million-row admissions extract) to its HMAC. DuckDB
can compute HMAC-SHA256 in SQL over its ``sha256`` (``layers.hmac_sql``), but its SHA-256
does not use the processor's SHA instructions: 4.4 s for 3 million values on two cores.
DataFusion, Apache Arrow's query engine, does (through the Rust ``sha2`` crate): 0.9 s for
the same values (measured in benchmarks/README.md). So the distinct values
leave DuckDB as Arrow buffers, DataFusion hashes them in one partition per core, and the
map returns to DuckDB as a table; no value passes through Python on its own.

The construction is RFC 2104's, as in ``layers``: ``H((K xor opad) || H((K xor ipad) ||
m))``, with hex output so that every layer has the shape of the TTP's ALF. The key reaches
DataFusion only as two binary literals (its pads), never in SQL text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import duckdb
import pyarrow as pa
from datafusion import Expr, SessionConfig, SessionContext, col, lit
from datafusion import functions as f

from fjdp.keys.layers import pads
from fjdp.sql import q

# Values hashed at a time: 64 MB of ALFs in, twice that out.
CHUNK = 1_000_000


def _layer(expr: Expr, key: bytes) -> Expr:
    inner, outer = pads(key)
    digest = f.sha256(f.concat(lit(pa.scalar(inner, pa.binary())), f.arrow_cast(expr, "Binary")))
    return f.encode(f.sha256(f.concat(lit(pa.scalar(outer, pa.binary())), digest)), "hex")


def hmac_expr(expr: Expr, keys: Sequence[bytes]) -> Expr:
    """The DataFusion expression HMAC(K_n, ... HMAC(K_1, expr)), lower-case hex; NULL
    where ``expr`` is NULL (DataFusion's ``concat`` reads a NULL as empty, which would give
    every missing value the same pseudonym)."""
    chain = expr
    for key in keys:
        chain = _layer(chain, key)
    return f.when(expr.is_not_null(), chain).end()


def _threads(con: duckdb.DuckDBPyConnection) -> int:
    rows = con.execute("select current_setting('threads')").fetchall()
    return max(1, int(rows[0][0]) if rows else os.cpu_count() or 1)


def hmac_chain(values: pa.Table, keys: Sequence[bytes], *, partitions: int = 1) -> pa.Table:
    """``values`` (one string column ``v``) with column ``pe``: HMAC(K_n, ... HMAC(K_1, v))
    for ``keys`` = [K_1, ..., K_n], as lower-case hex. NULL stays NULL."""
    if not keys:
        raise ValueError("hmac_chain needs at least one key")
    size = max(1, -(-values.num_rows // partitions))
    batches = values.to_batches(max_chunksize=size) or [
        pa.record_batch([pa.array([], pa.string())], names=["v"])
    ]
    ctx = SessionContext(SessionConfig().with_target_partitions(partitions))
    frame = ctx.create_dataframe([[b] for b in batches])
    out = frame.select(col("v"), hmac_expr(col("v"), keys).alias("pe")).to_arrow_table()
    # DataFusion may hand back string views; DuckDB and Parquet want plain strings.
    return out.cast(pa.schema([("v", pa.string()), ("pe", pa.string())]))


def create_map(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: str,
    keys: Sequence[bytes],
    *,
    value: str = "v",
    pseudonym: str = "pe",
    chunk: int = CHUNK,
) -> int:
    """Create table ``name`` (``value``, ``pseudonym``) in ``con``: every distinct non-null
    ``value`` of the relation ``source`` (SQL) with its HMAC chain under ``keys``. Returns
    the number of values.

    The values are hashed ``chunk`` at a time, so the Arrow buffers outside DuckDB's
    memory limit stay small: a load's peak memory is DuckDB's join, not this."""
    con.execute(f"create table {q(name)} ({q(value)} varchar, {q(pseudonym)} varchar)")
    partitions = _threads(con)
    reader = con.cursor()  # same database; keeps the stream open while ``con`` inserts
    n = 0
    try:
        batches = reader.sql(
            f"select distinct {q(value)}::varchar as v from ({source}) where {q(value)} is not null"
        ).to_arrow_reader(chunk)
        for batch in batches:
            mapped = hmac_chain(pa.Table.from_batches([batch]), keys, partitions=partitions)
            con.register("fjdp_hmac_chunk", mapped)
            try:
                con.execute(f"insert into {q(name)} select v, pe from fjdp_hmac_chunk")
            finally:
                con.unregister("fjdp_hmac_chunk")
            n += mapped.num_rows
    finally:
        reader.close()
    return n
