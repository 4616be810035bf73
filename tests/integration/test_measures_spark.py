"""The measures give the same tables on Spark local mode as on DuckDB (dummy data)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fjdp.analysis.engines import Engine
from fjdp.analysis.measures import MEASURES, build_frames, workspace_views
from fjdp.cli.app import main

pytestmark = pytest.mark.spark


def _tidy(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    for c in t.columns:
        if pd.api.types.is_numeric_dtype(t[c]):
            t[c] = t[c].astype(float).round(9)
        else:
            t[c] = t[c].astype(str)
    return t.sort_values(list(t.columns)).reset_index(drop=True)


def test_every_measure_agrees_on_spark_and_duckdb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "dummy"
    assert main(["analysis", "dummy", "--out", str(ws)]) == 0
    capsys.readouterr()
    with workspace_views(ws) as duck:
        frames = build_frames(duck)
        want = {name: m(duck, frames).table for name, m in MEASURES.items()}
    with workspace_views(ws, Engine.SPARK) as spark:
        frames = build_frames(spark)
        got = {name: m(spark, frames).table for name, m in MEASURES.items()}
    for name in MEASURES:
        pd.testing.assert_frame_equal(_tidy(got[name]), _tidy(want[name]), obj=name)
