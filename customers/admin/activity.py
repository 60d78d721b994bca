"""The portal's own records: the audit log and the notification emails."""

from __future__ import annotations

from django.contrib import admin

from ..models import AuditEvent, Notification
from .base import AppendOnlyAdmin, BigTableAdmin


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
