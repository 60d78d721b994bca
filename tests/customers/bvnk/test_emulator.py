"""The BVNK client against the emulator over real HTTP (`python -m bvnk_emulator`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from customers.bvnk import (
    Address,
    BvnkClient,
    BvnkConfig,
    BvnkError,
    CallRecord,
    ContactInfo,
    CustomerUpdate,
    DocumentUpload,
    QuestionnaireAnswers,
    QuestionnaireDefinition,
    idempotency_key,
)
from tests.customers.bvnk import samples
from tests.customers.bvnk.conftest import fresh_key
from tests.emulator_server import wait_until

pytestmark = pytest.mark.emulator

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def signed_session(client: BvnkClient, customer_type: str) -> str:
    session = client.create_agreement_session(
        samples.session_create(customer_type), idempotency_key=fresh_key()
    )
    client.sign_agreement_session(
        session.reference, ip_address="203.0.113.7", idempotency_key=fresh_key()
    )
    return session.reference


def create_company(client: BvnkClient, **kwargs: Any) -> str:
    create = samples.company_create(
        session=signed_session(client, "COMPANY"),
        external_reference=kwargs.pop("external_reference", fresh_key()),
        **kwargs,
    )
    return client.create_customer(create, idempotency_key=fresh_key()).reference


def create_individual(client: BvnkClient) -> str:
    create = samples.individual_example(
        session=signed_session(client, "INDIVIDUAL"), external_reference=fresh_key()
    )
    return client.create_customer(create, idempotency_key=fresh_key()).reference


def answers_for(definition: QuestionnaireDefinition) -> QuestionnaireAnswers:
    """Answer every question of a definition with a valid value."""
    sections: dict[str, dict[str, str | bool | list[str]]] = {}
    for section in definition.sections:
        answers: dict[str, str | bool | list[str]] = {}
        for item in section.items:
            if item.type == "multiselect":
                answers[item.id] = [item.options[0]]
            elif item.type == "select":
                answers[item.id] = item.options[0]
            elif item.type == "boolean":
                answers[item.id] = True
            else:
                answers[item.id] = "An answer"
        sections[section.id] = answers
    return QuestionnaireAnswers(code=definition.code, sections=sections)


# -- happy paths ---------------------------------------------------------------------------


def test_agreement_session_signed_through_the_api(live_client: BvnkClient) -> None:
    session = live_client.create_agreement_session(
        samples.session_create("INDIVIDUAL"), idempotency_key=fresh_key()
    )
    assert session.status == "PENDING"
    assert session.customer_type == "INDIVIDUAL"
    assert session.expires_on is not None
    assert session.agreements and session.agreements[0].url.startswith("https://")
    live_client.sign_agreement_session(
        session.reference, ip_address="203.0.113.7", idempotency_key=fresh_key()
    )
    assert live_client.get_agreement_session(session.reference).status == "SIGNED"


def test_company_create_and_read_back(live_client: BvnkClient) -> None:
    create = samples.company_create(
        session=signed_session(live_client, "COMPANY"), external_reference=fresh_key()
    )
    created = live_client.create_customer(create, idempotency_key=fresh_key())
    assert (created.status, created.type) == ("INFO_REQUIRED", "COMPANY")
    assert created.questionnaire_codes == ("financialServicesQuestionnaireFull",)

    customer = live_client.get_customer(created.reference)
    assert customer.reference == created.reference
    assert customer.external_reference == create.external_reference
    assert customer.name == "LB Ltd."
    assert customer.status == "INFO_REQUIRED"
    assert customer.questionnaire_codes == ("financialServicesQuestionnaireFull",)
    assert {(p.first_name, p.date_of_birth) for p in customer.persons} == {
        ("Sean", date(2001, 1, 31)),
        ("Ada", date(1990, 2, 1)),
    }
    assert all(p.reference for p in customer.persons)
    assert customer.verification_url


def test_individual_create_and_read_back(live_client: BvnkClient) -> None:
    reference = create_individual(live_client)
    customer = live_client.get_customer(reference)
    assert (customer.type, customer.status, customer.name) == (
        "INDIVIDUAL",
        "INFO_REQUIRED",
        "Jane Doe",
    )
    (person,) = customer.persons
    assert person.date_of_birth == date(1984, 6, 30)


def test_iter_customers_walks_every_page(live_client: BvnkClient) -> None:
    company = create_company(live_client)
    individuals = [create_individual(live_client) for _ in range(2)]
    listed = list(live_client.iter_customers(page_size=1))
    assert [summary.reference for summary in listed] == [company, *individuals]
    assert listed[0].name == "LB Ltd."
    named = list(live_client.iter_customers(name="LB Ltd"))
    assert [summary.reference for summary in named] == [company]


def test_update_individual(live_client: BvnkClient) -> None:
    reference = create_individual(live_client)
    update = CustomerUpdate(
        contact_info=ContactInfo(email_address="jane.new@example.com"),
        address=Address(
            address_line1="2 Congress Avenue",
            city="Austin",
            postal_code="78702",
            state_code="TX",
            country_code="US",
        ),
        date_of_birth=date(1984, 7, 1),
    )
    updated = live_client.update_customer(reference, update, idempotency_key=fresh_key())
    assert updated.reference == reference
    individual = live_client.get_customer(reference).raw["individual"]
    assert individual["person"]["dateOfBirth"] == "1984-07-01"
    assert individual["person"]["address"]["addressLine1"] == "2 Congress Avenue"
    assert individual["details"]["contactInfo"]["emailAddress"] == "jane.new@example.com"


def test_upload_documents_for_company_and_associate(live_client: BvnkClient) -> None:
    reference = create_company(live_client)
    person = live_client.get_customer(reference).persons[0]
    accepted = live_client.upload_documents(
        reference,
        [
            DocumentUpload(
                type="COMPANY_DOC",
                sub_type="INCORPORATION_CERT",
                name="Certificate.pdf",
                content=PDF,
                country_code="US",
            ),
            DocumentUpload(
                type="PASSPORT",
                sub_type="FRONT_SIDE",
                name="passport.pdf",
                content=PDF,
                customer_person_reference=person.reference,
                country_code="US",
            ),
        ],
        idempotency_key=fresh_key(),
    )
    assert len(accepted) == 2
    assert all(doc.reference and doc.status == "PENDING" for doc in accepted)
    assert accepted[1].customer_person_reference == person.reference


def test_questionnaire_definitions_and_submit(live_client: BvnkClient) -> None:
    reference = create_company(live_client)
    codes = live_client.get_customer(reference).questionnaire_codes
    definitions = live_client.questionnaire_definitions(codes)
    assert [d.code for d in definitions] == list(codes)
    assert definitions[0].sections and definitions[0].sections[0].items
    assert len(live_client.questionnaire_definitions()) >= 5
    live_client.submit_questionnaires(
        reference, [answers_for(d) for d in definitions], idempotency_key=fresh_key()
    )


def test_reference_lists_hold_the_documented_examples(live_client: BvnkClient) -> None:
    industries = {child.reference for item in live_client.industries() for child in item.children}
    volumes = {item.reference for item in live_client.monthly_expected_volumes()}
    assert {"30ea15fc-06d8-11ef-b6e1-027612b7f6b5", "56e65ebc-06fa-11ef-bbf8-02d3d923cf2b"} <= (
        industries
    )
    assert {"ef779c41-547e-11ef-8b9c-027612b7f6b5", "a4318a0d-5316-11ef-9887-0289b1b0d83d"} <= (
        volumes
    )


# -- idempotency ---------------------------------------------------------------------------


def test_replayed_create_returns_the_same_reference(
    live_client: BvnkClient, emulator_reset: Any, call_records: list[CallRecord]
) -> None:
    create = samples.individual_example(
        session=signed_session(live_client, "INDIVIDUAL"), external_reference=fresh_key()
    )
    key = idempotency_key("customer.create", create.external_reference)
    first = live_client.create_customer(create, idempotency_key=key)
    again = live_client.create_customer(create, idempotency_key=key)
    assert again.reference == first.reference
    assert [r.status_code for r in call_records[-2:]] == [201, 200]
    counts = emulator_reset.control("customers", method="GET").json()["createCalls"]
    assert counts[create.external_reference] == {"succeeded": 1, "replayed": 1, "refused": 0}


def test_lost_response_is_recovered_with_the_same_key(
    live_client: BvnkClient, emulator_reset: Any, call_records: list[CallRecord]
) -> None:
    create = samples.company_create(
        session=signed_session(live_client, "COMPANY"), external_reference=fresh_key()
    )
    key = idempotency_key("customer.create", create.external_reference)
    emulator_reset.control(
        "faults",
        {"mode": "slow_response", "delay": 1.5, "method": "POST", "path": "/platform/v1/customers"},
    ).raise_for_status()
    impatient = BvnkConfig(
        base_url=emulator_reset.url,
        auth_id=emulator_reset.auth_id,
        secret=emulator_reset.secret,
        read_timeout=0.3,
    )
    with BvnkClient(impatient) as client, pytest.raises(BvnkError) as caught:
        client.create_customer(create, idempotency_key=key)
    assert (caught.value.code, caught.value.status, caught.value.permanent) == (
        "READ_TIMEOUT",
        None,
        False,
    )
    retried = live_client.create_customer(create, idempotency_key=key)
    overview = emulator_reset.control("customers", method="GET").json()
    mine = [c for c in overview["customers"] if c["externalReference"] == create.external_reference]
    assert [c["reference"] for c in mine] == [retried.reference]
    assert overview["createCalls"][create.external_reference]["succeeded"] == 1


# -- errors --------------------------------------------------------------------------------


def test_validation_error_names_the_field(live_client: BvnkClient) -> None:
    create = samples.company_create(
        session=signed_session(live_client, "COMPANY"),
        external_reference=fresh_key(),
        industry="00000000-0000-0000-0000-000000000000",
    )
    with pytest.raises(BvnkError) as caught:
        live_client.create_customer(create, idempotency_key=fresh_key())
    error = caught.value
    assert (error.status, error.code, error.permanent) == (400, "ACCOUNTS-2000", True)
    assert "company.industryReference" in error.field_errors
    assert len(error.trace_id) == 32


def test_reused_session_is_a_field_error(live_client: BvnkClient) -> None:
    session = signed_session(live_client, "INDIVIDUAL")
    live_client.create_customer(
        samples.individual_example(session=session, external_reference=fresh_key()),
        idempotency_key=fresh_key(),
    )
    with pytest.raises(BvnkError) as caught:
        live_client.create_customer(
            samples.individual_example(session=session, external_reference=fresh_key()),
            idempotency_key=fresh_key(),
        )
    assert "signedAgreementSessionReference" in caught.value.field_errors


def test_wrong_secret_is_an_auth_failure(emulator_reset: Any) -> None:
    config = BvnkConfig(base_url=emulator_reset.url, auth_id=emulator_reset.auth_id, secret="x")
    with pytest.raises(BvnkError) as caught:
        BvnkClient(config).industries()
    assert (caught.value.status, caught.value.permanent) == (401, True)
    assert caught.value.is_auth_failure


def test_unknown_customer_is_404(live_client: BvnkClient) -> None:
    with pytest.raises(BvnkError) as caught:
        live_client.get_customer("00000000-0000-0000-0000-000000000000")
    assert (caught.value.status, caught.value.permanent) == (404, True)


@pytest.mark.parametrize(("mode", "status"), [("429", 429), ("500", 500)])
def test_fault_statuses_are_transient(
    live_client: BvnkClient, emulator_reset: Any, mode: str, status: int
) -> None:
    emulator_reset.control(
        "faults", {"mode": mode, "retryAfter": 3, "path": "/platform/v1/accounts/industries"}
    ).raise_for_status()
    with pytest.raises(BvnkError) as caught:
        live_client.industries()
    error = caught.value
    assert (error.status, error.permanent) == (status, False)
    assert error.retry_after == (3.0 if status == 429 else None)
    assert live_client.industries()  # The fault was one-shot.


def test_dropped_connection_is_transient(live_client: BvnkClient, emulator_reset: Any) -> None:
    emulator_reset.control(
        "faults", {"mode": "drop", "path": "/platform/v1/accounts/industries"}
    ).raise_for_status()
    with pytest.raises(BvnkError) as caught:
        live_client.industries()
    assert (caught.value.status, caught.value.code, caught.value.permanent) == (
        None,
        "CONNECTION_ERROR",
        False,
    )


def test_connection_refused_is_transient(call_records: list[CallRecord]) -> None:
    from tests.emulator_server import free_port

    config = BvnkConfig(base_url=f"http://127.0.0.1:{free_port()}", auth_id="a", secret="s")
    with pytest.raises(BvnkError) as caught:
        BvnkClient(config, observer=call_records.append).industries()
    assert (caught.value.status, caught.value.code, caught.value.permanent) == (
        None,
        "CONNECTION_ERROR",
        False,
    )
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    (record,) = call_records
    assert record.status_code is None


# -- wallets v2 ------------------------------------------------------------------------------


def test_a_wallet_through_the_client_from_profile_to_active(live_client, emulator) -> None:
    from customers.bvnk.types import WalletCreate

    reference = create_individual(live_client)
    emulator.control(f"customers/{reference}/status", {"status": "VERIFIED"})
    profiles = live_client.wallet_profiles(reference, currency="USD")
    (usd,) = profiles
    assert not usd.is_crypto and "ACH" in usd.methods
    key = fresh_key()
    wallet = live_client.create_wallet(
        WalletCreate(currency="USD", name="Payouts", customer_id=reference, profile_id=usd.id),
        idempotency_key=key,
    )
    assert (wallet.status, wallet.currency, wallet.customer_id) == ("INACTIVE", "USD", reference)
    (sent,) = emulator.requests_log(method="POST", path="/ledger/v2/wallets")
    assert sent["idempotencyKey"] == key  # sent as v2's Idempotency-Key
    active = wait_until(
        lambda: (w := live_client.get_wallet(wallet.id)).status == "ACTIVE" and w, timeout=5
    )
    (instrument,) = active.payment_instruments
    assert instrument["type"] == "FIAT" and instrument["accountNumber"]
    assert [w.id for w in live_client.customer_wallets(reference)] == [wallet.id]
