"""Compliance documents in private storage, and BVNK agreement signing sessions."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone
from django_countries.fields import CountryField

from ..bvnk import wire
from .associates import Associate
from .base import DOCUMENT_KINDS, wire_choices
from .customers import Customer


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
        "BVNK type", max_length=30, choices=wire_choices({k[0]: k[0] for k in DOCUMENT_KINDS})
    )
    document_sub_type = models.CharField(
        "BVNK sub-type",
        max_length=30,
        blank=True,
        choices=wire_choices({k[1]: k[1] for k in DOCUMENT_KINDS if k[1]}),
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
    # BVNK's words when it rejects the document (the document-status-change event).
    bvnk_reason = models.CharField(
        "BVNK's reason", max_length=500, blank=True, default="", editable=False
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
    """A BVNK terms-and-conditions signing session (hosted page, confirmed by a read)."""

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
    use_case = models.CharField(max_length=40, choices=wire_choices(wire.USE_CASES))
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
