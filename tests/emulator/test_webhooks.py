"""Webhook signing vectors (from BVNK's docs), envelope, delivery, retries and controls."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bvnk_emulator import webhooks
from bvnk_emulator.app import create_app, current_emulator
from bvnk_emulator.config import EmulatorConfig
from bvnk_emulator.ids import iso_now, uuid7
from tests.emulator.payloads import create_individual
from tests.emulator_server import (
    EmulatorProcess,
    ReceivedWebhook,
    WebhookSink,
    free_port,
    wait_until,
)

VECTOR_SECRET = "whsec_test_123"
VECTOR_BODY = (
    b'{"event":"bvnk:platform:customer:status-change",'
    b'"eventId":"01a0b1ec-bc16-76e8-a168-d44c4d7d25ad",'
    b'"timestamp":"2026-09-18T00:31:17.014444515Z",'
    b'"data":{"status":"VERIFIED","reference":"2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3"}}'
)
STATUS_EVENT = "bvnk:platform:customer:status-change"


# -- signing vectors ------------------------------------------------------------------------


def test_vector_body_is_222_bytes_and_compact_serialisation_reproduces_it() -> None:
    assert len(VECTOR_BODY) == 222
    assert webhooks.serialize(json.loads(VECTOR_BODY)).encode() == VECTOR_BODY


def test_signature_variant_a_vector() -> None:
    assert (
        webhooks.sign_a(VECTOR_SECRET, VECTOR_BODY)
        == "dZxyEMkcwzqFru+3WHbGxjF+3R9PMEv5qMmECe8in8Y="
    )


def test_signature_variant_b_full_url_vector() -> None:
    signature = webhooks.sign_b(
        VECTOR_SECRET, "https://portal.example.com/webhooks/bvnk", "application/json", VECTOR_BODY
    )
    assert signature == "94327b9b30da33fefc9495e444ff7d41b5a62d53e2f93cb6707bd0babb77d344"


def test_signature_variant_b_path_vector() -> None:
    signature = webhooks.sign_b(VECTOR_SECRET, "/webhooks/bvnk", "application/json", VECTOR_BODY)
    assert signature == "9b2be8e42be97a7753d59b8dfce320d573e03fb3563a23b73c67f6531950b506"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "dZxyEMkcwzqFru+3WHbGxjF+3R9PMEv5qMmECe8in8Y="),
        (
            {"BVNK_WEBHOOK_SIGNATURE": "B"},
            "94327b9b30da33fefc9495e444ff7d41b5a62d53e2f93cb6707bd0babb77d344",
        ),
        (
            {"BVNK_WEBHOOK_SIGNATURE": "b", "BVNK_WEBHOOK_SIGNATURE_URL": "path"},
            "9b2be8e42be97a7753d59b8dfce320d573e03fb3563a23b73c67f6531950b506",
        ),
    ],
)
def test_signature_for_follows_the_configuration(env: dict[str, str], expected: str) -> None:
    config = EmulatorConfig.from_env({"BVNK_WEBHOOK_SECRET": VECTOR_SECRET, **env})
    assert (
        webhooks.signature_for(config, "https://portal.example.com/webhooks/bvnk", VECTOR_BODY)
        == expected
    )


def test_event_ids_are_time_ordered_uuid7_and_timestamps_have_nine_digits() -> None:
    ids = [uuid7() for _ in range(500)]
    assert ids == sorted(ids) and len(set(ids)) == 500
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", iso_now())


# -- delivery over HTTP ---------------------------------------------------------------------


def _verify_a(secret: str, received: ReceivedWebhook) -> bool:
    digest = hmac.new(secret.encode(), received.body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), received.headers["x-signature"])


@pytest.mark.emulator
def test_delivered_envelope_is_signed_and_compact(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    reference = create_individual(emulator)["reference"]
    [received] = emulator.webhooks.wait_for(1, STATUS_EVENT)
    assert received.headers["content-type"] == "application/json"
    assert _verify_a(emulator.webhook_secret, received)
    envelope = received.json()
    assert list(envelope) == ["event", "eventId", "timestamp", "data"]
    assert envelope["data"] == {"status": "INFO_REQUIRED", "reference": reference}
    assert received.body == webhooks.serialize(envelope).encode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", envelope["timestamp"])


@pytest.mark.emulator
def test_retry_with_growing_capped_delay_then_give_up(
    make_emulator: Callable[..., EmulatorProcess], webhook_sink: WebhookSink
) -> None:
    emulator = make_emulator(
        sink=webhook_sink,
        BVNK_EMULATOR_WEBHOOK_RETRY_BASE="0.2",
        BVNK_EMULATOR_WEBHOOK_RETRY_CAP="0.3",
        BVNK_EMULATOR_WEBHOOK_ATTEMPTS="4",
    )
    webhook_sink.respond_with(500, 500, then=200)
    sent = emulator.control("webhooks/send", {"event": "test:retry", "data": {"n": 1}}).json()
    attempts = webhook_sink.wait_for(3, "test:retry")
    assert {a.json()["eventId"] for a in attempts} == {sent["eventId"]}
    assert len({a.body for a in attempts}) == 1
    gaps = [
        later.received_at - earlier.received_at for earlier, later in itertools.pairwise(attempts)
    ]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.28 and gaps[1] > gaps[0]

    delivery = wait_until(lambda: _delivery(emulator, sent["id"], "DELIVERED"))
    assert delivery["attempts"] == 3 and delivery["lastStatus"] == "200"
    assert [a["statusCode"] for a in delivery["attemptLog"]] == [500, 500, 200]
    assert all(a["durationMs"] >= 0 for a in delivery["attemptLog"])

    # Always failing: four attempts, the last gap capped at 0.3 s, then FAILED.
    webhook_sink.respond_with(then=503)
    failing = emulator.control("webhooks/send", {"event": "test:fail", "data": {}}).json()
    delivery = wait_until(lambda: _delivery(emulator, failing["id"], "FAILED"), timeout=5)
    assert delivery["attempts"] == 4 and delivery["nextAttemptAt"] is None
    tries = webhook_sink.events("test:fail")
    assert len(tries) == 4
    assert tries[3].received_at - tries[2].received_at < 0.55


def _delivery(emulator: EmulatorProcess, delivery_id: int, status: str) -> dict | None:
    rows = [d for d in emulator.deliveries() if d["id"] == delivery_id]
    return rows[0] if rows and rows[0]["status"] == status else None


@pytest.mark.emulator
def test_delivery_log_page_and_resend_duplicate(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    sent = emulator.control(
        "webhooks/send", {"event": "test:resend", "data": {"reference": "r-1"}}
    ).json()
    [original] = emulator.webhooks.wait_for(1, "test:resend")
    page = emulator.control("deliveries", method="GET")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "<table>" in page.text and "test:resend" in page.text and sent["eventId"] in page.text
    assert ">Resend</button>" in page.text

    resent = emulator.control(f"deliveries/{sent['id']}/resend")
    assert resent.status_code == 201 and resent.json()["eventId"] == sent["eventId"]
    _, duplicate = emulator.webhooks.wait_for(2, "test:resend")
    assert (
        duplicate.body == original.body
        and duplicate.headers["x-signature"] == original.headers["x-signature"]
    )
    rows = emulator.deliveries()
    assert rows[0]["duplicateOf"] == sent["id"] and rows[0]["customerReference"] == "r-1"
    assert emulator.control("deliveries/999999/resend").status_code == 404


@pytest.mark.emulator
def test_hold_then_release_in_reverse_with_duplicates(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    assert emulator.control("webhooks/hold").json() == {"held": True}
    for n in range(3):
        emulator.control("webhooks/send", {"event": "test:held", "data": {"n": n}})
    assert {d["status"] for d in emulator.deliveries()} == {"HELD"}
    assert emulator.webhooks.events("test:held") == []
    released = emulator.control("webhooks/release", {"order": "reverse", "duplicate": 1})
    assert released.json() == {"released": 3}
    received = emulator.webhooks.wait_for(6, "test:held")
    assert [r.json()["data"]["n"] for r in received] == [2, 2, 1, 1, 0, 0]
    # Released means no longer held: new events flow straight through.
    emulator.control("webhooks/send", {"event": "test:after", "data": {}})
    emulator.webhooks.wait_for(1, "test:after")


@pytest.mark.emulator
def test_send_arbitrary_event_with_fixed_ids(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    emulator.control(
        "webhooks/send",
        {
            "event": "bvnk:platform:customer:update",
            "data": {"reference": "x"},
            "eventId": "fixed-id",
            "timestamp": "2026-01-01T00:00:00.000000000Z",
        },
    )
    [received] = emulator.webhooks.wait_for(1, "bvnk:platform:customer:update")
    assert received.json()["eventId"] == "fixed-id"
    assert emulator.control("webhooks/send", {"data": {}}).status_code == 400
    assert emulator.control("webhooks/release", {"order": "sideways"}).status_code == 400


@pytest.mark.emulator
def test_variant_b_path_signature_end_to_end(
    make_emulator: Callable[..., EmulatorProcess], webhook_sink: WebhookSink
) -> None:
    emulator = make_emulator(
        sink=webhook_sink, BVNK_WEBHOOK_SIGNATURE="B", BVNK_WEBHOOK_SIGNATURE_URL="path"
    )
    emulator.control("webhooks/send", {"event": "test:b", "data": {}})
    [received] = webhook_sink.wait_for(1, "test:b")
    expected = hmac.new(
        emulator.webhook_secret.encode(),
        b"/webhooks/bvnk/" + b"application/json" + received.body,
        hashlib.sha256,
    ).hexdigest()
    assert received.headers["x-signature"] == expected


def test_connection_errors_are_retried_and_logged(tmp_path: Path) -> None:
    config = EmulatorConfig.from_env(
        {
            "BVNK_EMULATOR_FAST": "1",
            "BVNK_EMULATOR_DATA": str(tmp_path / "state.sqlite3"),
            "BVNK_EMULATOR_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/nobody-home",
            "BVNK_EMULATOR_WEBHOOK_ATTEMPTS": "2",
        }
    )
    app = create_app(config, start_workers=True)
    try:
        client = app.test_client()
        client.post("/_emulator/webhooks/send", json={"event": "test:refused", "data": {}})

        def failed() -> dict | None:
            rows = client.get("/_emulator/deliveries?format=json").get_json()
            return rows[0] if rows[0]["status"] == "FAILED" else None

        row = wait_until(failed)
        assert row["attempts"] == 2
        assert all(
            a["statusCode"] is None and "ConnectionError" in a["error"] for a in row["attemptLog"]
        )
    finally:
        current_emulator(app).stop()


def test_empty_webhook_url_disables_delivery(tmp_path: Path) -> None:
    config = EmulatorConfig.from_env(
        {"BVNK_EMULATOR_DATA": str(tmp_path / "state.sqlite3"), "BVNK_EMULATOR_WEBHOOK_URL": ""}
    )
    client = create_app(config).test_client()
    client.post("/_emulator/webhooks/send", json={"event": "test:nowhere", "data": {}})
    [row] = client.get("/_emulator/deliveries?format=json").get_json()
    assert row["status"] == "SKIPPED"
