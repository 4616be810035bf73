"""One demo run shared by the end-to-end tests that only read what it leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from fjdp.cli.app import main

# Big enough for the measures to have a few hundred children and mothers to compare with
# the truth; small enough for the fast suite.
DEMO_PEOPLE = 40_000


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    assert main(["demo", "--out", str(out), "--people", str(DEMO_PEOPLE), "--no-progress"]) == 0
    return out
