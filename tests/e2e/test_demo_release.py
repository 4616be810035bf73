"""The demo's release: the measures went through an output request, two demo checkers
approved every file, and the bundle holds only protected counts."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd

from fjdp.disclosure.bundle import verify_release


def test_the_demo_releases_the_measures_through_two_checkers(demo: Path) -> None:
    bundles = sorted((demo / "releases").glob("release-*.zip"))
    assert len(bundles) == 1
    assert verify_release(bundles[0]) == []
    with zipfile.ZipFile(bundles[0]) as z:
        manifest = json.loads(z.read("manifest.json"))
        tables = {n: pd.read_csv(io.BytesIO(z.read(n))) for n in z.namelist() if n.endswith(".csv")}
    assert manifest["request"]["requested_by"] == "demo-researcher"
    assert {"outputs/infants_per_10k_births.csv", "outputs/recurrent_proceedings.csv"} <= set(
        tables
    )
    for f in manifest["files"]:
        checkers = {d["checker"] for d in f["decisions"] if d["decision"] == "approve"}
        assert checkers == {"demo-checker-1", "demo-checker-2"}, f["name"]
    # every released count is suppressed (under 10) or at least 10 and rounded to 5
    release = demo / "analysis" / "demo-family-pathways" / "measures" / "release"
    for name, df in tables.items():
        checks = release / Path(name).with_suffix(".checks.json").name
        for col in json.loads(checks.read_text())["count_columns"]:
            values = df[col].dropna()
            assert ((values >= 10) & (values % 5 == 0)).all(), (name, col)
    accounts = (demo / "portal" / "demo-accounts.txt").read_text()
    assert "demo-checker-2" in accounts and "otpauth://" in accounts
