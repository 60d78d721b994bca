"""The BVNK outbox: every write that must reach BVNK, sent exactly once in effect.

A compliance change is never sent from a request. The service that makes it writes a
`BvnkOperation` row in the same transaction (services.py: `customer_submit`,
`customer_update_details`, `operation_submit_questionnaire`; the documents are queued
here once the create succeeded), and after commit `enqueue` hands its id to the
`send_bvnk_operation` task on the "bvnk" queue. From there:

- `operation_send` claims the row with one conditional UPDATE (PENDING and due, or IN_FLIGHT
  whose claim was lost) and a fresh claim token. The partial unique constraint "one
  operation in flight per customer" makes the claim fail while another operation of the
  same customer is in flight, so one customer's operations never run concurrently;
- the claim sends the stored body with the row's idempotency key, which never changes,
  so a retry after a lost answer gets BVNK's first answer back (decision 6), and records
  the outcome only if its claim token still holds;
- transient failures (5xx, 408, 429 with Retry-After, timeouts, connection errors) go
  back to PENDING with `next_attempt_at` moved by a full-jitter exponential backoff, up
  to BVNK_OPERATION_MAX_ATTEMPTS, then NEEDS_ATTENTION; refusals (400 with field errors)
  are FAILED and shown to staff; a 401 is NEEDS_ATTENTION with a "credentials or clock"
  alert; a claim whose worker died is taken over, and after BVNK_OPERATION_MAX_LOST_CLAIMS
  of those the operation needs attention instead of killing workers forever;
- `operations_sweep` (Celery beat) publishes again what is due but whose task was lost
  (broker restarted, publish failed) and claims whose lease ran out.

Order: a customer's create goes first (the other kinds wait for its BVNK reference);
documents and questionnaire answers go only while BVNK collects information; an update
or a questionnaire answer superseded by a newer one is cancelled rather than sent late.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from . import services
from .bvnk import wire
from .bvnk.client import BvnkClient, idempotency_key
from .bvnk.errors import BvnkError
from .bvnk.types import DocumentUpload, QuestionnaireAnswers, StoredBody
from .models import Associate, BvnkOperation, ComplianceDocument, Customer

logger = logging.getLogger(__name__)

Kind = BvnkOperation.Kind
State = BvnkOperation.State
S = Customer.Status

ATTENTION = frozenset({State.FAILED, State.NEEDS_ATTENTION})
FINAL = frozenset({State.DONE, State.FAILED, State.CANCELLED})
# Decision 8: documents (and, per the emulator, questionnaire answers) only while BVNK
# collects information; the emulator also takes them in ACTIONS_REQUIRED ("re-upload").
COLLECTING = frozenset({S.INFO_REQUIRED, S.ACTIONS_REQUIRED})
CLOSED = frozenset({S.VERIFIED, S.REJECTED, S.TERMINATED})
# Kinds where a newer operation carries everything an older unsent one would.
SUPERSEDABLE = frozenset({Kind.UPDATE_CUSTOMER, Kind.SUBMIT_QUESTIONNAIRE})
# BVNK refused the content: retrying the same body cannot help (shown to staff as FAILED).
REFUSAL_STATUSES = frozenset({400, 404, 409, 422})
AUTH_NOTE = (
    "BVNK refused the portal's credentials (401): check BVNK_HAWK_AUTH_ID and "
    "BVNK_HAWK_SECRET, and that the workers' clock is right (Hawk allows about a minute)."
)
# After the broker refused one publish, leave operations to the sweeper for this long.
BROKER_PAUSE_SECONDS = 10.0
RETRY = "RETRY"  # an outcome, not a state: back to PENDING, or NEEDS_ATTENTION if exhausted
# A task goes on with at most this many of its customer's next operations (operation_send).
FOLLOW_LIMIT = 20


# -- adding (inside the services' transactions) ------------------------------------------


def operation_add(
    *,
    customer: Customer,
    kind: str,
    key: str,
    payload: dict[str, Any],
    actor: Any = None,
    document: ComplianceDocument | None = None,
    supersedes: Iterable[BvnkOperation] = (),
) -> BvnkOperation:
    """Write one operation in the caller's transaction; `enqueue` it after commit.

    `supersedes`: older unsent operations this one replaces; they are cancelled.
    """
    now = timezone.now()
    replaced = [op for op in supersedes if op.state in (State.PENDING, *ATTENTION)]
    operation = _new_operation(
        customer=customer, kind=kind, key=key, payload=payload, actor=actor, document=document
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
        if any(op.state in ATTENTION for op in replaced):
            refresh_summary(customer.pk)
    return operation


def _new_operation(
    *,
    customer: Customer,
    kind: str,
    key: str,
    payload: dict[str, Any],
    actor: Any = None,
    document: ComplianceDocument | None = None,
) -> BvnkOperation:
    """An operation due now, not saved yet (`operation_add` and `queue_documents` save it)."""
    now = timezone.now()
    return BvnkOperation(
        customer=customer,
        kind=kind,
        idempotency_key=key,
        payload=payload,
        document=document,
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


_broker_paused_until = 0.0
_publisher = threading.local()  # one broker connection per thread, reused


def enqueue(operation_ids: list[int]) -> None:
    """Publish one send task per operation now; on any broker trouble leave them to the sweeper.

    Celery's own publish retries for seconds while the broker is down, which a request
    must not wait for: one quick attempt, without retries, on a connection this thread
    keeps (opened with a one-second timeout), then a pause before the next attempt.
    """
    global _broker_paused_until
    if not operation_ids:
        return
    if time.monotonic() >= _broker_paused_until:
        try:
            _publish(operation_ids)
            return
        except Exception as exc:
            _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
            logger.warning(
                "Broker unavailable (%s); %d BVNK operation(s) wait for the sweeper",
                type(exc).__name__,
                len(operation_ids),
            )
    # Not published: let the next sweep take them at once instead of after the redrive delay.
    BvnkOperation.objects.filter(pk__in=operation_ids, state=State.PENDING).update(enqueued_at=None)


def _publish(operation_ids: list[int]) -> None:
    from .tasks import send_bvnk_operation  # the tasks module imports this one

    app = send_bvnk_operation.app
    conn = getattr(_publisher, "connection", None)
    if conn is None or getattr(_publisher, "url", None) != app.conf.broker_write_url:
        conn = app.connection_for_write(connect_timeout=1.0)
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        _publisher.connection, _publisher.url = conn, app.conf.broker_write_url
    try:
        for pk in operation_ids:
            send_bvnk_operation.apply_async((pk,), connection=conn, retry=False)
    except Exception:
        # Never publish on a connection that failed: kombu would reconnect without limit.
        _publisher.connection = None
        with contextlib.suppress(Exception):
            conn.release()
        raise


def refresh_summary(customer_id: int) -> None:
    """Keep the My customers needs-attention flag in step with the customer's operations."""
    from .requirements import summary_refresh

    summary_refresh(customer_id)


