"""Every service (and the outbox, settling an operation) keeps the stored summary current.

Each case starts from a customer whose stored summary is stale on purpose, runs one
service, and reads the row back: the summary the My customers list shows must be the one
computed from the customer as the service left it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from customers import requirements, services
from customers.models import AgreementSession, BvnkOperation, Customer, StatusChange
from customers.outbox import publishing
from tests.conftest import make_individual
from tests.customers.conftest import add_associate, add_document, company_draft

pytestmark = pytest.mark.django_db

S = Customer.Status
STALE = "stale summary nobody computed"


def stale(customer: Customer) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(
        blocking_summary=STALE, waiting_on=Customer.WaitingOn.BVNK, needs_attention=True
    )
    customer.refresh_from_db()
    return customer


def created(status: str = S.INFO_REQUIRED) -> Customer:
    return make_individual(bvnk_reference="ref-summary", status=status)


def change_status(actor: Any) -> Customer:
    customer = stale(created(S.PENDING))
    services.customer_change_status(
        customer, S.ACTIONS_REQUIRED, source=StatusChange.Source.STAFF, actor=actor
    )
    return customer


def apply_bvnk_status(actor: Any) -> Customer:
    customer = stale(created(S.PENDING))
    services.customer_apply_bvnk_status(
        customer, S.INFO_REQUIRED, observed_at=timezone.now(), source=StatusChange.Source.WEBHOOK
    )
    return customer


def record_bvnk_details(actor: Any) -> Customer:
    customer = stale(created())
    services.customer_record_bvnk_details(
        customer, observed_at=timezone.now(), info_required={"questionnaireCodes": ["q-1"]}
    )
    return customer


def record_created(actor: Any) -> Customer:
    customer = stale(created(S.SUBMITTING))
    services.customer_record_created(customer, remote=None, created=None)
    return customer


def submission_refused(actor: Any) -> Customer:
    customer = stale(created(S.SUBMITTING))
    services.customer_submission_refused(customer, associates=[], message="Refused")
    return customer


def save_step(actor: Any) -> Customer:
    customer = stale(company_draft())
    services.onboarding_save_step(
        customer=customer,
        step="details",
        values={"legal_name": "Southwind Ltd"},
        actor=actor,
        complete=True,
    )
    return customer


def save_associate(actor: Any) -> Customer:
    customer = stale(company_draft())
    services.associate_save(
        customer=customer,
        associate=None,
        values={"first_name": "Ada", "last_name": "Lane", "is_signer": True},
        actor=actor,
    )
    return customer


def delete_associate(actor: Any) -> Customer:
    customer = company_draft()
    associate = add_associate(customer, "Ada", is_signer=True)
    services.associate_delete(associate=associate, actor=actor)
    return customer


def delete_document(actor: Any) -> Customer:
    customer = company_draft()
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT")
    stale(customer)
    services.document_delete(document=document, actor=actor)
    return customer


def update_details(actor: Any) -> Customer:
    customer = stale(created())
    services.customer_update_details(
        customer=customer, values={"email": "new@example.com"}, actor=actor
    )
    return customer


def submit_questionnaire(actor: Any) -> Customer:
    customer = stale(created())
    services.operation_submit_questionnaire(
        customer=customer, answers={"q-1": {"s": {"i": "yes"}}}, actor=actor
    )
    return customer


def retry_operation(actor: Any) -> Customer:
    customer = created()
    operation = BvnkOperation.objects.create(
        customer=customer,
        kind=BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE,
        idempotency_key="00000000-0000-4000-8000-0000000000aa",
        state=BvnkOperation.State.NEEDS_ATTENTION,
        completed_at=timezone.now() - timedelta(minutes=1),
    )
    stale(customer)
    services.operation_retry(operation, actor=actor)
    return customer


def session_signed(actor: Any) -> Customer:
    customer = company_draft()
    session = AgreementSession.objects.create(
        customer=customer,
        bvnk_reference="session-summary",
        status=AgreementSession.Status.PENDING,
        use_case="EMBEDDED_FIAT_ACCOUNTS",
        country="GB",
    )
    stale(customer)
    services.agreement_session_apply_bvnk_status(session, AgreementSession.Status.SIGNED)
    return customer


def operation_needs_attention(actor: Any) -> Customer:
    customer = created()
    operation = BvnkOperation.objects.create(
        customer=customer,
        kind=BvnkOperation.Kind.SUBMIT_QUESTIONNAIRE,
        idempotency_key="00000000-0000-4000-8000-0000000000ab",
        state=BvnkOperation.State.IN_FLIGHT,
        claim_token="lost",
    )
    stale(customer)
    rows = BvnkOperation.objects.filter(pk=operation.pk)
    publishing.operations_settle(
        rows, customer_id=customer.pk, state=BvnkOperation.State.NEEDS_ATTENTION, claim_token=""
    )
    return customer


def create_draft(actor: Any) -> Customer:
    return services.customer_create_draft(customer_type=Customer.Type.COMPANY, actor=actor)


SERVICES: list[Callable[[Any], Customer]] = [
    create_draft,
    session_signed,
    operation_needs_attention,
    change_status,
    apply_bvnk_status,
    record_bvnk_details,
    record_created,
    submission_refused,
    save_step,
    save_associate,
    delete_associate,
    delete_document,
    update_details,
    submit_questionnaire,
    retry_operation,
]


@pytest.mark.parametrize("service", SERVICES, ids=[s.__name__ for s in SERVICES])
def test_each_service_leaves_the_stored_summary_current(service, agent) -> None:
    with mock.patch("customers.outbox.publishing.enqueue"):
        customer = service(agent)
    row = Customer.objects.get(pk=customer.pk)
    summary = requirements.summarise(row)
    assert row.blocking_summary != STALE
    assert (row.blocking_summary, row.waiting_on, row.needs_attention) == (
        summary.text,
        summary.waiting_on,
        summary.needs_attention,
    )
