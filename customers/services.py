"""Use cases that change customers. Every write to customer state goes through here."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import audit, notifications, onboarding, payloads, refusals, requirements, slots
from .bvnk import types as bvnk_types
from .bvnk.client import (
    BvnkClient,
    CallRecord,
    config_from_settings,
    idempotency_key,
    thread_session,
)
from .bvnk.errors import BvnkError
from .documents import CheckedFile
from .models import (
    AgreementSession,
    Associate,
    BvnkCall,
    BvnkOperation,
    ComplianceDocument,
    Customer,
    StatusChange,
)

logger = logging.getLogger(__name__)


def bvnk_client(
    *, triggered_by: str, customer: Customer | None = None, actor: Any = None
) -> BvnkClient:
    """A BVNK client whose every call is recorded as a BvnkCall row (without bodies)."""

    def record(call: CallRecord) -> None:
        BvnkCall.objects.create(
            started_at=call.started_at,
            method=call.method,
            path=call.path[:300],
            action=call.action,
            idempotency_key=call.idempotency_key,
            status_code=call.status_code,
            trace_id=call.trace_id,
            error=call.error[:500],
            duration_ms=call.duration_ms,
            customer=customer if customer is not None and customer.pk else None,
            actor=actor if getattr(actor, "pk", None) else None,
            triggered_by=triggered_by[:100],
        )

    return BvnkClient(config_from_settings(), session=thread_session(), observer=record)


def customer_create_draft(*, customer_type: str, actor: Any) -> Customer:
    """Start onboarding a customer: a draft row that every later step saves into."""
    with transaction.atomic():
        customer = Customer.objects.create(type=Customer.Type(customer_type), created_by=actor)
        requirements.summary_refresh(customer)
    return customer


def customer_change_status(
    customer: Customer,
    new_status: str,
    *,
    source: str,
    actor: Any = None,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """Move a customer to `new_status` under a row lock; None when it is already there.

    Raises InvalidTransition for a move the transition table refuses.
    """
    with transaction.atomic():
        locked = _lock(customer)
        change = _change_status(
            locked,
            new_status,
            source=source,
            actor=actor,
            source_reference=source_reference,
            reason=reason,
        )
        if change is not None:
            requirements.summary_store(locked)
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    return change


def _lock(customer: Customer) -> Customer:
    """Lock the customer's row (inside a transaction) and load it as it is now.

    A service locks once and hands the locked row to the `_` helpers below, which do
    their part without locking or reading it again; the service stores the summary
    (`requirements.summary_store`) once, at the end.
    """
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _change_status(
    locked: Customer,
    new_status: str,
    *,
    source: str,
    actor: Any = None,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """`customer_change_status` on a locked row; the caller stores the summary."""
    if locked.status == new_status:
        return None
    change = locked.transition_to(
        new_status, source=source, actor=actor, source_reference=source_reference, reason=reason
    )
    notifications.status_change_queue(change)
    return change


# -- What BVNK reports (webhooks, reads) -----------------------------------------------


def customer_apply_bvnk_status(
    customer: Customer,
    status: str,
    *,
    observed_at: datetime,
    source: str,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """Apply the status BVNK reported as true at `observed_at`, unless the portal holds newer.

    Returns the change; None when the report is not newer than `bvnk_status_at` (BVNK
    does not promise order, bvnk-api.md 6.5) or the customer already has that status.
    Raises InvalidTransition.
    """
    with transaction.atomic():
        locked = _lock(customer)
        change = _apply_bvnk_status(
            locked,
            status,
            observed_at=observed_at,
            source=source,
            source_reference=source_reference,
            reason=reason,
        )
        if change is not None:
            requirements.summary_store(locked)
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    customer.bvnk_status_at = locked.bvnk_status_at
    return change


def _apply_bvnk_status(
    locked: Customer,
    status: str,
    *,
    observed_at: datetime,
    source: str,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """`customer_apply_bvnk_status` on a locked row; the caller stores the summary."""
    if locked.bvnk_status_at is not None and observed_at <= locked.bvnk_status_at:
        return None
    change = _change_status(
        locked, status, source=source, source_reference=source_reference, reason=reason
    )
    locked.bvnk_status_at = observed_at
    locked.save(update_fields=["bvnk_status_at", "updated_at"])
    return change


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
    with transaction.atomic():
        locked = _lock(customer)
        values = _record_bvnk_details(
            locked,
            observed_at=observed_at,
            info_required=info_required,
            verification_url=verification_url,
            data=data,
        )
        if values is None:
            return False
        requirements.summary_store(locked)
    for name, value in values.items():
        setattr(customer, name, value)
    return True


def _record_bvnk_details(
    locked: Customer,
    *,
    observed_at: datetime,
    info_required: dict[str, Any] | None = None,
    verification_url: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """`customer_record_bvnk_details` on a locked row; return the values written, if any.

    The caller stores the summary.
    """
    if locked.bvnk_synced_at is not None and observed_at < locked.bvnk_synced_at:
        return None
    values: dict[str, Any] = {"bvnk_synced_at": observed_at}
    if info_required is not None:
        values["info_required"] = info_required
    if verification_url is not None:
        values["verification_url"] = _link(verification_url)
    if data is not None:
        values["bvnk_data"] = data
    for name, value in values.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*values, "updated_at"])
    return values


def _link(url: str) -> str:
    """Return `url` when staff may safely open it (http or https, fits the field), else ""."""
    return url if urlsplit(url).scheme in ("http", "https") and len(url) <= 1000 else ""


def agreement_session_apply_bvnk_status(
    session: AgreementSession, status: str, *, data: dict[str, Any] | None = None
) -> bool:
    """Store the status BVNK reports for an agreement session; returns whether it changed."""
    new = AgreementSession.Status(status)
    with transaction.atomic():
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
        if changed:
            requirements.summary_refresh(locked.customer_id)
    session.status = locked.status
    return changed


def document_apply_bvnk_status(document: ComplianceDocument, upload_status: str) -> bool:
    """Store BVNK's review outcome for a document; returns whether it changed."""
    new = ComplianceDocument.UploadStatus(upload_status)
    with transaction.atomic():
        locked = ComplianceDocument.objects.select_for_update().get(pk=document.pk)
        if locked.upload_status == new:
            return False
        locked.upload_status = new
        locked.save(update_fields=["upload_status", "updated_at"])
    document.upload_status = new
    return True


