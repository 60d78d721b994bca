"""What the portal sends BVNK: each HTTP call, and each write it owes (the outbox)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..crypto import EncryptedCharField, EncryptedJSONField
from .customers import Customer
from .documents import ComplianceDocument
from .wallets import Wallet


class BvnkCall(models.Model):
    """One HTTP call to BVNK, without bodies: what staff need to trace a problem."""

    started_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    action = models.CharField(max_length=60, blank=True)
    idempotency_key = models.CharField(max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    trace_id = models.CharField("BVNK trace id", max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="bvnk_calls"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    triggered_by = models.CharField(
        max_length=100, blank=True, help_text="Task, webhook, sync or page that made the call."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "BVNK call"
        indexes = [models.Index(fields=["customer", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status_code or self.error or '?'}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class BvnkOperation(models.Model):
    """One write that must reach BVNK, kept until it has (the outbox, customers/outbox/).

    Written in the same transaction as the data it carries. A worker claims it with a
    conditional UPDATE, sends it with its idempotency key (the same on every attempt) and
    records the outcome here; the partial unique constraint below is the guarantee that
    two operations of one customer are never in flight at once.
    """

    class Kind(models.TextChoices):
        CREATE_CUSTOMER = "CREATE_CUSTOMER", "Create customer"
        UPDATE_CUSTOMER = "UPDATE_CUSTOMER", "Update details"
        UPLOAD_DOCUMENT = "UPLOAD_DOCUMENT", "Upload document"
        SUBMIT_QUESTIONNAIRE = "SUBMIT_QUESTIONNAIRE", "Submit questionnaire"
        CREATE_WALLET = "CREATE_WALLET", "Create wallet"

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        IN_FLIGHT = "IN_FLIGHT", "In flight"
        DONE = "DONE", "Done"
        FAILED = "FAILED", "Failed"  # BVNK refused it; retrying the same body cannot help
        NEEDS_ATTENTION = "NEEDS_ATTENTION", "Needs attention"
        CANCELLED = "CANCELLED", "Cancelled"  # superseded, or no longer applicable

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="operations", editable=False
    )
    kind = models.CharField(max_length=30, choices=Kind.choices, editable=False)
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.PENDING, editable=False
    )
    idempotency_key = models.CharField(
        max_length=36, unique=True, editable=False, help_text="Sent on every attempt."
    )
    # Encrypted as one token: create and update bodies carry birth dates, tax numbers
    # and contacts. Emptied of its body some days after the operation is done.
    payload = EncryptedJSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The body as sent (creates, updates, answers) or what it is read from.",
    )
    payload_purged_at = models.DateTimeField(null=True, blank=True, editable=False)
    document = models.ForeignKey(
        ComplianceDocument,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operations",
        editable=False,
    )
    wallet = models.ForeignKey(
        Wallet,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="operations",
        editable=False,
    )
    attempts = models.PositiveIntegerField(default=0, editable=False)
    lost_claims = models.PositiveIntegerField(
        default=0, editable=False, help_text="Claims that ended without an outcome."
    )
    next_attempt_at = models.DateTimeField(default=timezone.now, editable=False)
    enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=200, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    task_id = models.CharField(
        "Celery task id", max_length=64, blank=True, editable=False, help_text="Of the claim."
    )
    # BVNK's refusals may echo the rejected values (an email, a tax number): encrypted.
    last_error = EncryptedCharField(max_length=2000, blank=True, editable=False)
    error_code = models.CharField(max_length=60, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    field_errors = EncryptedJSONField(
        default=dict, blank=True, editable=False, help_text="BVNK's details.errors, as sent."
    )
    trace_id = models.CharField("BVNK trace id", max_length=64, blank=True, editable=False)
    note = models.CharField(max_length=300, blank=True, editable=False)
    result = models.JSONField(default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    retried_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    retried_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "BVNK operation"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="operation_due_idx"),
            models.Index(fields=["customer", "state"], name="operation_customer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(state="IN_FLIGHT"),
                name="one_operation_in_flight_per_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_state_display().lower()})"

    @property
    def is_auth_failure(self) -> bool:
        """BVNK refused the portal's Hawk credentials: a wrong key or a skewed clock."""
        return self.last_status_code == 401
