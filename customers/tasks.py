"""Celery tasks: thin interfaces that take an id (or nothing) and call one service."""

from __future__ import annotations

from celery import shared_task

from . import inbox, services
from .bvnk.errors import BvnkError


@shared_task(ignore_result=True)
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


# Only transient BVNK failures reach Celery (services handle refusals), so autoretry
# retries exactly those, with the same idempotency key, backing off up to ten minutes.
# A submission still failing after the last retry stays SUBMITTING for staff to see.
BVNK_RETRY = {
    "autoretry_for": (BvnkError,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(ignore_result=True, **BVNK_RETRY)
def create_customer_at_bvnk(customer_id: int) -> None:
    """Send a submitted customer to BVNK (safe to run twice: the service checks its status)."""
    services.customer_create_at_bvnk(customer_id=customer_id)


@shared_task(ignore_result=True, **BVNK_RETRY)
def push_customer_update_to_bvnk(customer_id: int, change_id: str, actor_id: int | None) -> None:
    """Send a customer's changed details to BVNK (one idempotency key per change)."""
    services.customer_push_update_to_bvnk(
        customer_id=customer_id, change_id=change_id, actor_id=actor_id
    )