# -- Onboarding (drafts, associates, documents, agreement, submission) -------------------


class NotEditable(Exception):
    """The customer is no longer a draft, so its onboarding cannot change."""

    def __init__(self, customer: Customer) -> None:
        super().__init__(
            f"{customer} is {customer.get_status_display().lower()}; only drafts can be edited."
        )


class OnboardingIncomplete(Exception):
    """A submission was asked for while the draft still misses something."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("The customer cannot be submitted yet: " + "; ".join(missing))
        self.missing = missing


class NotUpdatable(Exception):
    """BVNK does not take updates for this customer (not created, or closed)."""


UPDATABLE_STATUSES = frozenset(
    {
        Customer.Status.INFO_REQUIRED,
        Customer.Status.PENDING,
        Customer.Status.VERIFIED,
        Customer.Status.ACTIONS_REQUIRED,
    }
)


def _locked_draft(customer: Customer) -> Customer:
    """Lock the customer row (inside a transaction) and check it is still a draft."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.status != Customer.Status.DRAFT:
        raise NotEditable(locked)
    return locked


def _delete_files_on_commit(names: list[str]) -> None:
    """Remove stored files once the rows pointing at them are gone for good."""
    from .models import private_storage

    def delete() -> None:
        storage = private_storage()
        for name in names:
            if name:
                storage.delete(name)

    transaction.on_commit(delete)


def _store_errors(locked: Customer, errors: dict[str, Any], fields: list[str]) -> None:
    if errors is not locked.submission_errors:
        locked.submission_errors = errors
        fields.append("submission_errors")


