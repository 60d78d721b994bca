"""Celery tasks: thin interfaces that take an id (or nothing) and call one service."""

from __future__ import annotations

import os
import socket

from celery import Task, shared_task

from . import dispatch, inbox, notifications, retention, services
from .outbox import publishing, sending
from .services import reconcile as sync


@shared_task(name=dispatch.PROCESS_WEBHOOK_EVENT, ignore_result=True)
def process_webhook_event(event_id: int) -> None:
    """Apply one stored BVNK webhook event (safe to run twice: the inbox checks its status)."""
    inbox.webhook_event_process(event_id=event_id)


@shared_task(ignore_result=True)
def sweep_webhook_events() -> None:
    """Process due webhook events: the path that works whatever happened to the broker."""
    inbox.webhook_events_sweep()


@shared_task(ignore_result=True)
def purge_webhook_events() -> None:
    """Delete processed and ignored webhook events past BVNK_WEBHOOK_RETENTION_DAYS."""
    inbox.webhook_events_purge()


@shared_task(name=dispatch.SEND_NOTIFICATION, ignore_result=True)
def send_notification(notification_id: int) -> None:
    """Send one owed email (safe to run twice: the row is locked and its state checked)."""
    notifications.notification_send(notification_id=notification_id)


@shared_task(ignore_result=True)
def sweep_notifications() -> None:
    """Send the emails the broker lost and retry failed ones (beat)."""
    notifications.notifications_sweep()


@shared_task(ignore_result=True)
def queue_daily_digest() -> None:
    """Owe today's digest of customers waiting on the partner (beat; once per day and address)."""
    notifications.digest_queue()


# The submission pipeline (customers/outbox/). Sends go to the "bvnk" queue
# (settings.CELERY_TASK_ROUTES) with acks_late and reject_on_worker_lost: a worker that dies
# mid-send gives the message back, and the claim in the row decides whether to send again.
# Nothing here retries: back-offs live in the row's next_attempt_at, and the sweeper
# publishes what is due, so no countdown ever outlives the broker's visibility timeout.


@shared_task(name=dispatch.SEND_BVNK_OPERATION, bind=True, ignore_result=True)
def send_bvnk_operation(self: Task, operation_id: int) -> None:
    """Send one outbox operation to BVNK (safe to run twice: only a valid claim sends)."""
    sending.operation_send(
        operation_id=operation_id,
        task_id=self.request.id or "",
        worker=f"{self.request.hostname or socket.gethostname()} pid {os.getpid()}",
        follow=True,
    )


@shared_task(ignore_result=True)
def sweep_bvnk_operations() -> None:
    """Publish again the operations whose task was lost or whose backoff ended (beat)."""
    publishing.operations_sweep()


@shared_task(ignore_result=True)
def reconcile_customers() -> None:
    """Catch what webhooks missed: compare BVNK's customers with the portal's (beat)."""
    sync.customers_reconcile()


@shared_task(ignore_result=True)
def apply_retention() -> None:
    """Purge abandoned drafts and anonymise long-ended customers (beat; safe to repeat)."""
    retention.retention_apply()


@shared_task(ignore_result=True)
def rescan_quarantined_documents() -> None:
    """Scan quarantined documents again: release the clean ones, send those answering BVNK
    (beat)."""
    services.documents_rescan()
