"""The webhook endpoint's door: method, size cap, signature (variants A and B, rotation)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from customers import webhooks
from customers.models import WebhookEvent, WebhookRejection
from tests.customers.webhooks_support import PATH, SECRET, deliver, sign, status_event

pytestmark = pytest.mark.django_db

# The example body of BVNK's webhook signature docs (222 bytes) and its signatures.
EXAMPLE_BODY = (
    b'{"event":"bvnk:platform:customer:status-change",'
    b'"eventId":"01a0b1ec-bc16-76e8-a168-d44c4d7d25ad",'
    b'"timestamp":"2026-09-18T00:31:17.014444515Z",'
    b'"data":{"status":"VERIFIED","reference":"2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3"}}'
)
EXAMPLE_A = "dZxyEMkcwzqFru+3WHbGxjF+3R9PMEv5qMmECe8in8Y="
EXAMPLE_B_FULL = "94327b9b30da33fefc9495e444ff7d41b5a62d53e2f93cb6707bd0babb77d344"
EXAMPLE_B_PATH = "9b2be8e42be97a7753d59b8dfce320d573e03fb3563a23b73c67f6531950b506"
EXAMPLE_URL = "https://portal.example.com/webhooks/bvnk"


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_SIGNATURE_URL = "full"
    settings.BVNK_WEBHOOK_URL = ""
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS = ""
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = ""
    settings.BVNK_WEBHOOK_ENQUEUE = False
    settings.ALLOWED_HOSTS = ["testserver", "portal.example.com"]
    return settings


def refused() -> dict[str, int]:
    return {row.reason: row.count for row in WebhookRejection.objects.all()}


def test_the_example_vectors_of_the_contract() -> None:
    def signed(variant: str, url_mode: str) -> str:
        return webhooks.webhook_signature(
            SECRET,
            EXAMPLE_BODY,
            variant=variant,
            url_mode=url_mode,
            url=EXAMPLE_URL,
            content_type="application/json",
        )

    assert len(EXAMPLE_BODY) == 222
    assert signed("A", "full") == EXAMPLE_A
    assert signed("B", "full") == EXAMPLE_B_FULL
    assert signed("B", "path") == EXAMPLE_B_PATH


def test_variant_a_example_is_accepted(client: Any) -> None:
    response = deliver(client, EXAMPLE_BODY, signature=EXAMPLE_A)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.event_id == "01a0b1ec-bc16-76e8-a168-d44c4d7d25ad"
    assert event.body.encode() == EXAMPLE_BODY
    assert event.headers["X-Signature"] == EXAMPLE_A


@pytest.mark.parametrize(
    ("url_mode", "signature"), [("full", EXAMPLE_B_FULL), ("path", EXAMPLE_B_PATH)]
)
def test_variant_b_examples_are_accepted_at_the_url_bvnk_posts_to(
    client: Any, settings: Any, url_mode: str, signature: str
) -> None:
    settings.BVNK_WEBHOOK_SIGNATURE = "B"
    settings.BVNK_WEBHOOK_SIGNATURE_URL = url_mode
    response = client.post(
        "/webhooks/bvnk",
        data=EXAMPLE_BODY,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature.upper(),  # hex: case does not matter
        HTTP_HOST="portal.example.com",
        secure=True,
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_variant_b_uses_the_configured_public_url_behind_a_proxy(
    client: Any, settings: Any
) -> None:
    settings.BVNK_WEBHOOK_SIGNATURE = "B"
    settings.BVNK_WEBHOOK_URL = EXAMPLE_URL
    # The proxy forwards plain HTTP to an internal host name: the request alone would not do.
    response = client.post(
        PATH, data=EXAMPLE_BODY, content_type="application/json", HTTP_X_SIGNATURE=EXAMPLE_B_FULL
    )
    assert response.status_code == 200


def test_variant_b_refuses_a_variant_a_signature(client: Any, settings: Any) -> None:
    settings.BVNK_WEBHOOK_SIGNATURE = "B"
    assert deliver(client, EXAMPLE_BODY, signature=EXAMPLE_A).status_code == 401


def flipped(body: bytes) -> bytes:
    index = body.index(b"VERIFIED")
    return body[:index] + b"W" + body[index + 1 :]


@pytest.mark.parametrize(
    ("case", "body", "signature"),
    [
        ("flipped byte in the body", flipped(EXAMPLE_BODY), EXAMPLE_A),
        ("flipped byte in the signature", EXAMPLE_BODY, "e" + EXAMPLE_A[1:]),
        ("wrong secret", EXAMPLE_BODY, sign(EXAMPLE_BODY, "whsec_other")),
        ("truncated signature", EXAMPLE_BODY, EXAMPLE_A[:-4]),
        (
            "re-serialised JSON",
            json.dumps(json.loads(EXAMPLE_BODY)).encode(),  # same data, other spacing
            EXAMPLE_A,
        ),
        ("non-ASCII signature", EXAMPLE_BODY, "é" + EXAMPLE_A[1:]),
    ],
)
def test_bad_signatures_are_refused_and_nothing_is_stored(
    client: Any, case: str, body: bytes, signature: str
) -> None:
    response = deliver(client, body, signature=signature)
    assert response.status_code == 401, case
    assert not WebhookEvent.objects.exists()
    assert refused() == {WebhookRejection.Reason.INVALID: 1}


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_SIGNATURE": ""}, {"HTTP_X_SIGNATURE": "  "}])
def test_missing_or_empty_signature_is_refused(client: Any, headers: dict[str, str]) -> None:
    response = client.post(PATH, data=EXAMPLE_BODY, content_type="application/json", **headers)
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert refused() == {WebhookRejection.Reason.MISSING: 1}


def test_no_secret_configured_refuses_everything(client: Any, settings: Any) -> None:
    settings.BVNK_WEBHOOK_SECRET = ""
    assert deliver(client, EXAMPLE_BODY, signature=sign(EXAMPLE_BODY, "")).status_code == 401


def test_previous_secret_is_accepted_only_until_the_end_of_the_overlap(
    client: Any, settings: Any
) -> None:
    settings.BVNK_WEBHOOK_SECRET = "whsec_new"
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS = SECRET
    first = status_event("ref-1", "PENDING")
    second = status_event("ref-1", "VERIFIED")
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = (timezone.now() + timedelta(hours=1)).isoformat()
    assert deliver(client, first).status_code == 200
    assert deliver(client, first, signature=sign(first, "whsec_new")).status_code == 200

    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = "2020-01-01T00:00:00Z"
    assert deliver(client, second).status_code == 401
    # Without an end date (or with an unreadable one) the previous secret is not accepted.
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = ""
    assert deliver(client, second).status_code == 401
    settings.BVNK_WEBHOOK_SECRET_PREVIOUS_UNTIL = "next tuesday"
    assert deliver(client, second).status_code == 401
    assert deliver(client, second, signature=sign(second, "whsec_new")).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert refused() == {WebhookRejection.Reason.INVALID: 3}


def test_refusals_are_counted_per_day_and_logged_at_most_once_per_interval(
    client: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = webhooks.RateLimitedWarning(
        "Refused a BVNK webhook delivery: %s signature from %s", interval=3600
    )
    monkeypatch.setattr(webhooks, "warn_refused", limiter)
    with caplog.at_level(logging.WARNING, logger="customers.webhooks"):
        for _ in range(5):
            deliver(client, EXAMPLE_BODY, signature="forged")
        deliver(client, EXAMPLE_BODY, signature="")
    assert [r.name for r in caplog.records] == ["customers.webhooks"]  # not django.request
    lines = caplog.records
    assert "invalid signature" in lines[0].getMessage()
    assert "VERIFIED" not in caplog.text  # never the body
    assert refused() == {WebhookRejection.Reason.INVALID: 5, WebhookRejection.Reason.MISSING: 1}

    limiter.interval = 0  # the next line reports how many were held back
    with caplog.at_level(logging.WARNING, logger="customers.webhooks"):
        deliver(client, EXAMPLE_BODY, signature="forged")
    assert "(5 more since the last warning)" in caplog.records[-1].getMessage()


def test_only_post_is_allowed(client: Any) -> None:
    assert client.get(PATH).status_code == 405
    assert client.put(PATH, data=EXAMPLE_BODY, content_type="application/json").status_code == 405


def test_csrf_is_not_required(settings: Any) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert deliver(strict, EXAMPLE_BODY, signature=EXAMPLE_A).status_code == 200


def test_oversized_bodies_get_413_before_any_hashing(
    client: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.BVNK_WEBHOOK_MAX_BYTES = 1000
    hashed: list[bytes] = []
    real = webhooks.webhook_signature
    monkeypatch.setattr(
        webhooks,
        "webhook_signature",
        lambda secret, body, **kw: hashed.append(body) or real(secret, body, **kw),
    )
    big = status_event("ref", "PENDING", padding="x" * 1000)
    assert deliver(client, big).status_code == 413
    assert hashed == []
    assert not WebhookEvent.objects.exists()
    exact = status_event("ref", "PENDING")
    exact = exact[:-1] + b',"p":"' + b"x" * (1000 - len(exact) - 7) + b'"}'
    assert len(exact) == 1000
    assert deliver(client, exact).status_code == 200


class CountingStream:
    """A WSGI input that says how much was read from it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = len(self.data) - self.read_bytes if size is None or size < 0 else size
        chunk = self.data[self.read_bytes : self.read_bytes + size]
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - unused
        return self.read(size)


