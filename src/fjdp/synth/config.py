"""Settings of one synthetic world: how big, which seed, which years."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from fjdp.errors import UsageError

MIN_PEOPLE = 1_000
MAX_PEOPLE = 50_000_000


@dataclass(frozen=True)
class WorldConfig:
    """What to build. Saved beside the world (``world/config.json``) so it can be rebuilt.

    ``people`` is the size of the population spine (the TTP's demographic register);
    people off the spine (some family-court parties) come on top of it.
    """

    people: int = 300_000
    seed: int = 20_240_601
    # Family-court records held by the provider, and the health sources, cover these years.
    start_year: int = 2005
    end_year: int = 2020
    # People per generation chunk: bounds memory at any world size.
    chunk_people: int = 250_000

    def __post_init__(self) -> None:
        if not MIN_PEOPLE <= self.people <= MAX_PEOPLE:
            raise UsageError(
                f"--people must be between {MIN_PEOPLE:,} and {MAX_PEOPLE:,}, got {self.people:,}",
                fix="choose a population size in that range (the demo uses 300,000)",
            )
        if self.seed < 0:
            raise UsageError(f"--seed must be zero or positive, got {self.seed}")
        if not 1990 <= self.start_year < self.end_year <= 2030:
            raise UsageError(
                "years must satisfy 1990 <= start < end <= 2030, "
                f"got {self.start_year}-{self.end_year}"
            )
        if self.chunk_people < 10_000:
            raise UsageError(f"chunk size must be at least 10,000, got {self.chunk_people}")

    @property
    def start(self) -> dt.date:
        return dt.date(self.start_year, 1, 1)

    @property
    def end(self) -> dt.date:
        return dt.date(self.end_year, 12, 31)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