# -- sending ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; `then` runs in the transaction that records it."""

    state: str  # DONE, FAILED, NEEDS_ATTENTION, CANCELLED or RETRY
    note: str = ""
    error: BvnkError | None = None
    result: dict[str, Any] = field(default_factory=dict)
    then: Callable[[], object] | None = None


@dataclass(frozen=True)
class Claim:
    operation: BvnkOperation
    token: str


class Cancel(Exception):
    """The operation no longer applies (the customer moved on); it will not be sent."""


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
        following = _due(customer_id, _claimable()).first()
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
        with services.bvnk_client(
            triggered_by=triggered_by, customer=operation.customer, actor=operation.created_by
        ) as client:
            return SENDERS[operation.kind](operation, client)
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
    now = timezone.now()
    if isinstance(operation, int):
        loaded = _claimable().filter(pk=operation).first()
        if loaded is None:
            return None
        operation = loaded
    extra: dict[str, Any] = {}
    if operation.state == State.IN_FLIGHT:
        # A claim without an outcome: its lease ran out, or this is the broker handing the
        # same message over again, which it only does once the worker that had it is gone.
        lost = operation.lease_until is None or operation.lease_until <= now
        if not lost and not (task_id and task_id == operation.task_id):
            return None
        rows = BvnkOperation.objects.filter(
            pk=operation.pk, state=State.IN_FLIGHT, claim_token=operation.claim_token
        )
        if operation.lost_claims + 1 >= settings.BVNK_OPERATION_MAX_LOST_CLAIMS:
            note = (
                f"Claimed {operation.lost_claims + 1} times without finishing: the worker "
                "may be dying on it. Check the worker logs, then retry."
            )
            rows.update(
                state=State.NEEDS_ATTENTION,
                lost_claims=F("lost_claims") + 1,
                claim_token="",
                lease_until=None,
                note=note,
                updated_at=now,
            )
            logger.error("Operation %s: %s", operation.pk, note)
            refresh_summary(operation.customer_id)
            return None
        extra["lost_claims"] = F("lost_claims") + 1
    elif operation.state == State.PENDING and operation.next_attempt_at <= now:
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
        rows = BvnkOperation.objects.filter(
            pk=operation.pk, state=State.PENDING, next_attempt_at__lte=now
        )
    else:
        return None
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
    operation.lost_claims += 1 if extra else 0
    operation.claim_token, operation.task_id, operation.claimed_by = token, task_id, worker
    return Claim(operation, token)


