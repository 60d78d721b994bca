"""Onboarding against the BVNK emulator over real HTTP: agreement, create, refusal, update."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse

from customers import payloads, services
from customers.models import AgreementSession, BvnkCall, BvnkOperation, Customer, StatusChange
from customers.onboarding import steps as onboarding
from customers.outbox import sending
from customers.services import reconcile
from tests.customers.conftest import complete_company, complete_individual
from tests.customers.outbox_support import sign_at

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.emulator,
    pytest.mark.usefixtures("fast_passwords"),
]


def step_url(customer: Customer, slug: str) -> str:
    return reverse("customers:onboarding-step", args=[customer.pk, slug])


def hosted_decision(hosted_url: str, decision: str) -> str:
    """Open BVNK's hosted page like a browser, press a button; return where it sends us."""
    page = requests.get(hosted_url, timeout=10)
    assert page.status_code == 200, page.text
    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page.text, re.S)
    assert form is not None, page.text
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form[2])
    }
    action = urlsplit(hosted_url)._replace(path=html.unescape(form[1]), query="").geturl()
    answer = requests.post(
        action,
        data={**fields, "accept": "on", "decision": decision},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def local(url: str) -> str:
    """The path and query of an absolute portal URL, for the test client."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver"
    return f"{parts.path}?{parts.query}"


def submit(customer: Customer, actor: Any = None) -> None:
    """Submit, then send what the outbox holds here, as a worker would."""
    services.customer_submit(customer=customer, actor=actor)
    sending.operations_run_due(customer=customer)
    customer.refresh_from_db()


# -- agreement ------------------------------------------------------------------------------


def test_agreement_round_trip_is_confirmed_with_bvnk(client, agent, bvnk_emulator) -> None:
    customer = complete_company(signed=False)
    client.force_login(agent)

    response = client.post(step_url(customer, "agreement"))
    hosted = response["Location"]
    session = AgreementSession.objects.get(customer=customer)
    assert hosted.startswith(f"{bvnk_emulator.url}/agreements?")
    query = parse_qs(urlsplit(hosted).query)
    assert query["session"] == [session.bvnk_reference]
    expected_return = reverse(
        "customers:onboarding-agreement-return", args=[customer.pk, session.pk]
    )
    assert query["redirectUri"] == [f"http://testserver{expected_return}"]
    assert (session.status, session.country.code, session.use_case) == (
        "PENDING",
        "GB",
        "EMBEDDED_FIAT_ACCOUNTS",
    )

    back = hosted_decision(hosted, "sign")
    assert parse_qs(urlsplit(back).query)["status"] == ["SIGNED"]
    # The redirect's GET changes nothing: it shows a page that posts.
    landing = client.get(local(back))
    assert landing.status_code == 200 and 'method="post"' in landing.content.decode()
    session.refresh_from_db()
    assert session.status == "PENDING"
    response = client.post(local(back))
    assert response["Location"] == step_url(customer, "review")
    session.refresh_from_db()
    assert session.status == "SIGNED"
    assert BvnkCall.objects.filter(action="agreement_session.get", actor=agent).exists()
    assert onboarding.Progress(customer).missing(onboarding.COMPANY_STEPS[5]) == []


def test_the_return_query_string_alone_proves_nothing(client, agent, bvnk_emulator) -> None:
    customer = complete_individual(signed=False)
    client.force_login(agent)
    client.post(step_url(customer, "agreement"))
    session = AgreementSession.objects.get(customer=customer)
    forged = reverse("customers:onboarding-agreement-return", args=[customer.pk, session.pk])
    response = client.post(forged + "?status=SIGNED", follow=True)
    assert "BVNK has not recorded a signature yet." in response.content.decode()
    session.refresh_from_db()
    assert session.status == "PENDING"


def test_a_declined_agreement_can_be_started_again(client, agent, bvnk_emulator) -> None:
    customer = complete_individual(signed=False)
    client.force_login(agent)
    hosted = client.post(step_url(customer, "agreement"))["Location"]
    response = client.post(local(hosted_decision(hosted, "decline")), follow=True)
    assert "The agreement was declined" in response.content.decode()
    first = AgreementSession.objects.get(customer=customer)
    assert first.status == "DECLINED"
    assert "Start signing again" in client.get(step_url(customer, "agreement")).content.decode()

    hosted = client.post(step_url(customer, "agreement"))["Location"]
    second = AgreementSession.objects.exclude(pk=first.pk).get(customer=customer)
    assert parse_qs(urlsplit(hosted).query)["session"] == [second.bvnk_reference]
    client.post(local(hosted_decision(hosted, "sign")))
    second.refresh_from_db()
    assert second.status == "SIGNED"


def test_bvnk_down_while_starting_the_agreement_is_explained(client, agent, settings) -> None:
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    customer = complete_individual(signed=False)
    client.force_login(agent)
    response = client.post(step_url(customer, "agreement"), follow=True)
    assert "BVNK could not be reached just now" in response.content.decode()
    assert not AgreementSession.objects.exists()


# -- reference lists -----------------------------------------------------------------------


def test_reference_lists_come_from_bvnk_and_are_cached(bvnk_emulator) -> None:
    lists = onboarding.reference_lists()
    assert lists.industries is not None
    groups = dict(lists.industries)
    # BVNK's documented example is a sub-industry, offered under its industry.
    food = ("30ea15fc-06d8-11ef-b6e1-027612b7f6b5", "Food/Beverages")
    assert food in groups["Retail and consumer goods"]
    # An industry without children is a choice itself.
    assert ("d9e4a076-06fa-11ef-a1c8-02d3d923cf2b", "Other") in lists.industries
    assert lists.volumes and not lists.unavailable
    calls = BvnkCall.objects.count()
    assert onboarding.reference_lists() == lists
    assert BvnkCall.objects.count() == calls  # served from the cache


# -- create ---------------------------------------------------------------------------------


def test_a_company_with_three_associates_is_created(bvnk_emulator, agent) -> None:
    customer = complete_company(signed=False)
    sign_at(customer, bvnk_emulator)
    submit(customer, agent)

    assert customer.bvnk_reference and customer.status == "INFO_REQUIRED"
    assert customer.questionnaire_codes == ["financialServicesQuestionnaireFull"]
    assert customer.bvnk_data["company"]["name"] == "Northwind Trading Ltd"
    assert customer.details_drift == []  # BVNK's copy agrees with what was sent
    people = list(customer.associates.values_list("first_name", "bvnk_person_reference"))
    remote = {
        a["person"]["firstName"]: a["person"]["reference"]
        for a in customer.bvnk_data["company"]["associates"]
    }
    assert dict(people) == remote and len(set(remote.values())) == 3
    change = customer.status_changes.get(new_status="INFO_REQUIRED")
    assert (change.source, change.source_reference) == (
        StatusChange.Source.SUBMISSION,
        customer.bvnk_reference,
    )
    create = BvnkCall.objects.get(action="customer.create")
    assert create.status_code == 201
    assert create.idempotency_key == services.submission_idempotency_key(customer)

    # Safe to run twice: the operation is done, so nothing is sent.
    operation = customer.operations.get(kind="CREATE_CUSTOMER")
    assert operation.state == "DONE" and operation.attempts == 1
    assert sending.operation_send(operation_id=operation.pk) is None
    assert BvnkCall.objects.filter(action="customer.create").count() == 1
    # Then every document went, each once, with BVNK's reference kept.
    uploads = customer.operations.filter(kind="UPLOAD_DOCUMENT")
    assert uploads.count() == customer.documents.count() == 10
    assert set(uploads.values_list("state", flat=True)) == {"DONE"}
    assert not customer.documents.filter(bvnk_reference=None).exists()
    assert set(customer.documents.values_list("upload_status", flat=True)) == {"SENT"}


def test_an_individual_is_created(bvnk_emulator) -> None:
    customer = complete_individual(signed=False)
    sign_at(customer, bvnk_emulator)
    submit(customer)
    assert customer.status == "INFO_REQUIRED"
    assert customer.verification_url.startswith(bvnk_emulator.url)
    assert customer.details_drift == []  # BVNK's copy agrees with what was sent
    overview = bvnk_emulator.control("customers", method="GET").json()
    assert overview["createCalls"][str(customer.external_reference)]["succeeded"] == 1


def test_a_lost_answer_is_recovered_with_the_same_key(bvnk_emulator, settings) -> None:
    customer = complete_individual(signed=False)
    sign_at(customer, bvnk_emulator)
    services.customer_submit(customer=customer, actor=None)
    settings.BVNK_READ_TIMEOUT = 0.3
    bvnk_emulator.control(
        "faults",
        json={
            "mode": "slow_response",
            "delay": 1.0,
            "method": "POST",
            "path": "/platform/v1/customers",
        },
    ).raise_for_status()
    operation = customer.operations.get()
    # Transient: back to PENDING, with a backoff, for the same key and body.
    assert sending.operation_send(operation_id=operation.pk) == "PENDING"
    operation.refresh_from_db()
    assert (operation.attempts, operation.error_code) == (1, "READ_TIMEOUT")
    assert operation.next_attempt_at > operation.claimed_at
    customer.refresh_from_db()
    assert customer.status == "SUBMITTING" and customer.bvnk_reference is None

    settings.BVNK_READ_TIMEOUT = 10
    BvnkOperation.objects.filter(pk=operation.pk).update(next_attempt_at=operation.claimed_at)
    assert sending.operation_send(operation_id=operation.pk) == "DONE"
    customer.refresh_from_db()
    assert customer.status == "INFO_REQUIRED"
    keys = set(
        BvnkCall.objects.filter(action="customer.create").values_list("idempotency_key", flat=True)
    )
    assert len(keys) == 1
    calls = bvnk_emulator.control("customers", method="GET").json()["createCalls"]
    assert calls[str(customer.external_reference)] == {"succeeded": 1, "replayed": 1, "refused": 0}


def test_a_refusal_comes_back_onto_the_step_and_field(
    client, agent, bvnk_emulator, reference_lists
):
    customer = complete_company(signed=False, registration_number="INVALID")
    sign_at(customer, bvnk_emulator)
    submit(customer, agent)

    assert customer.status == "DRAFT" and customer.bvnk_reference is None
    assert customer.submission_errors["steps"]["company"] == {
        "registration_number": ["Registration number is invalid"]
    }
    change = customer.status_changes.get(new_status="DRAFT")
    assert change.source == StatusChange.Source.SUBMISSION and "ACCOUNTS-2000" in change.reason
    first_key = BvnkCall.objects.get(action="customer.create").idempotency_key

    client.force_login(agent)
    html_ = client.get(step_url(customer, "company")).content.decode()
    assert "BVNK refused some of these values" in html_
    assert "Registration number is invalid" in html_ and 'aria-invalid="true"' in html_
    review = client.get(step_url(customer, "review")).content.decode()
    assert "BVNK refused the last submission" in review
    assert "BVNK: Registration number is invalid" in review

    data = {
        "legal_name": customer.legal_name,
        "entity_type": "LLC",
        "registration_number": "09876543",
        "tax_number": customer.tax_number,
        "tax_residence_country": "GB",
        "incorporation_date": "2015-06-01",
        "industry_reference": customer.industry_reference,
        "monthly_volumes_reference": customer.monthly_volumes_reference,
        "action": "continue",
    }
    assert client.post(step_url(customer, "company"), data).status_code == 302
    customer.refresh_from_db()
    assert "company" not in customer.submission_errors.get("steps", {})

    submit(customer, agent)
    assert customer.status == "INFO_REQUIRED" and customer.submission_count == 2
    second_key = (
        BvnkCall.objects.filter(action="customer.create", status_code=201).get().idempotency_key
    )
    assert second_key != first_key


def test_associate_errors_come_back_onto_the_right_person(bvnk_emulator) -> None:
    customer = complete_company(signed=False)
    ben = customer.associates.get(first_name="Ben")
    ben.tax_number, ben.tax_residence_country = "INVALID", "GB"
    ben.save()
    sign_at(customer, bvnk_emulator)
    submit(customer)
    assert customer.status == "DRAFT"
    assert customer.submission_errors["associates"] == {
        str(ben.pk): {"tax_number": ["Tax identification number is invalid"]}
    }
    progress = onboarding.Progress(customer)
    assert "BVNK (Ben Smith): Tax identification number is invalid" in progress.missing(
        onboarding.COMPANY_STEPS[2]
    )


# -- update details ---------------------------------------------------------------------------


def test_changed_details_are_put_to_bvnk(bvnk_emulator, agent) -> None:
    customer = complete_individual(signed=False)
    sign_at(customer, bvnk_emulator)
    submit(customer)
    values = {
        "email": "jane.new@example.com",
        "phone": "+447911123456",
        "address_line1": "500 Congress Ave",
        "address_line2": "",
        "city": "Austin",
        "postal_code": "78701",
        "state_code": "TX",
        "country": "US",
        "date_of_birth": customer.date_of_birth,
    }
    services.customer_update_details(customer=customer, values=values, actor=agent)
    sending.operations_run_due(customer=customer)  # as a worker would, without a broker
    call = BvnkCall.objects.get(action="customer.update")
    assert (call.status_code, call.actor, call.customer) == (200, agent, customer)
    remote = bvnk_emulator.get(f"/platform/v1/customers/{customer.bvnk_reference}").json()
    assert remote["individual"]["details"]["contactInfo"]["emailAddress"] == "jane.new@example.com"
    assert remote["individual"]["person"]["address"]["addressLine1"] == "500 Congress Ave"


def test_an_expired_session_is_replaced_and_a_pending_one_reused(client, agent, bvnk_emulator):
    import datetime as dt

    customer = complete_individual(signed=False)
    client.force_login(agent)
    first_page = client.post(step_url(customer, "agreement"))["Location"]
    assert client.post(step_url(customer, "agreement"))["Location"] == first_page  # reused
    first = AgreementSession.objects.get(customer=customer)
    AgreementSession.objects.filter(pk=first.pk).update(
        expires_on=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    assert "Start signing again" in client.get(step_url(customer, "agreement")).content.decode()
    client.post(step_url(customer, "agreement"))
    assert customer.agreement_sessions.count() == 2


# -- details changed at BVNK (drift) --------------------------------------------------------


def drift_key(customer: Customer) -> str:
    """The key of the change made at BVNK behind the portal's back, unique per customer."""
    return f"drift-{customer.external_reference}"


def drifted(emulator: Any) -> Customer:
    """A created individual whose email BVNK changed behind the portal's back, then resynced."""
    customer = complete_individual(signed=False, email="jane@example.com")
    sign_at(customer, emulator)
    submit(customer)
    body = payloads.customer_update(customer).to_wire()
    body["contactInfo"]["emailAddress"] = "jane.elsewhere@example.com"
    changed = emulator.put(
        f"/platform/v1/customers/{customer.bvnk_reference}",
        json=body,
        # Unique per run: on SQLite ids start again in every test, the emulator does not.
        headers={"X-Idempotency-Key": drift_key(customer)},
    )
    assert changed.status_code == 200, changed.text
    reconcile.customer_resync(customer)
    customer.refresh_from_db()
    return customer


def test_details_bvnk_holds_otherwise_are_shown_and_the_portals_sent(
    client, agent, bvnk_emulator
) -> None:
    customer = drifted(bvnk_emulator)
    assert customer.details_drift == ["email"]
    client.force_login(agent)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "BVNK holds other details" in page and "jane.elsewhere@example.com" in page
    response = client.post(
        reverse("customers:resolve-details", args=[customer.pk]), {"keep": "portal"}
    )
    assert response.status_code == 302
    update = customer.operations.get(kind=BvnkOperation.Kind.UPDATE_CUSTOMER)
    sending.operations_run_due(customer=customer)
    path = f"/platform/v1/customers/{customer.bvnk_reference}"
    puts = bvnk_emulator.requests_log(method="PUT", path=path)
    assert [p["idempotencyKey"] for p in puts if p["idempotencyKey"] != drift_key(customer)] == [
        update.idempotency_key
    ]
    remote = bvnk_emulator.get(path).json()
    assert remote["individual"]["details"]["contactInfo"]["emailAddress"] == "jane@example.com"
    customer.refresh_from_db()
    assert customer.details_drift == [] and customer.email == "jane@example.com"
    assert customer.audit_events.filter(
        summary__contains="Sent the portal's contact email"
    ).exists()


def test_details_bvnk_holds_otherwise_can_be_taken_from_bvnk(client, agent, bvnk_emulator) -> None:
    customer = drifted(bvnk_emulator)
    client.force_login(agent)
    client.post(reverse("customers:resolve-details", args=[customer.pk]), {"keep": "bvnk"})
    customer.refresh_from_db()
    assert customer.email == "jane.elsewhere@example.com" and customer.details_drift == []
    assert not customer.operations.filter(kind=BvnkOperation.Kind.UPDATE_CUSTOMER).exists()
    assert customer.audit_events.filter(summary__contains="Took BVNK's details").exists()
    reconcile.customer_resync(customer)  # and the next read agrees
    customer.refresh_from_db()
    assert customer.details_drift == []
