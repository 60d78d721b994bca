"""Customers as the portal knows them, mirroring what BVNK holds about each one."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField

from .bvnk import wire
from .validators import validate_e164_phone


def _choices(mapping: dict[Any, str]) -> list[tuple[Any, str]]:
    return list(mapping.items())


class InvalidTransition(Exception):
    """A status change that the transition table does not allow."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(f"A customer cannot move from {old} to {new}.")
        self.old = old
        self.new = new


class PostalAddress(models.Model):
    address_line1 = models.CharField("address line 1", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    state_code = models.CharField(
        "state", max_length=2, blank=True, help_text="Two-letter state code; US addresses only."
    )
    country = CountryField(blank=True)

    class Meta:
        abstract = True


class PersonIdentity(models.Model):
    """What BVNK asks of every natural person: the individual customer or an associate."""

    first_name = models.CharField(max_length=100, blank=True, help_text="Include any middle names.")
    last_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    nationality = CountryField(blank=True)
    birth_country = CountryField(blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(
        max_length=20, blank=True, validators=[validate_e164_phone], help_text="E.164 format."
    )

    class Meta:
        abstract = True

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


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
    entity_type = models.CharField(max_length=20, choices=_choices(wire.ENTITY_TYPES), blank=True)
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
    tax_number = models.CharField(max_length=50, blank=True)
    tax_residence_country = CountryField(blank=True)

    # Individual: customer due diligence answers (bvnk-api.md 2.4).
    employment_status = models.CharField(
        max_length=20, choices=_choices(wire.EMPLOYMENT_STATUSES), blank=True
    )
    source_of_funds = models.CharField(
        max_length=20, choices=_choices(wire.SOURCES_OF_FUNDS), blank=True
    )
    pep_status = models.CharField(
        "PEP status", max_length=20, choices=_choices(wire.PEP_STATUSES), blank=True
    )
    intended_use = models.CharField(
        "intended use of account", max_length=30, choices=_choices(wire.INTENDED_USES), blank=True
    )
    expected_monthly_volume = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    expected_volume_currency = models.CharField(
        max_length=3, choices=_choices(wire.VOLUME_CURRENCIES), blank=True
    )
    estimated_yearly_income = models.CharField(
        max_length=30, choices=_choices(wire.YEARLY_INCOMES), blank=True
    )
    industry_sector = models.CharField(
        "employment industry sector",
        max_length=80,
        choices=_choices(wire.INDUSTRY_SECTORS),
        blank=True,
    )

    # What BVNK told us last.
    info_required = models.JSONField(
        default=dict, blank=True, editable=False, help_text="BVNK's infoRequired, as last seen."
    )
    verification_url = models.URLField(max_length=1000, blank=True, editable=False)
    bvnk_data = models.JSONField(default=dict, blank=True, editable=False)
    bvnk_synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When BVNK's `status` was true: the newest applied event's timestamp, or the time of
    # a read. An event older than this never overwrites the status (bvnk-api.md 6.5).
    bvnk_status_at = models.DateTimeField(
        "BVNK status as of", null=True, blank=True, editable=False
    )

    # Onboarding. Each submission gets its own number: its retries share one idempotency
    # key, a corrected resubmission after a refusal gets a new one.
    submission_count = models.PositiveIntegerField(default=0, editable=False)
    submission_errors = models.JSONField(
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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-status_changed_at"]),
            models.Index(fields=["-created_at", "-id"]),
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
        ]

    def __str__(self) -> str:
        return self.name or f"Draft {self.get_type_display().lower()} {self.external_reference}"

    @property
    def name(self) -> str:
        return self.legal_name if self.type == self.Type.COMPANY else self.full_name

    @property
    def is_company(self) -> bool:
        return self.type == self.Type.COMPANY

    @property
    def questionnaire_codes(self) -> list[str]:
        return wire.questionnaire_codes(self.info_required)

    @property
    def outstanding_documents(self) -> list[str]:
        """Label the documents BVNK's `infoRequired.documents` still asks for.

        The list is unconfirmed (Q4): objects with `type`, `subType` and
        `customerPersonReference` (the emulator's shape), or plain strings.
        """
        items = (self.info_required or {}).get("documents")
        if not isinstance(items, list):
            return []
        people = {}
        if any(isinstance(item, dict) and item.get("customerPersonReference") for item in items):
            people = {
                a.bvnk_person_reference: a.full_name
                for a in self.associates.all()
                if a.bvnk_person_reference
            }
        labels = []
        for item in items:
            if not isinstance(item, dict):
                labels.append(str(item))
                continue
            kind = (str(item.get("type") or ""), str(item.get("subType") or ""))
            label = DOCUMENT_KINDS.get(kind) or " ".join(part for part in kind if part)
            person = item.get("customerPersonReference")
            if person:
                label += f" for {people.get(person) or 'associate ' + str(person)}"
            labels.append(label)
        return labels

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

        Call it on a row locked with select_for_update (services.change_status does).
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
    # Periodic review can reopen a verified customer (bvnk-api.md 5.1, INFERRED).
    S.VERIFIED: frozenset({S.ACTIONS_REQUIRED, S.TERMINATED}),
    # Older docs: a rejection stands unless BVNK asks for more data.
    S.REJECTED: frozenset({S.INFO_REQUIRED, S.TERMINATED}),
    S.TERMINATED: frozenset(),
}


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


class Associate(PostalAddress, PersonIdentity):
    """A person behind a company customer: beneficial owner, controlling person, signer."""

    class IdDocumentType(models.TextChoices):
        PASSPORT = "PASSPORT", "Passport"
        ID_CARD = "ID_CARD", "ID card"
        DRIVER_LICENSE = "DRIVER_LICENSE", "Driving licence"
        RESIDENCE_PERMIT = "RESIDENCE_PERMIT", "Residence permit"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="associates")
    is_beneficial_owner = models.BooleanField("beneficial owner", default=False)
    is_controlling_person = models.BooleanField("controlling person", default=False)
    is_signer = models.BooleanField("signer", default=False)
    ownership_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Beneficial owners only.",
    )
    tax_number = models.CharField("tax identification number", max_length=50, blank=True)
    tax_residence_country = CountryField(blank=True)
    id_document_type = models.CharField(
        "ID document type", max_length=20, choices=IdDocumentType.choices, blank=True
    )
    id_document_number = models.CharField("ID document number", max_length=50, blank=True)
    id_document_issuing_country = CountryField("ID document issuing country", blank=True)
    id_document_expiry = models.DateField("ID document expiry date", null=True, blank=True)
    bvnk_person_reference = models.CharField(
        "BVNK person reference", max_length=64, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ownership_percentage__isnull=True)
                | Q(ownership_percentage__gte=0, ownership_percentage__lte=100),
                name="associate_ownership_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or f"Associate {self.pk}"

    @property
    def roles(self) -> list[str]:
        """The associate's roles as the keys of wire.ASSOCIATE_ROLE_TITLES."""
        flags = {
            "BENEFICIAL_OWNER": self.is_beneficial_owner,
            "CONTROLLING_PERSON": self.is_controlling_person,
            "SIGNER": self.is_signer,
        }
        return [role for role, held in flags.items() if held]

    @property
    def role_labels(self) -> str:
        labels = {
            "BENEFICIAL_OWNER": "Beneficial owner",
            "CONTROLLING_PERSON": "Controlling person",
            "SIGNER": "Signer",
        }
        return ", ".join(labels[role] for role in self.roles)


