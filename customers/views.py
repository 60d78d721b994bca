"""Staff pages. Each view checks access, reads or calls one service, and renders."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from portal.security import is_live_refresh

from . import audit, case_view, documents, payloads, requirements, services, timeline
from .bvnk import wire
from .dashboard import listing as dashboard
from .models import Customer, Wallet, customers_for
from .onboarding import slots
from .onboarding import steps as onboarding
from .onboarding import views as onboarding_views
from .onboarding.forms import DocumentsForm

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
    # The work queue's tabs say why each customer waits on us.
    reasons = listing.form.values.get("tab") in dashboard.QUEUE_TABS
    return render(
        request,
        "customers/customer_list.html",
        {
            "listing": listing,
            "rows": dashboard.list_rows(
                listing.page.rows,
                can_edit=request.user.has_perm("customers.change_customer"),
                reasons=reasons,
                user_pk=request.user.pk,
                can_create_wallets=request.user.has_perm("customers.create_wallet"),
            ),
            "crypto_currencies": wire.CRYPTO_CURRENCIES,
            "reasons": reasons,
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
    return _case_view(request, customer, tab=request.GET.get("tab"))


# Whoever answers BVNK's requests adds documents to a customer BVNK holds.
ANSWER_PERMISSIONS = ("customers.change_customer", "customers.add_compliancedocument")


def _case_view(
    request: HttpRequest,
    customer: Customer,
    *,
    tab: str | None,
    answer_form: DocumentsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The customer's page: its head, its tabs and what each shows."""
    progress = onboarding.Progress(customer) if customer.status == Customer.Status.DRAFT else None
    operations = requirements.attention_operations(customer)
    can_audit = request.user.has_perm("customers.view_auditevent")
    still_changing = customer.status in STILL_CHANGING
    # BVNK's requests (infoRequired) as last heard only count while BVNK waits on the
    # partner, as in the checklist: in review or after it, it asks nothing.
    waits_on_us = customer.status in requirements.PARTNER_STATUSES
    customer_documents = list(customer.documents.select_related("associate"))
    requested = slots.requested_slots(customer, customer_documents) if waits_on_us else []
    checklist = requirements.checklist(
        customer, operations=operations, progress=progress, requested=requested
    )
    if answer_form is None and requested and request.user.has_perms(ANSWER_PERMISSIONS):
        answer_form = DocumentsForm(groups=[_requested_group(requested)])
    tabs = case_view.tabs_for(customer)
    selected = case_view.selected_tab(tabs, tab)
    wallets = list(
        customer.wallets.select_related("created_by").prefetch_related("status_changes__actor")
    )
    wallets_changing = any(wallet.status in WALLETS_CHANGING for wallet in wallets)
    wallet_blocker = services.wallet_blocker(customer)
    # BVNK's offer is read only when someone opens the Wallets tab to create one, not on
    # every view of the page nor on its live refresh.
    wallet_options = (
        services.wallet_options(customer, actor=request.user)
        if selected.slug == "wallets"
        and not wallet_blocker
        and not is_live_refresh(request)
        and request.user.has_perm("customers.create_wallet")
        else None
    )
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "tabs": tabs,
            "tab": selected,
            "wallets": wallets,
            "wallet_blocker": wallet_blocker,
            "wallet_options": wallet_options,
            "checklist": checklist,
            "next_step": checklist[0] if checklist else None,
            "bvnk_requests": [item for item in checklist if item.source == "BVNK"],
            "requested": requested,
            "answer_form": answer_form,
            "answer_fields": [(slot, answer_form[slot.key]) for slot in requested]
            if answer_form
            else [],
            "operations": operations,
            "associates": progress.associates if progress else customer.associates.all(),
            "documents": customer_documents,
            "agreement_sessions": customer.agreement_sessions.all(),
            "timeline": timeline.customer_timeline(customer),
            "audit_events": customer.audit_events.all()[:20] if can_audit else None,
            "details_form": onboarding_views.details_form(request, customer),
            "details_drift": payloads.details_drift_rows(customer),
            "live_seconds": settings.LIVE_REFRESH_SECONDS
            if still_changing or wallets_changing
            else 0,
        },
        status=status,
    )


# A wallet BVNK is still creating or activating: its tab keeps itself current.
WALLETS_CHANGING = frozenset({Wallet.Status.CREATING, Wallet.Status.INACTIVE})


