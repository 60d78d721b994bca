"""Staff pages. Each view checks access, reads or calls one service, and renders."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from . import audit, case_view, payloads, requirements, timeline
from .dashboard import listing as dashboard
from .models import Customer, customers_for
from .onboarding import steps as onboarding
from .onboarding import views as onboarding_views

S = Customer.Status
# BVNK may still move these customers on, so their page keeps itself current
# (static/js/live.js); a draft is the partner's to change, the other two are final.
STILL_CHANGING = frozenset(S) - {S.DRAFT, S.REJECTED, S.TERMINATED}


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """My customers: tabs, search, filters, sort and keyset pages (dashboard/listing.py)."""
    listing = dashboard.customer_listing(request.user, request.GET)
    return render(
        request,
        "customers/customer_list.html",
        {
            "listing": listing,
            "rows": dashboard.list_rows(
                listing.page.rows, can_edit=request.user.has_perm("customers.change_customer")
            ),
            "form": listing.form,
            "saved_views": dashboard.saved_views_for(request.user),
            "live_seconds": settings.LIVE_REFRESH_SECONDS,
        },
    )


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(customers_for(request.user).select_related("created_by"), pk=pk)
    audit.record_view(request, customer)
    progress = onboarding.Progress(customer) if customer.status == Customer.Status.DRAFT else None
    operations = requirements.attention_operations(customer)
    can_audit = request.user.has_perm("customers.view_auditevent")
    still_changing = customer.status in STILL_CHANGING
    checklist = requirements.checklist(customer, operations=operations, progress=progress)
    tabs = case_view.tabs_for(customer)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "tabs": tabs,
            "tab": case_view.selected_tab(tabs, request.GET.get("tab")),
            "checklist": checklist,
            "next_step": checklist[0] if checklist else None,
            "bvnk_requests": [item for item in checklist if item.source == "BVNK"],
            "operations": operations,
            "associates": progress.associates if progress else customer.associates.all(),
            "documents": customer.documents.select_related("associate"),
            "agreement_sessions": customer.agreement_sessions.all(),
            "timeline": timeline.customer_timeline(customer),
            "audit_events": customer.audit_events.all()[:20] if can_audit else None,
            "details_form": onboarding_views.details_form(request, customer),
            "details_drift": payloads.details_drift_rows(customer),
            "live_seconds": settings.LIVE_REFRESH_SECONDS if still_changing else 0,
            # BVNK's requests (infoRequired) as last heard only count while BVNK waits on
            # the partner, as in the checklist: in review or after it, it asks nothing.
            "bvnk_waits_on_us": customer.status in requirements.PARTNER_STATUSES,
        },
    )