def test_a_lying_content_length_reads_at_most_cap_plus_one_bytes(settings: Any) -> None:
    from django.core.handlers.wsgi import WSGIRequest

    settings.BVNK_WEBHOOK_MAX_BYTES = 1000
    stream = CountingStream(b"x" * 50_000)
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PATH,
            "CONTENT_TYPE": "application/json",
            # Chunked uploads reach Django without a usable length; a huge one is a lie too.
            "CONTENT_LENGTH": "50000",
            "wsgi.input": stream,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
        }
    )
    assert webhooks._read_capped(request, 1000) is None
    assert stream.read_bytes == 0  # refused on the declared length alone
    request = WSGIRequest({**request.environ, "CONTENT_LENGTH": "999"})
    request.environ["wsgi.input"] = stream
    assert webhooks._read_capped(request, 1000) is not None
    assert stream.read_bytes <= 1001


class TrickleStream(CountingStream):
    """A decoded chunked body as a server hands it over: a few bytes a read, then b""."""

    def read(self, size: int = -1) -> bytes:
        return super().read(7 if size is None or size < 0 else min(size, 7))


def chunked_request(stream: Any, **meta: str) -> Any:
    """A POST as gunicorn passes a chunked one on: no CONTENT_LENGTH, the stream terminated."""
    from django.core.handlers.wsgi import WSGIRequest

    return WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PATH,
            "CONTENT_TYPE": "application/json",
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input": stream,
            "wsgi.input_terminated": True,
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            **meta,
        }
    )


