"""The traffic with BVNK: calls made, operations owed (the outbox), webhook events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .. import inbox, services
from ..models import BvnkCall, BvnkOperation, WebhookEvent, WebhookRejection
from .base import AppendOnlyAdmin, BigTableAdmin, OperateActionsAdmin


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


class OperationsAdmin(OperateActionsAdmin, AppendOnlyAdmin):
    """Inbox rows: whoever may run operations actions may read them and reprocess events."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_operate_permission(request)


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
