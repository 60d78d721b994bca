"""The Django admin: the operations console over customers and what BVNK says of them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from . import inbox
from .models import (
    AgreementSession,
    Associate,
    BvnkCall,
    ComplianceDocument,
    Customer,
    StatusChange,
    WebhookEvent,
    WebhookRejection,
)


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


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "type",
        "status",
        "bvnk_reference",
        "status_changed_at",
        "created_at",
    ]
    list_filter = ["status", "type", "created_at"]
    search_fields = [
        "legal_name",
        "first_name",
        "last_name",
        "email",
        "=external_reference",
        "=bvnk_reference",
    ]
    list_select_related = ["created_by"]
    date_hierarchy = "created_at"
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


@admin.register(Associate)
class AssociateAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "role_labels", "ownership_percentage", "nationality"]
    list_filter = ["is_beneficial_owner", "is_controlling_person", "is_signer"]
    search_fields = ["first_name", "last_name", "email", "customer__legal_name"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer"]
    readonly_fields = ["bvnk_person_reference"]


@admin.register(ComplianceDocument)
class ComplianceDocumentAdmin(admin.ModelAdmin):
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
        "file",
        "size",
        "content_type",
        "sha256",
        "upload_status",
        "bvnk_reference",
        "uploaded_by",
        "created_at",
        "updated_at",
    ]

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
class StatusChangeAdmin(AppendOnlyAdmin):
    list_display = ["changed_at", "customer", "old_status", "new_status", "source", "actor"]
    list_filter = ["source", "new_status"]
    search_fields = ["=source_reference", "customer__legal_name"]
    list_select_related = ["customer", "actor"]


@admin.register(BvnkCall)
class BvnkCallAdmin(AppendOnlyAdmin):
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
class WebhookEventAdmin(OperationsAdmin):
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
