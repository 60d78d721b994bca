"""The BVNK webhook inbox: store verified deliveries, then apply them in order, losing none.

BVNK retries a delivery up to 100 times, may deliver an event twice, sends one customer
status change under two or three event names and promises no order (bvnk-api.md 6.5).
So:

- `webhook_receive` stores each verified delivery once (insert-on-conflict on the event
  id, counting repeats) and hands it to a worker after commit, best effort;
- `webhook_event_process` applies one event under a row lock on the event, then on the
  customer (always in that order, so two workers never deadlock), with one handler per
  event type in `HANDLERS`. An event older than the BVNK state the portal holds changes
  nothing (`Customer.bvnk_status_at`); when in doubt (no timestamp, an unknown value, a
  move the transition table refuses) the truth is read from BVNK and applied instead;
- an event about a customer, session or document the portal does not know yet (its
  create response is not stored) is held, and applied once the reference is known;
- `webhook_events_sweep` (Celery beat, every few seconds) processes what is due: new
  events whatever happened to the broker, held events whose reference is now known,
  and retries after transient failures; it fails held events that waited too long;
- `webhook_events_reprocess` (admin action, management command) runs events again;
  `webhook_events_purge` drops processed and ignored events after the retention period.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

import psycopg
from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, F, Q
from django.utils import timezone

from . import services
from .bvnk import wire
from .bvnk.errors import BvnkError
from .bvnk.types import parse_datetime
from .models import (
    AgreementSession,
    ComplianceDocument,
    Customer,
    InvalidTransition,
    StatusChange,
    WebhookEvent,
    WebhookRejection,
)

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
PROCESSABLE = (Status.RECEIVED, Status.HELD)
BVNK_CUSTOMER_STATUSES = frozenset(wire.CUSTOMER_STATUSES)
# Longest wait between retries after a transient failure (BVNK's own cap, 6.5).
MAX_RETRY_DELAY = 900
# After the broker refused one enqueue, leave new events to the sweeper for this long.
BROKER_PAUSE_SECONDS = 10.0

# INFERRED (bvnk-api.md 4.4, Q7): BVNK's document review statuses are not documented;
# these are the candidates, mapped onto the portal's upload statuses.
DOCUMENT_STATUSES = {
    "PENDING": ComplianceDocument.UploadStatus.SENT,
    "IN_REVIEW": ComplianceDocument.UploadStatus.SENT,
    "UPLOADED": ComplianceDocument.UploadStatus.SENT,
    "APPROVED": ComplianceDocument.UploadStatus.APPROVED,
    "ACCEPTED": ComplianceDocument.UploadStatus.APPROVED,
    "VERIFIED": ComplianceDocument.UploadStatus.APPROVED,
    "REJECTED": ComplianceDocument.UploadStatus.REJECTED,
    "DECLINED": ComplianceDocument.UploadStatus.REJECTED,
}
_REVIEWED = (ComplianceDocument.UploadStatus.APPROVED, ComplianceDocument.UploadStatus.REJECTED)


# -- receiving ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the inbox reads from a body before storing it."""

    event_id: str
    event_type: str = ""
    event_at: datetime | None = None
    reference: str = ""
    error: str = ""


def read_envelope(body: bytes) -> Envelope:
    """Read the envelope (6.2); `error` says why a body cannot be processed at all.

    The event id is `eventId`, or `sha256:<hex>` of the body when `eventId` is missing
    (some update events carry none), so a retried delivery still finds its first copy.
    """
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
        return Envelope(event_id=digest, error="The body is not valid JSON.")
    if not isinstance(payload, dict):
        return Envelope(event_id=digest, error="The body is not a JSON object.")
    event_id = payload.get("eventId")
    event_id = str(event_id).strip() if isinstance(event_id, str | int) else ""
    event_type = payload.get("event")
    event_type = event_type.strip()[:100] if isinstance(event_type, str) else ""
    data = payload.get("data")
    return Envelope(
        event_id=event_id if 0 < len(event_id) <= 100 else digest,
        event_type=event_type,
        event_at=parse_datetime(payload.get("timestamp")),
        reference=subject_reference(event_type, data)[:100] if isinstance(data, dict) else "",
    )


