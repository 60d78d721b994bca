"""A customer's timeline: status changes, BVNK calls and operations, webhook events and
staff actions, merged newest first, each saying who or what caused it.

Staff read it in words: what happened to the customer and who did it. The raw material
(each BVNK call, each event BVNK sent, references, keys and BVNK's own messages) is kept
apart, `technical`, shown behind "Technical details".

Each source is read once with its own LIMIT, so the timeline costs a fixed number of
queries however long the customer's history is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist

from .audit import BVNK_REQUEST
from .models import AuditEvent, BvnkOperation, ComplianceDocument, Customer, StatusChange
from .requirements import ATTENTION_STATES

LIMIT = 50


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str  # status, call, operation, event, staff, document, request
    title: str
    who: str
    highlight: str = ""  # shown in bold after the title (a status change's new status)
    detail: str = ""
    reference: str = ""
    failed: bool = False
    # Raw BVNK traffic: shown behind "Technical details", not in the timeline itself.
    technical: bool = False

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


KIND_LABELS = {
    "status": "Status",
    "call": "BVNK call",
    "operation": "Operation",
    "event": "Event from BVNK",
    "staff": "Staff",
    "document": "Document",
    "request": "Request from BVNK",
}


# Why a status changed, in words, by what caused it.
STATUS_CAUSES: dict[str, str] = {
    StatusChange.Source.STAFF: "changed by staff",
    StatusChange.Source.SUBMISSION: "the submission to BVNK",
    StatusChange.Source.WEBHOOK: "BVNK reported it",
    StatusChange.Source.SYNC: "found when checking with BVNK",
    StatusChange.Source.SYSTEM: "the portal",
}


def _status_changes(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.status_changes.select_related("actor")[:limit]
    return [
        Entry(
            at=change.changed_at,
            kind="status",
            title=f"{change.get_old_status_display()} →",
            highlight=change.get_new_status_display(),
            who=(
                change.actor.get_username()
                if change.actor and change.source == StatusChange.Source.STAFF
                else STATUS_CAUSES.get(change.source, change.get_source_display())
                + (f" ({change.actor.get_username()})" if change.actor else "")
            ),
            # BVNK's wording and event names: technical.
            reference=" ".join(part for part in (change.reason, change.source_reference) if part),
        )
        for change in rows
    ]


def _calls(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.bvnk_calls.select_related("actor")[:limit]
    return [
        Entry(
            at=call.started_at,
            kind="call",
            title=f"{call.method} {call.action or call.path}: "
            + (str(call.status_code) if call.status_code else "no answer"),
            who=call.actor.get_username() if call.actor else call.triggered_by or "System",
            detail=call.error,
            reference=call.trace_id or call.idempotency_key,
            failed=not call.succeeded,
            technical=True,
        )
        for call in rows
    ]


def _events(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.webhook_events.only(
        "received_at", "event_type", "status", "outcome", "error", "event_id", "customer_id"
    )[:limit]
    return [
        Entry(
            at=event.received_at,
            kind="event",
            title=f"{event.event_type or 'Event'} ({event.get_status_display().lower()})",
            who="BVNK webhook",
            detail=event.error or event.outcome,
            reference=event.event_id,
            failed=event.status == event.Status.FAILED,
            technical=True,
        )
        for event in rows
    ]


def _staff_actions(customer: Customer, limit: int) -> list[Entry]:
    """Staff actions from the audit log, and what BVNK asked for (recorded there too)."""
    rows = customer.audit_events.exclude(action=AuditEvent.Action.VIEW)[:limit]
    return [
        Entry(
            at=event.at,
            kind="request" if event.details.get("kind") == BVNK_REQUEST else "staff",
            title=event.summary,
            who=event.actor_username
            or ("BVNK" if event.details.get("kind") == BVNK_REQUEST else "System"),
            detail=", ".join(_field_label(name) for name in event.changes),
            reference=", ".join(
                f"{name}: {old or '—'} → {new or '—'}" for name, (old, new) in event.changes.items()
            ),
        )
        for event in rows
    ]


def _field_label(name: str) -> str:
    """A customer field's label, as the forms show it ("Date of birth"), else the name."""
    try:
        label = str(getattr(Customer._meta.get_field(name), "verbose_name", name))
    except FieldDoesNotExist:
        return name.replace("_", " ")
    return label[:1].upper() + label[1:]


