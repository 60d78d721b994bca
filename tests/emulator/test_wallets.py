"""The emulator's Wallets v2: profiles, creation with Idempotency-Key, activation by webhook."""

from __future__ import annotations

import uuid
from typing import Any

from tests.emulator.payloads import create_individual, errors_of
from tests.emulator_server import EmulatorProcess

PROFILES = "/ledger/v2/wallets/profiles"
WALLETS = "/ledger/v2/wallets"
STATUS_EVENT = "ledger:v2:wallet:status-change"


def verified(emulator: EmulatorProcess, **fields: Any) -> dict[str, Any]:
    customer = create_individual(emulator, **fields)
    emulator.control(f"customers/{customer['reference']}/status", {"status": "VERIFIED"})
    return customer


def create(emulator: EmulatorProcess, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return emulator.post(WALLETS, json=body, headers=headers)


def test_profiles_follow_the_customers_jurisdiction_and_the_filter(emulator_reset) -> None:
    customer = verified(emulator_reset)  # a US resident
    q = f"customerId:{customer['reference']}"
    every = emulator_reset.get(PROFILES, params={"q": q}).json()["content"]
    assert {p["id"].split(":")[0] for p in every} == {"fiat", "crypto"}
    usd = next(p for p in every if p["currencies"] == ["USD"])
    assert set(usd["methods"]) >= {"ACH", "FEDWIRE"}
    assert next(p for p in every if p["id"].startswith("crypto:"))["methods"] == []
    only = emulator_reset.get(PROFILES, params={"q": f"{q} AND currency:(USDC OR BTC)"})
    assert [p["id"] for p in only.json()["content"]] == [
        p["id"] for p in every if p["id"].startswith("crypto:")
    ]


def test_a_customer_not_verified_gets_no_wallet(emulator_reset) -> None:
    customer = create_individual(emulator_reset)  # INFO_REQUIRED
    answer = create(
        emulator_reset, {"currency": "USDC", "name": "USDC", "customerId": customer["reference"]}
    )
    assert answer.status_code == 403 and answer.json()["code"] == "BVNK:LEDGER:4003"


def test_a_crypto_wallet_is_inactive_then_active_with_its_address(emulator_reset) -> None:
    customer = verified(emulator_reset)
    body = {"currency": "USDC", "name": "USDC wallet", "customerId": customer["reference"]}
    created = create(emulator_reset, body)
    assert created.status_code == 201, created.text
    wallet = created.json()
    assert wallet["status"] == "INACTIVE" and wallet["paymentInstruments"] == []
    (event,) = emulator_reset.webhooks.wait_for(1, STATUS_EVENT)
    data = event.json()["data"]
    assert data["id"] == wallet["id"] and data["status"] == "ACTIVE"
    (instrument,) = data["paymentInstruments"]
    assert instrument["type"] == "CRYPTO" and instrument["address"].startswith("0x")
    read = emulator_reset.get(f"{WALLETS}/{wallet['id']}").json()
    assert read["status"] == "ACTIVE" and read["customer"]["id"] == customer["reference"]
    listed = emulator_reset.get(WALLETS, params={"q": f"customerId:{customer['reference']}"})
    assert [w["id"] for w in listed.json()["content"]] == [wallet["id"]]
    assert "paymentInstruments" not in listed.json()["content"][0]


def test_a_fiat_wallet_needs_a_profile_that_offers_its_currency(emulator_reset) -> None:
    customer = verified(emulator_reset)
    reference = customer["reference"]
    missing = create(emulator_reset, {"currency": "USD", "name": "USD", "customerId": reference})
    assert "profileId" in errors_of(missing)
    profiles = emulator_reset.get(PROFILES, params={"q": f"customerId:{reference}"}).json()
    usd = next(p for p in profiles["content"] if p["currencies"] == ["USD"])
    wrong = create(
        emulator_reset,
        {"currency": "EUR", "name": "EUR", "customerId": reference, "profileId": usd["id"]},
    )
    assert "currency" in errors_of(wrong)
    body = {"currency": "USD", "name": "USD", "customerId": reference, "profileId": usd["id"]}
    assert create(emulator_reset, body).status_code == 201
    (event,) = emulator_reset.webhooks.wait_for(1, STATUS_EVENT)
    (instrument,) = event.json()["data"]["paymentInstruments"]
    assert instrument["type"] == "FIAT" and instrument["bankDetails"]["nid"]["type"] == (
        "ROUTING_NUMBER"
    )


def test_a_repeated_key_is_refused_or_replayed_as_switched(emulator_reset, make_emulator) -> None:
    customer = verified(emulator_reset)
    body = {"currency": "USDC", "name": "USDC", "customerId": customer["reference"]}
    key = str(uuid.uuid4())
    assert create(emulator_reset, body, key).status_code == 201
    again = create(emulator_reset, body, key)
    assert again.status_code == 400 and again.json()["code"] == "BVNK:LEDGER:4004"

    replaying = make_emulator(BVNK_EMULATOR_WALLET_REPLAY="replay")
    customer = verified(replaying)
    body["customerId"] = customer["reference"]
    first = create(replaying, body, key)
    assert create(replaying, body, key).json()["id"] == first.json()["id"]
    listed = replaying.get(WALLETS, params={"q": f"customerId:{customer['reference']}"})
    assert len(listed.json()["content"]) == 1


def test_wallet_calls_need_hawk_and_obey_the_fault_switches(emulator_reset) -> None:
    import requests

    assert requests.get(f"{emulator_reset.url}{WALLETS}", timeout=5).status_code == 401
    emulator_reset.control("faults", {"mode": "500", "path": WALLETS})
    assert emulator_reset.get(WALLETS).status_code == 500
    assert emulator_reset.get(WALLETS).status_code == 200