def _settle_unclaimed(operation: BvnkOperation, state: str, note: str) -> None:
    now = timezone.now()
    if BvnkOperation.objects.filter(pk=operation.pk, state=State.PENDING).update(
        state=state, note=note[:300], completed_at=now, updated_at=now, enqueued_at=None
    ):
        logger.info("Operation %s %s: %s", operation.pk, state.lower(), note)
        if operation.state in ATTENTION or state in ATTENTION:
            refresh_summary(operation.customer_id)


def _wait_reason(operation: BvnkOperation) -> str:
    """Why the operation cannot go yet ("" when it can); raise Cancel when it never will."""
    customer = operation.customer
    if operation.kind == Kind.CREATE_CUSTOMER:
        if customer.status != S.SUBMITTING and not customer.bvnk_reference:
            raise Cancel("The customer is no longer being submitted.")
        return ""
    if operation.kind in SUPERSEDABLE and _newer(operation).exists():
        raise Cancel("Superseded by a newer operation.")
    if not customer.bvnk_reference:
        return "Waiting for the customer to be created at BVNK."
    if operation.kind in (Kind.UPLOAD_DOCUMENT, Kind.SUBMIT_QUESTIONNAIRE):
        what = "documents" if operation.kind == Kind.UPLOAD_DOCUMENT else "questionnaire answers"
        if customer.status in CLOSED:
            raise Cancel(f"BVNK takes no {what} for a {customer.get_status_display()} customer.")
        if customer.status not in COLLECTING:
            return (
                f"Waiting: BVNK takes {what} only while it asks for information "
                f"(the customer is {customer.get_status_display()})."
            )
    return ""


def _newer(operation: BvnkOperation) -> Any:
    """Operations of the same kind and customer, written later, that carry this one's content."""
    newer = BvnkOperation.objects.filter(
        customer_id=operation.customer_id, kind=operation.kind, pk__gt=operation.pk
    ).exclude(state=State.CANCELLED)
    if operation.kind == Kind.SUBMIT_QUESTIONNAIRE:
        codes = set(questionnaire_codes(operation))
        covering = [op.pk for op in newer if codes <= set(questionnaire_codes(op))]
        return BvnkOperation.objects.filter(pk__in=covering)
    return newer


def questionnaire_codes(operation: BvnkOperation) -> list[str]:
    return [str(answer.get("code")) for answer in operation.payload.get("answers", [])]


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
            if not rows.update(**values):
                return None  # the claim was taken over; that claim's outcome counts
            if final_state == State.DONE and outcome.then is not None:
                outcome.then()
            if final_state == State.FAILED and operation.kind in ON_REFUSED:
                ON_REFUSED[operation.kind](operation, outcome.error)
            if final_state in ATTENTION:
                refresh_summary(operation.customer_id)
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
        if not rows.update(
            state=State.NEEDS_ATTENTION, note=note[:300], claim_token="", lease_until=None,
            updated_at=now,
        ):  # fmt: skip
            return None
        refresh_summary(claim.operation.customer_id)
        transaction.on_commit(partial(wake_next, claim.operation.customer_id))
    return State.NEEDS_ATTENTION


