"""The one place a customer's row is written: its lock, its status, its stored summary.

Every service that changes a customer opens `customer_write`, which locks the row and,
when the write ends, stores the summary the My customers list shows; no service stores
it by hand. Every transition goes through `change_status` (Customer.transition_to on the
locked row); BVNK's reports through `apply_bvnk_status`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import transaction

from .. import audit, notifications, requirements
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
    with customer_write(customer) as locked:
        change = change_status(
            locked,
            new_status,
            source=source,
            actor=actor,
            source_reference=source_reference,
            reason=reason,
        )
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    return change


@contextmanager
def customer_write(customer: Customer | int) -> Iterator[Customer]:
    """Lock the customer's row in a transaction; store its summary when the block ends.

    A service locks once and hands the locked row to the helpers that take one (below,
    and `record_bvnk_details` in recording.py), which do their part without locking or
    reading it again. The summary is stored once, after the block, on that row (it is
    only written when it changed); nothing is stored when the block raises.
    """
    pk = customer if isinstance(customer, int) else customer.pk
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=pk)
        reason = locked.waiting_reason
        locked._status_change = None  # type: ignore[attr-defined]  # set by change_status
        yield locked
        summary = requirements.summary_store(locked)
        if requirements.asks_for_more(reason, summary.reason) and requirements.is_bvnk_request(
            locked
        ):
            notifications.bvnk_request_queue(
                locked,
                summary.reason,
                change=locked._status_change,  # type: ignore[attr-defined]
            )
            # The customer's Activity lists what BVNK asked for, and when.
            audit.record(
                actor=None,
                action=audit.Action.ACTION,
                summary=summary.reason,
                customer=locked,
                details={"kind": audit.BVNK_REQUEST},
            )


def change_status(
    locked: Customer,
    new_status: str,
    *,
    source: str,
    actor: Any = None,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """`customer_change_status` on a row locked by `customer_write`."""
    if locked.status == new_status:
        return None
    change = locked.transition_to(
        new_status, source=source, actor=actor, source_reference=source_reference, reason=reason
    )
    notifications.status_change_queue(change)
    # The write's request notification joins this change's (one line per cause).
    locked._status_change = change  # type: ignore[attr-defined]
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
    does not promise the order of its webhooks) or the customer already has that status.
    Raises InvalidTransition.
    """
    with customer_write(customer) as locked:
        change = apply_bvnk_status(
            locked,
            status,
            observed_at=observed_at,
            source=source,
            source_reference=source_reference,
            reason=reason,
        )
    customer.status = locked.status
    customer.status_changed_at = locked.status_changed_at
    customer.bvnk_status_at = locked.bvnk_status_at
    return change


def apply_bvnk_status(
    locked: Customer,
    status: str,
    *,
    observed_at: datetime,
    source: str,
    source_reference: str = "",
    reason: str = "",
) -> StatusChange | None:
    """`customer_apply_bvnk_status` on a row locked by `customer_write`."""
    if locked.bvnk_status_at is not None and observed_at <= locked.bvnk_status_at:
        return None
    change = change_status(
        locked, status, source=source, source_reference=source_reference, reason=reason
    )
    locked.bvnk_status_at = observed_at
    locked.save(update_fields=["bvnk_status_at", "updated_at"])
    return change
