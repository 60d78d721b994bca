"""One handler per event type (`HANDLERS`), and what a handler raises or returns."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, QuerySet

from .. import services
from ..bvnk import wire
from ..bvnk.client import BvnkClient
from ..bvnk.types import Wallet as BvnkWallet
from ..models import (
    AgreementSession,
    ComplianceDocument,
    Customer,
    InvalidTransition,
    StatusChange,
    Wallet,
    WebhookEvent,
)
from ..payloads import DOCUMENT_STATUSES
from .receiving import first_text, subject_reference

Status = WebhookEvent.Status
BVNK_CUSTOMER_STATUSES = frozenset(wire.CUSTOMER_STATUSES)

_REVIEWED = (ComplianceDocument.UploadStatus.APPROVED, ComplianceDocument.UploadStatus.REJECTED)


# -- what a handler raises or returns -----------------------------------------------------


class Hold(Exception):
    """The event is about something the portal does not know yet; keep it for later."""


class Reject(Exception):
    """The event cannot be applied, and trying again will not change that."""


class NeedsBvnk(Exception):
    """The event alone cannot be trusted: read the truth from BVNK, then decide."""

    def __init__(self, kind: str, reference: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # a key of SUBJECTS
        self.reference = reference


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What BVNK answered to a read, and when the read started."""

    kind: str
    reference: str
    fetched_at: datetime
    value: Any  # customers.bvnk.types.Customer or AgreementSession


@dataclass(frozen=True, slots=True)
class Applied:
    """What a handler did, in a line for staff."""

    outcome: str
    customer: Customer | None = None


Handler = Callable[[WebhookEvent, dict[str, Any], Snapshot | None], Applied]


# -- what events are about ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """A kind of thing BVNK sends events about, as the portal stores it and BVNK reads it."""

    stored: Callable[[], QuerySet[Any]]  # the rows whose `bvnk_reference` the portal knows
    customer_of: Callable[[str], Customer | None]  # whose it is, for the BvnkCall record
    read: Callable[[BvnkClient, str], Any] | None  # the truth from BVNK; None: not readable


def _session_customer(reference: str) -> Customer | None:
    session = AgreementSession.objects.filter(bvnk_reference=reference).first()
    return session.customer if session else None


SUBJECTS: dict[str, Subject] = {
    "customer": Subject(
        stored=lambda: Customer.objects.filter(bvnk_reference__isnull=False),
        customer_of=lambda reference: Customer.objects.filter(bvnk_reference=reference).first(),
        read=lambda api, reference: api.get_customer(reference),
    ),
    "session": Subject(
        stored=lambda: AgreementSession.objects.all(),
        customer_of=_session_customer,
        read=lambda api, reference: api.get_agreement_session(reference),
    ),
    "document": Subject(
        stored=lambda: ComplianceDocument.objects.filter(bvnk_reference__isnull=False),
        customer_of=lambda reference: None,
        read=None,
    ),
    "wallet": Subject(
        stored=lambda: Wallet.objects.filter(bvnk_id__isnull=False).annotate(
            bvnk_reference=F("bvnk_id")
        ),
        customer_of=lambda reference: Customer.objects.filter(wallets__bvnk_id=reference).first(),
        read=lambda api, reference: api.get_wallet(reference),
    ),
}


# -- handlers -----------------------------------------------------------------------------


