"""Use cases that change customers. Every write to customer state goes through here."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .bvnk.client import BvnkClient, CallRecord, config_from_settings
from .models import BvnkCall, Customer, StatusChange


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

    return BvnkClient(config_from_settings(), observer=record)


def customer_create_draft(*, customer_type: str, actor: Any) -> Customer:
    """Start onboarding a customer: a draft row that every later step saves into."""
    return Customer.objects.create(type=Customer.Type(customer_type), created_by=actor)


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
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.status == new_status:
            return None
        change = locked.transition_to(
            new_status,
            source=source,
            actor=actor,
            source_reference=source_reference,
            reason=reason,
        )
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    return change
