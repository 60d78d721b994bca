"""The BVNK client the portal calls BVNK through, each call recorded as a BvnkCall row.

Beside the `bvnk/` package rather than in it: the client there knows no models, and the
recording needs them.
"""

from __future__ import annotations

from typing import Any

from .bvnk.client import BvnkClient, CallRecord, config_from_settings, thread_session
from .models import BvnkCall, Customer


def bvnk_client(
    *, triggered_by: str, customer: Customer | None = None, actor: Any = None
) -> BvnkClient:
    """A BVNK client whose every call is recorded as a BvnkCall row (without bodies)."""

    def record(call: CallRecord) -> None:
        BvnkCall.objects.create(
            started_at=call.started_at,
            method=call.method,
            path=call.path[:300],
            action=call.action,
            idempotency_key=call.idempotency_key,
            status_code=call.status_code,
            trace_id=call.trace_id,
            error=call.error[:500],
            duration_ms=call.duration_ms,
            customer=customer if customer is not None and customer.pk else None,
            actor=actor if getattr(actor, "pk", None) else None,
            triggered_by=triggered_by[:100],
        )

    return BvnkClient(config_from_settings(), session=thread_session(), observer=record)
