"""The record of one checked output: its verdicts, reasons, cells, provenance and table."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """ACRO's three verdicts: pass (releasable), review (a checker must look), fail."""

    PASS = "pass"  # noqa: S105  # nosec B105  # a verdict, not a password
    REVIEW = "review"
    FAIL = "fail"

    @staticmethod
    def worst(*statuses: Status) -> Status:
        order = {Status.PASS: 0, Status.REVIEW: 1, Status.FAIL: 2}
        return max(statuses, key=order.__getitem__, default=Status.PASS)


@dataclass(frozen=True)
class FlaggedCell:
    """A cell a rule flagged or a mitigation hid, by its row and column labels."""

    row: tuple[Any, ...]
    col: tuple[Any, ...]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"row": list(self.row), "col": list(self.col), "reason": self.reason}


@dataclass(frozen=True)
class Table:
    """A released table in pandas' "split" shape: a label (or a list of labels per
    level) for each row and column, and the data with suppressed cells as ``None``."""

    index: list[Any]
    columns: list[Any]
    data: list[list[Any]]
    index_names: list[str] = field(default_factory=list)
    column_names: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "columns": self.columns, "data": self.data}


@dataclass(frozen=True)
class CheckedOutput:
    """One output after its checks and mitigation. Immutable; ``checksum`` seals it."""

    operation: str
    status: Status
    status_before: Status
    reasons: list[str]
    flagged_cells: list[FlaggedCell]
    table: Table
    policy_version: str
    mitigations: list[str] = field(default_factory=list)
    command: str = ""
    population: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    dimensions: list[str] = field(default_factory=list)
    units: frozenset[str] = field(default_factory=frozenset, repr=False)

    def verdict(self) -> dict[str, Any]:
        """The JSON object ``fjdp outputs check`` prints."""
        return {
            "status": self.status.value,
            "reasons": self.reasons,
            "flagged_cells": [c.to_json() for c in self.flagged_cells],
            "table": self.table.to_json(),
            "policy_version": self.policy_version,
            "status_before_mitigation": self.status_before.value,
            "mitigations": self.mitigations,
        }

    @property
    def checksum(self) -> str:
        blob = json.dumps(
            {**self.verdict(), "command": self.command, "population": self.population},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()
