"""Data in and out: every transfer, quarantine, load, provisioning, revocation, release
and download, with its counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fjdp.audit.analytics._base import (
    ALL_TIME,
    Entry,
    Period,
    _context,
    _of,
    _text,
)
from fjdp.audit.events import Action

_MOVES = (
    Action.SEND,
    Action.RECEIVE,
    Action.REFUSE,
    Action.QUARANTINE,
    Action.LOAD,
    Action.PROVISION,
    Action.REVOKE,
    Action.OUTPUT_RELEASE,
    Action.OUTPUT_DOWNLOAD,
)
# Which zone sends each kind of file (DESIGN.md section 2).
_SENDER = {"file1": "provider", "file2": "provider", "file3": "ttp"}
_RECIPIENT = {"file1": "ttp", "file2": "databank", "file3": "databank"}


@dataclass(frozen=True)
class DataMovement:
    """Data entering, leaving or moving inside the platform, with how much."""

    time: str
    log: str
    zone: str
    actor: str
    action: str
    object: str
    project: str
    dataset: str
    direction: str
    rows: int | None
    tables: int | None
    files: int | None
    alert: bool
    why: str


def _sum_rows(value: Any) -> int | None:
    """Rows from ``rows`` (a number, or a number per table) or ``files[].rows``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        parts = [_sum_rows(v) for v in value.values()]
        return sum(p for p in parts if p is not None) if parts else 0
    return None


def _rows_of(details: Mapping[str, Any]) -> int | None:
    if "rows" in details:
        return _sum_rows(details["rows"])
    files = details.get("files")
    if isinstance(files, list) and files and all(isinstance(f, Mapping) for f in files):
        parts = [_sum_rows(f.get("rows")) for f in files]
        return sum(p for p in parts if p is not None)
    return None


def _count(details: Mapping[str, Any]) -> int | None:
    """Tables of a transfer, load or provisioning; files of a release."""
    files = details.get("files")
    if isinstance(files, list):
        return len(files)
    if isinstance(details.get("rows"), Mapping):
        return len(details["rows"])
    return None


def _direction(e: Entry) -> str:
    kind = _text(e.details.get("kind"))
    if e.action == Action.SEND:
        return f"{e.zone} → {_text(e.details.get('recipient_zone')) or _RECIPIENT.get(kind, '?')}"
    if e.action in (Action.RECEIVE, Action.REFUSE):
        return f"{_SENDER[kind]} → {e.zone}" if kind in _SENDER else f"→ {e.zone}"
    where: dict[str, str] = {
        Action.QUARANTINE: f"held back at the {e.zone}",
        Action.LOAD: f"into the {e.zone}",
        Action.PROVISION: "databank → workspace",
        Action.REVOKE: "workspace removed",
        Action.OUTPUT_RELEASE: "workspace → release",
        Action.OUTPUT_DOWNLOAD: "release → researcher",
    }
    return where.get(e.action, "")


def _receipts(entries: Sequence[Entry]) -> dict[tuple[str, str], list[Entry]]:
    out: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in _of(entries, Action.RECEIVE):
        out[(e.object, _text(e.details.get("kind")))].append(e)
    return out


def data_movements(entries: Sequence[Entry], period: Period = ALL_TIME) -> list[DataMovement]:
    """Every transfer, quarantine, load, provisioning, revocation, release and download
    in time order, with its rows (``rows`` or the sum over ``files[].rows``) and files.

    Alerts: a refused bundle (tampered, mis-addressed or replayed); a sent bundle that
    the recipient's log (when given) never received, or received with other row counts."""
    ctx = _context(entries)
    receipts = _receipts(entries)
    sends: dict[tuple[str, str], int] = defaultdict(int)
    rows = []
    for e in _of(entries, *_MOVES):
        kind = _text(e.details.get("kind"))
        alert, why = False, ""
        if e.action == Action.SEND:
            key = (e.object, kind)
            nth = sends[key]
            sends[key] += 1
            recipient = _text(e.details.get("recipient_zone")) or _RECIPIENT.get(kind, "")
            got = receipts.get(key, [])
            sent = _rows_of(e.details)
            if recipient in ctx.zones:
                if nth >= len(got):
                    alert, why = True, f"the {recipient} log records no receipt of this {kind}"
                elif _rows_of(got[nth].details) != sent:
                    alert = True
                    why = (
                        f"sent {sent} rows but the {recipient} received "
                        f"{_rows_of(got[nth].details)}"
                    )
        elif e.action == Action.REFUSE:
            alert, why = True, f"refused: {_text(e.details.get('reason'))}"
        elif e.action == Action.QUARANTINE:
            why = "rows that failed validation, kept out of the files sent"
        if e.at not in period:
            continue
        project = ""
        output = e.action.startswith("output.")
        if e.action in (Action.PROVISION, Action.REVOKE):
            project = e.object
        elif output:
            project = ctx.request_project.get(e.object, _text(e.details.get("project")))
        dataset = _text(e.details.get("dataset")) or ctx.extract_dataset.get(e.object, "")
        if e.action == Action.LOAD and not dataset:
            dataset = e.object.split(" ")[0]
        rows.append(
            DataMovement(
                time=e.time,
                log=e.source,
                zone=e.zone,
                actor=e.actor,
                action=e.action,
                object=e.object,
                project=project,
                dataset=dataset,
                direction=_direction(e),
                rows=None if output else _rows_of(e.details),
                tables=None if output else _count(e.details),
                files=_count(e.details) if output else None,
                alert=alert,
                why=why,
            )
        )
    return rows


@dataclass(frozen=True)
class DataTotal:
    """Movements of one kind in one zone for one project or dataset, added up."""

    zone: str
    action: str
    project: str
    dataset: str
    events: int
    rows: int
    tables: int
    files: int
    alerts: int


def data_totals(movements: Iterable[DataMovement]) -> list[DataTotal]:
    """:func:`data_movements` added up per zone, action, project and dataset."""
    groups: dict[tuple[str, str, str, str], list[DataMovement]] = defaultdict(list)
    for m in movements:
        groups[(m.zone, m.action, m.project, m.dataset)].append(m)
    return [
        DataTotal(
            zone=k[0],
            action=k[1],
            project=k[2],
            dataset=k[3],
            events=len(ms),
            rows=sum(m.rows or 0 for m in ms),
            tables=sum(m.tables or 0 for m in ms),
            files=sum(m.files or 0 for m in ms),
            alerts=sum(m.alert for m in ms),
        )
        for k, ms in sorted(groups.items())
    ]
