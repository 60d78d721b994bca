"""Lifecycle, magic values, forced statuses and the hosted pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.emulator.payloads import (
    CUSTOMERS,
    SESSIONS,
    company_documents,
    complete_answers,
    create_company,
    create_individual,
    document,
    errors_of,
    status_of,
    wait_for_status,
)
from tests.emulator_server import EmulatorProcess, wait_until

pytestmark = pytest.mark.emulator

STATUS_EVENT = "bvnk:platform:customer:status-change"
LEGACY_EVENT = "bvnk:customers:status-change"


def _statuses(emulator: EmulatorProcess, reference: str, count: int) -> list[str]:
    """Wait for `count` status webhooks of one customer (delivery is asynchronous)."""

    def received() -> list[str]:
        return [
            e.json()["data"]["status"]
            for e in emulator.webhooks.events(STATUS_EVENT)
            if e.json()["data"]["reference"] == reference
        ]

    wait_until(lambda: len(received()) >= count)
    return received()


def _complete_company(emulator: EmulatorProcess, customer: dict) -> None:
    reference = customer["reference"]
    uploaded = emulator.post(f"{CUSTOMERS}/{reference}/documents", json=company_documents(customer))
    assert uploaded.status_code == 202, uploaded.text
    answered = emulator.put(f"{CUSTOMERS}/{reference}/questionnaires", json=complete_answers())
    assert answered.status_code == 202, answered.text


def test_company_reaches_verified(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    customer = create_company(emulator)
    reference = customer["reference"]
    _complete_company(emulator, customer)
    wait_for_status(emulator, reference, "VERIFIED")
    assert _statuses(emulator, reference, 3) == ["INFO_REQUIRED", "PENDING", "VERIFIED"]
    legacy = [e.json()["data"] for e in emulator.webhooks.wait_for(3, LEGACY_EVENT)]
    assert legacy[-1] == {"customerId": reference, "status": "VERIFIED"}
    body = emulator.get(f"{CUSTOMERS}/{reference}").json()
    assert body["infoRequired"] == {"questionnaireCodes": [], "documents": []}


def test_company_waits_for_every_associate(emulator: EmulatorProcess) -> None:
    customer = create_company(emulator)
    reference = customer["reference"]
    docs = company_documents(customer)[:-1]  # no ID card back side for the second associate
    emulator.post(f"{CUSTOMERS}/{reference}/documents", json=docs)
    emulator.put(f"{CUSTOMERS}/{reference}/questionnaires", json=complete_answers())
    second = customer["company"]["associates"][1]["person"]["reference"]
    wait_until(
        lambda: (
            emulator.get(f"{CUSTOMERS}/{reference}").json()["infoRequired"]["questionnaireCodes"]
            == []
        )
    )
    outstanding = emulator.get(f"{CUSTOMERS}/{reference}").json()["infoRequired"]["documents"]
    assert outstanding == [
        {"type": "ID_CARD", "subType": "BACK_SIDE", "customerPersonReference": second}
    ]
    assert status_of(emulator, reference) == "INFO_REQUIRED"


def test_individual_reaches_verified_with_documents(emulator: EmulatorProcess) -> None:
    reference = create_individual(emulator)["reference"]
    emulator.post(
        f"{CUSTOMERS}/{reference}/documents",
        json=[
            document("DRIVERS", "FRONT_SIDE"),
            document("DRIVERS", "BACK_SIDE"),
            document("UTILITY_BILL"),
        ],
    )
    wait_for_status(emulator, reference, "VERIFIED")


def test_individual_reaches_verified_through_the_verification_page(
    emulator_reset: EmulatorProcess,
) -> None:
    emulator = emulator_reset
    customer = create_individual(emulator)
    url = customer["verification"]["url"]
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Complete verification" in page.text
    assert "<main" in page.text and "<title>" in page.text
    done = requests.post(url, timeout=5)
    assert done.status_code == 200
    wait_for_status(emulator, customer["reference"], "VERIFIED")
    body = emulator.get(f"{CUSTOMERS}/{customer['reference']}").json()
    assert body["verification"]["status"] == "completed"
    assert emulator.webhooks.wait_for(1, "bvnk:platform:customer:update")


def test_company_verification_page_covers_every_associate(emulator: EmulatorProcess) -> None:
    customer = create_company(emulator)
    requests.post(customer["verification"]["url"], timeout=5)
    body = emulator.get(f"{CUSTOMERS}/{customer['reference']}").json()
    assert {d["type"] for d in body["infoRequired"]["documents"]} == {"COMPANY_DOC"}
    assert body["status"] == "INFO_REQUIRED"  # company documents and questionnaire remain


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme REJECT Ltd", ["INFO_REQUIRED", "PENDING", "REJECTED"]),
        ("TERMINATE Corp", ["INFO_REQUIRED", "PENDING", "VERIFIED", "TERMINATED"]),
    ],
)
def test_company_magic_names(
    emulator_reset: EmulatorProcess, name: str, expected: list[str]
) -> None:
    emulator = emulator_reset
    customer = create_company(emulator, name=name)
    _complete_company(emulator, customer)
    wait_for_status(emulator, customer["reference"], expected[-1])
    assert _statuses(emulator, customer["reference"], len(expected)) == expected


def test_individual_reject_magic_last_name(emulator: EmulatorProcess) -> None:
    customer = create_individual(emulator, last_name="REJECT")
    requests.post(customer["verification"]["url"], timeout=5)
    wait_for_status(emulator, customer["reference"], "REJECTED")


def test_actions_required_then_back_to_pending_and_verified(
    emulator_reset: EmulatorProcess,
) -> None:
    emulator = emulator_reset
    customer = create_individual(emulator, last_name="ACTIONS")
    reference = customer["reference"]
    requests.post(customer["verification"]["url"], timeout=5)
    wait_for_status(emulator, reference, "ACTIONS_REQUIRED")
    info = emulator.get(f"{CUSTOMERS}/{reference}").json()["infoRequired"]
    assert info["documents"][0]["type"] == "PROOF_OF_RESIDENCE"
    emulator.post(f"{CUSTOMERS}/{reference}/documents", json=[document("PROOF_OF_RESIDENCE")])
    wait_for_status(emulator, reference, "VERIFIED")
    assert _statuses(emulator, reference, 5) == [
        "INFO_REQUIRED",
        "PENDING",
        "ACTIONS_REQUIRED",
        "PENDING",
        "VERIFIED",
    ]


def test_forced_status_emits_webhooks(emulator_reset: EmulatorProcess) -> None:
    emulator = emulator_reset
    reference = create_individual(emulator)["reference"]
    response = emulator.control(f"customers/{reference}/status", {"status": "ACTIONS_REQUIRED"})
    assert response.status_code == 200 and response.json()["status"] == "ACTIONS_REQUIRED"
    assert _statuses(emulator, reference, 2) == ["INFO_REQUIRED", "ACTIONS_REQUIRED"]
    assert "status" in errors_of(
        emulator.control(f"customers/{reference}/status", {"status": "DONE"})
    )
    assert emulator.control("customers/nope/status", {"status": "VERIFIED"}).status_code == 404


def test_legacy_events_can_be_turned_off(make_emulator, webhook_sink) -> None:  # type: ignore[no-untyped-def]
    emulator = make_emulator(
        sink=webhook_sink,
        BVNK_EMULATOR_LEGACY_STATUS_EVENTS="0",
        BVNK_EMULATOR_AGREEMENT_STATUS_PARAM="agreementStatus",
    )
    reference = create_individual(emulator)["reference"]
    emulator.control(f"customers/{reference}/status", {"status": "VERIFIED"})
    webhook_sink.wait_for(2, STATUS_EVENT)
    assert webhook_sink.events(LEGACY_EVENT) == []
    # The same emulator shows the configurable redirect parameter name.
    session = emulator.post(
        SESSIONS, json={"customerType": "COMPANY", "countryCode": "US", "useCase": "FIAT"}
    )
    reply = requests.post(
        f"{emulator.url}/agreements",
        data={
            "session": session.json()["reference"],
            "redirectUri": "https://portal.test/back",
            "decision": "sign",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert reply.headers["Location"] == "https://portal.test/back?agreementStatus=SIGNED"


# -- hosted agreement page ------------------------------------------------------------------


def _session(emulator: EmulatorProcess) -> str:
    response = emulator.post(
        SESSIONS, json={"customerType": "COMPANY", "countryCode": "US", "useCase": "FIAT"}
    )
    return str(response.json()["reference"])


def test_agreement_page_is_accessible_html(emulator: EmulatorProcess) -> None:
    reference = _session(emulator)
    page = requests.get(
        f"{emulator.url}/agreements",
        params={"session": reference, "redirectUri": "http://x.test/"},
        timeout=5,
    )
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html and "<title>" in html and "<main" in html
    assert ">Sign</button>" in html and ">Decline</button>" in html
    assert '<label for="accept">' in html
    assert "Embedded US Partner Platform Customers Agreement" in html


@pytest.mark.parametrize(("decision", "status"), [("sign", "SIGNED"), ("decline", "DECLINED")])
def test_agreement_page_decision_redirects(
    emulator_reset: EmulatorProcess, decision: str, status: str
) -> None:
    emulator = emulator_reset
    reference = _session(emulator)
    redirect_uri = "https://portal.test/onboarding/agreement?customer=42&step=3"
    reply = requests.post(
        f"{emulator.url}/agreements",
        data={"session": reference, "redirectUri": redirect_uri, "decision": decision},
        allow_redirects=False,
        timeout=5,
    )
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "portal.test",
        "/onboarding/agreement",
    )
    assert parse_qs(location.query) == {"customer": ["42"], "step": ["3"], "status": [status]}
    assert emulator.get(f"{SESSIONS}/{reference}").json()["status"] == status
    [event] = emulator.webhooks.wait_for(
        1, "bvnk:platform:customer:agreement-session-status-change"
    )
    assert event.json()["data"] == {"status": status, "reference": reference}


def test_agreement_page_refuses_non_http_redirects(emulator: EmulatorProcess) -> None:
    reference = _session(emulator)
    for uri in ("javascript:alert(1)", "ftp://x.test/", "/relative"):
        page = requests.get(
            f"{emulator.url}/agreements",
            params={"session": reference, "redirectUri": uri},
            timeout=5,
        )
        assert page.status_code == 400
        posted = requests.post(
            f"{emulator.url}/agreements",
            data={"session": reference, "redirectUri": uri, "decision": "sign"},
            allow_redirects=False,
            timeout=5,
        )
        assert posted.status_code == 400
    assert emulator.get(f"{SESSIONS}/{reference}").json()["status"] == "PENDING"


def test_agreement_page_unknown_session(emulator: EmulatorProcess) -> None:
    page = requests.get(f"{emulator.url}/agreements", params={"session": "nope"}, timeout=5)
    assert page.status_code == 404
