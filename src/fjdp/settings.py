"""Frozen settings built from explicit arguments and the environment, never at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fjdp.errors import UsageError

DEFAULT_DEMO_DIR = Path("demo")
DEFAULT_DEMO_PEOPLE = 300_000
DEFAULT_SEED = 20_240_601

# The stable layout of a demo folder; later stages fill their own part of it.
DEMO_LAYOUT: tuple[str, ...] = (
    "world",
    "provider",
    "ttp",
    "databank",
    "workspaces",
    "analysis",
    "portal",
    "releases",
    "audit-report",
)


@dataclass(frozen=True)
class Settings:
    """Process-wide settings. Build one with :func:`from_env` at the edge (the CLI)."""

    demo_dir: Path = DEFAULT_DEMO_DIR
    seed: int = DEFAULT_SEED
    progress: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_seed = env.get("FJDP_SEED", str(DEFAULT_SEED))
        try:
            seed = int(raw_seed)
        except ValueError:
            raise UsageError(
                f"FJDP_SEED must be a whole number, got {raw_seed!r}",
                where="environment",
                fix="unset it or set it to a number such as 1",
            ) from None
        return cls(
            demo_dir=Path(env.get("FJDP_DEMO_DIR", str(DEFAULT_DEMO_DIR))),
            seed=seed,
            progress=env.get("FJDP_PROGRESS", "1") not in ("0", "false", "no"),
        )