# What an operation sends, and what became of it, in words.
OPERATION_WHAT: dict[str, str] = {
    BvnkOperation.Kind.CREATE_CUSTOMER: "the customer",
    BvnkOperation.Kind.UPDATE_CUSTOMER: "the changed details",
    BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE: "the questionnaire answers",
}
OPERATION_STATE: dict[str, str] = {
    BvnkOperation.State.PENDING: "To be sent to BVNK",
    BvnkOperation.State.IN_FLIGHT: "Being sent to BVNK",
    BvnkOperation.State.DONE: "Sent to BVNK",
    BvnkOperation.State.FAILED: "Refused by BVNK",
    BvnkOperation.State.NEEDS_ATTENTION: "Could not be sent to BVNK",
    BvnkOperation.State.CANCELLED: "No longer sent to BVNK",
}


def _operation_title(operation: BvnkOperation, customer: Customer) -> str:
    document = operation.document
    if document is not None:
        what = document_name(document, customer)
    elif operation.wallet is not None:
        what = f"the {operation.wallet.currency} wallet"
    else:
        what = OPERATION_WHAT.get(operation.kind, operation.get_kind_display().lower())
    return f"{OPERATION_STATE.get(operation.state, operation.get_state_display())}: {what}"


def _operations(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.operations.select_related(
        "created_by", "retried_by", "document__associate", "wallet"
    )[:limit]
    entries = []
    for operation in rows:
        actor = operation.retried_by or operation.created_by
        attempts = f"{operation.attempts} attempt{'' if operation.attempts == 1 else 's'}"
        entries.append(
            Entry(
                at=operation.updated_at,
                kind="operation",
                title=_operation_title(operation, customer),
                who=actor.get_username() if actor else "Submission pipeline",
                detail=operation.last_error if operation.state in ATTENTION_STATES else "",
                reference=f"{attempts}, key {operation.idempotency_key}",
                failed=operation.state in ATTENTION_STATES,
            )
        )
    return entries


def _created(customer: Customer) -> Entry:
    creator = customer.created_by  # select_related by the page, else one query
    return Entry(
        at=customer.created_at,
        kind="staff",
        title="Created as a company draft"
        if customer.is_company
        else "Created as an individual draft",
        who=creator.get_username() if creator else "System",
    )


def document_name(document: ComplianceDocument, customer: Customer) -> str:
    """E.g. "Passport — Jane Smith": the document's kind and whose it is."""
    owner = document.associate if document.associate_id else customer.name
    return f"{document.kind_label} — {owner}"


REVIEWS: dict[str, str] = {
    ComplianceDocument.UploadStatus.APPROVED: "BVNK approved",
    ComplianceDocument.UploadStatus.REJECTED: "BVNK rejected",
}


def _document_reviews(customer: Customer, limit: int) -> list[Entry]:
    """BVNK's verdict on each document, with its reason (the latest verdict of each)."""
    rows = customer.documents.filter(upload_status__in=list(REVIEWS)).select_related("associate")
    return [
        Entry(
            at=document.updated_at,
            kind="document",
            title=f"{REVIEWS[document.upload_status]} {document_name(document, customer)}",
            who="BVNK",
            detail=f"{document.original_name}"
            + (f": {document.bvnk_reason}" if document.bvnk_reason else ""),
            failed=document.upload_status == ComplianceDocument.UploadStatus.REJECTED,
        )
        for document in rows.order_by("-updated_at")[:limit]
    ]


def customer_timeline(customer: Customer, *, limit: int = LIMIT) -> list[Entry]:
    """The latest `limit` entries from every source, newest first."""
    entries = [
        _created(customer),
        *_status_changes(customer, limit),
        *_calls(customer, limit),
        *_operations(customer, limit),
        *_events(customer, limit),
        *_staff_actions(customer, limit),
        *_document_reviews(customer, limit),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