class PrivateStorage(FileSystemStorage):
    """Files with no public URL: they are only ever streamed by a permission-checked view."""

    # Read the setting on every use, not once at import, so it can differ per environment.
    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Compliance documents have no public URL.")


def private_storage() -> PrivateStorage:
    return PrivateStorage()


def document_upload_to(document: ComplianceDocument, filename: str) -> str:
    """Store under a server-generated name; the original name is kept only as metadata."""
    extension = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(
        document.content_type, ""
    )
    return f"documents/{document.customer.external_reference}/{uuid.uuid4().hex}{extension}"


DOCUMENT_KINDS = {**wire.COMPANY_DOCUMENTS, **wire.PERSON_DOCUMENTS}


class ComplianceDocument(models.Model):
    class UploadStatus(models.TextChoices):
        NOT_SENT = "NOT_SENT", "Not sent to BVNK"
        SENT = "SENT", "Sent to BVNK"
        APPROVED = "APPROVED", "Approved by BVNK"
        REJECTED = "REJECTED", "Rejected by BVNK"
        FAILED = "FAILED", "Upload failed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    associate = models.ForeignKey(
        Associate, on_delete=models.CASCADE, null=True, blank=True, related_name="documents"
    )
    document_type = models.CharField(
        "BVNK type", max_length=30, choices=_choices({k[0]: k[0] for k in DOCUMENT_KINDS})
    )
    document_sub_type = models.CharField(
        "BVNK sub-type",
        max_length=30,
        blank=True,
        choices=_choices({k[1]: k[1] for k in DOCUMENT_KINDS if k[1]}),
    )
    original_name = models.CharField(max_length=255)
    file = models.FileField(storage=private_storage, upload_to=document_upload_to, max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, help_text="Detected from the file's bytes.")
    sha256 = models.CharField("SHA-256", max_length=64)
    upload_status = models.CharField(
        max_length=20, choices=UploadStatus.choices, default=UploadStatus.NOT_SENT, editable=False
    )
    bvnk_reference = models.CharField(
        "BVNK document reference", max_length=64, unique=True, null=True, blank=True, editable=False
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        permissions = [("download_document", "Can download compliance documents")]

    def __str__(self) -> str:
        return f"{self.kind_label}: {self.original_name}"

    @property
    def kind_label(self) -> str:
        return DOCUMENT_KINDS.get((self.document_type, self.document_sub_type), self.document_type)


class AgreementSession(models.Model):
    """A BVNK terms-and-conditions signing session (bvnk-api.md section 3)."""

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        SIGNED = "SIGNED", "Signed"
        DECLINED = "DECLINED", "Declined"

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="agreement_sessions"
    )
    bvnk_reference = models.CharField(
        "BVNK session reference", max_length=64, unique=True, editable=False
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, editable=False
    )
    use_case = models.CharField(max_length=40, choices=_choices(wire.USE_CASES))
    country = CountryField()
    expires_on = models.DateTimeField(null=True, blank=True)
    bvnk_data = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Agreement session {self.bvnk_reference} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_on is not None and self.expires_on <= timezone.now()


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


class WebhookEvent(models.Model):
    """One BVNK webhook event, stored before anything else happens to it (the inbox).

    Deliveries are deduplicated on `event_id`; processing works from these rows only, so a
    stored event is never lost whatever the broker or BVNK do (customers/inbox.py).
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
    """Webhook deliveries refused for their signature, counted per day and reason."""

    class Reason(models.TextChoices):
        MISSING = "MISSING", "Missing signature"
        INVALID = "INVALID", "Invalid signature"

    day = models.DateField(editable=False)
    reason = models.CharField(max_length=10, choices=Reason.choices, editable=False)
    count = models.PositiveIntegerField(default=0, editable=False)
    last_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-day", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["day", "reason"], name="webhook_rejection_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.count} x {self.get_reason_display().lower()}"