def subject_reference(event_type: str, data: dict[str, Any]) -> str:
    """Return the BVNK reference of what an event is about (customer, session, document)."""
    if event_type == wire.EVENT_DOCUMENT_STATUS:
        return _text(data, "documentReference", "documentId", "reference")
    return _text(data, "reference", "customerId")


def webhook_receive(*, body: bytes, headers: dict[str, str]) -> tuple[int, bool]:
    """Store one verified delivery; return the event's id and whether it is new.

    A new event is one durable insert; a repeated event id is only counted (so
    concurrent identical deliveries make one row). With BVNK_WEBHOOK_ENQUEUE a new event
    is also queued; a broker failure there never fails this.
    Raises DatabaseError when nothing could be stored (the view answers 503).
    """
    envelope = read_envelope(body)
    now = timezone.now()
    event = WebhookEvent(
        event_id=envelope.event_id,
        event_type=envelope.event_type,
        status=Status.FAILED if envelope.error else Status.RECEIVED,
        # PostgreSQL text cannot hold NUL; the signature was checked on the exact bytes.
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        headers=headers,
        received_at=now,
        last_received_at=now,
        event_at=envelope.event_at,
        bvnk_reference=envelope.reference,
        error=envelope.error,
    )
    pk, created = _store(event)
    if not created:
        redeliveries.add(pk)
    elif not envelope.error:
        transaction.on_commit(partial(_enqueue, pk))  # runs now, or after an outer commit
    return pk, created


def _store(event: WebhookEvent) -> tuple[int, bool]:
    """Insert the event unless its event id is stored; return its row id and whether new.

    Autocommit, no explicit transaction: the insert is durable when it returns, in one
    round trip. A repeat writes nothing (so costs no WAL flush) and is only counted.
    Concurrent identical deliveries make one row: the others wait for it and do nothing.
    """
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each use of the proxy costs a lookup
    fields = _insert_fields()
    params = [field.get_db_prep_save(getattr(event, field.attname), db) for field in fields]
    # CONN_HEALTH_CHECKS would spend a round trip (`SELECT 1`) on every delivery before
    # this statement. The statement is idempotent, so run it on the persistent connection
    # without that check and, if the connection turns out to be dead (PostgreSQL
    # restarted, an idle connection cut), run it once more on a new one. Inside a
    # transaction nothing is retried: the caller's transaction is gone with the connection.
    persistent = db.connection is not None and not db.in_atomic_block
    if persistent:
        # Django's own flag (django-stubs does not declare it): checked for this request.
        db.health_check_done = True  # type: ignore[attr-defined]
    try:
        return _execute_store(db, params, event.event_id)
    except (OperationalError, InterfaceError):
        if not persistent or db.is_usable():
            raise  # a new connection failed, or the error is not the connection's
        logger.info("Stale database connection; storing the BVNK webhook event on a new one")
        db.close()
        # If the first attempt committed before the connection died, this finds its row
        # and reports a repeat; the sweeper hands the event to a worker either way.
        return _execute_store(db, params, event.event_id)


def _execute_store(db: BaseDatabaseWrapper, params: list[Any], event_id: str) -> tuple[int, bool]:
    postgresql = db.vendor == "postgresql"
    with _prepared_cursor(db) if postgresql else db.cursor() as cursor:
        if postgresql:
            # One statement answers both cases. The SELECT sees the table as it was when
            # the statement began, so it finds only an event stored before this delivery.
            cursor.execute(_store_sql(db.vendor), [*params, event_id])
            rows = cursor.fetchall()
        else:
            cursor.execute(_store_sql(db.vendor), params)
            rows = [(row[0], True) for row in cursor.fetchall()]
        if not rows:
            # A repeat (or, on PostgreSQL, a twin delivery committed meanwhile).
            cursor.execute(_select_sql(), [event_id])
            rows = [(cursor.fetchone()[0], False)]
    pk, created = rows[0]
    return int(pk), bool(created)


