"""The roles of the platform (DESIGN.md section 1) and which of them one account may
not hold together."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """What a person may do. Stored by value, so values never change once released."""

    CUSTODIAN = "custodian"
    LINKAGE_OPERATOR = "linkage_operator"
    DATA_MANAGER = "data_manager"
    PANEL_MEMBER = "panel_member"
    PROJECT_LEAD = "project_lead"
    RESEARCHER = "researcher"
    OUTPUT_CHECKER = "output_checker"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Role.CUSTODIAN: "data provider (custodian)",
    Role.LINKAGE_OPERATOR: "linkage operator",
    Role.DATA_MANAGER: "data manager",
    Role.PANEL_MEMBER: "governance panel member",
    Role.PROJECT_LEAD: "project lead",
    Role.RESEARCHER: "researcher",
    Role.OUTPUT_CHECKER: "output checker",
    Role.AUDITOR: "auditor",
}

INCOMPATIBLE: dict[frozenset[Role], str] = {
    frozenset({Role.LINKAGE_OPERATOR, Role.RESEARCHER}): (
        "a linkage operator sees identifiers and a researcher sees content"
    ),
    frozenset({Role.LINKAGE_OPERATOR, Role.DATA_MANAGER}): (
        "the TTP sees identifiers and the databank content; no one holds both"
    ),
    frozenset({Role.CUSTODIAN, Role.DATA_MANAGER}): (
        "a data provider holds identifiers and must never see the databank"
    ),
    frozenset({Role.CUSTODIAN, Role.RESEARCHER}): (
        "a data provider holds identifiers and must never see a workspace"
    ),
    frozenset({Role.AUDITOR, Role.PANEL_MEMBER}): (
        "an auditor checks decisions and must not take them"
    ),
    frozenset({Role.AUDITOR, Role.DATA_MANAGER}): (
        "an auditor checks provisioning and must not do it"
    ),
}
"""Pairs of roles one account may not hold, each with the reason (separation of duties)."""


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their stored values; an unknown value raises ValueError naming it."""
    out = set()
    for v in values:
        try:
            out.add(Role(v))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {v!r}; the roles are {known}") from None
    return frozenset(out)
