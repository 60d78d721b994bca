"""My customers around the list and the customer page: export, saved views, downloads,
questionnaires and the operations actions.

Each view checks access (its permission, then `customers_for` for the rows), calls one
service, notes what the audit log needs, and redirects or streams.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import audit, documents, questionnaires, services
from ..bvnk import wire
from ..bvnk.errors import BvnkError
from ..models import BvnkOperation, ComplianceDocument, Customer, SavedView, customers_for
from ..onboarding.views import BVNK_DOWN, start_signing
from ..services import reconcile as sync
from . import csv_export
from . import listing as dashboard

VIEW = "customers.view_customer"
OPERATE = "customers.operate_customer"


def _customer(request: HttpRequest, pk: int) -> Customer:
    return get_object_or_404(customers_for(request.user), pk=pk)


# -- export ------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the line, for csv.writer over a stream."""

    def write(self, value: str) -> str:
        return value


@login_required
@permission_required("customers.export_customers", raise_exception=True)
@require_GET
def customer_export(request: HttpRequest) -> StreamingHttpResponse:
    """Stream the filtered list as CSV, every page of it, a chunk of rows at a time."""
    queryset, _ = dashboard.export_queryset(request.user, request.GET)
    audit.record(
        actor=request.user,
        action=audit.Action.EXPORT,
        summary="Exported My customers as CSV",
        details={"filters": request.GET.urlencode()[:1000]},
        request=request,
    )
    # One reverse() for a million rows: the detail URL with a placeholder id.
    marker = 999_999_999_999
    pattern = request.build_absolute_uri(reverse("customers:detail", args=[marker]))

    def link(customer: Customer) -> str:
        return pattern.replace(str(marker), str(customer.pk))

    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in csv_export.export_rows(queryset, link=link))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# -- saved views ---------------------------------------------------------------------------


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters under a name (replacing a view of the same name)."""
    name = request.POST.get("name", "").strip()[:60]
    query = request.POST.get("query", "")[:1000]
    list_url = reverse("customers:list")
    if not name:
        messages.error(request, "Give the view a name to save it.")
        return redirect(f"{list_url}?{query}" if query else list_url)
    dashboard.saved_view_save(user=request.user, name=name, query=query)
    messages.success(request, f"View “{name}” saved.")
    return redirect(f"{list_url}?{query}" if query else list_url)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def saved_view_delete(request: HttpRequest, view_pk: int) -> HttpResponse:
    view = get_object_or_404(SavedView, pk=view_pk, user=request.user)
    dashboard.saved_view_delete(view=view)
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect("customers:list")


# -- documents -----------------------------------------------------------------------------


@login_required
@permission_required("customers.download_document", raise_exception=True)
@require_http_methods(["GET", "HEAD"])
def document_download(request: HttpRequest, pk: int, document_pk: int) -> FileResponse:
    """Send a document as an attachment: never cached, never sniffed, always audited."""
    customer = _customer(request, pk)
    document = get_object_or_404(ComplianceDocument, pk=document_pk, customer=customer)
    return documents.file_response(request, document, inline=False)


# -- questionnaires ------------------------------------------------------------------------


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_http_methods(["GET", "POST"])
def questionnaire(request: HttpRequest, pk: int) -> HttpResponse:
    """Answer the questionnaires BVNK asked for; the answers go through the pipeline."""
    customer = _customer(request, pk)
    codes = customer.questionnaire_codes
    if not codes:
        messages.info(request, "BVNK does not ask this customer for a questionnaire.")
        return redirect("customers:detail", pk=customer.pk)
    loaded, unavailable = questionnaires.definitions(codes)
    form = questionnaires.QuestionnaireForm(
        request.POST if request.method == "POST" else None, definitions=loaded
    )
    if request.method == "POST" and loaded and form.is_valid():
        try:
            services.operation_submit_questionnaire(customer, form.answers(), actor=request.user)
        except (services.NotUpdatable, ValueError) as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, "Answers saved. The portal is sending them to BVNK.")
            return redirect("customers:detail", pk=customer.pk)
    if unavailable:
        names = ", ".join(unavailable)
        messages.warning(request, f"BVNK's questionnaire {names} could not be loaded. {BVNK_DOWN}")
    return render(request, "customers/questionnaire.html", {"customer": customer, "form": form})


# -- operations actions --------------------------------------------------------------------


@login_required
# Onboarding agents and compliance leads: whoever may submit may send again.
@permission_required("customers.submit_customer", raise_exception=True)
@require_POST
def operation_retry(request: HttpRequest, pk: int, operation_pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    operation = get_object_or_404(BvnkOperation, pk=operation_pk, customer=customer)
    try:
        services.operation_retry(operation, actor=request.user)
    except services.OperationNotRetryable as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{operation.get_kind_display()} queued again.")
    return redirect("customers:detail", pk=customer.pk)


@login_required
@permission_required(OPERATE, raise_exception=True)
@require_POST
def customer_resync(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    if not customer.bvnk_reference:
        messages.error(request, "The customer is not at BVNK yet; there is nothing to resync.")
        return redirect("customers:detail", pk=customer.pk)
    try:
        sync.customer_resync(customer, actor=request.user)
    except BvnkError:
        messages.error(request, BVNK_DOWN)
    else:
        messages.success(request, "Resynced from BVNK.")
    return redirect("customers:detail", pk=customer.pk)


@login_required
@permission_required(
    ("customers.change_customer", "customers.add_agreementsession"), raise_exception=True
)
@require_POST
def agreement_restart(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Open a new agreement session (the last one expired) and send the user to BVNK."""
    customer = _customer(request, pk)
    return start_signing(request, customer) or redirect("customers:detail", pk=customer.pk)