def _audit_changes(
    actor: Any,
    customer: Customer,
    summary: str,
    old: dict[str, Any],
    new: dict[str, Any],
    fields: list[str] | None = None,
) -> None:
    """Record the fields a user changed, old and new values (masked when personal)."""
    changes = audit.field_changes(old, new, fields=fields)
    if changes:
        audit.record(
            actor=actor,
            action=audit.Action.CHANGE,
            summary=summary,
            customer=customer,
            changes=changes,
        )


def onboarding_save_step(
    *, customer: Customer, step: str, values: dict[str, Any], actor: Any, complete: bool
) -> None:
    """Store one step's values on a draft; a complete save clears BVNK's errors for it."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        fields = list(values)
        old = {name: getattr(locked, name) for name in values}
        for name, value in values.items():
            setattr(locked, name, value)
        if complete:
            _store_errors(
                locked, refusals.without_step_errors(locked.submission_errors, step), fields
            )
        locked.save(update_fields=[*fields, "updated_at"])
        _audit_changes(actor, locked, f"Saved the {step} step", old, values)
        requirements.summary_store(locked)
    for name in [*fields, "updated_at"]:
        setattr(customer, name, getattr(locked, name))
    logger.info("Draft %s: step %s saved by %s", customer.pk, step, getattr(actor, "pk", None))


def associate_save(
    *, customer: Customer, associate: Associate | None, values: dict[str, Any], actor: Any
) -> Associate:
    """Add a person to a draft company, or change one."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        if associate is None:
            associate = Associate(customer=locked)
        elif associate.customer_id != locked.pk:
            raise ValueError("The associate belongs to another customer.")
        old = {name: getattr(associate, name) for name in values}
        adding = associate._state.adding
        for name, value in values.items():
            setattr(associate, name, value)
        associate.save()
        fields: list[str] = []
        errors = refusals.without_associate_errors(locked.submission_errors, associate.pk)
        _store_errors(locked, refusals.without_step_errors(errors, "associates"), fields)
        locked.save(update_fields=[*fields, "updated_at"])
        what = "Added" if adding else "Changed"
        _audit_changes(actor, locked, f"{what} associate {associate.pk}", old, values)
        requirements.summary_store(locked)
    logger.info("Draft %s: associate %s saved by %s", locked.pk, associate.pk, actor)
    return associate


def associate_delete(*, associate: Associate, actor: Any) -> None:
    """Remove a person, and their documents, from a draft company."""
    with transaction.atomic():
        locked = _locked_draft(associate.customer)
        names = [document.file.name for document in associate.documents.all()]
        pk = associate.pk
        associate.delete()
        fields: list[str] = []
        errors = refusals.without_associate_errors(locked.submission_errors, pk)
        _store_errors(locked, refusals.without_step_errors(errors, "associates"), fields)
        locked.save(update_fields=[*fields, "updated_at"])
        _delete_files_on_commit(names)
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Removed associate {pk} and their documents",
            customer=locked,
        )
        requirements.summary_store(locked)
    logger.info("Draft %s: associate %s removed by %s", locked.pk, pk, actor)


def document_store(
    *,
    customer: Customer,
    slot: slots.Slot,
    upload: Any,
    checked: CheckedFile,
    actor: Any,
) -> ComplianceDocument:
    """Store a checked file in a document slot of a draft, replacing what was there."""
    with transaction.atomic():
        locked = _locked_draft(customer)
        previous = list(
            locked.documents.filter(
                associate=slot.associate,
                document_type=slot.document_type,
                document_sub_type=slot.sub_type,
            )
        )
        document = ComplianceDocument(
            customer=locked,
            associate=slot.associate,
            document_type=slot.document_type,
            document_sub_type=slot.sub_type,
            original_name=checked.name,
            size=checked.size,
            content_type=checked.content_type,
            sha256=checked.sha256,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
            scan_status=checked.scan_status,
            scan_detail=checked.scan_detail,
            scanned_at=timezone.now() if checked.scan_status == "CLEAN" else None,
        )
        # A re-encoded image replaces the bytes as uploaded (customers/documents.py).
        stored = ContentFile(checked.content) if checked.content is not None else upload
        document.file.save(checked.name, stored, save=False)
        try:
            for old in previous:
                old.delete()
            document.save()
            locked.save(update_fields=["updated_at"])
        except Exception:
            document.file.storage.delete(document.file.name)
            raise
        _delete_files_on_commit([old.file.name for old in previous])
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Uploaded {slot.label} ({document.size} bytes)",
            customer=locked,
            details={"document": document.pk, "replaced": [old.pk for old in previous]},
        )
        requirements.summary_store(locked)
    return document


