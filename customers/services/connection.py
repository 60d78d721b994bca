"""The going-live check: read-only calls to BVNK with the configured credentials, and what
refused webhook deliveries say about how BVNK signs. It never writes to BVNK."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from ..bvnk import wire
from ..bvnk.client import BvnkClient
from ..bvnk.errors import BvnkError
from ..bvnk_calls import bvnk_client
from ..models import WebhookRejection

# Hawk's usual tolerance; BVNK does not publish its own.
CLOCK_TOLERANCE_SECONDS = 60


@dataclass(frozen=True)
class CheckResult:
    """One read-only call: what it asks BVNK, at which path, and how BVNK answered."""

    title: str
    path: str
    ok: bool
    outcome: str


def _customer_list(client: BvnkClient) -> str:
    next(client.iter_customers(page_size=1), None)
    return "BVNK answered with its customer list."


def _industries(client: BvnkClient) -> str:
    industries = client.industries()
    subs = sum(len(item.children) for item in industries)
    return f"{len(industries)} industries with {subs} sub-industries."


def _volumes(client: BvnkClient) -> str:
    return f"{len(client.monthly_expected_volumes())} monthly volume bands."


def _lookup(client: BvnkClient) -> str:
    # A reference no customer has: only whether BVNK answers the lookup matters.
    client.find_customer_reference(str(uuid.uuid4()))
    return "BVNK answered the lookup used to recover a create whose answer was lost."


CHECKS: tuple[tuple[str, str, Callable[[BvnkClient], str]], ...] = (
    ("Customer list", wire.PATH_CUSTOMERS, _customer_list),
    ("Industries", wire.PATH_INDUSTRIES, _industries),
    ("Monthly expected volumes", wire.PATH_MONTHLY_EXPECTED_VOLUMES, _volumes),
    ("Finding a customer by its external reference", wire.PATH_V2_CUSTOMERS, _lookup),
)


def bvnk_connection_check(*, actor: Any = None) -> list[CheckResult]:
    """Make each read-only call with the configured credentials; report every outcome."""
    try:
        client = bvnk_client(triggered_by="BVNK connection check", actor=actor)
    except ImproperlyConfigured as exc:
        return [CheckResult("Settings", "", False, f"Not configured: {exc}")]
    results = []
    with client:
        for title, path, call in CHECKS:
            try:
                outcome = call(client)
            except BvnkError as error:
                results.append(CheckResult(title, path, False, _explain(error, path)))
            else:
                results.append(CheckResult(title, path, True, outcome))
    return results


def _explain(error: BvnkError, path: str) -> str:
    if error.status is None:
        return f"BVNK could not be reached: {error.message}."
    if error.status == 401:
        return "BVNK refused the credentials (401). " + _clock_sentence(error.server_time)
    if error.status == 404:
        return f"Not found (404) at {path}: this BVNK does not serve that path."
    return f"BVNK answered {error.status}: {error.message}."


def _clock_sentence(server_time: datetime | None) -> str:
    if server_time is None:
        return "BVNK sent no Date header, so the clocks could not be compared."
    skew = (server_time - timezone.now()).total_seconds()
    side = "ahead of" if skew > 0 else "behind"
    seconds = abs(round(skew))
    said = f"BVNK's clock is {seconds} s {side} this server's"
    if seconds > CLOCK_TOLERANCE_SECONDS:
        return f"{said}: more than Hawk allows, so set this server's clock right."
    return f"{said}, which is fine: check BVNK_HAWK_AUTH_ID and BVNK_HAWK_SECRET."


@dataclass(frozen=True)
class SignatureAdvice:
    """What refused deliveries say about how BVNK signs, and what to set."""

    scheme: str
    count: int
    last_at: datetime
    advice: str


_ADVICE = {
    WebhookRejection.Scheme.A: "BVNK signs like A (Base64 of the body): set "
    "BVNK_WEBHOOK_SIGNATURE=A.",
    WebhookRejection.Scheme.B_FULL: "BVNK signs like B with the full URL: set "
    "BVNK_WEBHOOK_SIGNATURE=B and BVNK_WEBHOOK_SIGNATURE_URL=full.",
    WebhookRejection.Scheme.B_PATH: "BVNK signs like B with the path: set "
    "BVNK_WEBHOOK_SIGNATURE=B and BVNK_WEBHOOK_SIGNATURE_URL=path.",
    WebhookRejection.Scheme.PREVIOUS: "BVNK still signs with the previous webhook secret: "
    "set the new secret at BVNK, or keep BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL later.",
}


def webhook_signature_advice(*, days: int = 14) -> SignatureAdvice | None:
    """Return the advice of the latest refused deliveries another scheme would have
    accepted, or None when every refusal was unsigned or signed with another secret."""
    since = timezone.localdate() - timedelta(days=days - 1)
    row = (
        WebhookRejection.objects.filter(day__gte=since, reason=WebhookRejection.Reason.INVALID)
        .exclude(matching_scheme=WebhookRejection.Scheme.NONE)
        .order_by("-last_at")
        .first()
    )
    if row is None:
        return None
    return SignatureAdvice(
        scheme=row.get_matching_scheme_display(),
        count=row.count,
        last_at=row.last_at,
        advice=_ADVICE[WebhookRejection.Scheme(row.matching_scheme)],
    )
