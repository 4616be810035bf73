"""The portal's audit trail: events in the same hash-chained form as a zone's log
(``fjdp.audit``), stored in the portal database in the transaction of the change
they record, and the zones' logs collected beside them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from fjdp.audit import Action, AuditEvent, AuditRecord, Verification, format_time, verify_chain
from fjdp.audit.analytics import Entry, entries_of, merge
from fjdp.audit.events import GENESIS
from fjdp.audit.log import AuditLog, verify_log
from fjdp.audit.report import LogSource, log_source
from fjdp.errors import IntegrityError
from fjdp.portal.models import AuditEntry, ZoneRecord
from fjdp.types import Zone

SYSTEM = "system"


def record_event(
    action: Action,
    object: str,
    *,
    actor: str,
    role: str,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an event to the portal's chain. Must run inside the transaction of the
    change it records; the unique ``seq`` and ``hash`` stop two writers forking it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events are written inside the change's transaction")
    event = AuditEvent(
        zone=Zone.PORTAL.value,
        actor=actor or "anonymous",
        role=role or "none",
        action=action,
        object=object,
        details=details or {},
    )
    last = AuditEntry.objects.select_for_update().order_by("-seq").first()
    record = AuditRecord.seal(
        seq=last.seq + 1 if last else 1,
        time=format_time(timezone.now()),
        event=event,
        prev=last.hash if last else GENESIS,
    )
    return AuditEntry.objects.create(**record.to_dict())


def _record(e: AuditEntry | ZoneRecord) -> AuditRecord:
    return AuditRecord(
        seq=e.seq,
        time=e.time,
        zone=e.zone,
        actor=e.actor,
        role=e.role,
        action=e.action,
        object=e.object,
        details=dict(e.details),
        prev=e.prev,
        hash=e.hash,
    )


def portal_records() -> Iterator[AuditRecord]:
    for e in AuditEntry.objects.order_by("seq").iterator():
        yield _record(e)


def verify_portal() -> Verification:
    """Re-compute the portal's chain from the database."""
    return verify_chain(portal_records())


def verify_collected() -> dict[str, Verification]:
    """Re-compute the chain of every zone log collected into the portal."""
    out = {}
    for source in ZoneRecord.objects.values_list("source", flat=True).distinct():
        recs = ZoneRecord.objects.filter(source=source).order_by("seq").iterator()
        out[source] = verify_chain(_record(r) for r in recs)
    return out


def report_logs() -> tuple[list[Entry], list[LogSource]]:
    """The portal's events and every collected zone's, each log with its chain's state,
    for :func:`fjdp.audit.report.build_report`."""
    records = list(portal_records())
    logs = [entries_of("portal", records)]
    sources = [log_source("portal", logs[0], verify_chain(records))]
    # order_by() first: the model's ordering (source, seq) would make every row distinct
    names = ZoneRecord.objects.order_by().values_list("source", flat=True).distinct()
    for source in sorted(names):
        recs = [_record(r) for r in ZoneRecord.objects.filter(source=source).order_by("seq")]
        entries = entries_of(source, recs)
        logs.append(entries)
        sources.append(log_source(f"{source} (collected)", entries, verify_chain(recs)))
    return merge(*logs), sources


def collect_zone(zone_dir: Path, *, actor: str, role: str) -> int:
    """Copy the new records of a zone's log into the portal after checking its chain and
    that it continues the records collected before. Returns how many were added."""
    path = Path(zone_dir) / "audit" / "log.jsonl"
    source = Path(zone_dir).resolve().name
    result = verify_log(path)
    if not result.ok:
        raise IntegrityError(
            f"the audit log of {source} is broken at event {result.first_bad_seq}: {result.reason}",
            where=str(path),
            fix="investigate before collecting it",
        )
    with transaction.atomic():
        held = dict(ZoneRecord.objects.filter(source=source).values_list("seq", "hash"))
        added = 0
        seen = 0
        for rec in AuditLog(path).iter_records():
            seen += 1
            if rec.seq in held:
                if held[rec.seq] != rec.hash:
                    raise IntegrityError(
                        f"the audit log of {source} no longer holds event {rec.seq} as "
                        "collected: it was rewritten",
                        where=str(path),
                        fix="investigate before collecting it",
                    )
                continue
            ZoneRecord.objects.create(source=source, **rec.to_dict())
            added += 1
        if seen < len(held):
            raise IntegrityError(
                f"the audit log of {source} holds {seen} events but {len(held)} were "
                "collected before: events were removed",
                where=str(path),
                fix="investigate before collecting it",
            )
        if added:
            record_event(
                Action.ZONE_COLLECT,
                source,
                actor=actor,
                role=role,
                details={"events": added, "head": result.head},
            )
    return added
