"""Every measure runs on dummy data made from the schema (no real rows), so a measure
can be tried outside the environment first and run unchanged inside it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fjdp.analysis.options import MEASURE_NAMES
from fjdp.cli.app import main


def test_every_measure_runs_on_dummy_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, out = tmp_path / "dummy", tmp_path / "measures"
    assert main(["analysis", "dummy", "--out", str(ws)]) == 0
    assert main(["analysis", "measures", "-w", str(ws), "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    for name in (*MEASURE_NAMES, "linkage_sensitivity"):
        assert len(pd.read_csv(out / f"{name}.csv")) > 0, name
        verdict = json.loads((out / "release" / f"{name}.checks.json").read_text())
        assert verdict["status"] in ("pass", "review"), name
