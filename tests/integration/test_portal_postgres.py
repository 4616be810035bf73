"""On PostgreSQL the database itself refuses to change or remove an audit event: the
triggers of migration 0002, run on a real server, abort UPDATE, DELETE and TRUNCATE of
both audit tables whatever client sends them (run with ``make test-postgres``)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from fjdp.governance import Role
from fjdp.portal.audit import verify_portal
from fjdp.portal.models import AuditEntry, ZoneRecord
from lib.portal import make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

REFUSED = "the audit trail is append-only"


def _refused(sql: str, params: tuple[object, ...] = ()) -> None:
    # A savepoint per statement: PostgreSQL aborts the whole transaction on an error.
    with (
        pytest.raises(DatabaseError, match=REFUSED),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute(sql, params)


def test_the_portal_runs_on_postgresql() -> None:
    assert connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute(
            "select tgname from pg_trigger where not tgisinternal "
            "and tgrelid in ('portal_auditentry'::regclass, 'portal_zonerecord'::regclass)"
        )
        triggers = {row[0] for row in cur.fetchall()}
    assert triggers == {
        "portal_auditentry_append_only",
        "portal_auditentry_no_truncate",
        "portal_zonerecord_append_only",
        "portal_zonerecord_no_truncate",
    }


def test_the_database_refuses_to_update_or_delete_an_audit_event() -> None:
    make_user("res", Role.RESEARCHER)
    seq = AuditEntry.objects.values_list("seq", flat=True).first()
    assert seq is not None
    _refused("update portal_auditentry set actor = 'mallory' where seq = %s", (seq,))
    _refused("delete from portal_auditentry where seq = %s", (seq,))
    _refused("delete from portal_auditentry")
    _refused("truncate portal_auditentry")
    assert AuditEntry.objects.filter(seq=seq).exclude(actor="mallory").exists()
    assert verify_portal().ok


def test_the_database_refuses_to_change_a_collected_zone_record() -> None:
    ZoneRecord.objects.create(
        source="databank",
        seq=1,
        time="2026-01-01T00:00:00Z",
        zone="databank",
        actor="dm",
        role="data_manager",
        action="load",
        object="deaths",
        details={},
        prev="0" * 64,
        hash="1" * 64,
    )
    _refused("update portal_zonerecord set actor = 'mallory'")
    _refused("delete from portal_zonerecord")
    _refused("truncate portal_zonerecord")
    assert ZoneRecord.objects.get().actor == "dm"