@login_required
@permission_required(("customers.view_customer", "customers.create_wallet"), raise_exception=True)
@require_POST
def wallet_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask BVNK for the wallet chosen on the Wallets tab: crypto, or fiat with a profile."""
    customer = get_object_or_404(customers_for(request.user), pk=pk)
    kind = request.POST.get("kind", "")
    if kind == Wallet.Kind.FIAT:
        currency, _, profile_id = request.POST.get("fiat", "").partition("|")
    else:
        currency, profile_id = request.POST.get("crypto", ""), ""
    try:
        wallet = services.wallet_request_offered(
            customer, kind=kind, currency=currency, profile_id=profile_id, actor=request.user
        )
    except services.WalletNotAllowed as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            f"{wallet.currency} wallet requested; BVNK is creating it.",
            extra_tags="state wallets",
        )
    return redirect(reverse("customers:detail", args=[pk]) + "?tab=wallets")


@login_required
@permission_required(
    ("customers.view_customer", "customers.view_wallet_details"), raise_exception=True
)
@require_POST
def wallet_details(request: HttpRequest, pk: int, wallet_pk: int) -> HttpResponse:
    """Show an active wallet's account details, on purpose: every showing is audited."""
    customer = get_object_or_404(customers_for(request.user), pk=pk)
    wallet = get_object_or_404(Wallet, pk=wallet_pk, customer=customer)
    try:
        rows = services.wallet_details_show(wallet, actor=request.user, request=request)
    except services.WalletNotAllowed as refused:
        messages.error(request, str(refused))
        return redirect(reverse("customers:detail", args=[pk]) + "?tab=wallets")
    return render(
        request,
        "customers/wallet_details.html",
        {"customer": customer, "wallet": wallet, "rows": rows},
    )


def _requested_group(requested: list[slots.Slot]) -> slots.SlotGroup:
    return slots.SlotGroup(title="Documents BVNK asks for", hint="", slots=requested)


@csrf_exempt
def requests_upload(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Stop a too-large file while it arrives; the CSRF check follows (Django's recipe)."""
    request.upload_handlers = [
        documents.DocumentSizeLimitHandler(request),
        *request.upload_handlers,
    ]
    return _requests_upload(request, pk)


@csrf_protect
@login_required
@permission_required(ANSWER_PERMISSIONS, raise_exception=True)
@require_POST
def _requests_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer BVNK's document requests: check each file, store it and send it to BVNK."""
    customer = get_object_or_404(customers_for(request.user), pk=pk)
    requests_page = reverse("customers:detail", args=[pk]) + "?tab=requests"
    waits_on_us = customer.status in requirements.PARTNER_STATUSES
    requested = (
        slots.requested_slots(customer, list(customer.documents.all())) if waits_on_us else []
    )
    if not requested:
        messages.error(request, "BVNK asks for no documents for this customer now.")
        return redirect(requests_page)
    form = DocumentsForm(
        request.POST,
        request.FILES,
        groups=[_requested_group(requested)],
        too_large=request.uploads_too_large,  # type: ignore[attr-defined]  # set by the handler
        repeated=request.uploads_repeated,  # type: ignore[attr-defined]
        too_many=request.upload_too_many,  # type: ignore[attr-defined]
    )
    form.is_valid()
    if form.accepted:
        try:
            services.documents_answer(customer=customer, files=form.accepted, actor=request.user)
        except services.NotAsking as error:
            messages.error(request, f"{error} Nothing was stored.")
            return redirect(requests_page)
        for slot, _upload, checked in form.accepted:
            if checked.scan_status == documents.PENDING:
                # Held back from BVNK; services.documents_rescan sends it once released.
                text = (
                    f"{slot.label}: {checked.name} is held by the malware scan, which could "
                    "not check it yet. It goes to BVNK by itself once the scan clears it, "
                    "usually within minutes."
                )
                messages.warning(request, text, extra_tags="state")
            else:
                # Describes the request's state: it goes once BVNK moves the customer on.
                messages.success(
                    request,
                    f"{slot.label}: {checked.name} uploaded; sending to BVNK.",
                    extra_tags="state",
                )
    if not form.errors:
        return redirect(requests_page)
    # Some files were refused: say why beside each, with the page as it is now.
    for key in form.errors:
        if key in form.fields:
            form.fields[key].widget.attrs["aria-describedby"] = f"{key}-error"
    customer.refresh_from_db()
    return _case_view(request, customer, tab="requests", answer_form=form, status=400)