def document_delete(*, document: ComplianceDocument, actor: Any) -> None:
    """Remove a document from a draft."""
    with transaction.atomic():
        locked = _locked_draft(document.customer)
        name = document.file.name
        label, pk = document.kind_label, document.pk
        document.delete()
        locked.save(update_fields=["updated_at"])
        _delete_files_on_commit([name])
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Removed a document: {label}",
            customer=locked,
            details={"document": pk},
        )
        requirements.summary_store(locked)
    logger.info("Draft %s: document removed by %s", locked.pk, actor)


def _session_data(session: bvnk_types.AgreementSession) -> dict[str, Any]:
    return {
        "reference": session.reference,
        "status": session.status,
        "customerType": session.customer_type,
        "useCase": session.use_case,
        "countryCode": session.country_code,
        "expiresOn": session.expires_on.isoformat() if session.expires_on else None,
        "agreements": [
            {
                "name": agreement.name,
                "displayName": agreement.display_name,
                "url": agreement.url,
                "privacyPolicyUrl": agreement.privacy_policy_url,
            }
            for agreement in session.agreements
        ],
    }


def agreement_session_start(
    *, customer: Customer, actor: Any, return_url: Callable[[AgreementSession], str]
) -> str:
    """Open a BVNK agreement session for a draft; return BVNK's hosted page to send them to.

    A pending session for the same country is reused. `return_url` gives the absolute
    portal URL BVNK sends the user back to.
    """
    if customer.status != Customer.Status.DRAFT:
        raise NotEditable(customer)
    request = payloads.agreement_session_create(customer)
    pending = (
        customer.agreement_sessions.filter(
            status=AgreementSession.Status.PENDING, country=request.country_code
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if pending is not None and not pending.is_expired and pending.use_case == request.use_case:
        session = pending
    else:
        # One key per session opened: a retry after a lost answer gets BVNK's session back.
        key = idempotency_key(
            "agreement_session.create",
            str(customer.external_reference),
            str(customer.agreement_sessions.count() + 1),
        )
        with bvnk_client(
            triggered_by="onboarding: agreement", customer=customer, actor=actor
        ) as client:
            created = client.create_agreement_session(request, idempotency_key=key)
        status = created.status if created.status in AgreementSession.Status.values else "PENDING"
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Opened agreement session {created.reference}",
            customer=customer,
        )
        session, _ = AgreementSession.objects.get_or_create(
            bvnk_reference=created.reference,
            defaults={
                "customer": customer,
                "status": status,
                "use_case": created.use_case or request.use_case,
                "country": created.country_code or request.country_code,
                "expires_on": created.expires_on,
                "bvnk_data": _session_data(created),
            },
        )
    query = urlencode({"session": session.bvnk_reference, "redirectUri": return_url(session)})
    return f"{settings.BVNK_AGREEMENT_URL}?{query}"


def agreement_session_confirm(*, session: AgreementSession, actor: Any) -> AgreementSession:
    """Ask BVNK for a session's status; the hosted page's redirect alone proves nothing."""
    with bvnk_client(
        triggered_by="onboarding: agreement return", customer=session.customer, actor=actor
    ) as client:
        remote = client.get_agreement_session(session.bvnk_reference)
    if remote.status in AgreementSession.Status.values:
        agreement_session_apply_bvnk_status(session, remote.status, data=_session_data(remote))
    if remote.expires_on and remote.expires_on != session.expires_on:
        AgreementSession.objects.filter(pk=session.pk).update(expires_on=remote.expires_on)
        session.expires_on = remote.expires_on
    if session.status == AgreementSession.Status.SIGNED:
        with transaction.atomic():
            locked = Customer.objects.select_for_update().get(pk=session.customer_id)
            fields: list[str] = []
            _store_errors(
                locked,
                refusals.without_step_errors(locked.submission_errors, "agreement"),
                fields,
            )
            if fields:
                locked.save(update_fields=[*fields, "updated_at"])
    return session


def customer_submit(*, customer: Customer, actor: Any) -> None:
    """Submit a complete draft: SUBMITTING and its create operation now, sent after commit.

    The create's body is built here and kept on the operation, so every attempt sends the
    same body with the same key (decision 6), whatever happens to the draft's rows later.
    """
    from . import outbox  # the outbox imports this module.

    with transaction.atomic():
        locked = _locked_draft(customer)
        progress = onboarding.Progress(locked)
        missing = [item for _, items in progress.all_missing() for item in items]
        if missing:
            raise OnboardingIncomplete(missing)
        associates = payloads.payload_associates(locked)
        try:
            body = payloads.customer_create(locked, associates=associates).to_wire()
        except payloads.IncompleteCustomer as problem:
            raise OnboardingIncomplete([str(problem)]) from None
        locked.submission_count += 1
        locked.submission_errors = {}
        locked.save(update_fields=["submission_count", "submission_errors", "updated_at"])
        _change_status(
            locked,
            Customer.Status.SUBMITTING,
            source=StatusChange.Source.STAFF,
            actor=actor,
            reason=f"Submitted to BVNK (submission {locked.submission_count}).",
        )
        requirements.summary_store(locked)
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Submitted to BVNK (submission {locked.submission_count})",
            customer=locked,
        )
        operation = outbox.operation_add(
            customer=locked,
            kind=BvnkOperation.Kind.CREATE_CUSTOMER,
            key=submission_idempotency_key(locked),
            # Associates in the order sent, so BVNK's `associates[i]` errors find their person.
            payload={
                "body": body,
                "submission": locked.submission_count,
                "associates": [associate.pk for associate in associates],
            },
            actor=actor,
            supersedes=locked.operations.filter(kind=BvnkOperation.Kind.CREATE_CUSTOMER),
        )
        outbox.enqueue_after_commit([operation])
    for name in ("status", "status_changed_at", "submission_count", "submission_errors"):
        setattr(customer, name, getattr(locked, name))


