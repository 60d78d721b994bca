"""Telling staff: emails (a customer reached a status that needs them, a daily digest)
and in-app notifications (the bell: status changes and BVNK's requests on the customers a
user handles or watches). `audience` is the one place that decides who is told.

A `Notification` row is written in the same transaction as the change that causes it
(one per status change, one digest per day and address: its unique `key`), and a worker
sends it after commit. A sweep (Celery beat) sends whatever the broker lost and retries
failures with backoff, so an email is never lost and, the row being locked while it is
sent, never sent twice by two workers.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import dispatch
from .models import Customer, Notification, StaffNotification, StatusChange

logger = logging.getLogger(__name__)

S = Customer.Status
NOTIFY_STATUSES = frozenset({S.INFO_REQUIRED, S.ACTIONS_REQUIRED, S.VERIFIED, S.REJECTED})
MAX_ATTEMPTS = 6
# The worker queued on commit normally sends first; the sweep waits this long before it
# takes over a notification the broker may have lost.
SWEEP_GRACE = timedelta(seconds=60)
DIGEST_LIMIT = 50

State = Notification.State


def _link(customer: Customer) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("customers:detail", args=[customer.pk])


def _recipients(*addresses: str) -> list[str]:
    team = [address for address in settings.NOTIFY_TEAM_EMAIL if address]
    return list(dict.fromkeys(address for address in (*addresses, *team) if address))


def _enqueue(notification_id: int) -> None:
    dispatch.publish(dispatch.SEND_NOTIFICATION, [(notification_id,)])


@dataclass(frozen=True)
class Audience:
    """Who is told about a customer: by email, and in the portal."""

    emails: list[str]
    users: list[Any]


def audience(customer: Customer) -> Audience:
    """The customer's owner (email), its handler and watchers (email and in-app) and the
    team's addresses (email); inactive accounts are told nothing.

    The handler is the assignee; a customer nobody was assigned is handled by whoever
    added it, so the person who onboarded it sees its progress in the portal too.
    """
    # One query for the handler and watchers, once per locked row: a create tells them of
    # a status change and of BVNK's request in the same write.
    users = getattr(customer, "_handlers", None)
    if users is None:
        handlers = Q(watched_customers=customer.pk)
        handler_id = customer.assignee_id or customer.created_by_id
        if handler_id:
            handlers |= Q(pk=handler_id)
        users = list(
            get_user_model().objects.filter(handlers, is_active=True).distinct().order_by("pk")
        )
        customer._handlers = users  # type: ignore[attr-defined]
    owner = customer.created_by
    owner_email = owner.email if owner is not None and owner.is_active else ""
    return Audience(emails=_recipients(owner_email, *(u.email for u in users)), users=users)


def _tell(customer: Customer, users: list[Any], *, kind: str, key: str, message: str) -> None:
    StaffNotification.objects.bulk_create(
        [
            StaffNotification(
                user=user, customer=customer, kind=kind, key=key, message=message[:300]
            )
            for user in users
        ],
        # Once per user and cause: a repeat (an event processed twice) is no new line.
        ignore_conflicts=True,
    )


def _change_key(change: StatusChange) -> str:
    return f"status-change:{change.pk}"


def status_change_queue(change: StatusChange) -> Notification | None:
    """Tell the customer's audience of a status change: in the portal (everyone but the
    user who made it), and by email when the status needs staff (sent by a worker after
    commit). Call it in the transaction that records the change. Idempotent per change.
    """
    customer = change.customer
    told = audience(customer)
    in_app = [user for user in told.users if user.pk != change.actor_id]
    message = (
        f"{customer} is now {change.get_new_status_display().lower()} "
        f"(was {change.get_old_status_display().lower()})."
    )
    _tell(
        customer,
        in_app,
        kind=StaffNotification.Kind.STATUS,
        key=_change_key(change),
        message=message,
    )
    # Whom this told, and how: a request from BVNK in the same write joins the line.
    change._told_in_app = ({user.pk for user in in_app}, message)  # type: ignore[attr-defined]
    if change.new_status not in NOTIFY_STATUSES:
        return None
    recipients = told.emails
    if not recipients:
        return None
    notification, created = Notification.objects.get_or_create(
        key=_change_key(change),
        defaults={
            "kind": Notification.Kind.STATUS,
            "customer": customer,
            "status_change": change,
            "recipients": recipients,
            "next_attempt_at": timezone.now() + SWEEP_GRACE,
        },
    )
    if created:
        # robust: a broker that is down must not undo the change; the sweep sends it.
        transaction.on_commit(partial(_enqueue, notification.pk), robust=True)
    return notification


def bvnk_request_queue(
    customer: Customer, reason: str, *, change: StatusChange | None = None
) -> None:
    """Tell the customer's handlers and watchers in the portal what BVNK now asks for.

    `reason` is the waiting reason (requirements.waiting_reason); each is told once. When
    the same write changed the status (`change`), those told of the change read the
    request on that line instead of on a second one.
    """
    users = audience(customer).users
    told_ids, line = getattr(change, "_told_in_app", (set(), ""))
    if told_ids and change is not None:
        StaffNotification.objects.filter(customer=customer, key=_change_key(change)).update(
            message=f"{line} {reason}."[:300], kind=StaffNotification.Kind.REQUEST
        )
        users = [user for user in users if user.pk not in told_ids]
    digest = hashlib.sha256(reason.encode()).hexdigest()[:16]
    _tell(
        customer,
        users,
        kind=StaffNotification.Kind.REQUEST,
        key=f"request:{customer.pk}:{digest}",
        message=f"{customer}: {reason}",
    )


def unread_count(user: Any) -> int:
    """How many of the user's notifications are unread (the bell's count)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return StaffNotification.objects.filter(user=user, read_at__isnull=True).count()


