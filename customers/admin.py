"""The Django admin: the operations console over customers and what BVNK says of them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path, lookup_spawns_duplicates
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal

from . import audit, crypto, inbox, services
from .bvnk.errors import BvnkError
from .counting import EstimatedCountPaginator
from .models import (
    AgreementSession,
    Associate,
    AuditEvent,
    BvnkCall,
    BvnkOperation,
    ComplianceDocument,
    Customer,
    Notification,
    StatusChange,
    WebhookEvent,
    WebhookRejection,
)


class BigTableAdmin(admin.ModelAdmin):
    """A changelist over a table that grows without bound: no COUNT(*) of it per page.

    The filtered count is exact up to a cap and estimated beyond it; the unfiltered total
    ("of N") is not shown at all.
    """

    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # Facet counts are one COUNT per filter choice over the whole table.
    show_facets = admin.ShowFacets.NEVER

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Search so that indexes serve it: `=field` is a case-sensitive exact match of the
        whole term (Django's `iexact` wraps the column in UPPER() and misses its unique
        index), other fields `icontains` each word (trigram indexes where they exist)."""
        term = search_term.strip()
        fields = list(self.get_search_fields(request))
        if not term or not fields:
            return queryset, False
        exact = Q()
        for name in (f[1:] for f in fields if f.startswith("=")):
            field = get_fields_from_path(self.model, name)[-1]
            try:
                value = field.to_python(term)
            except ValidationError:
                continue  # e.g. not a UUID: this field cannot hold the term
            exact |= Q(**{name: value})
        words = Q()
        text_fields = [f for f in fields if not f.startswith("=")]
        for word in smart_split(term):
            if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
                word = unescape_string_literal(word)
            any_field = Q()
            for name in text_fields:
                any_field |= Q(**{f"{name}__icontains": word})
            words &= any_field
        condition = exact | words if text_fields else exact
        if not condition:
            return queryset.none(), False
        duplicates = any(lookup_spawns_duplicates(self.opts, f.lstrip("=")) for f in fields)
        return queryset.filter(condition), duplicates


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields


class AssociateInline(admin.StackedInline):
    model = Associate
    extra = 0
    readonly_fields = ["bvnk_person_reference"]
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


