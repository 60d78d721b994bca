"""BVNK's own published payloads (tests/fixtures/bvnk/) through the portal's parsers and
its webhook receiver: the portal must read what BVNK documents, not only what the
emulator sends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from customers import inbox
from customers.bvnk import client as bvnk_client
from customers.bvnk.errors import BvnkError
from customers.bvnk.types import AgreementSession, Customer, CustomerCreated, Wallet
from customers.models import WebhookEvent
from tests.conftest import make_individual
from tests.customers.webhooks_support import SECRET, deliver

FIXTURES = Path(__file__).parent / "fixtures" / "bvnk"
CUSTOMER = "2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


def test_every_fixture_names_its_source() -> None:
    listed = (FIXTURES / "README.md").read_text()
    for path in FIXTURES.glob("*.json"):
        assert f"`{path.name}`" in listed, f"{path.name} has no source in README.md"


def test_the_create_answers_of_the_guide_and_of_the_sandbox() -> None:
    guide = CustomerCreated.from_wire(load("create-answer-guide.json"))
    assert (guide.status, guide.questionnaire_codes) == (
        "INFO_REQUIRED",
        ("financialServicesQuestionnaireFull",),
    )
    sandbox = CustomerCreated.from_wire(load("create-answer-sandbox.json"))
    assert (sandbox.reference, sandbox.status, sandbox.questionnaire_codes) == (
        CUSTOMER,
        "PENDING",
        (),
    )


def test_the_documented_customers() -> None:
    company = Customer.from_wire(load("customer-company.json"))
    assert (company.type, company.status, company.name) == ("COMPANY", "PENDING", "LB Ltd.")
    assert [p.reference for p in company.persons] == ["911685b0-acaa-418d-bd91-ed80b96c62cf"]
    person = Customer.from_wire(load("customer-individual.json"))
    assert person.external_reference == "probe_v1_1789564047204"
    assert person.verification_url.startswith("https://in.sumsub.com/")
    assert [p.reference for p in person.persons] == ["6273b651-74c1-47c2-84d4-0052238a6232"]


def test_the_documented_page_and_reference_list() -> None:
    items, last = bvnk_client._page(load("customers-page.json"))
    assert [(i.reference, i.model) for i in items] == [
        ("8a0e1da2-2af3-4b9e-a221-e74db4e01b06", "EMBEDDED")
    ]
    assert last is False
    (industry,) = bvnk_client._reference_items(load("industries.json"))
    assert [c.reference for c in industry.children] == ["30ea15fc-06d8-11ef-b6e1-027612b7f6b5"]


def test_the_documented_error_envelope_is_a_duplicate_with_field_errors() -> None:
    error = BvnkError.from_http(400, {}, raw("error-envelope.json"))
    assert error.permanent and error.code == "ACCOUNTS-2000"
    assert set(error.field_errors) == {"externalReference", "signedAgreementSessionReference"}
    assert error.is_duplicate


def test_the_documented_wallet_status_change() -> None:
    envelope = load("webhook-wallet-status-change.json")
    wallet = Wallet.from_wire(envelope["data"])
    assert (wallet.status, wallet.currency) == ("ACTIVE", "USD")
    assert wallet.customer_id == "2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3"
    (instrument,) = wallet.payment_instruments
    assert instrument["bankDetails"]["nid"] == {"value": "021000021", "type": "ROUTING_NUMBER"}


def test_the_documented_agreement_session() -> None:
    session = AgreementSession.from_wire(load("agreement-session.json"))
    assert session.reference == "c1d91c8b-f4a6-469e-953d-7344fdb6858c"
    assert session.status == "PENDING"


@pytest.mark.django_db
def test_the_documented_update_body_is_accepted_by_the_emulator(emulator) -> None:
    from tests.emulator.payloads import CUSTOMERS, create_company

    reference = create_company(emulator)["reference"]
    answer = emulator.put(f"{CUSTOMERS}/{reference}", json=load("update-body-company.json"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["company"]["address"]["city"] == "San Diego"


@pytest.fixture
def webhook_settings(settings: Any) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_URL = ""
    settings.BVNK_WEBHOOK_ENQUEUE = False
    return settings


@pytest.mark.django_db
def test_the_documented_webhooks_are_stored_and_applied(
    client: Any, webhook_settings: Any, httpserver: Any
) -> None:
    # BVNK itself, standing in with its captured customer for the reads the portal makes.
    webhook_settings.BVNK_BASE_URL = httpserver.url_for("/").rstrip("/")
    webhook_settings.BVNK_HAWK_AUTH_ID, webhook_settings.BVNK_HAWK_SECRET = "id", "secret"
    # The captured customer, as BVNK holds it once verified.
    httpserver.expect_request(f"/platform/v1/customers/{CUSTOMER}").respond_with_json(
        {**load("customer-individual.json"), "status": "VERIFIED"}
    )
    customer = make_individual(status="PENDING", bvnk_reference=CUSTOMER)
    customer.bvnk_status_at = timezone.now() - timedelta(days=30)
    customer.save(update_fields=["bvnk_status_at"])
    for name in (
        "webhook-status-change.json",
        "webhook-legacy-status-change.json",
        "webhook-customer-update.json",
        "webhook-agreement-session.json",
    ):
        assert deliver(client, raw(name)).status_code == 200, name
    inbox.webhook_events_sweep()
    events = {e.event_type: e for e in WebhookEvent.objects.all()}
    assert len(events) == 4
    customer.refresh_from_db()
    # PENDING -> VERIFIED by the documented event; the legacy copy changes nothing more;
    # the update without a timestamp was settled by reading the customer from BVNK.
    assert customer.status == "VERIFIED"
    assert customer.status_changes.filter(new_status="VERIFIED").count() == 1
    update = events["bvnk:platform:customer:update"]
    assert update.event_id.startswith("sha256:")  # no eventId: deduplicated on the body
    assert update.status == WebhookEvent.Status.PROCESSED, update.error
    # No session of that reference here: stored and kept, never a 500.
    session = events["bvnk:platform:customer:agreement-session-status-change"]
    assert session.status in (WebhookEvent.Status.HELD, WebhookEvent.Status.RECEIVED)