class _PreparingCursor(psycopg.Cursor[Any]):
    """A psycopg cursor that binds parameters on the server and prepares every statement."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        return super().execute(query, params, prepare=True, **options)


@contextmanager
def _prepared_cursor(db: BaseDatabaseWrapper) -> Iterator[CursorWrapper]:
    """Yield a Django cursor whose statements PostgreSQL parses and plans once per connection.

    Django's psycopg cursors bind parameters in the client and never prepare, so PostgreSQL
    would parse and plan the store statement (an 18-parameter CTE) for every delivery.
    psycopg keeps the prepared statement with its connection; Django's wrapper still wraps
    the errors and logs the queries.
    """
    db.ensure_connection()
    psycopg_connection = db.connection
    if psycopg_connection.prepare_threshold is None:
        # Django sets None, which turns preparing off even when asked for. Its own cursors
        # bind in the client and never prepare, so this changes nothing for them; the
        # huge threshold keeps psycopg from preparing anything it was not asked to.
        psycopg_connection.prepare_threshold = sys.maxsize
    raw = _PreparingCursor(psycopg_connection)
    wrap = db.make_debug_cursor if db.queries_logged else db.make_cursor
    with wrap(raw) as cursor:  # type: ignore[arg-type]  # django-stubs expects a wrapper here
        yield cursor


@cache
def _insert_fields() -> list[Any]:
    return [field for field in WebhookEvent._meta.concrete_fields if not field.primary_key]


@cache
def _store_sql(vendor: str) -> str:
    meta = WebhookEvent._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    event_id = quote(meta.get_field("event_id").column)
    columns = ", ".join(quote(field.column) for field in _insert_fields())
    marks = ", ".join(["%s"] * len(_insert_fields()))
    insert = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608 - names from the model
        f"ON CONFLICT ({event_id}) DO NOTHING RETURNING {pk}"
    )
    if vendor != "postgresql":
        return insert  # SQLite cannot put an INSERT in a WITH clause
    return (
        f"WITH new AS ({insert}) SELECT {pk}, TRUE FROM new "  # noqa: S608
        f"UNION ALL SELECT {pk}, FALSE FROM {table} WHERE {event_id} = %s"
    )


@cache
def _select_sql() -> str:
    meta = WebhookEvent._meta
    quote = connection.ops.quote_name
    return (
        f"SELECT {quote(meta.pk.column)} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {quote(meta.get_field('event_id').column)} = %s"
    )


_broker_paused_until = 0.0
_publisher = threading.local()


def _enqueue(event_id: int) -> None:
    """Hand a new event to a worker now; on any broker trouble leave it to the sweeper.

    Celery's own publish retries for seconds when the broker is down, so this keeps its
    own connection per thread, connects with one quick attempt, and after a failure
    stops trying for a while. Reusing the connection keeps a publish to one round trip.
    """
    global _broker_paused_until
    if not settings.BVNK_WEBHOOK_ENQUEUE or time.monotonic() < _broker_paused_until:
        return
    from .tasks import process_webhook_event  # the tasks module imports this one

    try:
        conn = getattr(_publisher, "connection", None)
        if conn is None:
            conn = process_webhook_event.app.connection_for_write(connect_timeout=1.0)
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
            _publisher.connection = conn
        process_webhook_event.apply_async((event_id,), connection=conn, retry=False)
    except Exception as exc:
        broken, _publisher.connection = getattr(_publisher, "connection", None), None
        if broken is not None:
            broken.collect()  # drop it without talking to a broker that may be gone
        _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "Broker unavailable (%s); webhook events wait for the sweeper", type(exc).__name__
        )


class BufferedCounts:
    """Count in memory; write the counts at most once per flush interval.

    Refused deliveries and repeats of stored events are only metrics: a flood of either
    must not cost a database write (and a WAL flush on a hot row) per request. What is
    pending is written by the next count after the interval, or by a timer thread, so
    staff see it within about BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS.
    """

    def __init__(self, write: Callable[[Counter[Any]], None]) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._pending: Counter[Any] = Counter()
        self._last_flush = -math.inf
        self._timer: threading.Timer | None = None

    def add(self, key: Any) -> None:
        interval = settings.BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS
        with self._lock:
            self._pending[key] += 1
            due = time.monotonic() - self._last_flush >= interval
            if not due and self._timer is None:
                self._timer = threading.Timer(interval, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._last_flush = time.monotonic()
        if not pending:
            return
        try:
            self._write(pending)
        except DatabaseError:
            with self._lock:  # keep them for the next flush
                self._pending.update(pending)
            raise

    def _flush_from_timer(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except DatabaseError:
            logger.warning("Could not write BVNK webhook counts", exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection


def _count_rejections(counts: Counter[str]) -> None:
    """Add the refusals to today's row for each reason."""
    for reason, count in counts.items():
        _count_rejection(reason, count)


