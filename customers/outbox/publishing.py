"""Adding operations and getting their send tasks to a worker: after commit, next, swept."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .. import dispatch
from ..models import BvnkOperation, ComplianceDocument, Customer, Wallet
from ..requirements import summary_refresh

logger = logging.getLogger(__name__)

State = BvnkOperation.State

ATTENTION = frozenset({State.FAILED, State.NEEDS_ATTENTION})


# -- adding (inside the services' transactions) -----------------------------------------


def operation_add(
    *,
    customer: Customer,
    kind: str,
    key: str,
    payload: dict[str, Any],
    actor: Any = None,
    document: ComplianceDocument | None = None,
    wallet: Wallet | None = None,
    supersedes: Iterable[BvnkOperation] = (),
) -> BvnkOperation:
    """Write one operation in the caller's transaction; `enqueue` it after commit.

    `supersedes`: older unsent operations this one replaces; they are cancelled. The caller
    is a service writing in `services.customer_write`, which stores the customer's summary
    (a cancelled operation that needed attention no longer counts) when it ends.
    """
    now = timezone.now()
    replaced = [op for op in supersedes if op.state in (State.PENDING, *ATTENTION)]
    operation = new_operation(
        customer=customer,
        kind=kind,
        key=key,
        payload=payload,
        actor=actor,
        document=document,
        wallet=wallet,
    )
    operation.save(force_insert=True)
    if replaced:
        BvnkOperation.objects.filter(
            pk__in=[op.pk for op in replaced], state__in=(State.PENDING, *ATTENTION)
        ).update(
            state=State.CANCELLED,
            note=f"Superseded by operation #{operation.pk}.",
            completed_at=now,
            updated_at=now,
        )
    return operation


def new_operation(
    *,
    customer: Customer,
    kind: str,
    key: str,
    payload: dict[str, Any],
    actor: Any = None,
    document: ComplianceDocument | None = None,
    wallet: Wallet | None = None,
) -> BvnkOperation:
    """An operation due now, not saved yet (`operation_add` and `queue_documents` save it)."""
    now = timezone.now()
    return BvnkOperation(
        customer=customer,
        kind=kind,
        idempotency_key=key,
        payload=payload,
        document=document,
        wallet=wallet,
        created_by=actor if getattr(actor, "pk", None) else None,
        next_attempt_at=now,
        enqueued_at=now,
        created_at=now,
    )


def enqueue_after_commit(operations: Iterable[BvnkOperation | int]) -> None:
    """Publish the operations' send tasks once the current transaction commits."""
    ids = [op if isinstance(op, int) else op.pk for op in operations]
    if ids:
        transaction.on_commit(partial(enqueue, ids))


def enqueue(operation_ids: list[int]) -> None:
    """Publish one send task per operation now; on any broker trouble leave them to the sweeper."""
    if not operation_ids:
        return
    if dispatch.publish(dispatch.SEND_BVNK_OPERATION, [(pk,) for pk in operation_ids]):
        return
    # Not published: let the next sweep take them at once instead of after the redrive delay.
    BvnkOperation.objects.filter(pk__in=operation_ids, state=State.PENDING).update(enqueued_at=None)


def operations_settle(rows: QuerySet[BvnkOperation], *, customer_id: int, **values: Any) -> int:
    """Write `values` to the operations `rows` selects; return how many were written.

    The one way the engine settles an operation outside a service: an operation that comes
    to need attention (FAILED, NEEDS_ATTENTION) changes the customer's summary, which is
    stored here, in the same transaction.
    """
    written = rows.update(**values)
    if written and values.get("state") in ATTENTION:
        summary_refresh(customer_id)
    return written


def due_operations(
    customer_id: int, rows: QuerySet[BvnkOperation] | None = None
) -> QuerySet[BvnkOperation]:
    """The customer's due operations (of `rows`, a queryset), the next one first."""
    rows = BvnkOperation.objects.all() if rows is None else rows
    return rows.filter(
        customer_id=customer_id, state=State.PENDING, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at", "pk")


def _next_due(customer_id: int) -> tuple[int, datetime | None] | None:
    """The customer's next due operation: its id and when it was last published."""
    return due_operations(customer_id).values_list("pk", "enqueued_at").first()


def wake_next(customer_id: int) -> None:
    """Publish the customer's next due operation, now that none of its is in flight."""
    now = timezone.now()
    following = _next_due(customer_id)
    if following is not None:
        pk, enqueued_at = following
        if enqueued_at is None:  # published from here on: the sweeper leaves it alone
            BvnkOperation.objects.filter(pk=pk).update(enqueued_at=now)
        enqueue([pk])


# -- driving: the sweeper ---------------------------------------------------------------


def operations_sweep(*, limit: int = 500, now: datetime | None = None) -> int:
    """Publish again what is due but has no live task; return how many were published.

    Due: PENDING operations whose time came and whose task was never published (backoff,
    failed publish) or was published more than BVNK_OPERATION_REDRIVE_SECONDS ago and
    never ran (a broker that lost it), or at all when the broker says it lost its
    messages (`dispatch.broker_lost_messages`); IN_FLIGHT ones whose lease ran out (a
    dead worker: its heartbeat stopped renewing the lease).
    One operation per customer: the rest follow as each finishes.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.BVNK_OPERATION_REDRIVE_SECONDS)
    if dispatch.broker_lost_messages():
        # Every message published so far is gone: publish it all again now, not after the
        # redrive delay. (A message that did survive finds its operation claimed or done.)
        stale = now
    unpublished = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale)
    due = Q(state=State.PENDING, next_attempt_at__lte=now) & unpublished
    lost = Q(state=State.IN_FLIGHT, lease_until__lte=now) & (
        unpublished | Q(enqueued_at__lt=F("lease_until"))
    )
    rows = (
        BvnkOperation.objects.filter(due | lost)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "customer_id")[: limit * 4]
    )
    candidates = list(rows)
    # Customers with an operation on its way (claimed, or published lately) get nothing:
    # that one wakes the next when it finishes.
    busy = set(
        BvnkOperation.objects.filter(customer_id__in={c for _, c in candidates})
        .filter(
            Q(state=State.IN_FLIGHT, lease_until__gt=now)
            | Q(state=State.PENDING, next_attempt_at__lte=now, enqueued_at__gte=stale)
        )
        .values_list("customer_id", flat=True)
    )
    chosen: dict[int, int] = {}
    for pk, customer_id in candidates:
        if customer_id not in busy:
            chosen.setdefault(customer_id, pk)
        if len(chosen) >= limit:
            break
    ids = list(chosen.values())
    if ids:
        BvnkOperation.objects.filter(pk__in=ids).update(enqueued_at=now)
        enqueue(ids)
        logger.info("Sweep: published %d BVNK operation(s) again", len(ids))
    return len(ids)