def wallet_active_queue(customer: Customer, currency: str, wallet_pk: int) -> None:
    """Tell the customer's handlers and watchers in the portal that a wallet can be used."""
    _tell(
        customer,
        audience(customer).users,
        kind=StaffNotification.Kind.STATUS,
        key=f"wallet-active:{wallet_pk}",
        message=f"The {currency} wallet of {customer} is active: it can pay and be paid.",
    )


def waiting_on_partner() -> Any:
    return Customer.objects.filter(waiting_on=Customer.WaitingOn.PARTNER)


def digest_queue(*, day: date | None = None) -> list[Notification]:
    """Owe today's digest to every owner of a customer waiting on the partner, and the team.

    Idempotent per day and address (beat may run it twice).
    """
    day = day or timezone.localdate()
    waiting = waiting_on_partner()
    owners = (
        get_user_model()
        .objects.filter(is_active=True, pk__in=waiting.values("created_by"))
        .exclude(email="")
        .order_by("pk")
    )
    wanted: list[tuple[str, dict[str, Any]]] = [
        (owner.email, {"owner": owner.pk}) for owner in owners
    ]
    if waiting.exists():
        wanted += [(address, {}) for address in settings.NOTIFY_TEAM_EMAIL if address]
    queued = []
    with transaction.atomic():
        for address, context in wanted:
            notification, created = Notification.objects.get_or_create(
                key=f"digest:{day.isoformat()}:{address.lower()}",
                defaults={
                    "kind": Notification.Kind.DIGEST,
                    "recipients": [address],
                    "context": {**context, "day": day.isoformat()},
                    "next_attempt_at": timezone.now() + SWEEP_GRACE,
                },
            )
            if created:
                transaction.on_commit(partial(_enqueue, notification.pk), robust=True)
                queued.append(notification)
    return queued


# -- sending -------------------------------------------------------------------------------


def _status_message(notification: Notification) -> tuple[str, str]:
    change = notification.status_change
    customer = notification.customer
    if change is None or customer is None:
        raise ValueError("A status notification needs its customer and status change.")
    status = change.get_new_status_display()
    subject = f"{customer}: {status.lower()}"
    lines = [
        f"{customer} is now {status.lower()} at BVNK "
        f"(it was {change.get_old_status_display().lower()}).",
    ]
    if customer.blocking_summary:
        lines.append(f"What it waits for: {customer.blocking_summary}.")
    lines += ["", f"Open the customer: {_link(customer)}"]
    return subject, "\n".join(lines)


def _digest_message(notification: Notification) -> tuple[str, str]:
    waiting = waiting_on_partner().select_related(None).order_by("status_changed_at", "id")
    owner = notification.context.get("owner")
    if owner:
        waiting = waiting.filter(created_by=owner)
    rows = list(waiting[: DIGEST_LIMIT + 1])
    more = len(rows) > DIGEST_LIMIT
    rows = rows[:DIGEST_LIMIT]
    day = notification.context.get("day", "")
    scope = "your customers" if owner else "the partner's customers"
    subject = f"{len(rows)}{'+' if more else ''} customers waiting on us ({day})"
    lines = [f"Customers among {scope} that wait for something from us, longest first:", ""]
    now = timezone.now()
    for customer in rows:
        days = (now - customer.status_changed_at).days
        lines.append(
            f"- {customer} ({customer.get_status_display().lower()} for {days} day"
            f"{'' if days == 1 else 's'}): {customer.blocking_summary or 'see the page'}"
        )
        lines.append(f"  {_link(customer)}")
    if more:
        lines.append(f"... and more: {settings.PORTAL_BASE_URL.rstrip('/')}"
                     f"{reverse('customers:list')}?tab=attention")  # fmt: skip
    if not rows:
        lines.append("Nothing is waiting on us today.")
    return subject, "\n".join(lines)


def notification_send(*, notification_id: int) -> str | None:
    """Send one owed email; return its new state, or None when it was not due.

    Safe to run twice and concurrently: the row is locked and its state checked.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("customer", "status_change")
            .filter(pk=notification_id, state=State.PENDING)
            .first()
        )
        if notification is None:
            return None
        notification.attempts += 1
        try:
            if notification.kind == Notification.Kind.STATUS:
                subject, body = _status_message(notification)
            else:
                subject, body = _digest_message(notification)
            EmailMessage(
                subject=subject[:200],
                body=body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=notification.recipients,
            ).send()
        except Exception as exc:
            logger.warning("Notification %s not sent: %s", notification.pk, exc)
            notification.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.state = State.FAILED
            else:
                delay = timedelta(minutes=2**notification.attempts)
                notification.next_attempt_at = timezone.now() + delay
        else:
            notification.state = State.SENT
            notification.subject = subject[:200]
            notification.sent_at = timezone.now()
            notification.last_error = ""
        notification.save(
            update_fields=[
                "state",
                "attempts",
                "last_error",
                "next_attempt_at",
                "subject",
                "sent_at",
            ]
        )
        return notification.state


def notifications_sweep(*, limit: int = 200) -> int:
    """Send notifications that are due (lost by the broker, or retrying); return how many."""
    ids = list(
        Notification.objects.filter(state=State.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in ids:
        notification_send(notification_id=notification_id)
    return len(ids)
