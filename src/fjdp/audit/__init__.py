"""The audit trail: typed events in an append-only, hash-chained log per zone.

Interface (implemented in ``events.py`` and ``log.py``):

- ``AuditEvent`` (frozen dataclass): zone, actor, role, action (``Action``), object,
  details (JSON-safe dict: row counts, hashes, reasons), time (ISO 8601 UTC, set on append).
- ``AuditLog(path)``: ``append(event) -> AuditRecord`` writes one JSON line with
  ``seq`` (1, 2, ...), ``prev`` (hash of the previous record, 64 zeros for the first),
  ``hash`` = SHA-256 over the canonical JSON of the record without ``hash``; flushed and
  fsynced; safe for one writer. ``records() -> list[AuditRecord]``.
- ``zone_log(zone_dir) -> AuditLog`` for ``zone_dir/audit/log.jsonl``.
- ``verify_log(path) -> Verification``: ok, events, first_bad_seq (None if ok), reason
  (e.g. "event 7 was edited: its hash does not match its content", "event 4 is missing
  or out of order", "the log ends mid-line").
"""

from fjdp.audit.events import Action, AuditEvent, AuditRecord
from fjdp.audit.log import (
    AuditLog,
    Verification,
    format_time,
    record,
    verify_chain,
    verify_log,
    zone_log,
)

__all__ = [
    "Action",
    "AuditEvent",
    "AuditLog",
    "AuditRecord",
    "Verification",
    "format_time",
    "record",
    "verify_chain",
    "verify_log",
    "zone_log",
]
