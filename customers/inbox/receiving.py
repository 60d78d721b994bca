"""Receiving deliveries: read the envelope, store each event once, hand it to a worker.

Also the buffered counters of refused deliveries and repeats.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
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
from django.db.models import F
from django.utils import timezone

from .. import dispatch
from ..bvnk import wire
from ..bvnk.types import parse_datetime
from ..models import WebhookEvent, WebhookRejection

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status


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
    """Return the BVNK reference of what an event is about (customer, session, document,
    wallet)."""
    if event_type == wire.EVENT_DOCUMENT_STATUS:
        return first_text(data, "documentReference", "documentId", "reference")
    if event_type == wire.EVENT_WALLET_STATUS:
        return first_text(data, "id")
    return first_text(data, "reference", "customerId")


def first_text(data: dict[str, Any], *keys: str) -> str:
    """Return the first non-empty string (or number) among `keys` of `data`."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


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


def _enqueue(event_id: int) -> None:
    """Hand a new event to a worker now; on any broker trouble the sweeper takes it."""
    if settings.BVNK_WEBHOOK_ENQUEUE:
        dispatch.publish(dispatch.PROCESS_WEBHOOK_EVENT, [(event_id,)])


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


def _count_rejections(counts: Counter[tuple[str, str]]) -> None:
    """Add the refusals to today's row for each reason and matching scheme."""
    for (reason, scheme), count in counts.items():
        _count_rejection(reason, scheme, count)


def _count_rejection(reason: str, scheme: str, count: int) -> None:
    now = timezone.now()
    day = timezone.localdate(now)
    rows = WebhookRejection.objects.filter(day=day, reason=reason, matching_scheme=scheme)
    if rows.update(count=F("count") + count, last_at=now):
        return
    try:
        with transaction.atomic():
            WebhookRejection.objects.create(
                day=day, reason=reason, matching_scheme=scheme, count=count, last_at=now
            )
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


def webhook_rejection_record(*, reason: str, matching_scheme: str = "") -> None:
    """Count one delivery refused for its signature (written within the flush interval),
    with the signing scheme that would have accepted it, if any."""
    rejections.add((reason, matching_scheme))