def submission_idempotency_key(customer: Customer) -> str:
    """The X-Idempotency-Key of the customer's current submission (same on every retry)."""
    return idempotency_key(
        "customer.create", str(customer.external_reference), str(customer.submission_count)
    )


def _match_people(
    associates: list[Associate], persons: tuple[bvnk_types.PersonRef, ...]
) -> dict[int, str]:
    """Pair associates with BVNK's person references: by name and birth date, else order."""
    from .company_forms import same_person

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
    from .inbox import DOCUMENT_STATUSES  # one table of BVNK's document statuses

    upload_status = DOCUMENT_STATUSES.get(status.upper(), ComplianceDocument.UploadStatus.SENT)
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
    with transaction.atomic():
        locked = _lock(customer)
        if remote is not None:
            customer_record_people(locked, remote)
            _record_bvnk_details(
                locked,
                observed_at=now,
                info_required=remote.info_required,
                verification_url=remote.verification_url,
                data=remote.raw,
            )
        elif created is not None and created.questionnaire_codes:
            _record_bvnk_details(
                locked,
                observed_at=now,
                info_required={"questionnaireCodes": list(created.questionnaire_codes)},
            )
        status = (remote.status if remote else "") or (created.status if created else "")
        if status not in Customer.Status.values or not locked.can_transition_to(status):
            status = Customer.Status.INFO_REQUIRED  # Decision 2: a create starts there.
        _apply_bvnk_status(
            locked,
            status,
            observed_at=now,
            source=StatusChange.Source.SUBMISSION,
            source_reference=str(locked.bvnk_reference),
            reason=f"Created at BVNK (submission {locked.submission_count}).",
        )
        requirements.summary_store(locked)
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
    with transaction.atomic():
        locked = _lock(customer)
        locked.submission_errors = errors
        locked.save(update_fields=["submission_errors", "updated_at"])
        _change_status(
            locked,
            Customer.Status.DRAFT,
            source=StatusChange.Source.SUBMISSION,
            source_reference=error.trace_id if error else "",
            reason=f"BVNK refused submission {locked.submission_count}: "
            + (error.summary() if error else message),
        )
        requirements.summary_store(locked)
    _copy_row(locked, customer)


