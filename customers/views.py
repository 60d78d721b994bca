"""Staff pages. Each view checks access, reads or calls one service, and renders."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from . import onboarding_views
from .models import Customer

PAGE_SIZE = 25


def _filtered_customers(request: HttpRequest) -> tuple[QuerySet[Customer], dict[str, str]]:
    filters = {
        "q": request.GET.get("q", "").strip(),
        "status": request.GET.get("status", ""),
        "type": request.GET.get("type", ""),
    }
    customers = Customer.objects.all()
    if filters["status"] in Customer.Status.values:
        customers = customers.filter(status=filters["status"])
    if filters["type"] in Customer.Type.values:
        customers = customers.filter(type=filters["type"])
    if q := filters["q"]:
        matches = (
            Q(legal_name__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__iexact=q)
            | Q(bvnk_reference=q)
        )
        if _looks_like_uuid(q):
            matches |= Q(external_reference=q)
        customers = customers.filter(matches)
    return customers, filters


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_list(request: HttpRequest) -> HttpResponse:
    customers, filters = _filtered_customers(request)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/customer_list.html",
        {
            "page": page,
            "filters": filters,
            "statuses": Customer.Status.choices,
            "types": Customer.Type.choices,
        },
    )


@login_required
@permission_required("customers.view_customer", raise_exception=True)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "associates": customer.associates.all(),
            "documents": customer.documents.select_related("associate"),
            "agreement_sessions": customer.agreement_sessions.all(),
            "timeline": customer.status_changes.select_related("actor"),
            "details_form": onboarding_views.details_form(request, customer),
        },
    )
