"""The audit log: who viewed personal data, downloaded, changed, triggered or exported.

Rows are append-only (AuditEvent refuses updates and deletes). Changed values are
stored masked when they are personal data, so the log itself leaks nothing new.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from portal.security import is_live_refresh

from .models import AuditEvent, Customer

Action = AuditEvent.Action

# Values that identify a person (GDPR personal data); shown masked in the audit log.
PERSONAL_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "tax_number",
        "id_document_number",
        "id_document_expiry",
        "nationality",
        "birth_country",
    }
)
MASK = "•••"


def plain(value: Any) -> Any:
    """Return a JSON-safe form of a field value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    code = getattr(value, "code", None)  # a django-countries Country
    if code is not None:
        return str(code)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def mask(value: Any) -> Any:
    """Hide a personal value but keep enough to tell two values apart: "j•••om"."""
    value = plain(value)
    if value in (None, ""):
        return value
    text = str(value)
    if len(text) <= 4:
        return MASK
    return f"{text[0]}{MASK}{text[-2:]}"


def field_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, fields: Iterable[str] | None = None
) -> dict[str, list[Any]]:
    """Return {field: [old, new]} for the fields whose value differs, masked if personal."""
    changes: dict[str, list[Any]] = {}
    for name in fields if fields is not None else new:
        before, after = plain(old.get(name)), plain(new.get(name))
        if before == after:
            continue
        if name in PERSONAL_FIELDS:
            before, after = mask(before), mask(after)
        changes[name] = [before, after]
    return changes


def _client_ip(request: HttpRequest | None) -> str | None:
    # REMOTE_ADDR only: a forwarded header is whatever the client wants it to be, unless
    # a trusted proxy rewrites it (then configure the proxy to set REMOTE_ADDR).
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


# `details["kind"]` of the rows that record what BVNK asked of the partner (no actor).
BVNK_REQUEST = "bvnk-request"


def record(
    *,
    actor: Any,
    action: str,
    summary: str,
    customer: Customer | None = None,
    changes: dict[str, list[Any]] | None = None,
    details: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one audit row naming the acting user (None for the system)."""
    user = actor if getattr(actor, "pk", None) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_username=user.get_username() if user is not None else "",
        action=Action(action),
        customer=customer if customer is not None and customer.pk else None,
        summary=summary[:300],
        changes=changes or {},
        details=details or {},
        ip_address=_client_ip(request),
    )


def record_changes(
    actor: Any,
    customer: Customer,
    summary: str,
    old: dict[str, Any],
    new: dict[str, Any],
    fields: list[str] | None = None,
) -> None:
    """Record the fields a user changed, old and new values (masked when personal)."""
    changes = field_changes(old, new, fields=fields)
    if changes:
        record(
            actor=actor, action=Action.CHANGE, summary=summary, customer=customer, changes=changes
        )


def record_view(request: HttpRequest, customer: Customer, *, what: str = "customer page") -> None:
    """Note that a user saw a customer's personal data.

    A page refreshing itself (static/js/live.js) adds no row while the user's own view of
    the customer is recent; the refresh header alone never keeps a view out of the log.
    """
    if is_live_refresh(request):
        since = timezone.now() - dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS)
        recent = AuditEvent.objects.filter(
            actor_id=request.user.pk, customer=customer, action=Action.VIEW, at__gte=since
        )
        if recent.exists():
            return
    record(
        actor=request.user,
        action=Action.VIEW,
        summary=f"Viewed the {what}",
        customer=customer,
        request=request,
    )
