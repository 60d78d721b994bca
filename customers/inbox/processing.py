"""Applying stored events: one at a time, then in bulk (sweep, reprocess, purge, overview)."""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from .. import bvnk_calls
from ..bvnk.errors import BvnkError
from ..models import WebhookEvent, WebhookRejection
from .handlers import HANDLERS, SUBJECTS, Hold, NeedsBvnk, Reject, Snapshot

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status
PROCESSABLE = (Status.RECEIVED, Status.HELD)
# Longest wait between retries after a transient failure: 15 minutes, the cap BVNK's own
# webhook retries use.
MAX_RETRY_DELAY = 900


# -- processing ---------------------------------------------------------------------------


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
    """Read the event's subject from BVNK (SUBJECTS), outside any transaction."""
    subject = SUBJECTS[need.kind]
    if subject.read is None:
        raise Reject(f"BVNK cannot be asked about a {need.kind}.")
    customer = subject.customer_of(need.reference)
    started = timezone.now()
    with bvnk_calls.bvnk_client(triggered_by=f"webhook event {event_id}", customer=customer) as api:
        value = subject.read(api, need.reference)
    logger.info(
        "Webhook event %s: read %s %s from BVNK (%s)", event_id, need.kind, need.reference, need
    )
    return Snapshot(kind=need.kind, reference=need.reference, fetched_at=started, value=value)


# -- driving: sweep, reprocess, purge -----------------------------------------------------


def _known_subject() -> Q:
    """Match events whose subject (any kind in SUBJECTS) the portal now knows."""
    known = Q()
    for subject in SUBJECTS.values():
        known |= Q(bvnk_reference__in=subject.stored().values("bvnk_reference"))
    return known


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
