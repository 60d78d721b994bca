"""The Django admin: the operations console over customers and what BVNK says of them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from .models import (
    AgreementSession,
    Associate,
    BvnkCall,
    ComplianceDocument,
    Customer,
    StatusChange,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
    fields = readonly_fields = [
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
    fields = readonly_fields = [
        "bvnk_reference",
        "status",
        "use_case",
        "country",
        "expires_on",
        "created_at",
    ]


class StatusChangeInline(ReadOnlyInline):
    model = StatusChange
    fields = readonly_fields = [
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
                    "bvnk_synced_at",
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
