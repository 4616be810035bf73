"""Shared fixtures. A small synthetic world is built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fjdp.synth import WorldSummary
from lib.world import build_small


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return build_small(tmp_path_factory.mktemp("world") / "w")
