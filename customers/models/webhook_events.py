"""What BVNK sends the portal: webhook events (the inbox) and refused deliveries."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .customers import Customer


class WebhookEvent(models.Model):
    """One BVNK webhook event, stored before anything else happens to it (the inbox).

    Deliveries are deduplicated on `event_id`; processing works from these rows only, so a
    stored event is never lost whatever the broker or BVNK do (customers/inbox/).
    """

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED", "Received"
        PROCESSED = "PROCESSED", "Processed"
        IGNORED = "IGNORED", "Ignored"
        FAILED = "FAILED", "Failed"
        HELD = "HELD", "Held"

    event_id = models.CharField(
        "event id",
        max_length=100,
        unique=True,
        editable=False,
        help_text="BVNK's eventId, or sha256:<hex digest of the body> when it has none.",
    )
    event_type = models.CharField(max_length=100, blank=True, editable=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RECEIVED, editable=False
    )
    # Decoded as UTF-8 (invalid bytes and NULs replaced); the signature was checked on
    # the exact bytes before this row was written.
    body = models.TextField(editable=False)
    headers = models.JSONField(default=dict, blank=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    last_received_at = models.DateTimeField(default=timezone.now, editable=False)
    delivery_count = models.PositiveIntegerField(default=1, editable=False)
    event_at = models.DateTimeField("event timestamp", null=True, blank=True, editable=False)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
        editable=False,
    )
    bvnk_reference = models.CharField(
        "BVNK reference",
        max_length=100,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The customer, agreement session or document the event concerns.",
    )
    attempts = models.PositiveIntegerField("processing attempts", default=0, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True, editable=False)
    outcome = models.CharField(max_length=300, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)
    traceback = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["customer", "-received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'unknown event'} {self.event_id}"


class WebhookRejection(models.Model):
    """Webhook deliveries refused for their signature, counted per day, reason and the
    signing scheme that would have accepted them (none, usually: a forgery)."""

    class Reason(models.TextChoices):
        MISSING = "MISSING", "Missing signature"
        INVALID = "INVALID", "Invalid signature"

    class Scheme(models.TextChoices):
        NONE = "", "None (not signed with this portal's secret)"
        A = "A", "Base64 HMAC of the body (A)"
        B_FULL = "B_FULL", "Hex HMAC of the full URL, content type and body (B, full URL)"
        B_PATH = "B_PATH", "Hex HMAC of the URL path, content type and body (B, path)"
        PREVIOUS = "PREVIOUS", "The previous webhook secret"

    day = models.DateField(editable=False)
    reason = models.CharField(max_length=10, choices=Reason.choices, editable=False)
    matching_scheme = models.CharField(
        max_length=10, choices=Scheme.choices, blank=True, default="", editable=False
    )
    count = models.PositiveIntegerField(default=0, editable=False)
    last_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-day", "reason", "matching_scheme"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "reason", "matching_scheme"], name="webhook_rejection_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.count} x {self.get_reason_display().lower()}"
