"""Fault injection (/_emulator/faults) and the request log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bvnk_emulator.app import create_app
from bvnk_emulator.config import EmulatorConfig
from tests.emulator.payloads import CUSTOMERS, company, signed_session
from tests.emulator_server import EmulatorProcess

pytestmark = pytest.mark.emulator

INDUSTRIES = "/platform/v1/accounts/industries"


@pytest.fixture
def emulator_clean(emulator_reset: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """Return the emulator with no faults left behind, before and after the test."""
    yield emulator_reset
    emulator_reset.control("faults", method="DELETE")


def test_500_for_the_next_n_calls(emulator_clean: EmulatorProcess) -> None:
    emulator = emulator_clean
    assert emulator.control("faults", {"mode": "500", "count": 2}).status_code == 201
    first, second, third = (emulator.get(INDUSTRIES) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.json()["status"] == "Internal Server Error"
    assert len(first.json()["traceId"]) == 32


def test_429_with_retry_after(emulator_clean: EmulatorProcess) -> None:
    emulator = emulator_clean
    emulator.control("faults", {"mode": "429", "retryAfter": 3})
    response = emulator.get(INDUSTRIES)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["status"] == "Too Many Requests"
    assert emulator.get(INDUSTRIES).status_code == 200


def test_fault_matching_by_method_and_path(emulator_clean: EmulatorProcess) -> None:
    emulator = emulator_clean
    emulator.control("faults", {"mode": "500", "count": 5, "method": "POST", "path": CUSTOMERS})
    assert emulator.get(INDUSTRIES).status_code == 200
    assert emulator.get(CUSTOMERS).status_code == 200  # GET does not match
    assert emulator.post(CUSTOMERS, json={}).status_code == 500
    assert emulator.post("/api" + CUSTOMERS, json={}).status_code == 500  # alias matches too
    assert len(emulator.control("faults", method="GET").json()) == 1
    assert emulator.control("faults", method="DELETE").status_code == 204
    assert emulator.post(CUSTOMERS, json={}).status_code == 400


def test_invalid_fault_mode(emulator: EmulatorProcess) -> None:
    response = emulator.control("faults", {"mode": "explode"})
    assert response.status_code == 400 and "mode" in response.json()["details"]["errors"]


def test_slow_delays_the_call(emulator_clean: EmulatorProcess) -> None:
    emulator = emulator_clean
    emulator.control("faults", {"mode": "slow", "delay": 0.3})
    started = time.monotonic()
    assert emulator.get(INDUSTRIES).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        emulator.control("faults", {"mode": "slow", "delay": 1})
        emulator.get(INDUSTRIES, timeout=0.2)


def test_slow_response_loses_an_answer_the_emulator_acted_on(
    emulator_clean: EmulatorProcess,
) -> None:
    emulator = emulator_clean
    body = company(signed_session(emulator))
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    emulator.control(
        "faults", {"mode": "slow_response", "delay": 1, "method": "POST", "path": CUSTOMERS}
    )
    with pytest.raises(requests.Timeout):
        emulator.post(CUSTOMERS, json=body, headers=key, timeout=0.3)
    # The customer exists although the client never saw the 201; a retry recovers it.
    retry = emulator.post(CUSTOMERS, json=body, headers=key)
    assert retry.status_code == 200
    overview = emulator.control("customers", method="GET").json()
    assert [c["reference"] for c in overview["customers"]] == [retry.json()["reference"]]
    assert overview["createCalls"][body["externalReference"]] == {
        "succeeded": 1,
        "replayed": 1,
        "refused": 0,
    }


def test_drop_closes_the_connection_without_a_response(emulator_clean: EmulatorProcess) -> None:
    emulator = emulator_clean
    body = company(signed_session(emulator))
    emulator.control("faults", {"mode": "drop", "path": CUSTOMERS, "method": "POST"})
    with pytest.raises(requests.ConnectionError):
        emulator.post(CUSTOMERS, json=body)
    # Nothing was created; the next call goes through.
    assert emulator.control("customers", method="GET").json()["customers"] == []
    assert emulator.post(CUSTOMERS, json=body).status_code == 201
    log = emulator.requests_log(method="POST", path=CUSTOMERS)
    assert [entry["status"] for entry in log] == ["dropped", 201]
    assert log[0]["fault"] == "drop"


def test_request_log_counts_creates(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    body = company(signed_session(emulator))
    key = str(uuid.uuid4())
    emulator.post(CUSTOMERS, json=body, headers={"X-Idempotency-Key": key})
    emulator.post(CUSTOMERS, json=body, headers={"X-Idempotency-Key": key})
    creates = emulator.requests_log(method="POST", path=CUSTOMERS)
    assert [(e["status"], e["idempotencyKey"]) for e in creates] == [(201, key), (200, key)]
    assert creates[0]["bodySha256"] == creates[1]["bodySha256"]
    assert len(creates[0]["bodySha256"]) == 64
    everything = emulator.requests_log()
    assert {e["path"] for e in everything} >= {
        CUSTOMERS,
        "/platform/v1/customers/agreement/sessions",
    }


def test_latency_is_added_to_platform_calls_only(tmp_path: Path) -> None:
    config = EmulatorConfig.from_env(
        {
            "BVNK_EMULATOR_DATA": str(tmp_path / "state.sqlite3"),
            "BVNK_EMULATOR_WEBHOOK_URL": "",
            "BVNK_EMULATOR_LATENCY_MS": "600",  # far above a busy machine's own delays
        }
    )
    client = create_app(config).test_client()
    started = time.monotonic()
    assert client.get(INDUSTRIES).status_code == 401  # unsigned, but still delayed
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    assert client.get("/_emulator/health").status_code == 200
    assert time.monotonic() - started < 0.6