def _count_rejection(reason: str, count: int) -> None:
    now = timezone.now()
    day = timezone.localdate(now)
    rows = WebhookRejection.objects.filter(day=day, reason=reason)
    if rows.update(count=F("count") + count, last_at=now):
        return
    try:
        with transaction.atomic():
            WebhookRejection.objects.create(day=day, reason=reason, count=count, last_at=now)
    except IntegrityError:  # another process created today's row first
        rows.update(count=F("count") + count, last_at=now)


def _count_redeliveries(counts: Counter[int]) -> None:
    """Add the repeats to their events, one UPDATE per distinct count and 1000 events."""
    by_count: dict[int, list[int]] = {}
    for event_pk, count in counts.items():
        by_count.setdefault(count, []).append(event_pk)
    now = timezone.now()
    for count, pks in by_count.items():
        for start in range(0, len(pks), 1000):
            WebhookEvent.objects.filter(pk__in=pks[start : start + 1000]).update(
                delivery_count=F("delivery_count") + count, last_received_at=now
            )


rejections = BufferedCounts(_count_rejections)
redeliveries = BufferedCounts(_count_redeliveries)


def webhook_rejection_record(*, reason: str) -> None:
    """Count one delivery refused for its signature (written within the flush interval)."""
    rejections.add(reason)


# -- processing ---------------------------------------------------------------------------


class Hold(Exception):
    """The event is about something the portal does not know yet; keep it for later."""


class Reject(Exception):
    """The event cannot be applied, and trying again will not change that."""


