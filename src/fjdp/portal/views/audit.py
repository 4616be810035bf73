"""The auditor's views: one timeline of the portal's events and the zones' collected
logs, filtered by actor, action, zone, object and date, with the chains' state; and the
audit report, the ready-made queries with their alerts, exported as CSV or HTML."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import CharField, F, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from fjdp.audit import Action
from fjdp.audit.analytics import Period
from fjdp.audit.report import Report, build_report, is_alert, report_html, section_csv
from fjdp.governance import Role
from fjdp.portal.audit import record_event, report_logs, verify_collected, verify_portal
from fjdp.portal.forms import AuditFilterForm, ReportPeriodForm
from fjdp.portal.models import AuditEntry, ZoneRecord
from fjdp.portal.tables import sorted_paged
from fjdp.portal.views._access import require_role

FIELDS = ("time", "zone", "actor", "role", "action", "object", "seq")


def _filtered(qs: Any, data: dict[str, Any]) -> Any:
    if data.get("actor"):
        qs = qs.filter(actor__icontains=data["actor"])
    if data.get("action"):
        qs = qs.filter(action=data["action"])
    if data.get("zone"):
        qs = qs.filter(zone__icontains=data["zone"])
    if data.get("object"):
        qs = qs.filter(object__icontains=data["object"])
    if data.get("date_from"):
        qs = qs.filter(time__gte=data["date_from"].isoformat())
    if data.get("date_to"):
        qs = qs.filter(time__lt=f"{data['date_to'].isoformat()}T99")
    return qs


def audit(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.AUDITOR)
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    portal = _filtered(AuditEntry.objects.all(), data).annotate(
        source=Value("portal", output_field=CharField())
    )
    zones = _filtered(ZoneRecord.objects.all(), data).annotate(src=F("source"))
    timeline = (
        portal.order_by()
        .values_list(*FIELDS, "source")
        .union(zones.order_by().values_list(*FIELDS, "src"), all=True)
    )
    table = sorted_paged(
        request,
        timeline,
        [
            ("time", "Time (UTC)", "time"),
            ("source", "Log", "source"),
            ("actor", "Actor", "actor"),
            ("action", "Action", "action"),
            ("object", "Object", "object"),
        ],
        "time",
        pk_tiebreak=False,
    )
    context = {
        "form": form,
        "table": table,
        "portal_chain": verify_portal(),
        "zone_chains": sorted(verify_collected().items()),
    }
    return render(request, "portal/audit.html", context)


# --- the audit report: ready-made queries with alerts ----------------------------------

SHOWN_ROWS = 100
"""Rows of a section shown on the page (alerts first); the CSV holds every row."""


def _report(request: HttpRequest) -> tuple[ReportPeriodForm, Report]:
    form = ReportPeriodForm(request.GET or None)
    since = until = None
    if form.is_valid():
        if form.cleaned_data.get("since"):
            since = dt.datetime.combine(form.cleaned_data["since"], dt.time(), dt.UTC)
        if form.cleaned_data.get("until"):
            day = form.cleaned_data["until"] + dt.timedelta(days=1)
            until = dt.datetime.combine(day, dt.time(), dt.UTC)
    entries, sources = report_logs()
    return form, build_report(entries, sources, period=Period(since, until))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ALERT" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def audit_report(request: HttpRequest) -> HttpResponse:
    """Every query of :mod:`fjdp.audit.analytics` on the portal's and the collected zones'
    records, one table each with its alerts, and links to export them."""
    require_role(request, Role.AUDITOR)
    form, report = _report(request)
    sections = []
    for s in report.sections:
        rows = sorted(s.rows, key=lambda r: not is_alert(r))[:SHOWN_ROWS]
        sections.append(
            {
                "key": s.key,
                "title": s.title,
                "about": s.about,
                "alerts": s.alerts,
                "total": len(s.rows),
                "columns": [c.replace("_", " ") for c in s.columns],
                "rows": [(is_alert(r), [_cell(v) for v in s.values(r)]) for r in rows],
            }
        )
    query = request.GET.urlencode()
    context = {
        "form": form,
        "report": report,
        "sections": sections,
        "shown": SHOWN_ROWS,
        "query": f"?{query}" if query else "",
    }
    return render(request, "portal/audit_report.html", context)


def _export(request: HttpRequest, report: Report, name: str, rows: int, alerts: int) -> None:
    user = require_role(request, Role.AUDITOR)
    # The report names people and addresses: who took a copy is part of the trail.
    record_event(
        Action.AUDIT_EXPORT,
        name,
        actor=user.username,
        role=Role.AUDITOR.value,
        details={"period": report.period.label(), "rows": rows, "alerts": alerts},
    )


def audit_report_csv(request: HttpRequest, key: str) -> HttpResponse:
    require_role(request, Role.AUDITOR)
    _form, report = _report(request)
    try:
        section = report.section(key)
    except KeyError:
        raise Http404("no such section of the audit report") from None
    _export(request, report, f"{key}.csv", len(section.rows), section.alerts)
    response = HttpResponse(section_csv(section), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{key}.csv"'
    return response


def audit_report_html(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.AUDITOR)
    _form, report = _report(request)
    rows = sum(len(s.rows) for s in report.sections)
    _export(request, report, "report.html", rows, report.alerts)
    response = HttpResponse(report_html(report), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-report.html"'
    return response
