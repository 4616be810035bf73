"""The DuckDB a databank load, key rotation or provisioning runs in."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fjdp.sql import DATABANK_MEMORY, lit


def connect(work: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB held to ``DATABANK_MEMORY``, spilling to ``work`` (created).
    Rows may come out in any order: nothing written from it relies on one, and keeping
    order costs memory on 10M-row joins."""
    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"set memory_limit = {lit(DATABANK_MEMORY)}")
    con.execute(f"set temp_directory = {lit(str(work))}")
    con.execute("set preserve_insertion_order = false")
    return con
