"""Ready-made audit queries: what an auditor asks of the records of every log at once.

Each query takes :class:`Entry` values (an :class:`~fjdp.audit.AuditRecord` with the
name of the log it came from and its time parsed) and returns frozen dataclass rows;
each row says whether it is an ``alert`` and ``why``. The queries know nothing of where
the records are kept, so ``fjdp audit report`` runs them on zone folders and the portal
shows them on its auditor's dashboard from its database.

- :func:`failed_logins`: failed logins and lockouts per account and per address, with
  the busiest window; alerts on a burst, a lockout, or a sign-in right after a burst.
- :func:`second_factor`: password sign-ins never followed by a verified second factor,
  and failed codes; alerts when a right password met wrong codes.
- :func:`data_movements` and :func:`data_totals`: every transfer, quarantine, load,
  provisioning, revocation, release and download with its row (or file) counts; alerts
  on a refused bundle and on a bundle whose receipt does not match what was sent.
- :func:`project_windows` and :func:`outside_window`: each project's approved window
  as the records show it, and activity on a project before its approval, after its end
  date, or after it was expired, closed, withdrawn or revoked.
- :func:`role_conflicts`: one person in two roles that must stay apart: deciding on,
  provisioning or checking outputs of a project they are on, one person counting twice
  among a project's approvers or a round's checkers, incompatible roles held.
"""

from fjdp.audit.analytics._base import (
    ALL_TIME,
    DEFAULTS,
    PORTAL,
    Entry,
    Period,
    Thresholds,
    entries_of,
    merge,
    parse_time,
)
from fjdp.audit.analytics.conflicts import RoleConflict, role_conflicts
from fjdp.audit.analytics.logins import (
    LoginFailures,
    SecondFactor,
    failed_logins,
    second_factor,
)
from fjdp.audit.analytics.movements import (
    DataMovement,
    DataTotal,
    data_movements,
    data_totals,
)
from fjdp.audit.analytics.windows import (
    OutsideWindow,
    ProjectWindow,
    outside_window,
    project_windows,
)

__all__ = [
    "ALL_TIME",
    "DEFAULTS",
    "PORTAL",
    "DataMovement",
    "DataTotal",
    "Entry",
    "LoginFailures",
    "OutsideWindow",
    "Period",
    "ProjectWindow",
    "RoleConflict",
    "SecondFactor",
    "Thresholds",
    "data_movements",
    "data_totals",
    "entries_of",
    "failed_logins",
    "merge",
    "outside_window",
    "parse_time",
    "project_windows",
    "role_conflicts",
    "second_factor",
]
