"""The customer page's checklist and the one-line summary the services keep on the row."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import requirements, services
from customers.models import AgreementSession, BvnkOperation, Customer, StatusChange
from customers.services import reconcile as sync
from tests.conftest import make_company
from tests.customers.conftest import company_draft, complete_company

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

S = Customer.Status
INFO = {
    "questionnaireCodes": ["financialServicesQuestionnaireFull"],
    "documents": [
        {"type": "COMPANY_DOC", "subType": "INCORPORATION_CERT"},
        {"type": "COMPANY_DOC", "subType": "DIRECTORS_REGISTRY"},
    ],
}


def created(status: str = S.INFO_REQUIRED, **fields) -> Customer:
    customer = make_company(bvnk_reference=f"ref-{uuid.uuid4().hex[:8]}", **fields)
    services.customer_change_status(customer, S.SUBMITTING, source=StatusChange.Source.STAFF)
    if status != S.SUBMITTING:
        services.customer_change_status(customer, status, source=StatusChange.Source.WEBHOOK)
    customer.refresh_from_db()
    return customer


def failed_operation(customer: Customer, **fields) -> BvnkOperation:
    values = {
        "kind": BvnkOperation.Kind.CREATE_CUSTOMER,
        "state": BvnkOperation.State.FAILED,
        "idempotency_key": str(uuid.uuid4()),
        "last_error": "BVNK refused the request",
        "field_errors": {"company.registrationNumber": ["is invalid"]},
    }
    values.update(fields)
    return BvnkOperation.objects.create(customer=customer, **values)


def test_bvnk_requests_become_items_with_actions() -> None:
    customer = created()
    services.customer_record_bvnk_details(customer, observed_at=timezone.now(), info_required=INFO)
    items = requirements.checklist(customer)
    questionnaire = next(item for item in items if item.kind == "questionnaire")
    assert questionnaire.source == "BVNK" and questionnaire.action == "Answer"
    assert questionnaire.url == reverse("customers:questionnaire", args=[customer.pk])
    documents = [item.label for item in items if item.kind == "document"]
    name = customer.name
    assert documents == [
        f"Upload Certificate of incorporation — {name}",
        f"Upload Register of directors — {name}",
    ]
    # The services stored the summary when BVNK's details arrived.
    customer.refresh_from_db()
    assert customer.blocking_summary == "2 documents, 1 questionnaire missing"
    assert customer.waiting_on == Customer.WaitingOn.PARTNER
    assert not customer.needs_attention


def test_documents_are_answered_in_the_portal_beside_the_verification_link() -> None:
    customer = created()
    services.customer_record_bvnk_details(
        customer,
        observed_at=timezone.now(),
        info_required={"documents": [{"type": "PASSPORT", "subType": "FRONT_SIDE"}]},
        verification_url="https://verify.example/abc",
    )
    items = requirements.checklist(customer)
    upload = next(item for item in items if item.kind == "document")
    page = reverse("customers:detail", args=[customer.pk])
    assert upload.url == f"{page}?tab=requests#answer-documents" and not upload.external
    assert upload.permission == "customers.add_compliancedocument"
    verification = next(item for item in items if item.kind == "verification")
    assert verification.url == "https://verify.example/abc" and verification.external


def test_nothing_listed_offers_a_resync() -> None:
    customer = created(S.ACTIONS_REQUIRED)
    (item,) = requirements.checklist(customer)
    assert item.action == "Resync from BVNK"
    assert item.post_url == reverse("customers:resync", args=[customer.pk])
    assert customer.blocking_summary == "BVNK asks for an action"


def test_a_failed_operation_needs_attention_with_retry() -> None:
    customer = created(S.SUBMITTING)
    operation = failed_operation(customer)
    summary = requirements.summary_refresh(customer)
    assert summary.needs_attention and summary.waiting_on == Customer.WaitingOn.PARTNER
    # The stored summary names the field; BVNK's words (which may echo values) are not in it.
    assert customer.blocking_summary == "Create customer failed: registrationNumber"
    assert requirements.checklist(customer)[0].label.endswith("registrationNumber is invalid")
    (item,) = requirements.checklist(customer)
    assert item.kind == "operation" and item.action == "Retry"
    assert item.permission == "customers.submit_customer"
    assert item.post_url == reverse("customers:operation-retry", args=[customer.pk, operation.pk])


def test_waiting_for_bvnk() -> None:
    customer = created(S.PENDING)
    assert customer.blocking_summary == "Waiting for BVNK review"
    assert customer.waiting_on == Customer.WaitingOn.BVNK
    assert [item.label for item in requirements.checklist(customer)] == ["BVNK is reviewing"]
    services.customer_change_status(customer, S.VERIFIED, source=StatusChange.Source.WEBHOOK)
    customer.refresh_from_db()
    assert customer.blocking_summary == "" and customer.waiting_on == ""
    assert requirements.checklist(customer) == []


def test_draft_items_come_from_the_onboarding_rules(agent) -> None:
    customer = services.customer_create_draft(customer_type="COMPANY", actor=agent)
    customer.refresh_from_db()
    assert customer.blocking_summary.startswith("Draft: ")
    assert customer.waiting_on == "" and not customer.needs_attention
    items = requirements.checklist(customer)
    assert {item.source for item in items} == {"Portal"}
    kinds = {item.kind for item in items}
    assert {"step", "document", "agreement"} <= kinds
    associates = next(item for item in items if "associates" in item.label.lower())
    assert associates.url == reverse("customers:onboarding-step", args=[customer.pk, "associates"])
    assert next(i for i in items if i.kind == "document").action == "Upload"


def test_a_complete_draft_is_ready() -> None:
    customer = complete_company()
    requirements.summary_refresh(customer)
    assert customer.blocking_summary == "Ready to submit"
    assert requirements.checklist(customer) == []


def test_a_refused_submission_asks_for_corrections() -> None:
    customer = complete_company()
    customer.submission_errors = {
        "steps": {"company": {"registration_number": ["is invalid"]}},
        "message": "Validation failed",
    }
    customer.save()
    summary = requirements.summary_refresh(customer)
    assert summary.needs_attention
    assert customer.blocking_summary == "Submission refused: registration number"
    (item,) = requirements.checklist(customer)
    assert item.source == "BVNK" and item.action == "Correct" and item.kind == "submission"
    assert item.url == reverse("customers:onboarding-step", args=[customer.pk, "company"])


def test_an_expired_agreement_session_offers_a_restart() -> None:
    customer = company_draft()
    AgreementSession.objects.create(
        customer=customer,
        bvnk_reference="session-old",
        use_case="EMBEDDED_FIAT_ACCOUNTS",
        country="GB",
        expires_on=timezone.now() - dt.timedelta(days=1),
    )
    items = requirements.checklist(customer)
    agreement = next(item for item in items if item.kind == "agreement")
    assert agreement.action == "Restart agreement session"
    assert agreement.post_url == reverse("customers:agreement-restart", args=[customer.pk])


def test_search_name_follows_the_name() -> None:
    customer = company_draft(legal_name="Old Name Ltd")
    assert Customer.objects.get(pk=customer.pk).search_name == "Old Name Ltd"
    customer.legal_name = "New Name Ltd"
    customer.save(update_fields=["legal_name"])
    assert Customer.objects.get(pk=customer.pk).search_name == "New Name Ltd"


def test_the_page_shows_actions_by_role(client, viewer, lead) -> None:
    customer = created(S.SUBMITTING)
    failed_operation(customer)
    requirements.summary_refresh(customer)
    retry = reverse("customers:operation-retry", args=[customer.pk, customer.operations.get().pk])
    client.force_login(viewer)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "registrationNumber is invalid" in html and retry not in html
    assert "Resync from BVNK" not in html
    client.force_login(lead)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert retry in html and "Resync from BVNK" in html
    assert "What is still needed" in html


def test_retry_from_the_page_queues_the_operation_again(client, lead) -> None:
    customer = created(S.SUBMITTING)
    operation = failed_operation(customer)
    requirements.summary_refresh(customer)
    client.force_login(lead)
    url = reverse("customers:operation-retry", args=[customer.pk, operation.pk])
    response = client.post(url, follow=True)
    assert "queued again" in response.content.decode()
    operation.refresh_from_db()
    assert operation.state == BvnkOperation.State.PENDING and operation.retried_by == lead
    customer.refresh_from_db()
    assert not customer.needs_attention
    # Retrying what is not failed is refused with a message, not an error.
    response = client.post(url, follow=True)
    assert response.status_code == 200 and "only failed operations" in response.content.decode()


def test_resync_from_the_page(client, lead) -> None:
    from unittest import mock

    from customers.bvnk.errors import BvnkError

    customer = created(S.INFO_REQUIRED)
    url = reverse("customers:resync", args=[customer.pk])
    client.force_login(lead)
    with mock.patch.object(sync, "customer_resync") as resync:
        response = client.post(url, follow=True)
    resync.assert_called_once()
    assert resync.call_args.kwargs["actor"] == lead
    assert "Resynced from BVNK." in response.content.decode()
    down = BvnkError("down", status=503, permanent=False)
    with mock.patch.object(sync, "customer_resync", side_effect=down):
        response = client.post(url, follow=True)
    assert "BVNK could not be reached" in response.content.decode()


def test_restart_an_expired_agreement_session(client, agent) -> None:
    from unittest import mock

    customer = company_draft()
    url = reverse("customers:agreement-restart", args=[customer.pk])
    client.force_login(agent)
    hosted = "https://signup.example/agreements?session=s-2"
    with mock.patch.object(services, "agreement_session_start", return_value=hosted) as start:
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == hosted
    assert start.call_args.kwargs["customer"] == customer
    submitted = created(S.PENDING)
    response = client.post(reverse("customers:agreement-restart", args=[submitted.pk]), follow=True)
    assert "only drafts can be edited" in response.content.decode()


@pytest.mark.parametrize(
    ("code", "title"),
    [
        ("financialServicesQuestionnaireFull", "Financial services questionnaire full"),
        ("natureOfBusiness", "Nature of business"),
        ("KYBQuestionnaire2", "KYB questionnaire 2"),
    ],
)
def test_questionnaires_are_named_in_words(code: str, title: str) -> None:
    assert requirements.questionnaire_title(code) == title
