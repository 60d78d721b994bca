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
from .crypto import BlindIndexField, EncryptedCharField, EncryptedDateField, with_index_fields
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
    # Encrypted at rest (customers/crypto.py), a date in Python.
    date_of_birth = EncryptedDateField(null=True, blank=True)
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
    # Encrypted at rest; exact searches go through the keyed hash (customers/crypto.py).
    tax_number = EncryptedCharField(max_length=50, blank=True)
    tax_number_hash = BlindIndexField(source="tax_number")
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

    # My customers, denormalised so a page of a million rows needs no query per row.
    # `search_name` follows the name fields in save(); the other three are derived by
    # customers.requirements.summary_store, which the services call when an input changes.
    search_name = models.CharField(max_length=200, blank=True, editable=False)
    blocking_summary = models.CharField(
        max_length=200, blank=True, editable=False, help_text="What the customer waits for."
    )
    waiting_on = models.CharField(
        max_length=10, choices=WaitingOn.choices, blank=True, editable=False
    )
    needs_attention = models.BooleanField(
        default=False,
        editable=False,
        help_text="A BVNK operation failed or needs staff, or BVNK refused the submission.",
    )
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
            models.Index(fields=["search_name", "id"], name="customer_name_idx"),
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


NAME_FIELDS = frozenset({"type", "legal_name", "first_name", "last_name"})

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
    # Encrypted at rest (customers/crypto.py).
    tax_number = EncryptedCharField("tax identification number", max_length=50, blank=True)
    tax_number_hash = BlindIndexField(source="tax_number")
    tax_residence_country = CountryField(blank=True)
    id_document_type = models.CharField(
        "ID document type", max_length=20, choices=IdDocumentType.choices, blank=True
    )
    id_document_number = EncryptedCharField("ID document number", max_length=50, blank=True)
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keep the tax number's keyed hash in step, also on saves of a few fields."""
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = with_index_fields(Associate, kwargs["update_fields"])
        super().save(*args, **kwargs)

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

    class ScanStatus(models.TextChoices):
        """The malware scan (customers/scanning.py); PENDING and INFECTED are quarantined."""

        NOT_SCANNED = "NOT_SCANNED", "Not scanned (no scanner configured)"
        CLEAN = "CLEAN", "Clean"
        PENDING = "PENDING", "Quarantined until scanned"
        INFECTED = "INFECTED", "Malware found"

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
    scan_status = models.CharField(
        "malware scan",
        max_length=20,
        choices=ScanStatus.choices,
        default=ScanStatus.NOT_SCANNED,
        editable=False,
    )
    scan_detail = models.CharField(
        max_length=200, blank=True, editable=False, help_text="Signature found, or scanner error."
    )
    scanned_at = models.DateTimeField(null=True, blank=True, editable=False)
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

    @property
    def is_quarantined(self) -> bool:
        """Held by the malware scan: not shown, not downloaded, not sent to BVNK."""
        return self.scan_status in (self.ScanStatus.PENDING, self.ScanStatus.INFECTED)


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


class BvnkOperation(models.Model):
    """One write that must reach BVNK, kept until it has (the outbox, customers/outbox.py).

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
    payload = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="The body as sent (creates, updates, answers) or what it is read from.",
    )
    document = models.ForeignKey(
        ComplianceDocument,
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
    last_error = models.TextField(blank=True, editable=False)
    error_code = models.CharField(max_length=60, blank=True, editable=False)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    field_errors = models.JSONField(
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
