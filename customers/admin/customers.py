"""Customers and what they are made of: people, documents, agreements, status history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from .. import audit, inbox, payloads, services
from ..models import (
    AgreementSession,
    Associate,
    BvnkOperation,
    ComplianceDocument,
    Customer,
    StatusChange,
    WebhookEvent,
)
from ..services import reconcile as sync
from .base import (
    AppendOnlyAdmin,
    BigTableAdmin,
    OperateActionsAdmin,
    ReadOnlyInline,
    TaxNumberSearchAdmin,
)
from .operations import WebhookEventAdmin


def at_bvnk(customer: Customer | None) -> bool:
    """Whether BVNK holds the customer: its data is then changed only through services.

    The admin would save a change locally and send nothing, so the portal and BVNK would
    disagree without anyone knowing. What BVNK takes updates for (contact details,
    address, date of birth) is changed on the customer page, which queues the update;
    the rest (names, tax number, company facts, people) BVNK takes no update for.
    """
    return customer is not None and customer.bvnk_reference is not None


class AssociateInline(admin.StackedInline):
    model = Associate
    extra = 0
    readonly_fields = ["bvnk_person_reference"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if at_bvnk(obj):
            return flatten_fieldsets(self.get_fieldsets(request, None))
        return super().get_readonly_fields(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not at_bvnk(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not at_bvnk(obj) and super().has_delete_permission(request, obj)

    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("first_name", "last_name"),
                    (
                        "is_beneficial_owner",
                        "is_controlling_person",
                        "is_signer",
                        "ownership_percentage",
                    ),
                    ("date_of_birth", "nationality", "birth_country"),
                    ("email", "phone"),
                    ("address_line1", "address_line2"),
                    ("city", "postal_code", "state_code", "country"),
                    ("tax_number", "tax_residence_country"),
                    (
                        "id_document_type",
                        "id_document_number",
                        "id_document_issuing_country",
                        "id_document_expiry",
                    ),
                    "bvnk_person_reference",
                ]
            },
        ),
    ]


class AgreementSessionInline(ReadOnlyInline):
    model = AgreementSession
    fields = [
        "bvnk_reference",
        "status",
        "use_case",
        "country",
        "expires_on",
        "created_at",
    ]


@admin.register(Customer)
class CustomerAdmin(OperateActionsAdmin, TaxNumberSearchAdmin, BigTableAdmin):
    list_display = [
        "__str__",
        "status",
        "blocking_summary",
        "needs_attention",
        "bvnk_reference",
        "status_changed_at",
        "created_by",
    ]
    list_filter = ["status", "needs_attention", "waiting_on", "type", "created_at"]
    # The denormalised name is what the trigram index covers (migration 0006); references
    # match exactly on their unique indexes. Emails are encrypted, so not searched here.
    search_fields = ["search_name", "=external_reference", "=bvnk_reference"]
    list_select_related = ["created_by"]
    # No date_hierarchy: it reads every row's date to build its links.
    actions = [
        "resync",
        "retry_failed_operations",
        "reprocess_events",
        "resolve_send_portal_details",
        "resolve_take_bvnk_details",
    ]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Documents and status changes grow with a customer's history: the page lists the
    # latest rows and links to the rest, so it stays small (a test holds it under 100 KB).
    inlines = [AssociateInline, AgreementSessionInline]
    readonly_fields = [
        "status",
        "status_changed_at",
        "blocking_summary",
        "waiting_on",
        "needs_attention",
        "external_reference",
        "bvnk_reference",
        "info_required",
        "verification_url",
        "bvnk_data",
        "differing_details",
        "bvnk_synced_at",
        "bvnk_status_at",
        "submission_count",
        "submission_errors",
        "created_by",
        "created_at",
        "updated_at",
        "recent_documents",
        "recent_status_changes",
        "people",
    ]
    fieldsets = [
        (
            "Status",
            {
                "fields": [
                    ("type", "status", "status_changed_at"),
                    ("blocking_summary", "waiting_on", "needs_attention"),
                    ("external_reference", "bvnk_reference"),
                    ("created_by", "created_at", "updated_at"),
                ]
            },
        ),
        (
            "Company",
            {
                "classes": ["collapse"],
                "fields": [
                    "legal_name",
                    "description",
                    ("entity_type", "registration_number"),
                    "incorporation_date",
                    ("industry_reference", "monthly_volumes_reference"),
                    "website",
                    ("operational_address_line1", "operational_address_line2"),
                    (
                        "operational_city",
                        "operational_postal_code",
                        "operational_state_code",
                        "operational_country",
                    ),
                ],
            },
        ),
        (
            "Person",
            {
                "classes": ["collapse"],
                "fields": [
                    ("first_name", "last_name"),
                    ("date_of_birth", "nationality", "birth_country"),
                    ("email", "phone"),
                    ("employment_status", "source_of_funds", "pep_status", "intended_use"),
                    ("expected_monthly_volume", "expected_volume_currency"),
                    ("estimated_yearly_income", "industry_sector"),
                ],
            },
        ),
        (
            "Address and tax",
            {
                "fields": [
                    ("address_line1", "address_line2"),
                    ("city", "postal_code", "state_code", "country"),
                    ("tax_number", "tax_residence_country"),
                ]
            },
        ),
        (
            "What BVNK says",
            {
                "fields": [
                    "info_required",
                    "verification_url",
                    "differing_details",
                    "bvnk_data",
                    ("bvnk_synced_at", "bvnk_status_at"),
                    ("submission_count", "submission_errors"),
                ]
            },
        ),
        ("People", {"fields": ["people"]}),
        ("History", {"fields": ["recent_status_changes", "recent_documents"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if at_bvnk(obj):
            return flatten_fieldsets(self.fieldsets)
        return super().get_readonly_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        # Once BVNK holds the customer its people are read-only: a table says it in less.
        if at_bvnk(obj):
            return [AgreementSessionInline]
        return super().get_inlines(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not at_bvnk(obj):
            return [f for f in fieldsets if f[0] != "People"]
        note = format_html(
            "BVNK holds this customer, so its details are read-only here. Change the contact "
            'details, address or date of birth on <a href="{}">the customer page</a>, which '
            "sends them to BVNK; BVNK takes no change of names, tax number or company facts.",
            reverse("customers:detail", args=[obj.pk]),
        )
        return [(None, {"fields": [], "description": note}), *fieldsets]

    @admin.action(description="Resync from BVNK", permissions=["operate"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        customers = self._bounded(request, queryset.exclude(bvnk_reference=None))
        self._resync_each(request, customers, sync.customer_resync)

    @admin.display(description="Status changes")
    def recent_status_changes(self, customer: Customer) -> str:
        rows = customer.status_changes.select_related("actor").order_by("-changed_at", "-id")
        return _recent(
            customer,
            rows,
            "admin:customers_statuschange_changelist",
            ["When", "From", "To", "Source", "By", "Reference", "Reason"],
            lambda c: [
                c.changed_at,
                c.old_status,
                c.new_status,
                c.get_source_display(),
                c.actor or "",
                c.source_reference,
                c.reason,
            ],
        )

    @admin.display(description="Associates")
    def people(self, customer: Customer) -> str:
        rows = customer.associates.order_by("id")
        return _recent(
            customer,
            rows,
            "admin:customers_associate_changelist",
            ["Name", "Roles", "Ownership", "Nationality", "BVNK person reference"],
            lambda a: [
                a.full_name,
                a.role_labels,
                "" if a.ownership_percentage is None else f"{a.ownership_percentage}%",
                a.nationality.name if a.nationality else "",
                a.bvnk_person_reference,
            ],
        )

    @admin.display(description="Documents")
    def recent_documents(self, customer: Customer) -> str:
        rows = customer.documents.select_related("associate").order_by("-created_at", "-id")
        return _recent(
            customer,
            rows,
            "admin:customers_compliancedocument_changelist",
            ["Uploaded", "Document", "Person", "File", "BVNK", "BVNK reference"],
            lambda d: [
                d.created_at,
                d.kind_label,
                d.associate or "",
                d.original_name,
                d.get_upload_status_display(),
                d.bvnk_reference or "",
            ],
        )

    @admin.display(description="Differs at BVNK")
    def differing_details(self, customer: Customer) -> str:
        """The details BVNK's last answer holds otherwise, in staff words."""
        rows = payloads.details_drift_rows(customer)
        return (
            "; ".join(
                f"{capfirst(label)}: {ours or '(empty)'} here, {theirs or '(empty)'} at BVNK"
                for label, ours, theirs in rows
            )
            or "Nothing"
        )

    def _resolve(self, request: HttpRequest, queryset: QuerySet[Customer], keep: str) -> None:
        settled, refused = 0, []
        for customer in self._bounded(request, queryset.exclude(details_drift=[])):
            try:
                if services.customer_details_resolve(
                    customer=customer, keep=keep, actor=request.user
                ):
                    settled += 1
            except services.NotUpdatable as error:
                refused.append(str(error))
        self.message_user(request, f"Settled the details of {settled} customer(s).")
        for problem in refused:
            self.message_user(request, problem, level="warning")

    @admin.action(
        description="Resolve differing details: send the portal's to BVNK", permissions=["change"]
    )
    def resolve_send_portal_details(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> None:
        self._resolve(request, queryset, services.Keep.PORTAL)

    @admin.action(description="Resolve differing details: take BVNK's", permissions=["change"])
    def resolve_take_bvnk_details(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._resolve(request, queryset, services.Keep.BVNK)

    @admin.action(description="Retry failed operations", permissions=["operate"])
    def retry_failed_operations(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        operations = BvnkOperation.objects.filter(
            customer__in=self._bounded(request, queryset),
            state__in=(BvnkOperation.State.FAILED, BvnkOperation.State.NEEDS_ATTENTION),
        )
        count, refused = 0, 0
        for operation in operations.order_by("created_at", "id"):
            try:
                services.operation_retry(operation, actor=request.user)
            except services.OperationNotRetryable:
                refused += 1
            else:
                count += 1
        message = f"Queued {count} operation(s) again."
        if refused:
            message += f" {refused} cannot be retried (a refused create: correct the draft)."
        self.message_user(request, message)

    @admin.action(description="Reprocess failed webhook events", permissions=["operate"])
    def reprocess_events(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        ids = list(
            WebhookEvent.objects.filter(
                customer__in=self._bounded(request, queryset), status=WebhookEvent.Status.FAILED
            )
            .order_by("received_at", "id")
            .values_list("pk", flat=True)[: WebhookEventAdmin.REPROCESS_LIMIT]
        )
        audit.record(
            actor=request.user,
            action=audit.Action.ACTION,
            summary=f"Reprocessed {len(ids)} failed webhook event(s) from the admin",
            details={"events": ids},
            request=request,
        )
        results = inbox.webhook_events_reprocess(event_ids=ids)
        self.message_user(request, f"Reprocessed {len(ids)}: {inbox.summarise(results)}.")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The change page shows personal data: note who looked."""
        response = super().change_view(request, object_id, form_url, extra_context)
        customer = Customer.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if request.method == "GET" and customer is not None and response.status_code == 200:
            audit.record_view(request, customer, what="admin change page")
        return response

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        """Record which fields staff changed by hand here, old and new values (masked)."""
        old = form.initial if change else {}
        new = {name: form.cleaned_data.get(name) for name in form.changed_data}
        super().save_model(request, obj, form, change)
        if change and new:
            audit.record(
                actor=request.user,
                action=audit.Action.CHANGE,
                summary="Changed fields in the admin",
                customer=obj,
                changes=audit.field_changes(old, new),
                request=request,
            )


@admin.register(Associate)
class AssociateAdmin(TaxNumberSearchAdmin):
    list_display = ["__str__", "customer", "role_labels", "ownership_percentage", "nationality"]
    list_filter = ["is_beneficial_owner", "is_controlling_person", "is_signer"]
    search_fields = ["first_name", "last_name", "customer__legal_name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    readonly_fields = ["bvnk_person_reference"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and at_bvnk(obj.customer):
            return flatten_fieldsets(self.get_fieldsets(request, None))
        return super().get_readonly_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and at_bvnk(obj.customer):
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ComplianceDocument)
class ComplianceDocumentAdmin(BigTableAdmin):
    list_display = [
        "original_name",
        "customer",
        "document_type",
        "document_sub_type",
        "content_type",
        "size",
        "upload_status",
        "created_at",
    ]
    list_filter = ["upload_status", "document_type", "content_type"]
    search_fields = ["original_name", "=sha256", "=bvnk_reference", "customer__legal_name"]
    list_select_related = ["customer"]
    # Files come in only through the onboarding forms, which check their content.
    readonly_fields = [
        "customer",
        "associate",
        "document_type",
        "document_sub_type",
        "original_name",
        "stored_file",
        "size",
        "content_type",
        "sha256",
        "upload_status",
        "bvnk_reference",
        "uploaded_by",
        "created_at",
        "updated_at",
    ]
    exclude = ["file"]

    @admin.display(description="File")
    def stored_file(self, obj: ComplianceDocument) -> str:
        """The file has no public URL: link to the permission-checked, audited download."""
        if not obj.pk:
            return "—"
        url = reverse("customers:document-download", args=[obj.customer_id, obj.pk])
        return format_html('<a href="{}">Download {}</a>', url, obj.original_name)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AgreementSession)
class AgreementSessionAdmin(admin.ModelAdmin):
    list_display = ["bvnk_reference", "customer", "status", "use_case", "country", "expires_on"]
    list_filter = ["status", "use_case"]
    search_fields = ["=bvnk_reference", "customer__legal_name"]
    list_select_related = ["customer"]
    readonly_fields = [
        "customer",
        "bvnk_reference",
        "status",
        "use_case",
        "country",
        "expires_on",
        "bvnk_data",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(AppendOnlyAdmin, BigTableAdmin):
    list_display = ["changed_at", "customer", "old_status", "new_status", "source", "actor"]
    list_filter = ["source", "new_status"]
    search_fields = ["=source_reference", "customer__search_name"]
    list_select_related = ["customer", "actor"]


RECENT_ROWS = 20


def _recent(
    customer: Customer,
    rows: QuerySet[Any],
    changelist: str,
    headings: list[str],
    cells: Callable[[Any], list[Any]],
) -> str:
    """The latest rows as a read-only table, and a link to all of them."""
    total = rows.count()
    if not total:
        return "None"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headings))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (format_html_join("", "<td>{}</td>", ((c,) for c in cells(row))),)
            for row in rows[:RECENT_ROWS]
        ),
    )
    url = reverse(changelist) + f"?customer__id__exact={customer.pk}"
    shown = min(total, RECENT_ROWS)
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>"
        '<p>The latest {} of {}: <a href="{}">all of them</a></p>',
        head,
        body,
        shown,
        total,
        url,
    )
