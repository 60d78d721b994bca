"""State survives a restart of the emulator process (SQLite at BVNK_EMULATOR_DATA)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests

from tests.emulator.payloads import (
    CUSTOMERS,
    company,
    create_individual,
    signed_session,
    wait_for_status,
)
from tests.emulator_server import EmulatorProcess, WebhookSink

pytestmark = pytest.mark.emulator


def test_state_survives_a_restart(
    make_emulator: Callable[..., EmulatorProcess], webhook_sink: WebhookSink
) -> None:
    # A slower review so the PENDING -> VERIFIED timer is still due across the restart.
    emulator = make_emulator(sink=webhook_sink, BVNK_EMULATOR_REVIEW_SECONDS="1.5")
    body = company(signed_session(emulator))
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    created = emulator.post(CUSTOMERS, json=body, headers=key).json()
    person = create_individual(emulator)
    requests.post(person["verification"]["url"], timeout=5)
    wait_for_status(emulator, person["reference"], "PENDING")
    emulator.control("webhooks/hold")
    emulator.control("webhooks/send", {"event": "test:held-over-restart", "data": {}})

    emulator.restart()

    # Customers, idempotency records and the held outbox are still there...
    assert (
        emulator.get(f"{CUSTOMERS}/{created['reference']}").json()["externalReference"]
        == body["externalReference"]
    )
    replay = emulator.post(CUSTOMERS, json=body, headers=key)
    assert replay.status_code == 200 and replay.json()["reference"] == created["reference"]
    assert emulator.get(f"{CUSTOMERS}?size=10").json()["totalElements"] == 2
    # ...the due review still runs...
    wait_for_status(emulator, person["reference"], "VERIFIED")
    # ...and held events are delivered once released.
    assert webhook_sink.events("test:held-over-restart") == []
    emulator.control("webhooks/release", {})
    webhook_sink.wait_for(1, "test:held-over-restart")
    # The session stays bound to its customer.
    reused = emulator.post(CUSTOMERS, json=company(body["signedAgreementSessionReference"]))
    assert reused.status_code == 400
