"""The customer, the table of its allowed status moves, and its status history."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone
from django_countries.fields import CountryField

from ..bvnk import wire
from ..crypto import BlindIndexField, EncryptedCharField, EncryptedJSONField, with_index_fields
from .base import PersonIdentity, PostalAddress, wire_choices


class InvalidTransition(Exception):
    """A status change that the transition table does not allow."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"A customer cannot move from {old} to {new}.")
        self.old = old
        self.new = new


class Customer(PostalAddress, PersonIdentity):
    class Type(models.TextChoices):
        COMPANY = "COMPANY", "Company"
        INDIVIDUAL = "INDIVIDUAL", "Individual"

    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SUBMITTING = "SUBMITTING", "Submitting"
        INFO_REQUIRED = "INFO_REQUIRED", "Info required"
        PENDING = "PENDING", "Pending review"
        VERIFIED = "VERIFIED", "Verified"
        ACTIONS_REQUIRED = "ACTIONS_REQUIRED", "Actions required"
        REJECTED = "REJECTED", "Rejected"
        TERMINATED = "TERMINATED", "Terminated"

    class WaitingOn(models.TextChoices):
        NOBODY = "", "Nobody"
        PARTNER = "PARTNER", "Us"
        BVNK = "BVNK", "BVNK"

    type = models.CharField(max_length=10, choices=Type.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)

    # Ours, sent to BVNK as externalReference; BVNK's reference once the create succeeded.
    external_reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    bvnk_reference = models.CharField(
        "BVNK reference", max_length=64, unique=True, null=True, blank=True, editable=False
    )

    # Company. The inherited address is the registered address.
    legal_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    entity_type = models.CharField(
        max_length=20, choices=wire_choices(wire.ENTITY_TYPES), blank=True
    )
    registration_number = models.CharField(max_length=100, blank=True)
    incorporation_date = models.DateField(null=True, blank=True)
    industry_reference = models.CharField(max_length=64, blank=True)
    monthly_volumes_reference = models.CharField(
        "monthly expected volumes reference", max_length=64, blank=True
    )
    website = models.URLField(blank=True)
    operational_address_line1 = models.CharField(max_length=200, blank=True)
    operational_address_line2 = models.CharField(max_length=200, blank=True)
    operational_city = models.CharField(max_length=100, blank=True)
    operational_postal_code = models.CharField(max_length=20, blank=True)
    operational_state_code = models.CharField(max_length=2, blank=True)
    operational_country = CountryField(blank=True)

    # Both types: the company's tax number (EIN) or the individual's tax identification.
    # Encrypted at rest; exact searches go through the keyed hash (customers/crypto.py).
    tax_number = EncryptedCharField(max_length=50, blank=True)
    tax_number_hash = BlindIndexField(source="tax_number")
    tax_residence_country = CountryField(blank=True)

    # Individual: customer due diligence answers (the `cdd` object of BVNK's individual create).
    employment_status = models.CharField(
        max_length=20, choices=wire_choices(wire.EMPLOYMENT_STATUSES), blank=True
    )
    source_of_funds = models.CharField(
        max_length=20, choices=wire_choices(wire.SOURCES_OF_FUNDS), blank=True
    )
    pep_status = models.CharField(
        "PEP status", max_length=20, choices=wire_choices(wire.PEP_STATUSES), blank=True
    )
    intended_use = models.CharField(
        "intended use of account",
        max_length=30,
        choices=wire_choices(wire.INTENDED_USES),
        blank=True,
    )
    expected_monthly_volume = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    expected_volume_currency = models.CharField(
        max_length=3, choices=wire_choices(wire.VOLUME_CURRENCIES), blank=True
    )
    estimated_yearly_income = models.CharField(
        max_length=30, choices=wire_choices(wire.YEARLY_INCOMES), blank=True
    )
    industry_sector = models.CharField(
        "employment industry sector",
        max_length=80,
        choices=wire_choices(wire.INDUSTRY_SECTORS),
        blank=True,
    )

    # What BVNK told us last.
    info_required = models.JSONField(
        default=dict, blank=True, editable=False, help_text="BVNK's infoRequired, as last seen."
    )
    verification_url = models.URLField(max_length=1000, blank=True, editable=False)
    # BVNK's copy of the customer (names, birth date, tax number, contacts): encrypted.
    bvnk_data = EncryptedJSONField(default=dict, blank=True, editable=False)
    # The updatable details (email, phone, address, date of birth) whose value in BVNK's
    # last read differs from the portal's: field names only, resolved on the customer page.
    details_drift = models.JSONField(default=list, blank=True, editable=False)
    bvnk_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When BVNK's `status` was true: the newest applied event's timestamp, or the time of
    # a read. An event older than this never overwrites the status (BVNK does not promise
    # the order of its webhooks).
    bvnk_status_at = models.DateTimeField(
        "BVNK status as of", null=True, blank=True, editable=False
    )

    # Onboarding. Each submission gets its own number: its retries share one idempotency
    # key, a corrected resubmission after a refusal gets a new one.
    submission_count = models.PositiveIntegerField(default=0, editable=False)
    # Encrypted: BVNK's messages may echo the values it refused.
    submission_errors = EncryptedJSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="BVNK's refusal of the last submission, sorted onto steps and fields.",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The work queue: who handles the customer, and who else follows it (in-app and email
    # notifications, customers/notifications.py).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_customers",
        editable=False,
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="watched_customers", editable=False
    )

    # My customers, denormalised so a page of a million rows needs no query per row.
    # `search_name` follows the name fields in save(); the other three are derived by
    # customers.requirements.summary_store when a write through services.customer_write
    # ends (and when the outbox settles an operation that needs attention).
    search_name = models.CharField(max_length=200, blank=True, editable=False)
    blocking_summary = models.CharField(
        max_length=200, blank=True, editable=False, help_text="What the customer waits for."
    )
    waiting_on = models.CharField(
        max_length=10, choices=WaitingOn.choices, blank=True, editable=False
    )
    waiting_reason = models.CharField(
        max_length=200, blank=True, editable=False, help_text="Why it waits on the partner."
    )
    # The associates' names, so a search finds a company by its people from the customer
    # table's own trigram index (Associate.save keeps it current).
    associate_names = models.CharField(max_length=500, blank=True, editable=False)
    needs_attention = models.BooleanField(
        default=False,
        editable=False,
        help_text="A BVNK operation failed or needs staff, or BVNK refused the submission.",
    )
    # Wallets (customers/models/wallets.py), counted for the list's column and its
    # "Verified without a wallet" filter; services.wallets keeps them current.
    wallets_total = models.PositiveSmallIntegerField(default=0, editable=False)
    wallets_active = models.PositiveSmallIntegerField(default=0, editable=False)
    # Set when the retention period ended and the personal data was erased
    # (customers/retention.py); the row stays so BVNK's references still resolve.
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-status_changed_at"]),
            models.Index(fields=["-created_at", "-id"]),
            # My customers: one index per sort order (keyset pagination) and per tab. The
            # trigram indexes behind search are PostgreSQL-only, in migration 0006.
            models.Index(fields=["-status_changed_at", "-id"], name="customer_changed_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="customer_status_new_idx"),
            # The name sorts lead with whether there is a name, so unnamed drafts come last
            # both ways (dashboard/listing.py): ascending "has none", descending "has one".
            models.Index(
                ExpressionWrapper(Q(search_name=""), output_field=models.BooleanField()),
                F("search_name"),
                F("id"),
                name="customer_name_idx",
            ),
            models.Index(
                ExpressionWrapper(~Q(search_name=""), output_field=models.BooleanField()),
                F("search_name"),
                F("id"),
                name="customer_name_desc_idx",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(needs_attention=True),
                name="customer_attention_idx",
            ),
            models.Index(
                fields=["created_by"],
                condition=Q(waiting_on="PARTNER"),
                name="customer_waiting_owner_idx",
            ),
            # The work queue's tabs: "Waiting on us" (its stale drafts among all drafts)
            # and "Mine".
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(waiting_on="PARTNER") | Q(status="DRAFT"),
                name="customer_waiting_idx",
            ),
            models.Index(
                fields=["assignee", "-created_at", "-id"],
                condition=Q(assignee__isnull=False),
                name="customer_assignee_idx",
            ),
            # A prefix of BVNK's reference (the list cuts it short) whatever the collation.
            models.Index(
                fields=["bvnk_reference"],
                opclasses=["varchar_pattern_ops"],
                name="customer_bvnk_ref_prefix_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(type__in=["COMPANY", "INDIVIDUAL"]), name="customer_type_valid"
            ),
        ]
        permissions = [
            ("submit_customer", "Can submit customers to BVNK"),
            ("operate_customer", "Can run operations actions (resync, retry, reprocess)"),
            ("export_customers", "Can export customer lists"),
            ("discard_draft", "Can discard drafts never sent to BVNK"),
            ("create_wallet", "Can ask BVNK for wallets of verified customers"),
            ("view_wallet_details", "Can show wallets' account details"),
        ]

    def __str__(self) -> str:
        return self.name or unnamed_draft(self.type, self.created_at)

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keep `search_name` equal to the name, also on saves of a few fields."""
        self.search_name = self.name[:200]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and NAME_FIELDS & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_name"}
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_index_fields(Customer, kwargs["update_fields"])
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.legal_name if self.type == self.Type.COMPANY else self.full_name

    @property
    def discardable(self) -> bool:
        """A draft never sent to BVNK (a refused one was sent) may be discarded."""
        return self.status == self.Status.DRAFT and not (
            self.submission_count or self.bvnk_reference
        )

    @property
    def is_company(self) -> bool:
        return self.type == self.Type.COMPANY

    @property
    def questionnaire_codes(self) -> list[str]:
        return wire.questionnaire_codes(self.info_required)

    def can_transition_to(self, new: str) -> bool:
        return new in ALLOWED_TRANSITIONS[self.Status(self.status)]

    def transition_to(
        self,
        new: str,
        *,
        source: str,
        actor: Any = None,
        source_reference: str = "",
        reason: str = "",
    ) -> StatusChange:
        """Move to `new` if the table allows it, recording the change.

        Call it on a row locked with select_for_update (customers/services/status.py does).
        """
        new = self.Status(new)
        if not self.can_transition_to(new):
            raise InvalidTransition(self.status, new)
        old = self.status
        now = timezone.now()
        self.status = new
        self.status_changed_at = now
        self.save(update_fields=["status", "status_changed_at", "updated_at"])
        return StatusChange.objects.create(
            customer=self,
            old_status=old,
            new_status=new,
            changed_at=now,
            source=source,
            actor=actor if getattr(actor, "pk", None) else None,
            source_reference=source_reference,
            reason=reason,
        )


NAME_FIELDS = frozenset({"type", "legal_name", "first_name", "last_name"})


def unnamed_draft(customer_type: str, created_at: Any) -> str:
    """What a customer without a name yet is called: "Unnamed company draft (started 4 Dec)"."""
    kind = "company" if customer_type == Customer.Type.COMPANY else "individual"
    if created_at is None:
        return f"Unnamed {kind} draft"
    local = timezone.localtime(created_at)
    return f"Unnamed {kind} draft (started {local.day} {local:%b})"


S = Customer.Status
_BVNK_STATUSES = {S.INFO_REQUIRED, S.PENDING, S.VERIFIED, S.ACTIONS_REQUIRED, S.REJECTED}

# Every move a customer may make. BVNK is the truth for its own statuses, so moves
# between them are broad (a missed webhook can make a customer skip a step); what is
# refused is what cannot happen: leaving TERMINATED, re-entering DRAFT after creation,
# or BVNK statuses before the portal submitted.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTING}),
    # Back to DRAFT when BVNK refuses the create, so staff can correct and resubmit.
    S.SUBMITTING: frozenset({S.DRAFT} | _BVNK_STATUSES),
    S.INFO_REQUIRED: frozenset(_BVNK_STATUSES - {S.INFO_REQUIRED} | {S.TERMINATED}),
    S.PENDING: frozenset(_BVNK_STATUSES - {S.PENDING} | {S.TERMINATED}),
    S.ACTIONS_REQUIRED: frozenset(_BVNK_STATUSES - {S.ACTIONS_REQUIRED} | {S.TERMINATED}),
    # INFERRED: a periodic review can reopen a verified customer (no BVNK page says so).
    S.VERIFIED: frozenset({S.ACTIONS_REQUIRED, S.TERMINATED}),
    # Older docs: a rejection stands unless BVNK asks for more data.
    S.REJECTED: frozenset({S.INFO_REQUIRED, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}


def customers_for(user: Any) -> QuerySet[Customer]:
    """Every customer query a user makes starts here (django-oscar's one scoping function).

    Any role may see every customer of the partner; a user with no role sees none.
    """
    if not getattr(user, "is_authenticated", False) or not user.has_perm("customers.view_customer"):
        return Customer.objects.none()
    return Customer.objects.all()


class StatusChange(models.Model):
    class Source(models.TextChoices):
        STAFF = "STAFF", "Staff"
        SUBMISSION = "SUBMISSION", "Submission"
        WEBHOOK = "WEBHOOK", "BVNK webhook"
        SYNC = "SYNC", "Sync from BVNK"
        SYSTEM = "SYSTEM", "System"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=20, choices=Customer.Status.choices)
    new_status = models.CharField(max_length=20, choices=Customer.Status.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source_reference = models.CharField(
        max_length=100, blank=True, help_text="Webhook event id, BVNK call or task that caused it."
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["customer", "-changed_at"])]

    def __str__(self) -> str:
        return f"{self.customer}: {self.old_status} -> {self.new_status}"
