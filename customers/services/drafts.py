"""Onboarding a draft: steps, associates, documents, the agreement, and its submission."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .. import audit, documents, payloads
from ..bvnk import types as bvnk_types
from ..bvnk.client import idempotency_key
from ..bvnk_calls import bvnk_client
from ..documents import CheckedFile, delete_files_on_commit
from ..models import (
    AgreementSession,
    Associate,
    BvnkOperation,
    ComplianceDocument,
    Customer,
    StatusChange,
)
from ..onboarding import refusals, slots
from ..onboarding import steps as onboarding
from ..outbox import publishing
from .recording import agreement_session_apply_bvnk_status
from .status import change_status, customer_write

logger = logging.getLogger(__name__)


def customer_create_draft(*, customer_type: str, actor: Any) -> Customer:
    """Start onboarding a customer: a draft row that every later step saves into."""
    with transaction.atomic():
        new = Customer.objects.create(type=Customer.Type(customer_type), created_by=actor)
        with customer_write(new) as customer:
            pass  # nothing more to write: the block stores the new draft's summary
    return customer


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


@contextmanager
def _draft_write(customer: Customer) -> Iterator[Customer]:
    """`customer_write` on a customer that must still be a draft (else NotEditable)."""
    with customer_write(customer) as locked:
        if locked.status != Customer.Status.DRAFT:
            raise NotEditable(locked)
        yield locked


def _store_errors(locked: Customer, errors: dict[str, Any], fields: list[str]) -> None:
    if errors is not locked.submission_errors:
        locked.submission_errors = errors
        fields.append("submission_errors")


def onboarding_save_step(
    *, customer: Customer, step: str, values: dict[str, Any], actor: Any, complete: bool
) -> None:
    """Store one step's values on a draft; a complete save clears BVNK's errors for it."""
    with _draft_write(customer) as locked:
        fields = list(values)
        old = {name: getattr(locked, name) for name in values}
        for name, value in values.items():
            setattr(locked, name, value)
        if complete:
            _store_errors(
                locked, refusals.without_step_errors(locked.submission_errors, step), fields
            )
        locked.save(update_fields=[*fields, "updated_at"])
        audit.record_changes(actor, locked, f"Saved the {step} step", old, values)
    for name in [*fields, "updated_at"]:
        setattr(customer, name, getattr(locked, name))
    logger.info("Draft %s: step %s saved by %s", customer.pk, step, getattr(actor, "pk", None))


def associate_save(
    *, customer: Customer, associate: Associate | None, values: dict[str, Any], actor: Any
) -> Associate:
    """Add a person to a draft company, or change one."""
    with _draft_write(customer) as locked:
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
        audit.record_changes(actor, locked, f"{what} associate {associate.pk}", old, values)
    logger.info("Draft %s: associate %s saved by %s", locked.pk, associate.pk, actor)
    return associate


def associate_delete(*, associate: Associate, actor: Any) -> None:
    """Remove a person, and their documents, from a draft company."""
    with _draft_write(associate.customer) as locked:
        names = [document.file.name for document in associate.documents.all()]
        pk = associate.pk
        associate.delete()
        fields: list[str] = []
        errors = refusals.without_associate_errors(locked.submission_errors, pk)
        _store_errors(locked, refusals.without_step_errors(errors, "associates"), fields)
        locked.save(update_fields=[*fields, "updated_at"])
        delete_files_on_commit(names)
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Removed associate {pk} and their documents",
            customer=locked,
        )
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
    with _draft_write(customer) as locked:
        previous = list(
            locked.documents.filter(
                associate=slot.associate,
                document_type=slot.document_type,
                document_sub_type=slot.sub_type,
            )
        )
        document = _document_save(locked, slot, upload, checked, actor, replaces=previous)
    return document


def _document_save(
    locked: Customer,
    slot: slots.Slot,
    upload: Any,
    checked: CheckedFile,
    actor: Any,
    *,
    replaces: Sequence[ComplianceDocument] = (),
    answering: bool = False,
) -> ComplianceDocument:
    """Write a checked file for a slot in the caller's `customer_write`, and audit it
    (`answering`: as the answer to what BVNK asked for after the submission)."""
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
        for old in replaces:
            old.delete()
        document.save()
        locked.save(update_fields=["updated_at"])
    except Exception:
        document.file.storage.delete(document.file.name)
        raise
    delete_files_on_commit([old.file.name for old in replaces])
    owner = f" of {document.associate}" if document.associate_id and "—" not in slot.label else ""
    audit.record(
        actor=actor,
        action=audit.Action.ACTION,
        summary=("Answered BVNK's request with " if answering else "Uploaded ")
        + f"{slot.label}{owner} ({document.original_name})",
        customer=locked,
        details={"document": document.pk, "replaced": [old.pk for old in replaces]},
    )
    return document


class NotAsking(Exception):
    """BVNK takes documents only while it asks for information (INFO_REQUIRED, ACTIONS_REQUIRED)."""


ANSWERING_STATUSES = frozenset({Customer.Status.INFO_REQUIRED, Customer.Status.ACTIONS_REQUIRED})


def documents_answer(
    *,
    customer: Customer,
    files: Sequence[tuple[slots.Slot, Any, CheckedFile]],
    actor: Any,
) -> list[ComplianceDocument]:
    """Store documents BVNK asked for after the submission and queue their upload to BVNK.

    Each file is a new document beside those BVNK has (a rejected one stays, with BVNK's
    reason); each goes out as its own upload operation, with the key every upload uses.
    A file the malware scan holds is stored but not sent. Raises NotAsking when BVNK takes
    no documents for the customer now.
    """
    with customer_write(customer) as locked:
        if locked.status not in ANSWERING_STATUSES or not locked.bvnk_reference:
            raise NotAsking(
                f"{locked} is {locked.get_status_display().lower()}; BVNK takes documents "
                "only while it asks for information."
            )
        stored: list[ComplianceDocument] = []
        try:
            for slot, upload, checked in files:
                stored.append(_document_save(locked, slot, upload, checked, actor, answering=True))
        except Exception:
            for document in stored:
                document.file.storage.delete(document.file.name)
            raise
        operations = [
            _answer_upload_add(locked, document, actor)
            for document in stored
            if not document.is_quarantined
        ]
        publishing.enqueue_after_commit(operations)
    return stored


def _answer_upload_add(locked: Customer, document: ComplianceDocument, actor: Any) -> Any:
    """Queue the upload of a document answering BVNK, with the key every upload uses."""
    return publishing.operation_add(
        customer=locked,
        kind=BvnkOperation.Kind.UPLOAD_DOCUMENT,
        key=idempotency_key("document.upload", str(locked.external_reference), str(document.pk)),
        payload={"document": document.pk, "sha256": document.sha256},
        actor=actor,
        document=document,
    )


def documents_rescan(*, limit: int = 200) -> dict[str, int]:
    """Scan the quarantined documents again (`documents.documents_rescan`); a released
    answer to BVNK's request then goes to BVNK as it would have had the scan cleared it at
    once. Returns the counts by outcome, with "sent" for those queued to BVNK."""
    Scan = ComplianceDocument.ScanStatus
    held = list(
        ComplianceDocument.objects.filter(scan_status=Scan.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts = documents.documents_rescan(limit=limit)
    counts["sent"] = 0
    released = ComplianceDocument.objects.filter(pk__in=held, scan_status=Scan.CLEAN)
    for document in released.order_by("pk"):
        if _released_answer_send(document):
            counts["sent"] += 1
    return counts


def _released_answer_send(document: ComplianceDocument) -> bool:
    """Queue a released document's upload if it answers what BVNK asks now; once."""
    with customer_write(document.customer_id) as locked:
        if locked.status not in ANSWERING_STATUSES or not locked.bvnk_reference:
            # BVNK no longer asks (or never did: drafts are sent on submission).
            return False
        if document.operations.filter(kind=BvnkOperation.Kind.UPLOAD_DOCUMENT).exists():
            return False
        # On behalf of whoever uploaded it, as if the scan had cleared it at once.
        operation = _answer_upload_add(locked, document, actor=document.uploaded_by)
        publishing.enqueue_after_commit([operation])
    logger.info("Document %s released by the malware scan: sending to BVNK", document.pk)
    return True