def test_a_chunked_body_is_read_whole_and_accepted() -> None:
    stream = TrickleStream(EXAMPLE_BODY)
    request = chunked_request(stream, HTTP_X_SIGNATURE=EXAMPLE_A)
    assert "CONTENT_LENGTH" not in request.META
    response = webhooks.bvnk_webhook(request)
    assert response.status_code == 200
    assert stream.read_bytes == len(EXAMPLE_BODY)
    assert WebhookEvent.objects.get().body == EXAMPLE_BODY.decode()
    assert refused() == {}


def test_a_chunked_body_over_the_cap_reads_at_most_cap_plus_one_bytes(settings: Any) -> None:
    settings.BVNK_WEBHOOK_MAX_BYTES = 1000
    stream = TrickleStream(b"x" * 50_000)
    assert webhooks._read_capped(chunked_request(stream), 1000) is None
    assert stream.read_bytes == 1001
    exact = TrickleStream(b"x" * 1000)
    assert webhooks._read_capped(chunked_request(exact), 1000) == b"x" * 1000


def test_an_unterminated_stream_without_a_length_is_never_read() -> None:
    """Without wsgi.input_terminated the raw stream may not end: reading it could hang."""
    stream = CountingStream(EXAMPLE_BODY)
    request = chunked_request(stream, HTTP_X_SIGNATURE=EXAMPLE_A)
    del request.META["wsgi.input_terminated"]
    assert webhooks._read_capped(request, 1000) == b""
    assert stream.read_bytes == 0


def test_the_cap_not_django_upload_limit_decides(client: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.BVNK_WEBHOOK_MAX_BYTES = 256 * 1024
    body = status_event("ref", "PENDING", padding="x" * 200_000)
    assert deliver(client, body).status_code == 200


def test_refusals_are_counted_in_memory_between_flushes(client: Any, settings: Any) -> None:
    """A flood of forged deliveries costs no database write each."""
    from customers import inbox

    settings.BVNK_WEBHOOK_COUNTER_FLUSH_SECONDS = 3600
    inbox.rejections.flush()  # start the interval now
    for _ in range(5):
        assert deliver(client, EXAMPLE_BODY, signature="forged").status_code == 401
    assert refused() == {}
    inbox.rejections.flush()
    assert refused() == {WebhookRejection.Reason.INVALID: 5}
