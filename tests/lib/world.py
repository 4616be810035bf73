"""Small synthetic worlds shared by tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from fjdp.synth import WorldConfig, WorldSummary, build_world

SMALL_PEOPLE = 40_000


def build_small(root: Path, people: int = SMALL_PEOPLE, seed: int = 11) -> WorldSummary:
    return build_world(WorldConfig(people=people, seed=seed), root, progress=False)


def query(root: Path, sql: str) -> list[tuple[object, ...]]:
    """Run ``sql`` with ``{name}`` placeholders replaced by read_parquet of that table."""
    import re

    def repl(m: re.Match[str]) -> str:
        return f"read_parquet('{root / (m.group(1) + '.parquet')}')"

    con = duckdb.connect()
    try:
        return con.execute(re.sub(r"\{([a-z_/]+)\}", repl, sql)).fetchall()
    finally:
        con.close()