def documents_store(
    *,
    customer: Customer,
    files: Sequence[tuple[slots.Slot, Any, CheckedFile]],
    actor: Any,
) -> list[ComplianceDocument]:
    """Store several checked files, each in its slot; each is stored on its own, so one
    that fails leaves those before it stored."""
    return [
        document_store(customer=customer, slot=slot, upload=upload, checked=checked, actor=actor)
        for slot, upload, checked in files
    ]


def document_delete(*, document: ComplianceDocument, actor: Any) -> None:
    """Remove a document from a draft."""
    with _draft_write(document.customer) as locked:
        name = document.file.name
        label, pk = document.kind_label, document.pk
        document.delete()
        locked.save(update_fields=["updated_at"])
        delete_files_on_commit([name])
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Removed a document: {label}",
            customer=locked,
            details={"document": pk},
        )
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
            summary="Opened BVNK's agreement page for signing",
            customer=customer,
            details={"session": created.reference},
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
        with customer_write(session.customer_id) as locked:
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
    same body with the same key (BVNK may answer a repeat with its first answer), whatever
    happens to the draft's rows later.
    """
    with _draft_write(customer) as locked:
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
        change_status(
            locked,
            Customer.Status.SUBMITTING,
            source=StatusChange.Source.STAFF,
            actor=actor,
            reason=f"Submitted to BVNK (submission {locked.submission_count}).",
        )
        audit.record(
            actor=actor,
            action=audit.Action.ACTION,
            summary=f"Submitted to BVNK (submission {locked.submission_count})",
            customer=locked,
        )
        operation = publishing.operation_add(
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
        publishing.enqueue_after_commit([operation])
    for name in ("status", "status_changed_at", "submission_count", "submission_errors"):
        setattr(customer, name, getattr(locked, name))


def submission_idempotency_key(customer: Customer) -> str:
    """The X-Idempotency-Key of the customer's current submission (same on every retry)."""
    return idempotency_key(
        "customer.create", str(customer.external_reference), str(customer.submission_count)
    )
