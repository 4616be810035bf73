"""A project application as the rules see it: who is on it, what data it asks for, where
it is in its lifecycle, and the decisions of its current review round."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from fjdp.types import LinkStatus


class State(StrEnum):
    """Where a project is. Stored by value."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PANEL_REVIEW = "panel_review"
    CUSTODIAN_REVIEW = "custodian_review"
    APPROVED = "approved"
    ACTIVE = "active"
    RETURNED = "returned"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


TERMINAL = frozenset({State.REJECTED, State.EXPIRED, State.CLOSED})
EDITABLE = frozenset({State.DRAFT, State.RETURNED})
IN_REVIEW = frozenset({State.SUBMITTED, State.PANEL_REVIEW, State.CUSTODIAN_REVIEW})


class PanelOutcome(StrEnum):
    APPROVE = "approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions"
    RETURN = "return"
    REJECT = "reject"

    @property
    def approves(self) -> bool:
        return self in (PanelOutcome.APPROVE, PanelOutcome.APPROVE_WITH_CONDITIONS)

    @property
    def label(self) -> str:
        return {
            PanelOutcome.APPROVE: "approve",
            PanelOutcome.APPROVE_WITH_CONDITIONS: "approve with conditions",
            PanelOutcome.RETURN: "return for changes",
            PanelOutcome.REJECT: "reject",
        }[self]


PANEL_QUORUM = 2
"""Distinct panel members whose matching decisions settle a review round."""


@dataclass(frozen=True)
class TableRequest:
    name: str
    columns: Literal["*"] | tuple[str, ...]
    date_column: str | None = None


@dataclass(frozen=True)
class DatasetRequest:
    name: str
    tables: tuple[TableRequest, ...]


@dataclass(frozen=True)
class Request:
    """What data the team asks for (safe data): datasets, tables, columns, dates, and
    the link statuses whose records the workspace may hold (by default the statuses an
    analysis includes; a study of linkage bias asks for the others too)."""

    datasets: tuple[DatasetRequest, ...] = ()
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    link_statuses: frozenset[LinkStatus] = field(default_factory=LinkStatus.default_included)

    @property
    def dataset_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.datasets)


@dataclass(frozen=True)
class PanelDecision:
    member: str
    outcome: PanelOutcome
    reasons: str
    conditions: str = ""


@dataclass(frozen=True)
class CustodianDecision:
    custodian: str
    dataset: str
    approve: bool
    reasons: str


@dataclass(frozen=True)
class Approved:
    """What the last completed review approved: what a workspace may hold."""

    researchers: frozenset[str]
    request: Request
    end_date: dt.date
    conditions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Application:
    """A project and its current review round.

    ``researchers`` and ``request`` are the working copy the lead edits; ``approved`` is
    what the last completed review approved and what the workspace holds. An amendment
    edits the working copy while the workspace keeps the approved one.
    """

    project: str
    lead: str
    state: State = State.DRAFT
    researchers: frozenset[str] = frozenset()
    request: Request = Request()
    end_date: dt.date = dt.date.max
    round: int = 0
    panel: tuple[PanelDecision, ...] = ()
    custodians: tuple[CustodianDecision, ...] = ()
    approved: Approved | None = None
    provisioned: bool = False

    @property
    def team(self) -> frozenset[str]:
        """Everyone with a stake in the application: they may not review it."""
        named = self.researchers | {self.lead}
        if self.approved is not None:
            named |= self.approved.researchers
        return named
