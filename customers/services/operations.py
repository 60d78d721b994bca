"""Use cases on a customer BVNK holds: detail updates, questionnaire answers, retries, resync."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from .. import audit, payloads
from ..bvnk import types as bvnk_types
from ..bvnk.client import idempotency_key
from ..models import BvnkOperation, Customer
from ..outbox import publishing
from .status import customer_write

logger = logging.getLogger(__name__)


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


def customer_update_details(*, customer: Customer, values: dict[str, Any], actor: Any) -> list[str]:
    """Change contact details, address or date of birth, and queue the PUT to BVNK.

    Returns the names of the fields that changed (nothing is sent when none did). The
    PUT's body is kept on its operation, with a key of its own: a correction after a
    refusal is a new operation with a new key, and it supersedes older unsent ones.
    """
    with customer_write(customer) as locked:
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
        audit.record_changes(actor, locked, "Changed details (sent to BVNK)", old, values, changed)
        operation = _update_queue(locked, changed, actor=actor)
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


def _update_queue(locked: Customer, fields: list[str], *, actor: Any) -> BvnkOperation:
    """Queue the PUT of the customer's current details (a key of its own), after commit."""
    operation = publishing.operation_add(
        customer=locked,
        kind=BvnkOperation.Kind.UPDATE_CUSTOMER,
        key=idempotency_key("customer.update", str(locked.external_reference), uuid.uuid4().hex),
        payload={"body": payloads.customer_update(locked).to_wire(), "fields": fields},
        actor=actor,
        supersedes=locked.operations.filter(kind=BvnkOperation.Kind.UPDATE_CUSTOMER),
    )
    publishing.enqueue_after_commit([operation])
    return operation


class Keep(models.TextChoices):
    """Which side wins when the portal's details and BVNK's differ."""

    PORTAL = "portal", "Send the portal's details to BVNK"
    BVNK = "bvnk", "Take BVNK's details"


def customer_details_resolve(*, customer: Customer, keep: str, actor: Any) -> list[str]:
    """Settle the details BVNK holds otherwise: send the portal's, or take BVNK's.

    Returns the fields settled (none when nothing differs). Sending queues one update,
    as an edit on the customer page does; taking BVNK's changes the portal's values,
    audited, and sends nothing.
    """
    keep = Keep(keep)
    with customer_write(customer) as locked:
        fields = [name for name in locked.details_drift if name in payloads.UPDATE_FIELDS]
        if not fields:
            return []
        labels = ", ".join(payloads.DETAIL_LABELS[name] for name in fields)
        if keep == Keep.PORTAL:
            if not locked.bvnk_reference or locked.status not in UPDATABLE_STATUSES:
                raise NotUpdatable(
                    f"{locked} is {locked.get_status_display().lower()}; BVNK takes updates "
                    "only for created customers that are not rejected or terminated."
                )
            _update_queue(locked, fields, actor=actor)
            audit.record(
                actor=actor,
                action=audit.Action.ACTION,
                summary=f"Sent the portal's {labels} to BVNK, which held other values",
                customer=locked,
            )
        else:
            theirs = payloads.bvnk_details(locked)
            values: dict[str, Any] = {name: theirs[name] for name in fields}
            if "date_of_birth" in values:
                text = values["date_of_birth"]
                values["date_of_birth"] = dt.date.fromisoformat(text) if text else None
            old = {name: getattr(locked, name) for name in fields}
            for name, value in values.items():
                setattr(locked, name, value)
            audit.record_changes(
                actor, locked, "Took BVNK's details where they differed", old, values, fields
            )
        locked.details_drift = []
        locked.save(
            update_fields=[*(fields if keep == Keep.BVNK else []), "details_drift", "updated_at"]
        )
    customer.refresh_from_db()
    logger.info(
        "Customer %s: details settled (%s kept) by %s",
        customer.pk,
        keep.value,
        getattr(actor, "pk", None),
    )
    return fields


# -- The submission pipeline's operations (customers/outbox/ sends them) ----------------


class OperationNotRetryable(Exception):
    """Only failed operations, or ones that need attention, can be sent again."""


def operation_retry(operation: BvnkOperation, *, actor: Any) -> BvnkOperation:
    """Send a failed or stuck operation again: same key and body, fresh attempt counters.

    Raises OperationNotRetryable for an operation that is not failed or needing
    attention, and for a create BVNK refused (correct the draft and submit it again).
    """
    State = BvnkOperation.State
    with transaction.atomic():
        locked = BvnkOperation.objects.select_for_update().get(pk=operation.pk)
        if locked.state not in (State.FAILED, State.NEEDS_ATTENTION):
            raise OperationNotRetryable(
                f"{locked} is {locked.get_state_display().lower()}: only failed operations "
                "or ones that need attention can be retried."
            )
        # Locked after the operation, in the order the outbox locks them.
        with customer_write(locked.customer_id) as customer:
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
        publishing.enqueue_after_commit([locked])
    logger.info("Operation %s retried by %s", locked.pk, getattr(actor, "pk", None))
    operation.state = locked.state
    return locked


# Where BVNK takes questionnaire answers: once created, while it collects information
# (INFO_REQUIRED, and ACTIONS_REQUIRED as the emulator allows); answers given while the
# create is under way wait for it.
QUESTIONNAIRE_STATUSES = frozenset(
    {Customer.Status.SUBMITTING, Customer.Status.INFO_REQUIRED, Customer.Status.ACTIONS_REQUIRED}
)
Answers = Sequence[bvnk_types.QuestionnaireAnswers] | Mapping[str, Mapping[str, Mapping[str, Any]]]


def operation_submit_questionnaire(
    customer: Customer, answers: Answers, *, actor: Any
) -> BvnkOperation:
    """Queue answers to BVNK's questionnaires as one operation with a key of its own.

    `answers`: QuestionnaireAnswers objects, or {code: {section id: {item id: answer}}};
    an answer is a string or boolean (sent as `value`) or a list of strings (`values`).
    Newer answers to the same questionnaires supersede older unsent ones. Raises
    NotUpdatable when BVNK takes no answers for the customer, ValueError when empty.
    """
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
    with customer_write(customer) as locked:
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
        operation = publishing.operation_add(
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
        publishing.enqueue_after_commit([operation])
    return operation
