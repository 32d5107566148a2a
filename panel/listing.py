"""One helper for every list page: search, pagination and the htmx partial."""

from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import render

from panel.htmx import HtmxHttpRequest

PAGE_SIZE = 25


def search(queryset: QuerySet, query: str, fields: list[str]) -> QuerySet:
    condition = Q()
    for term in query.split()[:5]:
        term_q = Q()
        for field in fields:
            term_q |= Q(**{f"{field}__icontains": term})
        condition &= term_q
    # distinct: a site whose two domains both match must be listed once
    return queryset.filter(condition).distinct()


def list_page(
    request: HtmxHttpRequest,
    queryset: QuerySet,
    *,
    search_fields: list[str],
    template: str,
    partial: str,
    context: dict[str, Any] | None = None,
    page_size: int = PAGE_SIZE,
) -> HttpResponse:
    """Render `template`, or only `partial` (the table) for an htmx request that targets it."""
    query = request.GET.get("q", "").strip()[:100]
    if query:
        queryset = search(queryset, query, search_fields)
    page = Paginator(queryset, page_size).get_page(request.GET.get("page"))
    ctx = {"page": page, "q": query, **(context or {})}
    if request.htmx and not request.htmx.boosted:
        return render(request, partial, ctx)
    return render(request, template, ctx)
