"""BVNK's webhook endpoint: cap the body, verify the signature, store, answer 200 fast.

Nothing here processes an event. A verified delivery is written to the inbox
(customers/inbox/) in one short transaction and Celery works from there, so the answer
never waits on the broker or on BVNK, and BVNK's 10-second budget is never at risk.
Answers: 200 stored (or already stored); 401 bad or missing signature (nothing stored);
405 not a POST; 413 body over BVNK_WEBHOOK_MAX_BYTES; 503 the database is unavailable,
so BVNK retries (a 2xx is only ever sent after a durable write).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import inbox, services
from .models import WebhookRejection

logger = logging.getLogger(__name__)

# Request headers kept with each event (WSGI names -> stored names); never the body.
STORED_HEADERS = {
    "CONTENT_TYPE": "Content-Type",
    "CONTENT_LENGTH": "Content-Length",
    "HTTP_TRANSFER_ENCODING": "Transfer-Encoding",  # "chunked": a body without a length
    "HTTP_USER_AGENT": "User-Agent",
    "HTTP_X_SIGNATURE": "X-Signature",
    "HTTP_X_FORWARDED_FOR": "X-Forwarded-For",
    "HTTP_X_REQUEST_ID": "X-Request-Id",
    "REMOTE_ADDR": "Remote-Addr",
}


def webhook_signature(
    secret: str, body: bytes, *, variant: str, url_mode: str, url: str, content_type: str
) -> str:
    """Return the X-Signature BVNK would send for `body`.

    Variant "A" is the Base64 HMAC-SHA256 of the raw body (BVNK docs, Webhooks API: "the
    secret and the raw JSON payload"; Base64 as public clients verify BVNK's deliveries).
    Variant "B" ("Standard", BVNK's webhook validator) is the lower-case hex HMAC-SHA256
    of the webhook URL, the Content-Type value and the body, concatenated with nothing
    between them; BVNK's docs say the full URL (`url_mode` "full"), BVNK's own n8n node
    hashes only its path ("path"). INFERRED which one BVNK uses for customer events: the
    setting BVNK_WEBHOOK_SIGNATURE picks, and a refused delivery records which would have
    matched (`matching_scheme`).
    """
    key = secret.encode()
    if variant == "B":
        signed_url = urlsplit(url).path if url_mode == "path" else url
        message = signed_url.encode() + content_type.encode() + body
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def accepted_secrets(now: datetime) -> list[str]:
    """Return the secrets a signature may use now: the current one, and the previous one
    until BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL while a rotation is under way."""
    keys = [settings.BVNK_WEBHOOK_SECRET] if settings.BVNK_WEBHOOK_SECRET else []
    previous = settings.BVNK_WEBHOOK_SECRET_PREVIOUS
    until = _previous_secret_until()
    if previous and until is not None and now < until:
        keys.append(previous)
    return keys


def _previous_secret_until() -> datetime | None:
    raw = settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL.strip()
    if not raw:
        return None
    try:
        until = parse_datetime(raw)
    except ValueError:
        until = None
    if until is None:
        # A typo must not keep an old secret valid forever: treat it as already expired.
        logger.error("BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL is not an ISO datetime: %r", raw)
        return None
    return until if until.tzinfo else until.replace(tzinfo=UTC)


def signature_problem(request: HttpRequest, body: bytes) -> str | None:
    """Return why the delivery's X-Signature is refused (a WebhookRejection reason), or None."""
    provided = request.META.get("HTTP_X_SIGNATURE", "").strip()
    if not provided:
        return WebhookRejection.Reason.MISSING
    variant = settings.BVNK_WEBHOOK_SIGNATURE
    if variant == "B":
        provided = provided.lower()  # hex: the case carries no information
    url = settings.BVNK_WEBHOOK_URL or request.build_absolute_uri()
    content_type = request.META.get("CONTENT_TYPE", "")
    # Header values arrive as latin-1 text (PEP 3333), so this encoding is lossless.
    given = provided.encode("latin-1", errors="replace")
    valid = False
    for secret in accepted_secrets(timezone.now()):
        expected = webhook_signature(
            secret,
            body,
            variant=variant,
            url_mode=settings.BVNK_WEBHOOK_SIGNATURE_URL.lower(),
            url=url,
            content_type=content_type,
        )
        # Every accepted secret is tried, so the time taken says nothing about which matched.
        valid |= hmac.compare_digest(expected.encode(), given)
    return None if valid else WebhookRejection.Reason.INVALID


# Every way BVNK might sign, as (WebhookRejection.Scheme, variant, url_mode).
SCHEMES = (
    (WebhookRejection.Scheme.A, "A", "full"),
    (WebhookRejection.Scheme.B_FULL, "B", "full"),
    (WebhookRejection.Scheme.B_PATH, "B", "path"),
)


def accepted_scheme_label() -> str:
    """Say in words how the configured settings expect BVNK to sign."""
    wanted = (settings.BVNK_WEBHOOK_SIGNATURE, settings.BVNK_WEBHOOK_SIGNATURE_URL.lower())
    for scheme, variant, url_mode in SCHEMES:
        if variant == wanted[0] and (variant == "A" or url_mode == wanted[1]):
            return str(scheme.label)
    return str(WebhookRejection.Scheme.A.label)


def matching_scheme(request: HttpRequest, body: bytes) -> str:
    """Return the signing scheme that would have accepted a refused delivery: one of the
    schemes with the current secret, or the previous secret (even past its date) with
    any scheme; "" when none does (a forgery, or another secret)."""
    provided = request.META.get("HTTP_X_SIGNATURE", "").strip()
    if not provided:
        return WebhookRejection.Scheme.NONE
    url = settings.BVNK_WEBHOOK_URL or request.build_absolute_uri()
    content_type = request.META.get("CONTENT_TYPE", "")
    candidates: list[tuple[str, str | None]] = [(settings.BVNK_WEBHOOK_SECRET, None)]
    if settings.BVNK_WEBHOOK_SECRET_PREVIOUS:
        candidates.append((settings.BVNK_WEBHOOK_SECRET_PREVIOUS, WebhookRejection.Scheme.PREVIOUS))
    for secret, named in candidates:
        if not secret:
            continue
        for scheme, variant, url_mode in SCHEMES:
            expected = webhook_signature(
                secret, body, variant=variant, url_mode=url_mode, url=url, content_type=content_type
            )
            given = provided.lower() if variant == "B" else provided
            if hmac.compare_digest(expected.encode(), given.encode("latin-1", errors="replace")):
                return named or scheme
    return WebhookRejection.Scheme.NONE


class RateLimitedWarning:
    """Log a warning at most once per `interval` seconds, counting the ones held back.

    A flood of forged deliveries must not flood the logs; the per-day counter in the
    database (WebhookRejection) keeps the full count.
    """

    def __init__(self, message: str, interval: float = 60.0) -> None:
        self.message = message + " (%d more since the last warning)"
        self.interval = interval
        self._lock = threading.Lock()
        self._last = -math.inf
        self._held_back = 0

    def __call__(self, *args: object) -> bool:
        """Log unless a line went out less than `interval` seconds ago; return whether logged."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._held_back += 1
                return False
            held_back, self._held_back, self._last = self._held_back, 0, now
        logger.warning(self.message, *args, held_back)
        return True


warn_refused = RateLimitedWarning("Refused a BVNK webhook delivery: %s signature from %s")
warn_oversized = RateLimitedWarning("Refused a BVNK webhook delivery over %d bytes from %s")


def _read_capped(request: HttpRequest, cap: int) -> bytes | None:
    """Return the body, or None when it is over `cap` bytes; reads at most cap + 1 bytes.

    Reading the stream directly (never `request.body`) keeps memory flat and keeps
    DATA_UPLOAD_MAX_MEMORY_SIZE out of it: BVNK_WEBHOOK_MAX_BYTES is the only limit.
    """
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return None
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        # A chunked body (a proxy may forward one so) has no Content-Length, and Django
        # then reads it as empty. A server that decodes the chunks and ends the stream at
        # the body's end says so with wsgi.input_terminated (gunicorn does); without that
        # flag the raw stream may never end, so the body stays unread and the signature
        # check refuses it.
        body = _read_to_end(request.META["wsgi.input"], cap + 1)
    else:
        body = request.read(cap + 1)
    return None if len(body) > cap else body


def _read_to_end(stream: Any, limit: int) -> bytes:
    """Read `stream` until it ends or `limit` bytes are in (a read may return less)."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(limit - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _quiet(response: HttpResponse) -> HttpResponse:
    """Keep Django from logging this refusal once per request: the warnings above are
    rate-limited, and a flood of forged deliveries must not flood the logs through
    `django.request` either. (`_has_been_logged` is what django.utils.log checks.)"""
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@csrf_exempt
@require_POST
def bvnk_webhook(request: HttpRequest) -> HttpResponse:
    """Receive one BVNK webhook delivery."""
    remote = request.META.get("REMOTE_ADDR", "?")
    cap = settings.BVNK_WEBHOOK_MAX_BYTES
    body = _read_capped(request, cap)
    if body is None:
        warn_oversized(cap, remote)
        return _quiet(HttpResponse("Payload too large", status=413, content_type="text/plain"))
    problem = signature_problem(request, body)
    if problem is not None:
        warn_refused(problem.lower(), remote)
        try:
            inbox.webhook_rejection_record(
                reason=problem, matching_scheme=matching_scheme(request, body)
            )
        except DatabaseError:
            logger.warning("Could not count a refused BVNK webhook delivery", exc_info=True)
        return _quiet(HttpResponse("Invalid signature", status=401, content_type="text/plain"))
    headers = {
        name: request.META[key] for key, name in STORED_HEADERS.items() if key in request.META
    }
    try:
        inbox.webhook_receive(body=body, headers=headers)
    except DatabaseError:
        # Not stored, so not acknowledged: BVNK retries (up to 100 times).
        logger.exception("Could not store a BVNK webhook delivery; answered 503")
        return HttpResponse(
            "Temporarily unavailable",
            status=503,
            content_type="text/plain",
            headers={"Retry-After": "30"},
        )
    return HttpResponse("OK", content_type="text/plain")


@login_required
@permission_required("customers.operate_customer", raise_exception=True)
def webhook_overview(request: HttpRequest) -> HttpResponse:
    """Show the inbox at a glance: events by status, refused deliveries, the latest events."""
    return render(request, "customers/webhooks.html", inbox.webhook_overview())


@login_required
@permission_required("customers.operate_customer", raise_exception=True)
def bvnk_connection(request: HttpRequest) -> HttpResponse:
    """The going-live panel: run the read-only checks on request; show the signature advice."""
    results = None
    if request.method == "POST":
        results = services.bvnk_connection_check(actor=request.user)
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "customers/bvnk_connection.html",
        {
            "base_url": settings.BVNK_BASE_URL,
            "results": results,
            "advice": services.webhook_signature_advice(),
            "accepted_scheme": accepted_scheme_label(),
        },
    )
