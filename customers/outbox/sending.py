"""Sending one operation: claim it, attempt it, record the outcome (retry, backoff, give up)."""

from __future__ import annotations

import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .. import bvnk_calls
from ..bvnk import wire
from ..bvnk.errors import BvnkError
from ..models import BvnkOperation, ComplianceDocument, Customer
from . import leases
from .publishing import due_operations, operations_settle, wake_next
from .senders import POLICIES, Cancel, Outcome

logger = logging.getLogger(__name__)

State = BvnkOperation.State

FINAL = frozenset({State.DONE, State.FAILED, State.CANCELLED})
# BVNK refused the content: retrying the same body cannot help (shown to staff as FAILED).
REFUSAL_STATUSES = frozenset({400, 404, 409, 422})
AUTH_NOTE = (
    "BVNK refused the portal's credentials (401): check BVNK_HAWK_AUTH_ID and "
    "BVNK_HAWK_SECRET, and that the workers' clock is right (Hawk allows about a minute)."
)
RETRY = "RETRY"  # an outcome, not a state: back to PENDING, or NEEDS_ATTENTION if exhausted
# A task goes on with at most this many of its customer's next operations (operation_send).
FOLLOW_LIMIT = 20


# -- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    operation: BvnkOperation
    token: str


def operation_send(
    *, operation_id: int, task_id: str = "", worker: str = "", follow: bool = False
) -> str | None:
    """Claim one operation, send it and record the outcome; return its new state.

    None when there was nothing to do: not due, done already, claimed by a live worker,
    or another operation of the same customer is in flight (that one wakes this one).
    Safe to run twice and concurrently. A database outage leaves the claim to expire and
    the sweeper to send again, with the same key.

    `follow` (the task sets it): go on here with the customer's next due operations (the
    documents after its create, say), up to FOLLOW_LIMIT of them or half the task's soft
    time limit, instead of publishing each; what is left is published.
    """
    state, customer_id = _send_one(operation_id, task_id=task_id, worker=worker, wake=not follow)
    if not follow or customer_id is None:
        return state
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    for _ in range(FOLLOW_LIMIT):
        # Loaded as a claim loads it, so claiming it reads nothing more.
        following = due_operations(customer_id, _claimable()).first()
        if following is None:
            return state
        if time.monotonic() > deadline:
            break
        # No task id: only the first claim is the broker's message; a follower whose
        # worker dies is sent again once its lease runs out.
        _, went = _send_one(following, task_id="", worker=worker, wake=False)
        if went is None:
            return state  # someone else has it
    with contextlib.suppress(OperationalError, InterfaceError):
        wake_next(customer_id)
    return state


def _send_one(
    operation: int | BvnkOperation, *, task_id: str, worker: str, wake: bool
) -> tuple[str | None, int | None]:
    """Claim, send, record one operation; return its state and (if claimed) its customer."""
    try:
        claim = _claim(operation, task_id=task_id, worker=worker)
    except (OperationalError, InterfaceError) as exc:
        logger.warning(
            "Operation %s: database unavailable (%s); left to the sweeper",
            getattr(operation, "pk", operation),
            exc,
        )
        return None, None
    if claim is None:
        return None, None
    operation = claim.operation
    with leases.held(operation.pk, claim.token):
        try:
            outcome = _attempt(operation)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("Operation %s: database unavailable mid-attempt (%s)", operation.pk, exc)
            return None, None
        try:
            state = _finish(claim, outcome, wake=wake)
        except (OperationalError, InterfaceError) as exc:
            logger.warning(
                "Operation %s: outcome not recorded (%s); it will be resent", operation.pk, exc
            )
            return None, None
    return state, operation.customer_id if state is not None else None


def _attempt(operation: BvnkOperation) -> Outcome:
    """Send one claimed operation and say what came of it (never raises BvnkError)."""
    triggered_by = f"operation {operation.pk}: {operation.get_kind_display().lower()}"
    try:
        with bvnk_calls.bvnk_client(
            triggered_by=triggered_by, customer=operation.customer, actor=operation.created_by
        ) as client:
            return POLICIES[operation.kind].send(operation, client)
    except BvnkError as error:
        return outcome_of(error)
    except Cancel as cancel:
        return Outcome(State.CANCELLED, note=str(cancel))
    except SoftTimeLimitExceeded:
        return Outcome(RETRY, note="The attempt ran past the task's soft time limit.")
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        # A bug or broken data: sending again would fail the same way. Staff can retry.
        logger.exception("Operation %s failed unexpectedly", operation.pk)
        return Outcome(State.NEEDS_ATTENTION, note=f"Unexpected error: {type(exc).__name__}: {exc}")


