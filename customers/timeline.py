"""A customer's timeline: status changes, BVNK calls and operations, webhook events and
staff actions, merged newest first, each saying who or what caused it.

Each source is read once with its own LIMIT, so the timeline costs a fixed number of
queries however long the customer's history is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import AuditEvent, Customer, StatusChange
from .requirements import ATTENTION_STATES

LIMIT = 50


@dataclass(frozen=True)
class Entry:
    at: dt.datetime
    kind: str  # status, call, operation, event, staff
    title: str
    who: str
    highlight: str = ""  # shown in bold after the title (a status change's new status)
    detail: str = ""
    reference: str = ""
    failed: bool = False

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


KIND_LABELS = {
    "status": "Status",
    "call": "BVNK call",
    "operation": "Operation",
    "event": "Event from BVNK",
    "staff": "Staff",
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
                else change.get_source_display()
                + (f" ({change.actor.get_username()})" if change.actor else "")
            ),
            detail=change.reason,
            reference=change.source_reference,
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
        )
        for event in rows
    ]


def _staff_actions(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.audit_events.exclude(action=AuditEvent.Action.VIEW)[:limit]
    return [
        Entry(
            at=event.at,
            kind="staff",
            title=event.summary,
            who=event.actor_username or "System",
            detail=", ".join(
                f"{name}: {old or '—'} → {new or '—'}" for name, (old, new) in event.changes.items()
            ),
        )
        for event in rows
    ]


def _operations(customer: Customer, limit: int) -> list[Entry]:
    rows = customer.operations.select_related("created_by", "retried_by")[:limit]
    entries = []
    for operation in rows:
        actor = operation.retried_by or operation.created_by
        attempts = f"{operation.attempts} attempt{'' if operation.attempts == 1 else 's'}"
        entries.append(
            Entry(
                at=operation.updated_at,
                kind="operation",
                title=f"{operation.get_kind_display()}: {operation.get_state_display().lower()}",
                who=actor.get_username() if actor else "Submission pipeline",
                detail=operation.last_error or operation.note,
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
        title=f"Created as a {customer.get_type_display().lower()} draft",
        who=creator.get_username() if creator else "System",
    )


def customer_timeline(customer: Customer, *, limit: int = LIMIT) -> list[Entry]:
    """The latest `limit` entries from every source, newest first."""
    entries = [
        _created(customer),
        *_status_changes(customer, limit),
        *_calls(customer, limit),
        *_operations(customer, limit),
        *_events(customer, limit),
        *_staff_actions(customer, limit),
    ]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]
