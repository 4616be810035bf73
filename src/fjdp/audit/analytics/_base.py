"""What every audit query shares: entries (records with the name of their log), the
period reported, the thresholds of alerts, and what the whole history tells about
output requests and extracts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fjdp.audit.events import Action, AuditRecord

PORTAL = "portal"
"""The zone of the portal's own events."""


@dataclass(frozen=True)
class Entry:
    """One record of a log, with the log's name (``portal`` or a zone folder's name)."""

    source: str
    record: AuditRecord
    at: dt.datetime

    @property
    def action(self) -> str:
        return self.record.action

    @property
    def actor(self) -> str:
        return self.record.actor

    @property
    def object(self) -> str:
        return self.record.object

    @property
    def details(self) -> Mapping[str, Any]:
        return self.record.details

    @property
    def time(self) -> str:
        return self.record.time

    @property
    def zone(self) -> str:
        return self.record.zone


def parse_time(value: str) -> dt.datetime:
    """A record's time (ISO 8601, UTC, ``...Z``) as an aware datetime.

    Raises:
        ValueError: the value is not such a time.
    """
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone")
    return moment.astimezone(dt.UTC)


def entries_of(source: str, records: Iterable[AuditRecord]) -> list[Entry]:
    """The records of one log as entries.

    Raises:
        ValueError: a record's time cannot be read; the message names its ``seq``.
    """
    out = []
    for r in records:
        try:
            at = parse_time(r.time)
        except ValueError as exc:
            raise ValueError(f"{source} event {r.seq}: {exc}") from None
        out.append(Entry(source, r, at))
    return out


def merge(*logs: Iterable[Entry]) -> list[Entry]:
    """Every entry once, in time order. A record read both from its zone's folder and
    from the portal's collected copy is the same record (same zone, seq and hash)."""
    seen: set[tuple[str, int, str]] = set()
    out = []
    for log in logs:
        for e in log:
            key = (e.zone, e.record.seq, e.record.hash)
            if key not in seen:
                seen.add(key)
                out.append(e)
    out.sort(key=lambda e: (e.at, e.source, e.record.seq))
    return out


@dataclass(frozen=True)
class Period:
    """The times a report covers: ``since`` inclusive, ``until`` exclusive; None is open."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, dt.datetime):
            return False
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until

    def label(self) -> str:
        if self.since is None and self.until is None:
            return "every event"
        start = _show(self.since) if self.since else "the first event"
        end = _show(self.until) if self.until else "the last event"
        return f"from {start} to {end}"


@dataclass(frozen=True)
class Thresholds:
    """When a count becomes an alert."""

    burst: int = 5
    """Failed logins (one account or one address) within ``burst_window`` that alert."""
    burst_window: dt.timedelta = dt.timedelta(minutes=15)
    code_failures: int = 3
    """Failed second-factor codes in one session that alert even if one finally worked."""


ALL_TIME = Period()
DEFAULTS = Thresholds()


def _show(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _in(entries: Iterable[Entry], period: Period) -> list[Entry]:
    return [e for e in entries if e.at in period]


def _of(entries: Iterable[Entry], *actions: Action) -> Iterator[Entry]:
    wanted = {a.value for a in actions}
    return (e for e in entries if e.action in wanted)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class _Context:
    """What the queries learn from the whole history, whatever period they report."""

    request_project: Mapping[str, str]
    requester: Mapping[str, str]
    extract_dataset: Mapping[str, str]
    zones: frozenset[str]


def _context(entries: Sequence[Entry]) -> _Context:
    request_project: dict[str, str] = {}
    requester: dict[str, str] = {}
    extract_dataset: dict[str, str] = {}
    for e in entries:
        if e.action == Action.OUTPUT_REQUEST:
            request_project.setdefault(e.object, _text(e.details.get("project")))
            requester.setdefault(e.object, e.actor)
        elif e.action == Action.OUTPUT_RELEASE and e.details.get("project"):
            request_project.setdefault(e.object, _text(e.details["project"]))
        if e.details.get("dataset") and e.action in (
            Action.SPLIT,
            Action.RECEIVE,
            Action.LINK,
        ):
            extract_dataset.setdefault(e.object, _text(e.details["dataset"]))
    return _Context(request_project, requester, extract_dataset, frozenset(e.zone for e in entries))