def _locked_customer(reference: str) -> Customer:
    """Lock the customer an event names by BVNK's reference or, as some `customer:update`
    events are read (BVNK_EMULATOR_UPDATE_EVENT), by the portal's externalReference."""
    customers = Customer.objects.select_for_update()
    customer = customers.filter(bvnk_reference=reference).first()
    if customer is None and _is_uuid(reference):
        customer = customers.filter(external_reference=reference).first()
    if customer is None:
        raise Hold(f"No customer with BVNK reference {reference} yet.")
    return customer


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def customer_status_changed(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Apply a customer status change, under any of its three event names.

    The names describe one change, each with its own event id; comparing the event's
    timestamp with the one of the status held makes the second copy a no-op.
    """
    reference = first_text(data, "reference", "customerId")
    status = first_text(data, "status").upper()
    if not reference or not status:
        raise Reject("A status change needs data.reference (or customerId) and data.status.")
    customer = _locked_customer(reference)
    if snapshot is not None:
        return _apply_customer_snapshot(event, customer, snapshot)

    def doubt(reason: str) -> NeedsBvnk:
        return NeedsBvnk("customer", reference, reason)

    held_at = customer.bvnk_status_at
    if status not in BVNK_CUSTOMER_STATUSES:
        raise doubt(f"unknown status {status}")
    if event.event_at is None:
        raise doubt("the event has no timestamp")
    if held_at is not None and event.event_at < held_at:
        return Applied(f"Skipped {status}: older than {customer.status} as of {held_at}.", customer)
    if held_at == event.event_at and status != customer.status:
        raise doubt(f"{status} and {customer.status} have the same timestamp")
    if status != customer.status and not customer.can_transition_to(status):
        raise doubt(f"{customer.status} -> {status} is not an allowed move")
    change = services.customer_apply_bvnk_status(
        customer,
        status,
        observed_at=event.event_at,
        source=StatusChange.Source.WEBHOOK,
        source_reference=event.event_id,
        reason=f"BVNK event {event.event_type}",
    )
    if change is None:
        return Applied(f"Already {status}.", customer)
    return Applied(f"{change.old_status} -> {change.new_status}.", customer)


def customer_updated(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Store what BVNK now needs from a customer (infoRequired, verification link, data)."""
    reference = first_text(data, "reference", "customerId")
    if not reference:
        raise Reject("A customer update needs data.reference.")
    customer = _locked_customer(reference)
    if snapshot is not None:
        return _apply_customer_snapshot(event, customer, snapshot)
    if event.event_at is None:
        raise NeedsBvnk("customer", str(customer.bvnk_reference), "the update has no timestamp")
    info = data.get("infoRequired")
    verification = data.get("verification")
    url = verification.get("url") if isinstance(verification, dict) else None
    written = services.customer_record_bvnk_details(
        customer,
        observed_at=event.event_at,
        info_required=info if isinstance(info, dict) else None,
        verification_url=url if isinstance(url, str) else None,
        data={**customer.bvnk_data, **data},
    )
    if not written:
        return Applied("Skipped: older than the details held.", customer)
    return Applied("Stored what BVNK needs.", customer)


def _apply_customer_snapshot(
    event: WebhookEvent, customer: Customer, snapshot: Snapshot
) -> Applied:
    """Apply the customer as BVNK answered a read: its status and what it still needs."""
    remote = snapshot.value
    status = remote.status.upper()
    if status not in BVNK_CUSTOMER_STATUSES:
        raise Reject(f"BVNK reports status {remote.status!r}, which the portal does not know.")
    try:
        change = services.customer_apply_bvnk_status(
            customer,
            status,
            observed_at=snapshot.fetched_at,
            source=StatusChange.Source.WEBHOOK,
            source_reference=event.event_id,
            reason=f"Read from BVNK after event {event.event_type}",
        )
    except InvalidTransition as exc:
        raise Reject(f"BVNK reports {status}, but {exc}") from None
    services.customer_record_bvnk_details(
        customer,
        observed_at=snapshot.fetched_at,
        info_required=remote.info_required,
        verification_url=remote.verification_url,
        data=remote.raw,
    )
    if change is None:
        return Applied(f"Read from BVNK: {customer.status}.", customer)
    return Applied(f"Read from BVNK: {change.old_status} -> {change.new_status}.", customer)


def agreement_session_status_changed(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Apply an agreement session's new status; a signed or declined session only changes
    on BVNK's word (a read), never on an event alone."""
    reference = first_text(data, "reference")
    status = first_text(data, "status").upper()
    if not reference or not status:
        raise Reject("A session status change needs data.reference and data.status.")
    found = AgreementSession.objects.filter(bvnk_reference=reference).first()
    if found is None:
        raise Hold(f"No agreement session {reference} yet.")
    customer = Customer.objects.select_for_update().get(pk=found.customer_id)
    session = AgreementSession.objects.get(pk=found.pk)
    if snapshot is not None:
        status = snapshot.value.status.upper()
        if status not in AgreementSession.Status.values:
            raise Reject(f"BVNK reports session status {status!r}, which the portal does not know.")
        changed = services.agreement_session_apply_bvnk_status(session, status)
        return Applied(
            f"Read from BVNK: session {status}{'' if changed else ' (unchanged)'}.", customer
        )
    if status == session.status:
        return Applied(f"Session already {status}.", customer)
    if status not in AgreementSession.Status.values:
        raise NeedsBvnk("session", reference, f"unknown session status {status}")
    if session.status != AgreementSession.Status.PENDING:
        raise NeedsBvnk("session", reference, f"session is {session.status}, event says {status}")
    services.agreement_session_apply_bvnk_status(session, status)
    return Applied(f"Session PENDING -> {status}.", customer)


def document_status_changed(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Apply BVNK's review of a document; a reviewed document never goes back to pending."""
    reference = subject_reference(event.event_type, data)
    status = first_text(data, "status").upper()
    upload_status = DOCUMENT_STATUSES.get(status)
    if not reference or not status:
        raise Reject("A document status change needs data.documentReference and data.status.")
    if upload_status is None:
        raise Reject(f"Unknown document status {status!r}.")
    found = ComplianceDocument.objects.filter(bvnk_reference=reference).first()
    if found is None:
        if Customer.objects.filter(bvnk_reference=reference).exists():
            raise Reject("The event names a customer but no document (no documentReference).")
        raise Hold(f"No document {reference} yet.")
    customer = Customer.objects.select_for_update().get(pk=found.customer_id)
    document = ComplianceDocument.objects.get(pk=found.pk)
    if upload_status not in _REVIEWED and document.upload_status in _REVIEWED:
        return Applied(
            f"Skipped {status}: the document is already {document.upload_status}.", customer
        )
    if event.event_at is not None and _newer_document_event(event, reference):
        return Applied(
            f"Skipped {status}: a newer event about this document was applied.", customer
        )
    reason = first_text(data, *wire.DOCUMENT_REASON_KEYS)
    changed = services.document_apply_bvnk_status(document, upload_status, reason=reason)
    return Applied(f"Document {upload_status}{'' if changed else ' (unchanged)'}.", customer)


def _newer_document_event(event: WebhookEvent, reference: str) -> bool:
    return WebhookEvent.objects.filter(
        event_type=event.event_type,
        bvnk_reference=reference,
        status=Status.PROCESSED,
        event_at__gt=event.event_at,
    ).exists()


def wallet_status_changed(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Apply BVNK's wallet status (ledger:v2:wallet:status-change, whose data is the wallet)."""
    reference = subject_reference(event.event_type, data)
    if not reference or not first_text(data, "status"):
        raise Reject("A wallet status change needs data.id and data.status.")
    wallet = Wallet.objects.select_related("customer").filter(bvnk_id=reference).first()
    if wallet is None:
        # The create's answer may still be on its way; reconciliation also finds it.
        raise Hold(f"No wallet {reference} yet.")
    outcome = services.wallet_record_bvnk(
        wallet,
        BvnkWallet.from_wire(data),
        source=StatusChange.Source.WEBHOOK,
        source_reference=event.event_id,
        event_at=event.event_at,
    )
    return Applied(outcome, wallet.customer)


HANDLERS: dict[str, Handler] = {
    **{name: customer_status_changed for name in wire.EVENT_STATUS_CHANGE_ALIASES},
    wire.EVENT_CUSTOMER_UPDATE: customer_updated,
    wire.EVENT_AGREEMENT_SESSION: agreement_session_status_changed,
    wire.EVENT_DOCUMENT_STATUS: document_status_changed,
    wire.EVENT_WALLET_STATUS: wallet_status_changed,
}