# Each selected customer costs a read of its profiles and a request: a page's worth at most.
BULK_LIMIT = 100


@login_required
@permission_required(("customers.view_customer", "customers.create_wallet"), raise_exception=True)
@require_POST
def wallets_bulk(request: HttpRequest) -> HttpResponse:
    """A crypto wallet of one currency for each verified customer selected on My customers."""
    # Back to the list with its filters, never to another site.
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("customers:list")
    ids = [int(pk) for pk in request.POST.getlist("customer") if pk.isdigit()]
    currency = request.POST.get("currency", "")
    if not ids or currency not in wire.CRYPTO_CURRENCIES:
        messages.error(request, "Choose a crypto currency and at least one verified customer.")
        return redirect(target)
    if len(ids) > BULK_LIMIT:
        # Nothing is requested rather than some: staff would not know which were left.
        messages.error(
            request,
            f"{len(ids)} customers are selected; wallets can be requested for at most "
            f"{BULK_LIMIT} at a time. Select fewer and try again.",
        )
        return redirect(target)
    chosen = customers_for(request.user).filter(pk__in=ids).order_by("pk")
    result = services.wallets_request_bulk(chosen, currency=currency, actor=request.user)
    if result.created:
        messages.success(
            request,
            f"{currency} wallet requested for {len(result.created)} customer"
            f"{'' if len(result.created) == 1 else 's'}: {', '.join(result.created)}.",
        )
    for name, reason in result.skipped:
        messages.warning(request, f"Skipped {name}: {reason}")
    return redirect(target)


urlpatterns = [
    path("wallets/bulk/", wallets_bulk, name="wallets-bulk"),
    path("export.csv", customer_export, name="export"),
    path("views/", saved_view_save, name="saved-view-save"),
    path("views/<int:view_pk>/delete/", saved_view_delete, name="saved-view-delete"),
    path(
        "<int:pk>/documents/<int:document_pk>/download/",
        document_download,
        name="document-download",
    ),
    path("<int:pk>/questionnaires/", questionnaire, name="questionnaire"),
    path(
        "<int:pk>/operations/<int:operation_pk>/retry/",
        operation_retry,
        name="operation-retry",
    ),
    path("<int:pk>/resync/", customer_resync, name="resync"),
    path("<int:pk>/agreement/restart/", agreement_restart, name="agreement-restart"),
]
