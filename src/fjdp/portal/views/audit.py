"""The auditor's view: one timeline of the portal's events and the zones' collected
logs, filtered by actor, action, zone, object and date, with the chains' state."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, F, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fjdp.governance import Role
from fjdp.portal.audit import verify_collected, verify_portal
from fjdp.portal.forms import AuditFilterForm
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
