"""Every list is sortable and paged the same way: ``?sort=KEY&dir=asc|desc&page=N``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PER_PAGE = 25


@dataclass(frozen=True)
class Header:
    label: str
    url: str
    active: bool
    descending: bool


@dataclass(frozen=True)
class Table:
    page: Page
    headers: list[Header]
    query: str  # the other parameters, for the pager's links


def sorted_paged(
    request: HttpRequest,
    qs: Any,
    columns: list[tuple[str, str, str]],
    default: str,
    *,
    per_page: int = PER_PAGE,
    pk_tiebreak: bool = True,
) -> Table:
    """``columns`` are (key, label, field); an unknown ``sort`` falls back to ``default``."""
    fields = {key: field for key, _label, field in columns}
    sort = request.GET.get("sort", default)
    if sort not in fields:
        sort = default
    descending = request.GET.get("dir") == "desc"
    order = [("-" if descending else "") + fields[sort]]
    if pk_tiebreak:
        order.append("pk")
    qs = qs.order_by(*order)
    page = Paginator(qs, per_page).get_page(request.GET.get("page"))
    keep = {k: v for k, v in request.GET.items() if k not in ("sort", "dir", "page")}
    headers = []
    for key, label, _field in columns:
        flip = "asc" if key == sort and descending else ("desc" if key == sort else "asc")
        headers.append(
            Header(
                label, "?" + urlencode({**keep, "sort": key, "dir": flip}), key == sort, descending
            )
        )
    query = urlencode({**keep, "sort": sort, "dir": "desc" if descending else "asc"})
    return Table(page, headers, query)