def customer_update_details(*, customer: Customer, values: dict[str, Any], actor: Any) -> list[str]:
    """Change contact details, address or date of birth, and queue the PUT to BVNK.

    Returns the names of the fields that changed (nothing is sent when none did). The
    PUT's body is kept on its operation, with a key of its own: a correction after a
    refusal is a new operation with a new key, and it supersedes older unsent ones.
    """
    from . import outbox  # the outbox imports this module.

    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if not locked.bvnk_reference or locked.status not in UPDATABLE_STATUSES:
            raise NotUpdatable(
                f"{locked} is {locked.get_status_display().lower()}; BVNK takes updates only "
                "for created customers that are not rejected or terminated."
            )
        changed = [name for name, value in values.items() if getattr(locked, name) != value]
        if not changed:
            return []
        old = {name: getattr(locked, name) for name in changed}
        for name in changed:
            setattr(locked, name, values[name])
        locked.save(update_fields=[*changed, "updated_at"])
        _audit_changes(actor, locked, "Changed details (sent to BVNK)", old, values, changed)
        operation = outbox.operation_add(
            customer=locked,
            kind=BvnkOperation.Kind.UPDATE_CUSTOMER,
            key=idempotency_key(
                "customer.update", str(locked.external_reference), uuid.uuid4().hex
            ),
            payload={"body": payloads.customer_update(locked).to_wire(), "fields": changed},
            actor=actor,
            supersedes=locked.operations.filter(kind=BvnkOperation.Kind.UPDATE_CUSTOMER),
        )
        outbox.enqueue_after_commit([operation])
    for name in changed:
        setattr(customer, name, getattr(locked, name))
    logger.info(
        "Customer %s: %s changed by %s (operation %s)",
        locked.pk,
        ", ".join(changed),
        getattr(actor, "pk", None),
        operation.pk,
    )
    return changed


# -- The submission pipeline's operations (customers/outbox.py sends them) ---------------


class OperationNotRetryable(Exception):
    """Only failed operations, or ones that need attention, can be sent again."""


def operation_retry(operation: BvnkOperation, *, actor: Any) -> BvnkOperation:
    """Send a failed or stuck operation again: same key and body, fresh attempt counters.

    Raises OperationNotRetryable for an operation that is not failed or needing
    attention, and for a create BVNK refused (correct the draft and submit it again).
    """
    from . import outbox  # the outbox imports this module.

    State = BvnkOperation.State
    with transaction.atomic():
        locked = BvnkOperation.objects.select_for_update().get(pk=operation.pk)
        if locked.state not in (State.FAILED, State.NEEDS_ATTENTION):
            raise OperationNotRetryable(
                f"{locked} is {locked.get_state_display().lower()}: only failed operations "
                "or ones that need attention can be retried."
            )
        customer = Customer.objects.get(pk=locked.customer_id)
        if (
            locked.kind == BvnkOperation.Kind.CREATE_CUSTOMER
            and customer.status != Customer.Status.SUBMITTING
        ):
            raise OperationNotRetryable(
                "BVNK refused this submission: correct the draft and submit it again."
            )
        now = timezone.now()
        previous = locked.get_state_display().lower()
        locked.state = State.PENDING
        locked.attempts = locked.lost_claims = 0
        locked.next_attempt_at = locked.enqueued_at = locked.retried_at = now
        locked.retried_by = actor if getattr(actor, "pk", None) else None
        locked.completed_at = None
        locked.note = f"Retried by {actor or 'the system'}."[:300]
        locked.save(
            update_fields=[
                "state",
                "attempts",
                "lost_claims",
                "next_attempt_at",
                "enqueued_at",
                "retried_at",
                "retried_by",
                "completed_at",
                "note",
                "updated_at",
            ]
        )
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Retried BVNK operation #{locked.pk} ({locked.get_kind_display()}, "
            f"{previous})",
            customer=customer,
        )
        requirements.summary_refresh(customer)
        outbox.enqueue_after_commit([locked])
    logger.info("Operation %s retried by %s", locked.pk, getattr(actor, "pk", None))
    operation.state = locked.state
    return locked


