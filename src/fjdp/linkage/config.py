"""Linkage settings: thresholds and engine. Saved with every run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from fjdp.errors import UsageError


@dataclass(frozen=True)
class LinkageConfig:
    accept: float = 0.90  # PROB_ACCEPT at or above
    possible: float = 0.50  # PROB_POSSIBLE at or above (and below accept)
    # Two spine people whose match weights are this close are indistinguishable: MULTIPLE.
    multiple_margin: float = 1.0
    engine: Literal["duckdb", "spark"] = "duckdb"
    deterministic: bool = True  # False: Splink alone, for comparison
    seed: int = 1
    u_max_pairs: float = 1e6
    em_max_records: int = 100_000  # records the model is trained on (a random sample beyond)
    memory_limit: str = "6GB"

    def __post_init__(self) -> None:
        if not 0 < self.possible <= self.accept < 1:
            raise UsageError(
                f"thresholds must satisfy 0 < possible <= accept < 1, got {self.possible} and {self.accept}",
                fix="for example --accept 0.9 --possible 0.5",
            )
        if self.engine not in ("duckdb", "spark"):
            raise UsageError(f"--engine must be duckdb or spark, not {self.engine!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
