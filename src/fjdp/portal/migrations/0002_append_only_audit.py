"""The database itself refuses to change or delete an audit event: triggers on SQLite
and PostgreSQL raise on UPDATE and DELETE of the portal's audit tables."""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLES = ("portal_auditentry", "portal_zonerecord")

SQLITE = [
    sql
    for t in TABLES
    for sql in (
        f"CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t} "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
        f"CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t} "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
    )
]

POSTGRES = [
    "CREATE OR REPLACE FUNCTION fjdp_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END; $$ LANGUAGE plpgsql;",
    *[
        f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
        "FOR EACH ROW EXECUTE FUNCTION fjdp_audit_append_only();"
        for t in TABLES
    ],
    *[
        f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
        "FOR EACH STATEMENT EXECUTE FUNCTION fjdp_audit_append_only();"
        for t in TABLES
    ],
]


def forwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    for t in TABLES:
        if vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_no_update;")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete;")
        elif vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t};")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};")


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
