"""The one place a customer's status changes: staff moves and what BVNK reports.

Every transition goes through `_change_status` (Customer.transition_to on a locked
row); the other services lock with `_lock` and call these helpers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from .. import notifications, requirements
from ..models import Customer, StatusChange


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

    A service locks once and hands the locked row to the `_` helpers (below, and
    `_record_bvnk_details` in recording.py), which do their part without locking or
    reading it again; the service stores the summary (`requirements.summary_store`)
    once, at the end.
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


# -- What BVNK reports (webhooks, reads) ------------------------------------------------


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