def outcome_of(error: BvnkError) -> Outcome:
    """Classify a failed call: only transient errors are tried again."""
    if error.transient:
        return Outcome(RETRY, error=error)
    if error.is_auth_failure:
        logger.error("%s (%s)", AUTH_NOTE, error)
        return Outcome(State.NEEDS_ATTENTION, note=AUTH_NOTE, error=error)
    if wire.IDEMPOTENCY_HEADER in error.field_errors:
        return Outcome(
            State.NEEDS_ATTENTION,
            note="BVNK says this idempotency key was used for another request; check what "
            "BVNK holds (resync) before retrying.",
            error=error,
        )
    if error.status in REFUSAL_STATUSES:
        return Outcome(State.FAILED, note="BVNK refused it.", error=error)
    # 403 (IP allowlist, WAF), an unexpected redirect, an unusable URL: people must fix it.
    return Outcome(
        State.NEEDS_ATTENTION, note="BVNK could not be asked; see the error.", error=error
    )


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: full jitter, never sooner than Retry-After.

    Full jitter (a uniform draw up to the exponential ceiling) spreads the retries of
    many operations that failed together, so BVNK is not hit by them in waves.
    """
    base = float(settings.BVNK_OPERATION_BACKOFF_SECONDS)
    ceiling = min(
        float(settings.BVNK_OPERATION_BACKOFF_MAX_SECONDS), base * 2.0 ** min(attempt - 1, 60)
    )
    delay = random.uniform(0, max(ceiling, 0.0))  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after) if retry_after is not None else delay


# What a claim loads: the operation, and of its customer, document and author only what
# deciding and sending read (a customer row is wide; the services load what they need).
CLAIM_FIELDS = (
    *(field.name for field in BvnkOperation._meta.concrete_fields),
    *(
        f"customer__{name}"
        for name in (
            "id",
            "type",
            "status",
            "bvnk_reference",
            "external_reference",
            "submission_count",
            "legal_name",
            "first_name",
            "last_name",
        )
    ),
    *(
        f"document__{field.name}"
        for field in ComplianceDocument._meta.concrete_fields
        if field.name != "updated_at"
    ),
    "document__associate__id",
    "document__associate__first_name",
    "document__associate__last_name",
    "document__associate__bvnk_person_reference",
    "created_by__id",
    "created_by__username",
)


def _claimable() -> QuerySet[BvnkOperation]:
    """Operations loaded as a claim needs them (CLAIM_FIELDS)."""
    return BvnkOperation.objects.select_related(
        "customer", "document__associate", "created_by"
    ).only(*CLAIM_FIELDS)


def _claim(operation: int | BvnkOperation, *, task_id: str, worker: str) -> Claim | None:
    """Take the operation for one attempt with a conditional UPDATE; None if not ours to send.

    `operation`: its id, or the operation as `_claimable` loaded it a moment ago.
    """
    loaded = _load(operation)
    if loaded is None:
        return None
    now = timezone.now()
    if loaded.state == State.IN_FLIGHT:
        rows = _lost_claim(loaded, task_id=task_id, now=now)
    elif loaded.state == State.PENDING and loaded.next_attempt_at <= now:
        rows = _ready(loaded, now=now)
    else:
        return None
    if rows is None:
        return None
    return _take(loaded, rows, task_id=task_id, worker=worker, now=now)


def _load(operation: int | BvnkOperation) -> BvnkOperation | None:
    """The operation as a claim needs it (CLAIM_FIELDS); None when it is gone."""
    if isinstance(operation, int):
        return _claimable().filter(pk=operation).first()
    return operation


def _lost_claim(
    operation: BvnkOperation, *, task_id: str, now: datetime
) -> QuerySet[BvnkOperation] | None:
    """The rows to take over an IN_FLIGHT claim that has no outcome; None to leave it.

    Taken over when its lease ran out, or when the broker hands the same message over
    again (it only does once the worker that had it is gone). After
    BVNK_OPERATION_MAX_LOST_CLAIMS the operation needs attention instead: a worker that
    dies on it would otherwise be killed forever.
    """
    lost = operation.lease_until is None or operation.lease_until <= now
    if not lost and not (task_id and task_id == operation.task_id):
        return None
    rows = BvnkOperation.objects.filter(
        pk=operation.pk, state=State.IN_FLIGHT, claim_token=operation.claim_token
    )
    if operation.lost_claims + 1 < settings.BVNK_OPERATION_MAX_LOST_CLAIMS:
        return rows
    note = (
        f"Claimed {operation.lost_claims + 1} times without finishing: the worker "
        "may be dying on it. Check the worker logs, then retry."
    )
    operations_settle(
        rows,
        customer_id=operation.customer_id,
        state=State.NEEDS_ATTENTION,
        lost_claims=F("lost_claims") + 1,
        claim_token="",
        lease_until=None,
        note=note,
        updated_at=now,
    )
    logger.error("Operation %s: %s", operation.pk, note)
    return None


def _ready(operation: BvnkOperation, *, now: datetime) -> QuerySet[BvnkOperation] | None:
    """The rows to claim a due PENDING operation; None when its policy says wait or cancel."""
    try:
        waiting = _wait_reason(operation)
    except Cancel as cancel:
        _settle_unclaimed(operation, State.CANCELLED, str(cancel))
        return None
    if waiting:
        BvnkOperation.objects.filter(pk=operation.pk, state=State.PENDING).update(
            next_attempt_at=now + timedelta(seconds=settings.BVNK_OPERATION_WAIT_SECONDS),
            enqueued_at=None,
            note=waiting[:300],
            updated_at=now,
        )
        return None
    return BvnkOperation.objects.filter(
        pk=operation.pk, state=State.PENDING, next_attempt_at__lte=now
    )


def _take(
    operation: BvnkOperation,
    rows: QuerySet[BvnkOperation],
    *,
    task_id: str,
    worker: str,
    now: datetime,
) -> Claim | None:
    """Claim `rows` (the operation in the state it was read in) with a fresh token."""
    taking_over = operation.state == State.IN_FLIGHT
    extra: dict[str, Any] = {"lost_claims": F("lost_claims") + 1} if taking_over else {}
    token = uuid.uuid4().hex
    # One statement: in autocommit a unique violation leaves nothing behind; inside a
    # caller's transaction (a shell, a test) a savepoint keeps that transaction usable.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else contextlib.nullcontext():
            claimed = rows.update(
                state=State.IN_FLIGHT,
                claim_token=token,
                claimed_at=now,
                lease_until=now + timedelta(seconds=settings.BVNK_OPERATION_LEASE_SECONDS),
                claimed_by=worker[:200],
                task_id=task_id[:64],
                attempts=F("attempts") + 1,
                updated_at=now,
                **extra,
            )
    except IntegrityError:
        return None  # another operation of this customer is in flight; it wakes this one
    if not claimed:
        return None
    # As the UPDATE wrote it, without a read that would drop the related rows loaded above.
    operation.state = State.IN_FLIGHT
    operation.attempts += 1
    operation.lost_claims += 1 if taking_over else 0
    operation.claim_token, operation.task_id, operation.claimed_by = token, task_id, worker
    return Claim(operation, token)


def _settle_unclaimed(operation: BvnkOperation, state: str, note: str) -> None:
    now = timezone.now()
    if operations_settle(
        BvnkOperation.objects.filter(pk=operation.pk, state=State.PENDING),
        customer_id=operation.customer_id,
        state=state,
        note=note[:300],
        completed_at=now,
        updated_at=now,
        enqueued_at=None,
    ):
        logger.info("Operation %s %s: %s", operation.pk, state.lower(), note)


def _wait_reason(operation: BvnkOperation) -> str:
    """Why the operation cannot go yet ("" when it can); raise Cancel when it never will."""
    policy = POLICIES[operation.kind]
    if policy.superseded_by is not None and _superseded(operation, policy.superseded_by):
        raise Cancel("Superseded by a newer operation.")
    return policy.waits(operation)


def _superseded(
    operation: BvnkOperation, superseded_by: Callable[[BvnkOperation, BvnkOperation], bool]
) -> bool:
    """Whether an operation of the same kind and customer, written later, carries this one."""
    newer = BvnkOperation.objects.filter(
        customer_id=operation.customer_id, kind=operation.kind, pk__gt=operation.pk
    ).exclude(state=State.CANCELLED)
    return any(superseded_by(later, operation) for later in newer)


def _finish(claim: Claim, outcome: Outcome, *, wake: bool = True) -> str | None:
    """Record an attempt's outcome if the claim still holds; return the new state."""
    operation = claim.operation
    now = timezone.now()
    state = outcome.state
    note = outcome.note
    values: dict[str, Any] = {"claim_token": "", "lease_until": None, "updated_at": now}
    if outcome.error is not None:
        error = outcome.error
        values.update(
            last_error=str(error)[:2000],
            error_code=error.code[:60],
            last_status_code=error.status,
            field_errors=error.field_errors,
            trace_id=error.trace_id[:64],
        )
    if state == RETRY:
        if operation.attempts >= settings.BVNK_OPERATION_MAX_ATTEMPTS:
            state = State.NEEDS_ATTENTION
            note = f"Gave up after {operation.attempts} attempts; retry once BVNK answers again."
        else:
            retry_after = outcome.error.retry_after if outcome.error else None
            at = now + timedelta(seconds=retry_delay(operation.attempts, retry_after))
            values.update(state=State.PENDING, next_attempt_at=at, enqueued_at=None)
            note = note or f"Attempt {operation.attempts} failed; trying again at {at:%H:%M:%S}."
    if state != RETRY:
        values["state"] = state
    if state == State.DONE and outcome.error is None:
        # Sent: an earlier attempt's error no longer describes it (the BVNK calls keep it).
        values.update(
            last_error="", error_code="", last_status_code=None, field_errors={}, trace_id=""
        )
    if state in FINAL:
        values["completed_at"] = now
    if outcome.result:
        values["result"] = outcome.result
    values["note"] = note[:300]
    final_state = values["state"]
    try:
        with transaction.atomic():
            rows = BvnkOperation.objects.filter(
                pk=operation.pk, state=State.IN_FLIGHT, claim_token=claim.token
            )
            if not operations_settle(rows, customer_id=operation.customer_id, **values):
                return None  # the claim was taken over; that claim's outcome counts
            if final_state == State.DONE and outcome.then is not None:
                outcome.then()
            on_refused = POLICIES[operation.kind].on_refused
            if final_state == State.FAILED and on_refused is not None:
                on_refused(operation, outcome.error)
            if wake:
                transaction.on_commit(partial(wake_next, operation.customer_id))
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        logger.exception("Operation %s: recording the outcome failed", operation.pk)
        return _record_broken(claim, f"Recording BVNK's answer failed: {type(exc).__name__}: {exc}")
    log = logger.warning if final_state != State.DONE else logger.info
    log("Operation %s (%s) %s: %s", operation.pk, operation.kind, final_state, note or "sent")
    return str(final_state)


