"""Typed audit events and the records they become once written to a zone's log.

An :class:`AuditEvent` is what code says happened (who, in which zone, did what to
what). An :class:`AuditRecord` is that event as stored: numbered, timed and chained to
the record before it by a SHA-256 hash, so that editing, deleting, reordering or
inserting a line is detectable later by anyone holding the log (see ``log.py``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

GENESIS = "0" * 64
"""The ``prev`` of the first record: there is no record before it."""

_HEX64 = re.compile(r"[0-9a-f]{64}")

RECORD_FIELDS = (
    "seq",
    "time",
    "zone",
    "actor",
    "role",
    "action",
    "object",
    "details",
    "prev",
    "hash",
)
"""Every field of a stored record, in the order a reader sees them."""


class Action(StrEnum):
    """What an event records. Stored by value, so values never change once released."""

    ZONE_INIT = "zone.init"
    KEY_CREATE = "key.create"
    KEY_EXPORT = "key.export"
    KEY_TRUST = "key.trust"
    KEY_USE = "key.use"
    KEY_ROTATE = "key.rotate"
    SPLIT = "split"
    SEND = "send"
    RECEIVE = "receive"
    REFUSE = "refuse"
    QUARANTINE = "quarantine"
    LINK = "link"
    LOAD = "load"
    PROVISION = "provision"
    REVOKE = "revoke"
    KEY_DESTROY = "key.destroy"
    REFERENCE = "reference"
    # The portal (control plane)
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED = "login.locked"  # too many failed logins: the account or address is locked out
    OTP_VERIFIED = "otp.verified"
    OTP_FAILED = "otp.failed"
    OTP_DEVICE = "otp.device"
    LOGOUT = "logout"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    PROJECT_CREATE = "project.create"
    PROJECT_EDIT = "project.edit"
    PROJECT_SUBMIT = "project.submit"
    PANEL_DECISION = "panel.decision"
    CUSTODIAN_DECISION = "custodian.decision"
    PROJECT_AMEND = "project.amend"
    PROJECT_WITHDRAW = "project.withdraw"
    PROJECT_EXPIRE = "project.expire"
    PROJECT_CLOSE = "project.close"
    ZONE_COLLECT = "zone.collect"
    AUDIT_EXPORT = "audit.export"  # an auditor took a copy of the audit report
    # Output requests, their review and release
    OUTPUT_REQUEST = "output.request"
    OUTPUT_SUBMIT = "output.submit"
    OUTPUT_TAKE = "output.take"
    OUTPUT_VOTE = "output.vote"
    OUTPUT_REVISE = "output.revise"
    OUTPUT_WITHDRAW = "output.withdraw"
    OUTPUT_RELEASE = "output.release"
    OUTPUT_DOWNLOAD = "output.download"


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed and written: sorted keys, no spaces, UTF-8.

    Hashes must be reproducible by any reader in any language, so the bytes are fixed:
    no insignificant whitespace, keys sorted, non-ASCII kept as is, NaN refused.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _check_json_safe(value: Any, where: str) -> None:
    """Refuse values that would not survive a JSON round trip unchanged.

    Details are hashed as JSON and read back from JSON; a value that JSON would
    silently change (an int key, a NaN, a set) would make the record written differ
    from the record read.
    """
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit details {where} is {value!r}; JSON has no such number")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"audit details {where} has a non-string key {key!r}")
            _check_json_safe(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"audit details {where} is a {type(value).__name__}; use str, int, float, bool, "
        "None, lists or dicts"
    )


def _frozen_json(details: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of ``details`` exactly as it will read back from the log."""
    _check_json_safe(details, "")
    plain: dict[str, Any] = json.loads(canonical_json(dict(details)))
    return MappingProxyType(plain)


@dataclass(frozen=True)
class AuditEvent:
    """Something that happened, as the code that did it describes it.

    ``zone``, ``actor`` and ``role`` say who and where, so that an auditor can hold a
    person to an action; ``object`` names what was acted on (a file, a key id, a
    dataset); ``details`` carries JSON-safe evidence (row counts, hashes, reasons).
    The time, sequence number and chain hash are added when the event is appended.
    """

    zone: str
    actor: str
    role: str
    action: Action
    object: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("zone", "actor", "role", "object"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"audit event {name} must be a str, not {type(value).__name__}")
            # A StrEnum (Zone) is stored by its value, never by its repr.
            object.__setattr__(self, name, str.__str__(value))
        for name in ("zone", "actor", "role"):
            if not getattr(self, name):
                raise ValueError(f"audit event {name} is empty; every event needs one")
        object.__setattr__(self, "action", Action(self.action))
        if not isinstance(self.details, Mapping):
            raise TypeError("audit event details must be a mapping")
        object.__setattr__(self, "details", _frozen_json(self.details))


@dataclass(frozen=True)
class AuditRecord:
    """One line of a zone's audit log: an event with its place in the hash chain.

    ``action`` is a plain string so that a log written by a newer fjdp (with more
    actions) can still be read and verified. ``hash`` is the SHA-256 of the canonical
    JSON of every other field, and ``prev`` is the ``hash`` of the record before.
    """

    seq: int
    time: str
    zone: str
    actor: str
    role: str
    action: str
    object: str
    details: dict[str, Any]
    prev: str
    hash: str

    @classmethod
    def seal(cls, *, seq: int, time: str, event: AuditEvent, prev: str) -> AuditRecord:
        """Make the record for ``event`` at position ``seq``, computing its hash."""
        unsealed = cls(
            seq=seq,
            time=time,
            zone=event.zone,
            actor=event.actor,
            role=event.role,
            action=event.action.value,
            object=event.object,
            details=dict(event.details),
            prev=prev,
            hash="",
        )
        return cls(**{**unsealed.content(), "hash": unsealed.expected_hash()})

    def content(self) -> dict[str, Any]:
        """Every field except ``hash``: what the hash covers."""
        return {
            "seq": self.seq,
            "time": self.time,
            "zone": self.zone,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "object": self.object,
            "details": self.details,
            "prev": self.prev,
        }

    def expected_hash(self) -> str:
        """The hash this record should carry given its content."""
        return hashlib.sha256(canonical_json(self.content()).encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {**self.content(), "hash": self.hash}

    def to_json_line(self) -> str:
        """The record as written to the log, without the line end."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Read a record back, refusing anything that is not exactly a record.

        Unknown fields are refused rather than dropped: a field the hash does not
        cover would be a place to hide an edit.

        Raises:
            ValueError: with a message naming the first field that is wrong.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a record is a JSON object, not {type(data).__name__}")
        extra = sorted(set(data) - set(RECORD_FIELDS))
        if extra:
            raise ValueError(f"it has an unexpected field {extra[0]!r}")
        missing = [name for name in RECORD_FIELDS if name not in data]
        if missing:
            raise ValueError(f"it has no field {missing[0]!r}")
        seq = data["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"field 'seq' must be a positive integer, not {seq!r}")
        for name in ("time", "zone", "actor", "role", "action", "object"):
            if not isinstance(data[name], str):
                raise ValueError(f"field {name!r} must be a string")
        if not isinstance(data["details"], dict):
            raise ValueError("field 'details' must be an object")
        for name in ("prev", "hash"):
            value = data[name]
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise ValueError(f"field {name!r} must be 64 lowercase hex digits")
        return cls(
            seq=seq,
            time=data["time"],
            zone=data["zone"],
            actor=data["actor"],
            role=data["role"],
            action=data["action"],
            object=data["object"],
            details=dict(data["details"]),
            prev=data["prev"],
            hash=data["hash"],
        )
