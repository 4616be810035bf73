"""Safe people: who someone is to the platform, and whether they are accredited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from fjdp.governance.roles import Role


@dataclass(frozen=True)
class Accreditation:
    """A researcher's accreditation: safe-researcher training passed on ``trained_on``,
    valid until ``expires_on`` (inclusive), and the access agreement signed on
    ``agreement_signed_on``. All three are needed."""

    trained_on: dt.date | None = None
    expires_on: dt.date | None = None
    agreement_signed_on: dt.date | None = None

    def problem_on(self, day: dt.date) -> str | None:
        """Why the accreditation is not valid on ``day``; None when it is."""
        if self.trained_on is None:
            return "has no recorded safe-researcher training"
        if self.agreement_signed_on is None:
            return "has not signed the access agreement"
        if self.expires_on is None:
            return "has no accreditation expiry date"
        if self.trained_on > day:
            return f"is trained only from {self.trained_on}"
        if self.agreement_signed_on > day:
            return f"signed the access agreement only on {self.agreement_signed_on}"
        if self.expires_on < day:
            return f"has an accreditation that lapsed on {self.expires_on}"
        if self.expires_on < self.trained_on:
            return "has an accreditation that expires before the training date"
        return None

    def valid_on(self, day: dt.date) -> bool:
        return self.problem_on(day) is None


@dataclass(frozen=True)
class Person:
    """An account as the rules see it. ``organisation`` is the data provider a
    custodian speaks for (a dataset spec's ``provider``)."""

    username: str
    roles: frozenset[Role] = frozenset()
    accreditation: Accreditation = field(default_factory=Accreditation)
    organisation: str = ""
    active: bool = True

    def has(self, role: Role) -> bool:
        return self.active and role in self.roles
