"""Pages anyone may read without signing in: the register of approved projects and the
dataset catalogue."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from fjdp.governance import State
from fjdp.portal.datasets import date_column, holding, specs, table_columns
from fjdp.portal.models import Project
from fjdp.portal.tables import sorted_paged

REGISTERED = [State.APPROVED.value, State.ACTIVE.value, State.EXPIRED.value, State.CLOSED.value]


def register(request: HttpRequest) -> HttpResponse:
    qs = Project.objects.filter(state__in=REGISTERED, approved__isnull=False).select_related("lead")
    table = sorted_paged(
        request,
        qs,
        [
            ("pid", "Project", "pid"),
            ("title", "Title", "title"),
            ("lead", "Lead", "lead__last_name"),
            ("state", "Status", "state"),
            ("end", "Ends", "end_date"),
        ],
        "pid",
    )
    return render(request, "portal/register.html", {"table": table})


def catalogue(request: HttpRequest) -> HttpResponse:
    bank = Path(settings.FJDP_DATABANK)
    rows = [(spec, holding(bank, name)) for name, spec in specs().items()]
    return render(request, "portal/catalogue.html", {"rows": rows})


def dataset(request: HttpRequest, name: str) -> HttpResponse:
    spec = specs().get(name)
    if spec is None:
        raise Http404("no such dataset")
    tables = [(t, table_columns(t), date_column(t)) for t in spec.tables]
    held = holding(Path(settings.FJDP_DATABANK), name)
    return render(request, "portal/dataset.html", {"spec": spec, "tables": tables, "held": held})
