"""The customer page's timeline: every source merged, newest first, in bounded queries."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import audit, services, timeline
from customers.models import BvnkCall, BvnkOperation, StatusChange, WebhookEvent
from tests.conftest import make_company

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def history(customer, agent, *, start: dt.datetime, n: int = 1) -> None:
    """n of each kind of entry, a minute apart, after `start`."""
    for i in range(n):
        at = start + dt.timedelta(minutes=10 * i)
        BvnkCall.objects.create(
            customer=customer,
            started_at=at + dt.timedelta(minutes=1),
            method="POST",
            path="/platform/v1/customers",
            action="customer.create",
            status_code=503,
            error="Service unavailable",
            triggered_by="task: submit customer",
        )
        WebhookEvent.objects.create(
            event_id=f"evt-{uuid.uuid4()}",
            event_type="bvnk:platform:customer:status-change",
            status=WebhookEvent.Status.PROCESSED,
            outcome="SUBMITTING -> INFO_REQUIRED.",
            body="{}",
            customer=customer,
            received_at=at + dt.timedelta(minutes=2),
        )
        BvnkOperation.objects.create(
            customer=customer,
            kind=BvnkOperation.Kind.CREATE_CUSTOMER,
            state=BvnkOperation.State.NEEDS_ATTENTION,
            idempotency_key=str(uuid.uuid4()),
            last_error="Timed out",
            attempts=3,
            created_by=agent,
        )
        audit.record(
            actor=agent, action=audit.Action.ACTION, summary="Resynced from BVNK", customer=customer
        )


def test_entries_from_every_source_newest_first(agent) -> None:
    customer = make_company()
    services.customer_change_status(
        customer, "SUBMITTING", source=StatusChange.Source.STAFF, actor=agent
    )
    history(customer, agent, start=timezone.now() - dt.timedelta(hours=1))
    entries = timeline.customer_timeline(customer)
    kinds = {entry.kind for entry in entries}
    assert kinds == {"status", "call", "operation", "event", "staff"}
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    status = next(e for e in entries if e.kind == "status")
    assert status.title == "Draft →" and status.highlight == "Submitting"
    assert status.who == agent.username
    call = next(e for e in entries if e.kind == "call")
    assert call.failed and call.who == "task: submit customer" and "503" in call.title
    event = next(e for e in entries if e.kind == "event")
    assert event.who == "BVNK webhook"
    # Raw BVNK traffic is technical; what happened to the customer is said in words.
    assert call.technical and event.technical and not status.technical
    operation = next(e for e in entries if e.kind == "operation")
    assert operation.failed and operation.who == agent.username
    assert operation.title == "Could not be sent to BVNK: the customer"
    assert "3 attempts" in operation.reference
    staff = next(e for e in entries if e.kind == "staff")
    assert staff.who == agent.username and staff.title == "Resynced from BVNK"


def test_page_queries_do_not_grow_with_history(client, viewer, agent) -> None:
    customer = make_company()
    client.force_login(viewer)
    url = reverse("customers:detail", args=[customer.pk])
    history(customer, agent, start=timezone.now() - dt.timedelta(days=2))
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    history(customer, agent, start=timezone.now() - dt.timedelta(days=1), n=30)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(many) == len(few)
    assert len(response.context["timeline"]) == timeline.LIMIT
    assert "Timed out" in response.content.decode()


def test_the_timeline_speaks_staff_words_and_keeps_codes_behind_technical_details(
    client, viewer, lead, agent
) -> None:
    customer = make_company()
    history(customer, agent, start=timezone.now() - dt.timedelta(hours=1))
    url = reverse("customers:detail", args=[customer.pk])
    client.force_login(viewer)
    page = client.get(url).content.decode()
    section = page.split('id="timeline"')[1].split("</section>")[0]
    assert "Could not be sent to BVNK: the customer" in section
    for code in ("bvnk:platform:customer:status-change", "customer.create", "evt-"):
        assert code not in section, code
    assert "Technical details" not in section  # a Viewer is not shown them at all
    client.force_login(lead)
    section = client.get(url).content.decode().split('id="timeline"')[1].split("</section>")[0]
    visible, technical = section.split("<summary>Technical details</summary>")
    assert "bvnk:platform:customer:status-change" not in visible
    assert "bvnk:platform:customer:status-change" in technical and "customer.create" in technical


def test_bvnk_verdicts_on_documents_name_the_document_its_owner_and_the_reason() -> None:
    from tests.conftest import make_associate
    from tests.customers.conftest import add_document

    company = make_company(legal_name="Verdict Ltd")
    alice = make_associate(company, first_name="Alice", last_name="Owner")
    passport = add_document(company, "PASSPORT", "FRONT_SIDE", associate=alice, name="p.pdf")
    deed = add_document(company, "COMPANY_DOC", "INCORPORATION_CERT", name="deed.pdf")
    services.document_apply_bvnk_status(passport, "REJECTED", reason="Expired.")
    services.document_apply_bvnk_status(deed, "APPROVED")
    entries = {e.title: e for e in timeline.customer_timeline(company) if e.kind == "document"}
    rejected = entries["BVNK rejected Passport — Alice Owner"]
    assert rejected.detail == "p.pdf: Expired." and rejected.failed and not rejected.technical
    assert "BVNK approved Certificate of incorporation — Verdict Ltd" in entries


def test_what_bvnk_asked_for_and_the_answer_are_in_the_activity(agent) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from customers.documents import CheckedFile
    from customers.onboarding import slots
    from tests.conftest import make_individual
    from tests.customers.conftest import PDF

    customer = make_individual(
        first_name="Jane", last_name="Smith", status="INFO_REQUIRED", bvnk_reference="ref-tl"
    )
    asked = {"documents": [{"type": "PROOF_OF_RESIDENCE", "subType": None}]}
    for _ in range(2):  # BVNK says it twice: asked once
        services.customer_record_bvnk_details(
            customer, observed_at=timezone.now(), info_required=asked
        )
    (slot,) = slots.requested_slots(customer, [])
    checked = CheckedFile(
        name="bill.pdf", size=len(PDF), content_type="application/pdf", sha256="0" * 64
    )
    services.documents_answer(
        customer=customer,
        files=[(slot, SimpleUploadedFile("bill.pdf", PDF), checked)],
        actor=agent,
    )
    entries = timeline.customer_timeline(customer)
    (request,) = [e for e in entries if e.kind == "request"]
    assert request.title == "BVNK asks for: Proof of address — Jane Smith"
    assert request.who == "BVNK" and request.kind_label == "Request from BVNK"
    answer = next(e for e in entries if e.title.startswith("Answered BVNK's request"))
    assert answer.title == "Answered BVNK's request with Proof of address — Jane Smith (bill.pdf)"
    assert answer.who == agent.username and answer.at >= request.at
