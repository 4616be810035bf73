"""Shared fixtures. A small synthetic world is built once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from fjdp.synth import WorldSummary
from lib.fuzzstats import FuzzStats
from lib.world import build_small

# Hypothesis's per-example deadline measures the machine, not the code: on a loaded CI
# runner a fast example can take 250 ms and fail as "flaky". Examples are still capped by
# max_examples, and slow properties are marked slow.
settings.register_profile("fjdp", deadline=None)
settings.load_profile("fjdp")

POSTGRES_ENV = "FJDP_TEST_POSTGRES"


def _postgres_dsn(config: pytest.Config) -> str | None:
    """The PostgreSQL server the portal's tests use, if any: ``FJDP_TEST_POSTGRES`` is a
    DSN (``postgresql://user:password@host:port/name``; pytest-django creates and drops
    ``test_<name>`` on it), or ``1`` for a throw-away cluster started for this run."""
    value = os.environ.get(POSTGRES_ENV, "").strip()
    if not value or value in ("0", "false", "no"):
        return None
    if value not in ("1", "true", "yes"):
        return value
    import contextlib

    from lib.pgserver import PostgresUnavailableError, throwaway_cluster

    stack = contextlib.ExitStack()
    try:
        dsn = stack.enter_context(throwaway_cluster())
    except PostgresUnavailableError as exc:
        raise pytest.UsageError(f"{POSTGRES_ENV}={value}: {exc}") from None
    config.add_cleanup(stack.close)
    return dsn


def pytest_configure(config: pytest.Config) -> None:
    """Django for the portal tests: a throw-away portal folder, a test-only key, and a
    fast password hasher. The test database is SQLite in memory, or PostgreSQL when
    ``FJDP_TEST_POSTGRES`` is set. Also counts the examples of the fuzz tests
    (``tests/lib/fuzzstats.py``)."""
    config.pluginmanager.register(FuzzStats(), "fjdp-fuzzstats")
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
            analysis=folder / "analysis",
            releases=folder / "releases",
            database_url=_postgres_dsn(config),
            allowed_hosts=("testserver", "127.0.0.1", "localhost"),
            extra={"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]},
        )
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need the portal on PostgreSQL: skip them, saying how to
    run them, when ``FJDP_TEST_POSTGRES`` is not set."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason=f"needs PostgreSQL: make test-postgres, or set {POSTGRES_ENV}")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return build_small(tmp_path_factory.mktemp("world") / "w")
