"""Shared fixtures. A small synthetic world is built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from fjdp.synth import WorldSummary
from lib.world import build_small

# Hypothesis's per-example deadline measures the machine, not the code: on a loaded CI
# runner a fast example can take 250 ms and fail as "flaky". Examples are still capped by
# max_examples, and slow properties are marked slow.
settings.register_profile("fjdp", deadline=None)
settings.load_profile("fjdp")


def pytest_configure(config: pytest.Config) -> None:
    """Django for the portal tests: a throw-away portal folder, a test-only key, and a
    fast password hasher. The test database itself is SQLite in memory."""
    import shutil
    import tempfile

    from fjdp.portal.config import PortalConfig, setup

    folder = Path(tempfile.mkdtemp(prefix="fjdp-portal-tests-"))
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    setup(
        PortalConfig(
            portal_dir=folder,
            secret_key="tests-only-" + "k" * 50,
            databank=folder / "databank",
            workspaces=folder / "workspaces",
            allowed_hosts=("testserver", "127.0.0.1", "localhost"),
            extra={"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]},
        )
    )


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return build_small(tmp_path_factory.mktemp("world") / "w")