class NeedsBvnk(Exception):
    """The event alone cannot be trusted: read the truth from BVNK, then decide."""

    def __init__(self, kind: str, reference: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # "customer" or "session"
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


def webhook_event_process(*, event_id: int, wait: bool = False) -> str | None:
    """Apply one stored event; return its new status, or None if it was not due.

    Safe to run twice and concurrently: the event row is locked and its status checked.
    Without `wait`, an event another worker is applying right now is skipped (None):
    that worker finishes it, so sweeps running side by side share the work.
    """
    snapshot: Snapshot | None = None
    while True:
        try:
            return _apply(event_id, snapshot, wait=wait)
        except NeedsBvnk as need:
            if snapshot is not None:  # a handler given BVNK's answer must settle
                return _record_failure(event_id, f"Still in doubt after reading BVNK: {need}")
            try:
                snapshot = _read_from_bvnk(need, event_id)
            except BvnkError as exc:
                return _record_failure(event_id, f"Reading BVNK: {exc}", transient=exc.transient)
        except Reject as exc:
            return _record_failure(event_id, str(exc))
        except DatabaseError as exc:
            # A deadlock, a lost connection: worth another go later.
            logger.warning("Webhook event %s: database error", event_id, exc_info=True)
            return _record_failure(event_id, f"Database error: {exc}", transient=True)
        except Exception as exc:
            logger.exception("Webhook event %s failed", event_id)
            return _record_failure(
                event_id, f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()
            )


def _apply(event_id: int, snapshot: Snapshot | None, *, wait: bool) -> str | None:
    """Run the event's handler in one transaction, holding the event row (then the customer)."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update(skip_locked=not wait)
            .filter(pk=event_id, status__in=PROCESSABLE)
            .first()
        )
        if event is None:
            return None
        payload = _payload(event)
        handler = HANDLERS.get(event.event_type)
        now = timezone.now()
        event.attempts += 1
        event.error = event.traceback = ""
        event.next_attempt_at = None
        if handler is None:
            event.status = Status.IGNORED
            event.outcome = "No handler for this event type: stored and acknowledged."
            event.processed_at = now
        else:
            data = payload.get("data")
            if not isinstance(data, dict):
                raise Reject("The event has no `data` object.")
            try:
                applied = handler(event, data, snapshot)
            except Hold as hold:
                waited = now - event.received_at
                limit = timedelta(seconds=settings.BVNK_WEBHOOK_HOLD_SECONDS)
                if waited > limit:
                    raise Reject(f"Hold expired after {limit}: {hold}") from None
                event.status = Status.HELD
                event.outcome = str(hold)
            else:
                event.status = Status.PROCESSED
                event.outcome = applied.outcome[:300]
                event.customer = applied.customer or event.customer
                event.processed_at = now
        event.save(
            update_fields=[
                "status",
                "outcome",
                "customer",
                "attempts",
                "error",
                "traceback",
                "next_attempt_at",
                "processed_at",
            ]
        )
        return event.status


def _payload(event: WebhookEvent) -> dict[str, Any]:
    try:
        payload = json.loads(event.body)
    except (ValueError, RecursionError):
        raise Reject("The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise Reject("The body is not a JSON object.")
    return payload


def _record_failure(
    event_id: int, error: str, *, transient: bool = False, trace: str = ""
) -> str | None:
    """Record a failed attempt: retried later when transient, else FAILED for staff."""
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update()
            .filter(pk=event_id, status__in=PROCESSABLE)
            .first()
        )
        if event is None:
            return None
        event.attempts += 1
        event.error = error
        event.traceback = trace
        if transient and event.attempts < settings.BVNK_WEBHOOK_MAX_ATTEMPTS:
            event.status = Status.RECEIVED
            delay = min(5 * 2 ** (event.attempts - 1), MAX_RETRY_DELAY)
            event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        else:
            event.status = Status.FAILED
            event.next_attempt_at = None
        event.save(update_fields=["status", "attempts", "error", "traceback", "next_attempt_at"])
        return event.status


def _read_from_bvnk(need: NeedsBvnk, event_id: int) -> Snapshot:
    """Read the customer or agreement session from BVNK, outside any transaction."""
    customer = None
    if need.kind == "customer":
        customer = Customer.objects.filter(bvnk_reference=need.reference).first()
    else:
        session = AgreementSession.objects.filter(bvnk_reference=need.reference).first()
        customer = session.customer if session else None
    started = timezone.now()
    with services.bvnk_client(triggered_by=f"webhook event {event_id}", customer=customer) as api:
        if need.kind == "customer":
            value: Any = api.get_customer(need.reference)
        else:
            value = api.get_agreement_session(need.reference)
    logger.info(
        "Webhook event %s: read %s %s from BVNK (%s)", event_id, need.kind, need.reference, need
    )
    return Snapshot(kind=need.kind, reference=need.reference, fetched_at=started, value=value)


# -- handlers -----------------------------------------------------------------------------


def _text(data: dict[str, Any], *keys: str) -> str:
    """Return the first non-empty string (or number) among `keys` of `data`."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def _locked_customer(reference: str) -> Customer:
    customer = Customer.objects.select_for_update().filter(bvnk_reference=reference).first()
    if customer is None:
        raise Hold(f"No customer with BVNK reference {reference} yet.")
    return customer


def customer_status_changed(
    event: WebhookEvent, data: dict[str, Any], snapshot: Snapshot | None
) -> Applied:
    """Apply a customer status change, under any of its three event names.

    The names describe one change, each with its own event id; comparing the event's
    timestamp with the one of the status held makes the second copy a no-op.
    """
    reference = _text(data, "reference", "customerId")
    status = _text(data, "status").upper()
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
    reference = _text(data, "reference", "customerId")
    if not reference:
        raise Reject("A customer update needs data.reference.")
    customer = _locked_customer(reference)
    if snapshot is not None:
        return _apply_customer_snapshot(event, customer, snapshot)
    if event.event_at is None:
        raise NeedsBvnk("customer", reference, "the update has no timestamp")
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
    reference = _text(data, "reference")
    status = _text(data, "status").upper()
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
    status = _text(data, "status").upper()
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
    changed = services.document_apply_bvnk_status(document, upload_status)
    return Applied(f"Document {upload_status}{'' if changed else ' (unchanged)'}.", customer)


def _newer_document_event(event: WebhookEvent, reference: str) -> bool:
    return WebhookEvent.objects.filter(
        event_type=event.event_type,
        bvnk_reference=reference,
        status=Status.PROCESSED,
        event_at__gt=event.event_at,
    ).exists()


HANDLERS: dict[str, Handler] = {
    **{name: customer_status_changed for name in wire.EVENT_STATUS_CHANGE_ALIASES},
    wire.EVENT_CUSTOMER_UPDATE: customer_updated,
    wire.EVENT_AGREEMENT_SESSION: agreement_session_status_changed,
    wire.EVENT_DOCUMENT_STATUS: document_status_changed,
}


# -- driving: sweep, reprocess, purge -----------------------------------------------------


def _known_subject() -> Q:
    """Match events whose subject (customer, session or document) the portal now knows."""
    return (
        Q(
            bvnk_reference__in=Customer.objects.filter(bvnk_reference__isnull=False).values(
                "bvnk_reference"
            )
        )
        | Q(bvnk_reference__in=AgreementSession.objects.values("bvnk_reference"))
        | Q(
            bvnk_reference__in=ComplianceDocument.objects.filter(
                bvnk_reference__isnull=False
            ).values("bvnk_reference")
        )
    )


def webhook_events_sweep(*, limit: int = 500, budget: float | None = None) -> int:
    """Process due events, oldest event first; return how many were processed.

    Due: received events (new, or whose retry time came) and held events whose subject
    the portal now knows. Held events past BVNK_WEBHOOK_HOLD_SECONDS fail on their next
    run, so they are swept too.
    """
    now = timezone.now()
    expired = now - timedelta(seconds=settings.BVNK_WEBHOOK_HOLD_SECONDS)
    due = (
        Q(status=Status.RECEIVED) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    ) | (Q(status=Status.HELD) & (_known_subject() | Q(received_at__lt=expired)))
    ids = list(
        WebhookEvent.objects.filter(due)
        .order_by(F("event_at").asc(nulls_last=True), "received_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    if budget is None:
        budget = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    deadline = time.monotonic() + budget
    done = 0
    for event_id in ids:
        if time.monotonic() > deadline:
            break
        webhook_event_process(event_id=event_id)
        done += 1
    return done


def webhook_events_reprocess(*, event_ids: Iterable[int]) -> dict[str, int]:
    """Put events back in the inbox and process them now; count them by resulting status."""
    results: dict[str, int] = {}
    for event_id in event_ids:
        WebhookEvent.objects.filter(pk=event_id).update(
            status=Status.RECEIVED, attempts=0, next_attempt_at=None, error="", traceback=""
        )
        status = webhook_event_process(event_id=event_id, wait=True) or "missing"
        results[status] = results.get(status, 0) + 1
    return results


def summarise(results: dict[str, int]) -> str:
    """Say what `webhook_events_reprocess` did, e.g. "2 processed, 1 failed"."""
    return ", ".join(f"{n} {status.lower()}" for status, n in sorted(results.items())) or "none"


def webhook_events_purge(*, now: datetime | None = None) -> int:
    """Delete processed and ignored events past the retention period; return how many.

    Failed and held events stay for staff; status history (StatusChange) is never touched.
    """
    days = settings.BVNK_WEBHOOK_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = WebhookEvent.objects.filter(
        status__in=(Status.PROCESSED, Status.IGNORED), received_at__lt=cutoff
    ).delete()
    return deleted


def webhook_overview(*, days: int = 14, latest: int = 50) -> dict[str, Any]:
    """Return what the staff page shows: counts by status, refusals, the latest events."""
    counts = dict(
        WebhookEvent.objects.order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    since = timezone.localdate() - timedelta(days=days - 1)
    return {
        "counts": [(status, label, counts.get(status, 0)) for status, label in Status.choices],
        "rejections": WebhookRejection.objects.filter(day__gte=since),
        "events": WebhookEvent.objects.select_related("customer")[:latest],
        "days": days,
    }
