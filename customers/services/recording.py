"""Recording what BVNK reports and answers: details, sessions, documents, the create."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import payloads
from ..bvnk import types as bvnk_types
from ..bvnk.errors import BvnkError
from ..models import (
    AgreementSession,
    Associate,
    BvnkOperation,
    ComplianceDocument,
    Customer,
    StatusChange,
    same_person,
)
from ..onboarding import refusals
from .status import apply_bvnk_status, change_status, customer_write


def customer_record_bvnk_details(
    customer: Customer,
    *,
    observed_at: datetime,
    info_required: dict[str, Any] | None = None,
    verification_url: str | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Store what BVNK says a customer still needs, unless the portal holds newer details.

    A None argument leaves its field alone. Returns whether anything was written.
    """
    with customer_write(customer) as locked:
        values = record_bvnk_details(
            locked,
            observed_at=observed_at,
            info_required=info_required,
            verification_url=verification_url,
            data=data,
        )
    if values is None:
        return False
    for name, value in values.items():
        setattr(customer, name, value)
    return True


def record_bvnk_details(
    locked: Customer,
    *,
    observed_at: datetime,
    info_required: dict[str, Any] | None = None,
    verification_url: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`customer_record_bvnk_details` on a row locked by `customer_write`; the values written."""
    if locked.bvnk_synced_at is not None and observed_at < locked.bvnk_synced_at:
        return None
    values: dict[str, Any] = {"bvnk_synced_at": observed_at}
    if info_required is not None:
        values["info_required"] = info_required
    if verification_url is not None:
        values["verification_url"] = _link(verification_url)
    if data is not None:
        values["bvnk_data"] = locked.bvnk_data = data
        values["details_drift"] = _details_drift(locked)
    for name, value in values.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*values, "updated_at"])
    return values


def _details_drift(locked: Customer) -> list[str]:
    """The details BVNK holds otherwise, unless an update on its way explains the difference."""
    drift = payloads.details_drift(locked)
    if not drift:  # the usual case, without a query
        return []
    unsent = locked.operations.filter(
        kind=BvnkOperation.Kind.UPDATE_CUSTOMER,
        state__in=(BvnkOperation.State.PENDING, BvnkOperation.State.IN_FLIGHT),
    )
    return [] if unsent.exists() else drift


def _link(url: str) -> str:
    """Return `url` when staff may safely open it (http or https, fits the field), else ""."""
    return url if urlsplit(url).scheme in ("http", "https") and len(url) <= 1000 else ""


def agreement_session_apply_bvnk_status(
    session: AgreementSession, status: str, *, data: dict[str, Any] | None = None
) -> bool:
    """Store the status BVNK reports for an agreement session; returns whether it changed."""
    new = AgreementSession.Status(status)
    # The customer first, then the session: the order the webhook inbox locks them in.
    with customer_write(session.customer_id):
        locked = AgreementSession.objects.select_for_update().get(pk=session.pk)
        fields = ["updated_at"]
        if data is not None:
            locked.bvnk_data = data
            fields.append("bvnk_data")
        changed = locked.status != new
        if changed:
            locked.status = new
            fields.append("status")
        if len(fields) > 1:
            locked.save(update_fields=fields)
    session.status = locked.status
    return changed


def document_apply_bvnk_status(
    document: ComplianceDocument, upload_status: str, *, reason: str = ""
) -> bool:
    """Store BVNK's review outcome for a document (and its reason); returns whether it changed."""
    new = ComplianceDocument.UploadStatus(upload_status)
    reason = reason[:500] if new == ComplianceDocument.UploadStatus.REJECTED else ""
    with transaction.atomic():
        locked = ComplianceDocument.objects.select_for_update().get(pk=document.pk)
        if (locked.upload_status, locked.bvnk_reason) == (new, reason):
            return False
        locked.upload_status = new
        locked.bvnk_reason = reason
        locked.save(update_fields=["upload_status", "bvnk_reason", "updated_at"])
    document.upload_status = new
    document.bvnk_reason = reason
    return True


def _match_people(
    associates: list[Associate], persons: tuple[bvnk_types.PersonRef, ...]
) -> dict[int, str]:
    """Pair associates with BVNK's person references: by name and birth date, else order."""
    matched: dict[int, str] = {}
    left = list(persons)
    for associate in associates:
        person = next(
            (p for p in left if same_person(associate, p.first_name, p.last_name, p.date_of_birth)),
            None,
        )
        if person is not None and person.reference:
            matched[associate.pk] = person.reference
            left.remove(person)
    if not matched and len(associates) == len(persons):
        matched = {
            a.pk: p.reference for a, p in zip(associates, persons, strict=True) if p.reference
        }
    return matched


def customer_record_people(customer: Customer, remote: bvnk_types.Customer) -> None:
    """Store BVNK's person reference on each associate it lists (documents name the person)."""
    if customer.is_company:
        people = _match_people(payloads.payload_associates(customer), remote.persons)
        for pk, reference in people.items():
            Associate.objects.filter(pk=pk).update(bvnk_person_reference=reference)


def document_record_upload(document: ComplianceDocument, *, reference: str, status: str) -> None:
    """Store what BVNK answered to a document upload: its reference and upload status."""
    upload_status = payloads.DOCUMENT_STATUSES.get(
        status.upper(), ComplianceDocument.UploadStatus.SENT
    )
    reviewed = (ComplianceDocument.UploadStatus.APPROVED, ComplianceDocument.UploadStatus.REJECTED)
    # One statement: a reference already stored stays, and a review outcome that arrived
    # first (webhook) is newer than "uploaded".
    ComplianceDocument.objects.filter(pk=document.pk).update(
        bvnk_reference=Coalesce(F("bvnk_reference"), Value(reference or None)),
        upload_status=Case(
            When(upload_status__in=reviewed, then=F("upload_status")),
            default=Value(upload_status),
        ),
        updated_at=timezone.now(),
    )


def customer_record_created(
    customer: Customer,
    *,
    remote: bvnk_types.Customer | None,
    created: bvnk_types.CustomerCreated | None,
) -> None:
    """Store what BVNK holds for a just-created customer and leave SUBMITTING.

    One lock and one summary for the lot: the details and the status are written by the
    helpers of `customer_record_bvnk_details` and `customer_apply_bvnk_status`.
    """
    now = timezone.now()
    with customer_write(customer) as locked:
        if remote is not None:
            customer_record_people(locked, remote)
            record_bvnk_details(
                locked,
                observed_at=now,
                info_required=remote.info_required,
                verification_url=remote.verification_url,
                data=remote.raw,
            )
        elif created is not None and created.questionnaire_codes:
            record_bvnk_details(
                locked,
                observed_at=now,
                info_required={"questionnaireCodes": list(created.questionnaire_codes)},
            )
        status = (remote.status if remote else "") or (created.status if created else "")
        if status not in Customer.Status.values or not locked.can_transition_to(status):
            status = Customer.Status.INFO_REQUIRED  # BVNK's guide answers a create INFO_REQUIRED.
        apply_bvnk_status(
            locked,
            status,
            observed_at=now,
            source=StatusChange.Source.SUBMISSION,
            source_reference=str(locked.bvnk_reference),
            reason=f"Created at BVNK (submission {locked.submission_count}).",
        )
    _copy_row(locked, customer)


def _copy_row(locked: Customer, customer: Customer) -> None:
    """Give the caller's instance the row as the service left it, without reading it again."""
    for field in Customer._meta.concrete_fields:
        setattr(customer, field.attname, getattr(locked, field.attname))


def customer_submission_refused(
    customer: Customer,
    *,
    associates: list[Associate],
    error: BvnkError | None = None,
    message: str = "",
) -> None:
    """Send a refused submission back to DRAFT with BVNK's errors on the right steps."""
    errors = refusals.map_bvnk_errors(customer, error.field_errors if error else {}, associates)
    errors.update(
        message=error.message if error else message,
        code=error.code if error else "",
        trace_id=error.trace_id if error else "",
        submission=customer.submission_count,
        at=timezone.now().isoformat(),
    )
    with customer_write(customer) as locked:
        locked.submission_errors = errors
        locked.save(update_fields=["submission_errors", "updated_at"])
        change_status(
            locked,
            Customer.Status.DRAFT,
            source=StatusChange.Source.SUBMISSION,
            source_reference=error.trace_id if error else "",
            reason=f"BVNK refused submission {locked.submission_count}: "
            + (error.summary() if error else message),
        )
    _copy_row(locked, customer)