def _record_broken(claim: Claim, note: str) -> str | None:
    now = timezone.now()
    with transaction.atomic():
        rows = BvnkOperation.objects.filter(
            pk=claim.operation.pk, state=State.IN_FLIGHT, claim_token=claim.token
        )
        if not operations_settle(
            rows,
            customer_id=claim.operation.customer_id,
            state=State.NEEDS_ATTENTION,
            note=note[:300],
            claim_token="",
            lease_until=None,
            updated_at=now,
        ):
            return None
        transaction.on_commit(partial(wake_next, claim.operation.customer_id))
    return State.NEEDS_ATTENTION


# -- running inline, and the credentials alert ------------------------------------------


def operations_run_due(*, customer: Customer | None = None, limit: int = 100) -> int:
    """Send due operations here and now, one after another; return how many were sent.

    For shells and tests: the same claims as the workers', so it is safe beside them.
    """
    sent = 0
    tried: set[int] = set()
    while sent < limit:
        due = BvnkOperation.objects.filter(
            state=State.PENDING, next_attempt_at__lte=timezone.now()
        ).exclude(pk__in=tried)
        if customer is not None:
            due = due.filter(customer=customer)
        pk = due.order_by("next_attempt_at", "pk").values_list("pk", flat=True).first()
        if pk is None:
            return sent
        tried.add(pk)
        if operation_send(operation_id=pk, worker="inline") is not None:
            sent += 1
            tried.discard(pk)  # a retry may be due at once (zero backoff)
    return sent


def auth_alert() -> BvnkOperation | None:
    """The latest operation BVNK refused for the portal's credentials, still unresolved."""
    return (
        BvnkOperation.objects.filter(state=State.NEEDS_ATTENTION, last_status_code=401)
        .order_by("-updated_at", "-pk")
        .first()
    )