class ComplianceDocumentInline(ReadOnlyInline):
    model = ComplianceDocument
    fields = [
        "document_type",
        "document_sub_type",
        "associate",
        "original_name",
        "content_type",
        "size",
        "upload_status",
        "bvnk_reference",
        "created_at",
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


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = [
        "changed_at",
        "old_status",
        "new_status",
        "source",
        "actor",
        "source_reference",
        "reason",
    ]


class TaxNumberSearchAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Also find rows by an exact tax number, through its keyed hash (customers/crypto.py)."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        indexes = crypto.blind_indexes(search_term)
        if indexes:
            results |= queryset.filter(tax_number_hash__in=indexes)
        return results, may_have_duplicates


@admin.register(Customer)
class CustomerAdmin(TaxNumberSearchAdmin, BigTableAdmin):
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
    # The denormalised name and email are what the trigram indexes cover (migration 0006);
    # references match exactly on their unique indexes.
    search_fields = ["search_name", "email", "=external_reference", "=bvnk_reference"]
    list_select_related = ["created_by"]
    # No date_hierarchy: it reads every row's date to build its links.
    actions = ["resync", "retry_failed_operations", "reprocess_events"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [
        AssociateInline,
        ComplianceDocumentInline,
        AgreementSessionInline,
        StatusChangeInline,
    ]
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
        "bvnk_synced_at",
        "bvnk_status_at",
        "submission_count",
        "submission_errors",
        "created_by",
        "created_at",
        "updated_at",
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
                    "bvnk_data",
                    ("bvnk_synced_at", "bvnk_status_at"),
                    ("submission_count", "submission_errors"),
                ]
            },
        ),
    ]

    # Operations actions call BVNK inline: keep one request bounded.
    ACTION_LIMIT = 50

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.operate_customer")

    def _bounded(self, request: HttpRequest, queryset: QuerySet[Customer]) -> list[Customer]:
        customers = list(queryset.order_by("pk")[: self.ACTION_LIMIT + 1])
        if len(customers) > self.ACTION_LIMIT:
            self.message_user(
                request, f"Only the first {self.ACTION_LIMIT} were run.", level="warning"
            )
        return customers[: self.ACTION_LIMIT]

    @admin.action(description="Resync from BVNK", permissions=["operate"])
    def resync(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        done, failed = 0, 0
        for customer in self._bounded(request, queryset.exclude(bvnk_reference=None)):
            try:
                services.customer_resync(customer, actor=request.user)
            except BvnkError:
                failed += 1
            else:
                done += 1
        self.message_user(request, f"Resynced {done} from BVNK; {failed} could not be read.")

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
    search_fields = ["first_name", "last_name", "email", "customer__legal_name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    readonly_fields = ["bvnk_person_reference"]


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


class AppendOnlyAdmin(admin.ModelAdmin):
    """History rows: readable by staff, never edited or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(AppendOnlyAdmin, BigTableAdmin):
    list_display = ["changed_at", "customer", "old_status", "new_status", "source", "actor"]
    list_filter = ["source", "new_status"]
    search_fields = ["=source_reference", "customer__search_name"]
    list_select_related = ["customer", "actor"]


@admin.register(BvnkCall)
class BvnkCallAdmin(AppendOnlyAdmin, BigTableAdmin):
    list_display = [
        "started_at",
        "method",
        "path",
        "action",
        "status_code",
        "duration_ms",
        "customer",
        "triggered_by",
    ]
    list_filter = ["method", "action", "status_code"]
    search_fields = ["=idempotency_key", "=trace_id", "path"]
    list_select_related = ["customer"]


class OperationsAdmin(AppendOnlyAdmin):
    """Inbox rows: whoever may run operations actions may read them and reprocess events."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_operate_permission(request)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("customers.operate_customer")


@admin.register(WebhookEvent)
class WebhookEventAdmin(OperationsAdmin, BigTableAdmin):
    list_display = [
        "received_at",
        "event_type",
        "status",
        "customer",
        "bvnk_reference",
        "event_at",
        "delivery_count",
        "attempts",
        "outcome",
        "error",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["=event_id", "=bvnk_reference"]
    list_select_related = ["customer"]
    actions = ["reprocess"]
    fields = readonly_fields = (
        "event_id",
        "event_type",
        "status",
        "customer",
        "bvnk_reference",
        "event_at",
        "received_at",
        "last_received_at",
        "delivery_count",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "outcome",
        "error",
        "traceback",
        "headers",
        "body",
    )

    # Events are processed inline here (BVNK may be read for each): keep a request bounded.
    REPROCESS_LIMIT = 200

    @admin.action(description="Reprocess selected events", permissions=["operate"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        ids = list(queryset.order_by("received_at", "id").values_list("pk", flat=True))
        results = inbox.webhook_events_reprocess(event_ids=ids[: self.REPROCESS_LIMIT])
        done = min(len(ids), self.REPROCESS_LIMIT)
        self.message_user(request, f"Reprocessed {done}: {inbox.summarise(results)}.")
        if len(ids) > self.REPROCESS_LIMIT:
            self.message_user(
                request,
                f"Only the first {self.REPROCESS_LIMIT} were run; use `manage.py "
                "reprocess_webhooks` for more.",
                level="warning",
            )


@admin.register(WebhookRejection)
class WebhookRejectionAdmin(OperationsAdmin):
    list_display = ["day", "reason", "count", "last_at"]
    list_filter = ["reason"]
    date_hierarchy = "day"


@admin.register(BvnkOperation)
class BvnkOperationAdmin(OperationsAdmin, BigTableAdmin):
    """The submission pipeline's outbox: read-only; failed rows are sent again by action."""

    list_display = [
        "created_at",
        "kind",
        "state",
        "customer",
        "attempts",
        "lost_claims",
        "next_attempt_at",
        "last_status_code",
        "note",
    ]
    list_filter = ["state", "kind", "last_status_code"]
    search_fields = ["=idempotency_key", "=trace_id", "=customer__bvnk_reference"]
    list_select_related = ["customer"]
    actions = ["retry"]
    fields = readonly_fields = (
        "customer",
        "kind",
        "state",
        "document",
        "idempotency_key",
        "attempts",
        "lost_claims",
        "next_attempt_at",
        "enqueued_at",
        "claimed_at",
        "lease_until",
        "claimed_by",
        "task_id",
        "note",
        "last_error",
        "error_code",
        "last_status_code",
        "field_errors",
        "trace_id",
        "result",
        "payload",
        "created_by",
        "created_at",
        "retried_by",
        "retried_at",
        "completed_at",
    )

    @admin.action(description="Retry selected operations", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[BvnkOperation]) -> None:
        count, refused = 0, []
        for operation in queryset.order_by("created_at", "id")[:200]:
            try:
                services.operation_retry(operation, actor=request.user)
            except services.OperationNotRetryable as refusal:
                refused.append(f"#{operation.pk}: {refusal}")
            else:
                count += 1
        self.message_user(request, f"Queued {count} operation(s) again.")
        for line in refused[:10]:
            self.message_user(request, line, level="warning")


@admin.register(AuditEvent)
class AuditEventAdmin(AppendOnlyAdmin, BigTableAdmin):
    """The audit log: append-only here as in the model and (PostgreSQL) the database."""

    list_display = ["at", "actor_username", "action", "customer", "summary", "ip_address"]
    list_filter = ["action"]
    # Exact, on its index: a substring search of every summary would read the whole log.
    search_fields = ["=actor_username"]
    list_select_related = ["customer"]
    fields = readonly_fields = (
        "at",
        "actor",
        "actor_username",
        "action",
        "customer",
        "summary",
        "changes",
        "details",
        "ip_address",
    )


@admin.register(Notification)
class NotificationAdmin(AppendOnlyAdmin, BigTableAdmin):
    list_display = ["created_at", "kind", "state", "customer", "subject", "attempts", "sent_at"]
    list_filter = ["kind", "state"]
    list_select_related = ["customer"]
    fields = readonly_fields = (
        "key",
        "kind",
        "state",
        "customer",
        "status_change",
        "recipients",
        "context",
        "subject",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "sent_at",
    )
