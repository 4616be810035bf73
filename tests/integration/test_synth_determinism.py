"""The same seed gives the same world; another seed gives another."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from fjdp.synth.world import SOURCES
from lib.world import build_small


def _tables(root: Path) -> dict[str, object]:
    return {name: pq.read_table(root / f"{name}.parquet") for name in SOURCES}


def test_same_seed_same_world(tmp_path: Path) -> None:
    a = build_small(tmp_path / "a", people=12_000, seed=5)
    b = build_small(tmp_path / "b", people=12_000, seed=5)
    ta, tb = _tables(a.out), _tables(b.out)
    for name in SOURCES:
        assert ta[name].equals(tb[name]), name  # type: ignore[attr-defined]


def test_other_seed_other_world(tmp_path: Path) -> None:
    a = build_small(tmp_path / "a", people=12_000, seed=5)
    c = build_small(tmp_path / "c", people=12_000, seed=6)
    assert not _tables(a.out)["spine/people"].equals(_tables(c.out)["spine/people"])  # type: ignore[attr-defined]
