"""The portal's own records: the append-only audit log, saved views, emails owed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .customers import Customer, StatusChange


class AppendOnly(Exception):
    """An attempt to change or delete an audit row."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("Audit events are never changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("Audit events are never deleted.")


class AuditEvent(models.Model):
    """Who saw, downloaded, changed, triggered or exported what: append-only.

    The user and customer keys carry no database constraint and are never cleared, so a
    row keeps naming them after either is deleted (the username is copied too). On
    PostgreSQL a trigger (migration 0006) refuses UPDATE and DELETE as well.
    """

    class Action(models.TextChoices):
        VIEW = "VIEW", "Viewed personal data"
        DOWNLOAD = "DOWNLOAD", "Downloaded a document"
        CHANGE = "CHANGE", "Changed fields"
        ACTION = "ACTION", "Triggered an action"
        EXPORT = "EXPORT", "Exported customers"

    at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    actor_username = models.CharField(max_length=150, blank=True, editable=False)
    action = models.CharField(max_length=10, choices=Action.choices, editable=False)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="audit_events",
        editable=False,
    )
    summary = models.CharField(max_length=300, editable=False)
    # {field: [old, new]}, personal values masked (customers/audit.py).
    changes = models.JSONField(default=dict, blank=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-at"]),
            models.Index(fields=["-at", "-id"], name="auditevent_at_idx"),
            models.Index(fields=["actor_username", "-at"], name="auditevent_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username or 'system'}: {self.summary}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("Audit events are never deleted.")


class SavedView(models.Model):
    """A named set of My customers filters, per user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_customer_views"
    )
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=1000, help_text="The list's filters, as a query string.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_name_per_user"),
        ]

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """An email the portal owes someone, written with the change that causes it (an outbox).

    `key` makes each one unique (one per status change, one digest per day and address),
    so queueing and sending are both safe to repeat.
    """

    class Kind(models.TextChoices):
        STATUS = "STATUS", "Status change"
        DIGEST = "DIGEST", "Daily digest"

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SENT = "SENT", "Sent"
        FAILED = "FAILED", "Failed"

    key = models.CharField(max_length=150, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, editable=False)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, editable=False
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        editable=False,
    )
    status_change = models.ForeignKey(
        StatusChange, on_delete=models.CASCADE, null=True, blank=True, editable=False
    )
    recipients = models.JSONField(default=list, editable=False)
    # What the message is about beyond the customer, e.g. {"owner": <user id>} for a digest.
    context = models.JSONField(default=dict, blank=True, editable=False)
    subject = models.CharField(max_length=200, blank=True, editable=False)
    attempts = models.PositiveIntegerField(default=0, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {', '.join(self.recipients)} ({self.state})"


class StaffNotification(models.Model):
    """A line in a user's notifications (the bell in the header): something happened to a
    customer they handle or watch. Written with the change that causes it."""

    class Kind(models.TextChoices):
        STATUS = "STATUS", "Status change"
        REQUEST = "REQUEST", "BVNK asks for something"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_notifications",
        editable=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="staff_notifications", editable=False
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, editable=False)
    message = models.CharField(max_length=300, editable=False)
    # What caused it (a status change's id, BVNK's request), so each is told once per user.
    key = models.CharField(max_length=150, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="staffnote_user_idx"),
            # The bell's count, on every page.
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="staffnote_unread_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="staffnote_once_per_user"),
        ]

    def __str__(self) -> str:
        return self.message
