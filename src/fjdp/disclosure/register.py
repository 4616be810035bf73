"""The differencing register: what a project has released, over which population.

Two tables over populations that differ by a handful of people reveal that handful
by subtraction (all children, then all children except one local authority; a time
series, then the same series one period longer). Every released output is recorded
with its population definition, its dimensions and the set of its contributing units,
stored as salted hashes (never the ids themselves). A new output whose population
differs from a released one by fewer than the policy's differencing threshold, but
is not identical to it, collides with it and goes to review.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fjdp.errors import InputError


@dataclass(frozen=True)
class Entry:
    """One released output as the register remembers it."""

    output_id: str
    population: str
    dimensions: list[str]
    units: frozenset[str] = field(repr=False)
    released_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "output_id": self.output_id,
            "population": self.population,
            "dimensions": self.dimensions,
            "units": sorted(self.units),
            "released_at": self.released_at,
        }


@dataclass(frozen=True)
class Collision:
    """A new output's population against a released one."""

    entry: Entry
    only_new: int
    only_released: int

    def reason(self) -> str:
        return (
            f"differencing: the population differs from released output "
            f"{self.entry.output_id!r} ({self.entry.population or 'everyone'}) by "
            f"{self.only_new + self.only_released} contributors ({self.only_new} only in this "
            f"output, {self.only_released} only in the released one)"
        )


class Register:
    """The register of one project: a JSON file, or in memory when ``path`` is None."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.salt = secrets.token_hex(16)
        self.entries: list[Entry] = []
        if path is not None and path.exists():
            try:
                doc = json.loads(path.read_text("utf-8"))
                self.salt = doc["salt"]
                self.entries = [
                    Entry(
                        e["output_id"],
                        e["population"],
                        list(e["dimensions"]),
                        frozenset(e["units"]),
                        e.get("released_at", ""),
                    )
                    for e in doc["entries"]
                ]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    "the differencing register is unreadable",
                    where=str(path),
                    fix="restore it from the project's backup; never edit it by hand",
                ) from exc

    def hash_units(self, units: Iterable[object]) -> frozenset[str]:
        """Salted hashes of unit ids: comparable within this register, useless outside."""
        return frozenset(
            hashlib.sha256(f"{self.salt}:{u}".encode()).hexdigest()[:20] for u in units
        )

    def collisions(self, units: frozenset[str], threshold: int) -> list[Collision]:
        """Released outputs whose population differs from ``units`` by 1..threshold-1."""
        found = []
        for entry in self.entries:
            only_new = len(units - entry.units)
            only_old = len(entry.units - units)
            if 0 < only_new + only_old < threshold:
                found.append(Collision(entry, only_new, only_old))
        return found

    def add(
        self, output_id: str, population: str, dimensions: list[str], units: frozenset[str]
    ) -> Entry:
        entry = Entry(
            output_id,
            population,
            list(dimensions),
            units,
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.entries.append(entry)
        self.save()
        return entry

    def save(self) -> None:
        if self.path is None:
            return
        doc = {"salt": self.salt, "entries": [e.to_json() for e in self.entries]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1), "utf-8")
        tmp.replace(self.path)