# Where BVNK takes questionnaire answers: once created, while it collects information
# (decision 11 and the emulator); answers given while the create is under way wait for it.
QUESTIONNAIRE_STATUSES = frozenset(
    {Customer.Status.SUBMITTING, Customer.Status.INFO_REQUIRED, Customer.Status.ACTIONS_REQUIRED}
)
Answers = Sequence[bvnk_types.QuestionnaireAnswers] | Mapping[str, Mapping[str, Mapping[str, Any]]]


def operation_submit_questionnaire(
    customer: Customer, answers: Answers, *, actor: Any
) -> BvnkOperation:
    """Queue answers to BVNK's questionnaires (4.5) as one operation with a key of its own.

    `answers`: QuestionnaireAnswers objects, or {code: {section id: {item id: answer}}};
    an answer is a string or boolean (sent as `value`) or a list of strings (`values`).
    Newer answers to the same questionnaires supersede older unsent ones. Raises
    NotUpdatable when BVNK takes no answers for the customer, ValueError when empty.
    """
    from . import outbox  # the outbox imports this module.

    if isinstance(answers, Mapping):
        answers = [
            bvnk_types.QuestionnaireAnswers(code=code, sections=sections)
            for code, sections in answers.items()
        ]
    stored = [
        {
            "code": answer.code,
            "sections": {
                section: {
                    item: value if isinstance(value, str | bool) else list(value)
                    for item, value in items.items()
                }
                for section, items in answer.sections.items()
            },
        }
        for answer in answers
    ]
    if not stored or not all(answer["code"] for answer in stored):
        raise ValueError("Give at least one questionnaire, each with its code.")
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.status not in QUESTIONNAIRE_STATUSES:
            raise NotUpdatable(
                f"{locked} is {locked.get_status_display().lower()}; BVNK takes questionnaire "
                "answers only while it asks for information."
            )
        codes = {str(answer["code"]) for answer in stored}
        older = [
            op
            for op in locked.operations.filter(kind=BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE)
            if {answer.get("code") for answer in op.payload.get("answers", [])} <= codes
        ]
        operation = outbox.operation_add(
            customer=locked,
            kind=BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE,
            key=idempotency_key(
                "questionnaire.submit", str(locked.external_reference), uuid.uuid4().hex
            ),
            payload={"answers": stored},
            actor=actor,
            supersedes=older,
        )
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Answered BVNK's questionnaire {', '.join(sorted(codes))}",
            customer=locked,
        )
        outbox.enqueue_after_commit([operation])
    return operation


def customer_resync(customer: Customer, *, actor: Any) -> Any:
    """Read the customer from BVNK now and apply what differs (its status with source SYNC).

    Returns the sync.Report. Raises BvnkError when BVNK cannot be read, and
    sync.NotAtBvnk for a customer not created there yet. The reconciliation beat task
    and `manage.py resync_customers` apply BVNK's answers the same way (customers/sync.py).
    """
    from . import sync  # sync imports this module.

    report = sync.customer_resync(customer, actor=actor)
    audit.record(
        actor=actor,
        action=audit.Action.ACTION,
        summary="Resynced from BVNK" + (f": {'; '.join(report.changes)}" if report.changes else ""),
        customer=customer,
    )
    return report
