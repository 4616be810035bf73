"""Names for the values that cross module and zone boundaries.

NewType keeps an ALF from being passed where an ALF_E is expected; mypy checks it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

SystemId = NewType("SystemId", str)
"""Random 128-bit row key given by the provider at split time; joins File 1/2/3."""
Alf = NewType("Alf", str)
"""Anonymised linking field: HMAC(K_ttp, spine person). Exists only in the TTP zone."""
AlfE = NewType("AlfE", str)
"""ALF re-encrypted by the databank: HMAC(K_bank, ALF). Never reaches a workspace."""
AlfPE = NewType("AlfPE", str)
"""ALF_E encrypted per project: HMAC(K_project, ALF_E). Never joins across projects."""
ProjectId = NewType("ProjectId", str)


class Zone(StrEnum):
    PROVIDER = "provider"
    TTP = "ttp"
    DATABANK = "databank"
    WORKSPACE = "workspace"
    PORTAL = "portal"


class LinkStatus(StrEnum):
    """Outcome of linking one provider record to the population spine (DESIGN.md 6)."""

    DET_STRONG_ID = "DET_STRONG_ID"
    DET_DEMOG = "DET_DEMOG"
    PROB_ACCEPT = "PROB_ACCEPT"
    PROB_POSSIBLE = "PROB_POSSIBLE"
    UNMATCHED = "UNMATCHED"
    MULTIPLE = "MULTIPLE"

    @classmethod
    def default_included(cls) -> frozenset[LinkStatus]:
        """Statuses an analysis includes unless told otherwise."""
        return frozenset({cls.DET_STRONG_ID, cls.DET_DEMOG, cls.PROB_ACCEPT})


class LawType(StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
