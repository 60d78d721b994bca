"""Wallets of verified customers, mirroring BVNK's Wallets v2 (customers/bvnk/wire.py).

A wallet row exists from the moment staff ask for it ("Creating…", before BVNK has an
id), so the request is never lost and shows at once; BVNK's answer, its status-change
webhooks and the reconciliation sweep then move it through `WALLET_TRANSITIONS`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..crypto import EncryptedCharField, EncryptedJSONField
from .customers import Customer, InvalidTransition, StatusChange


class Wallet(models.Model):
    class Kind(models.TextChoices):
        CRYPTO = "CRYPTO", "Crypto"
        FIAT = "FIAT", "Fiat"

    class Status(models.TextChoices):
        CREATING = "CREATING", "Creating…"  # queued or being sent; BVNK has no id yet
        INACTIVE = "INACTIVE", "Being activated"
        ACTIVE = "ACTIVE", "Active"
        BLOCKED = "BLOCKED", "Blocked"
        TERMINATED = "TERMINATED", "Terminated"
        REFUSED = "REFUSED", "Refused by BVNK"  # the create was refused; nothing at BVNK

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wallets")
    bvnk_id = models.CharField(
        "BVNK wallet id", max_length=120, unique=True, null=True, blank=True, editable=False
    )
    name = models.CharField(max_length=120)
    currency = models.CharField(max_length=12)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    profile_id = models.CharField("BVNK profile", max_length=120, blank=True)
    # The chosen profile's payment methods (fiat), shown in staff words (wire.PAYMENT_METHODS).
    methods = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.CREATING, editable=False
    )
    # Why BVNK refused or stopped it, in words; BVNK's messages may echo submitted values.
    status_reason = EncryptedCharField(max_length=1000, blank=True, editable=False)
    # BVNK's paymentInstruments once ACTIVE (IBAN, account and routing numbers, an address):
    # personal data, encrypted, and audited whenever a page shows them.
    details = EncryptedJSONField(default=dict, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # When BVNK last told us anything about it (an answer, a webhook, a read).
    last_heard_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The timestamp of the newest status-change event applied: an older one arriving late
    # is stored but changes nothing.
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["customer", "status"], name="wallet_customer_idx")]
        constraints = [
            # A second click on "Create wallet" while the first is on its way is refused.
            models.UniqueConstraint(
                fields=["customer", "currency", "profile_id"],
                condition=Q(status="CREATING"),
                name="one_wallet_creating_per_currency_and_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} wallet of {self.customer} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return not WALLET_TRANSITIONS[self.Status(self.status)]

    def can_transition_to(self, new: str) -> bool:
        return new in WALLET_TRANSITIONS[self.Status(self.status)]

    def transition_to(
        self,
        new: str,
        *,
        source: str,
        actor: Any = None,
        source_reference: str = "",
        reason: str = "",
    ) -> WalletStatusChange:
        """Move to `new` if the table allows it, recording the change (on a locked row)."""
        new = self.Status(new)
        if not self.can_transition_to(new):
            raise InvalidTransition(self.status, new)
        old = self.status
        now = timezone.now()
        self.status = new
        self.status_changed_at = now
        self.save(update_fields=["status", "status_changed_at", "updated_at"])
        return WalletStatusChange.objects.create(
            wallet=self,
            old_status=old,
            new_status=new,
            changed_at=now,
            source=source,
            actor=actor if getattr(actor, "pk", None) else None,
            source_reference=source_reference,
            reason=reason,
        )


W = Wallet.Status
_AT_BVNK = frozenset({W.INACTIVE, W.ACTIVE, W.BLOCKED, W.TERMINATED})
# BVNK is the truth about a wallet it holds: any status it reports applies, except out of
# TERMINATED (irreversible, BVNK's manage-wallet guide). REFUSED means BVNK holds nothing.
WALLET_TRANSITIONS: dict[str, frozenset[str]] = {
    W.CREATING: _AT_BVNK | {W.REFUSED},
    W.INACTIVE: _AT_BVNK - {W.INACTIVE},
    W.ACTIVE: _AT_BVNK - {W.ACTIVE},
    W.BLOCKED: _AT_BVNK - {W.BLOCKED},
    W.TERMINATED: frozenset(),
    W.REFUSED: frozenset(),
}


class WalletStatusChange(models.Model):
    """One step of a wallet's history, with what caused it."""

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=12, choices=Wallet.Status.choices)
    new_status = models.CharField(max_length=12, choices=Wallet.Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=StatusChange.Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source_reference = models.CharField(
        max_length=100, blank=True, help_text="Webhook event id, BVNK call or task that caused it."
    )
    reason = EncryptedCharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["wallet", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.wallet}: {self.old_status} -> {self.new_status}"