def _due(customer_id: int, rows: QuerySet[BvnkOperation] | None = None) -> QuerySet[BvnkOperation]:
    """The customer's due operations (of `rows`, a queryset), the next one first."""
    rows = BvnkOperation.objects.all() if rows is None else rows
    return rows.filter(
        customer_id=customer_id, state=State.PENDING, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at", "pk")


def _next_due(customer_id: int) -> tuple[int, datetime | None] | None:
    """The customer's next due operation: its id and when it was last published."""
    return _due(customer_id).values_list("pk", "enqueued_at").first()


def wake_next(customer_id: int) -> None:
    """Publish the customer's next due operation, now that none of its is in flight."""
    now = timezone.now()
    following = _next_due(customer_id)
    if following is not None:
        pk, enqueued_at = following
        if enqueued_at is None:  # published from here on: the sweeper leaves it alone
            BvnkOperation.objects.filter(pk=pk).update(enqueued_at=now)
        enqueue([pk])


# -- what each kind sends ----------------------------------------------------------------


def _send_create(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    """POST the stored create (unless BVNK's reference is known already), then read it back."""
    customer = operation.customer
    created = None
    if not customer.bvnk_reference:
        created = client.create_customer(
            StoredBody(operation.payload["body"]), idempotency_key=operation.idempotency_key
        )
        # Keep BVNK's reference the moment it exists: a later failure only repeats the read.
        if Customer.objects.filter(pk=customer.pk, bvnk_reference__isnull=True).update(
            bvnk_reference=created.reference, updated_at=timezone.now()
        ):
            customer.bvnk_reference = created.reference
        else:
            customer.refresh_from_db(fields=["bvnk_reference"])
    reference = str(customer.bvnk_reference)
    try:
        remote = client.get_customer(reference)
    except BvnkError as error:
        if error.transient:
            raise  # the retry skips the POST: the reference is stored
        logger.warning("Created %s but could not read it back: %s", customer.pk, error)
        remote = None
    return Outcome(
        State.DONE,
        note=f"Created at BVNK as {reference}.",
        result={"reference": reference, "replayed": created is None},
        then=partial(_created, operation, remote, created),
    )


def _created(operation: BvnkOperation, remote: Any, created: Any) -> None:
    customer = operation.customer
    services.customer_record_created(customer, remote=remote, created=created)
    queued = queue_documents(customer, actor=operation.created_by)
    # Whatever waited for the create (answers queued meanwhile) may go now.
    BvnkOperation.objects.filter(customer=customer, state=State.PENDING).exclude(
        pk__in=[op.pk for op in queued]
    ).update(next_attempt_at=timezone.now(), note="")


def _create_refused(operation: BvnkOperation, error: BvnkError | None) -> None:
    """Send the customer back to DRAFT with BVNK's errors on the steps and fields that hold them."""
    ids = operation.payload.get("associates", [])
    by_pk = {a.pk: a for a in Associate.objects.filter(pk__in=ids)}
    associates = [by_pk[pk] for pk in ids if pk in by_pk]
    customer = operation.customer
    customer.refresh_from_db()
    if customer.status == S.SUBMITTING:
        services.customer_submission_refused(customer, error=error, associates=associates)


def queue_documents(customer: Customer, *, actor: Any = None) -> list[BvnkOperation]:
    """Queue an upload for each of the customer's documents BVNK does not have yet."""
    # A document that ever had an upload operation keeps it (and its key): staff retry that.
    documents = customer.documents.filter(bvnk_reference__isnull=True, operations__isnull=True)
    # Never a file the malware scan holds (submission waits for it; this is a backstop).
    documents = documents.exclude(scan_status__in=["PENDING", "INFECTED"])
    # New operations supersede nothing: one INSERT for them all.
    return BvnkOperation.objects.bulk_create(
        _new_operation(
            customer=customer,
            kind=Kind.UPLOAD_DOCUMENT,
            # One key per document: it is uploaded once, whatever happens on the way.
            key=idempotency_key("document.upload", str(customer.external_reference), str(doc.pk)),
            payload={"document": doc.pk, "sha256": doc.sha256},
            actor=actor,
            document=doc,
        )
        for doc in documents.order_by("created_at", "pk")
    )


def _send_document(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    document = operation.document
    if document is None:
        raise Cancel("The document was deleted.")
    if document.bvnk_reference:
        return Outcome(State.DONE, note="BVNK has this document already.")
    person = ""
    if document.associate is not None:
        person = document.associate.bvnk_person_reference or _person_reference(
            operation.customer, document.associate, client
        )
        if not person:
            return Outcome(
                State.NEEDS_ATTENTION,
                note=f"BVNK lists no person matching {document.associate}; resync the "
                "customer, then retry.",
            )
    with document.file.open("rb") as stored:
        content = stored.read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        return Outcome(
            State.NEEDS_ATTENTION, note="The stored file no longer matches its checksum."
        )
    upload = DocumentUpload(
        type=document.document_type,
        sub_type=document.document_sub_type,
        name=document.original_name,
        content=content,
        customer_person_reference=person,
    )
    accepted = client.upload_documents(
        str(operation.customer.bvnk_reference), [upload], idempotency_key=operation.idempotency_key
    )
    first = accepted[0] if accepted else None
    reference = first.reference if first else ""
    bvnk_status = first.status if first else ""
    return Outcome(
        State.DONE,
        note="Uploaded." + (f" BVNK reference {reference}." if reference else ""),
        result={"reference": reference, "status": bvnk_status},
        then=partial(
            services.document_record_upload, document, reference=reference, status=bvnk_status
        ),
    )


def _person_reference(customer: Customer, associate: Associate, client: BvnkClient) -> str:
    """Read the customer from BVNK to learn the associates' person references."""
    remote = client.get_customer(str(customer.bvnk_reference))
    services.customer_record_people(customer, remote)
    associate.refresh_from_db(fields=["bvnk_person_reference"])
    return associate.bvnk_person_reference


def _document_refused(operation: BvnkOperation, error: BvnkError | None) -> None:
    if operation.document is not None:
        services.document_apply_bvnk_status(
            operation.document, ComplianceDocument.UploadStatus.FAILED
        )


def _send_questionnaire(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    answers = [
        QuestionnaireAnswers(code=answer["code"], sections=answer["sections"])
        for answer in operation.payload["answers"]
    ]
    client.submit_questionnaires(
        str(operation.customer.bvnk_reference), answers, idempotency_key=operation.idempotency_key
    )
    codes = ", ".join(questionnaire_codes(operation))
    return Outcome(State.DONE, note=f"Answers to {codes} accepted; BVNK checks them next.")


def _send_update(operation: BvnkOperation, client: BvnkClient) -> Outcome:
    customer = operation.customer
    remote = client.update_customer(
        str(customer.bvnk_reference),
        StoredBody(operation.payload["body"]),
        idempotency_key=operation.idempotency_key,
    )
    return Outcome(
        State.DONE,
        note="BVNK has the new details.",
        then=partial(
            services.customer_record_bvnk_details,
            customer,
            observed_at=timezone.now(),
            data=remote.raw,
        ),
    )


SENDERS: dict[str, Callable[[BvnkOperation, BvnkClient], Outcome]] = {
    Kind.CREATE_CUSTOMER: _send_create,
    Kind.UPDATE_CUSTOMER: _send_update,
    Kind.UPLOAD_DOCUMENT: _send_document,
    Kind.SUBMIT_QUESTIONNAIRE: _send_questionnaire,
}
# What a refusal (FAILED) does besides being shown on the operation.
ON_REFUSED: dict[str, Callable[[BvnkOperation, BvnkError | None], None]] = {
    Kind.CREATE_CUSTOMER: _create_refused,
    Kind.UPLOAD_DOCUMENT: _document_refused,
}


# -- driving: the sweeper, and running inline --------------------------------------------


def operations_sweep(*, limit: int = 500, now: datetime | None = None) -> int:
    """Publish again what is due but has no live task; return how many were published.

    Due: PENDING operations whose time came and whose task was never published (backoff,
    failed publish) or was published more than BVNK_OPERATION_REDRIVE_SECONDS ago and
    never ran (a broker that lost it); IN_FLIGHT ones whose lease ran out (a dead worker).
    One operation per customer: the rest follow as each finishes.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.BVNK_OPERATION_REDRIVE_SECONDS)
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
