"""Answering BVNK in the portal: documents BVNK asks for after the submission, and rejected
ones replaced, from the Requests tab of the customer's page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers import requirements, services
from customers.models import BvnkOperation, ComplianceDocument, Customer
from customers.onboarding import slots
from tests.conftest import make_individual
from tests.customers.conftest import PDF, add_document

pytestmark = pytest.mark.usefixtures("fast_passwords")
POR = "self:PROOF_OF_RESIDENCE:"


def asked(status: str = "INFO_REQUIRED", **fields: object) -> Customer:
    values = {
        "info_required": {
            "documents": [
                {
                    "type": "PROOF_OF_RESIDENCE",
                    "subType": None,
                    "description": "The bill on file is older than three months.",
                }
            ]
        },
        **fields,
    }
    return make_individual(
        first_name="Jane",
        last_name="Smith",
        status=status,
        bvnk_reference=f"ref-{status.lower()}-{values.pop('suffix', 'a')}",
        **values,
    )


def send(client, customer: Customer, content: bytes = PDF, name: str = "bill.pdf"):
    return client.post(
        reverse("customers:requests-upload", args=[customer.pk]),
        {POR: SimpleUploadedFile(name, content, content_type="application/pdf")},
    )


def test_the_requests_tab_offers_each_document_with_its_owner_and_reason(client, agent) -> None:
    customer = asked()
    client.force_login(agent)
    page = reverse("customers:detail", args=[customer.pk])
    html = client.get(page, {"tab": "requests"}).content.decode()
    assert "Upload Proof of address — Jane Smith" in html
    assert "The bill on file is older than three months." in html
    assert 'enctype="multipart/form-data"' in html and f'name="{POR}"' in html


def test_a_requested_document_is_stored_and_sent_as_an_upload_operation(
    client, agent, django_capture_on_commit_callbacks
) -> None:
    customer = asked(suffix="b")
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=False):
        response = send(client, customer)
    assert response.status_code == 302
    assert response.url == reverse("customers:detail", args=[customer.pk]) + "?tab=requests"
    document = ComplianceDocument.objects.get(customer=customer)
    assert (document.document_type, document.original_name) == ("PROOF_OF_RESIDENCE", "bill.pdf")
    operation = BvnkOperation.objects.get(customer=customer)
    assert operation.kind == BvnkOperation.Kind.UPLOAD_DOCUMENT
    assert operation.document == document and operation.state == BvnkOperation.State.PENDING
    assert operation.created_by == agent
    # The checklist and the Requests tab read the same slots: sent, BVNK not heard yet.
    (item,) = [i for i in requirements.checklist(customer) if i.kind == "document"]
    assert item.label == "Proof of address — Jane Smith" and not item.action
    assert "bill.pdf sent; BVNK has not confirmed it yet." in item.hint
    assert customer.audit_events.filter(summary__contains="bill.pdf").exists()


def test_a_file_that_is_not_a_document_is_refused_beside_its_field(client, agent) -> None:
    customer = asked(suffix="c")
    client.force_login(agent)
    response = send(client, customer, content=b"MZ\x90\x00" + bytes(64), name="bill.pdf")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="panel-requests" aria-labelledby="tab-requests">' in html, "the tab stays open"
    assert f'id="{POR}-error"' in html and f'aria-describedby="{POR}-error"' in html
    assert not ComplianceDocument.objects.filter(customer=customer).exists()
    assert not BvnkOperation.objects.filter(customer=customer).exists()


def test_nothing_is_stored_while_bvnk_asks_for_nothing(client, agent) -> None:
    customer = asked("PENDING", suffix="d")
    client.force_login(agent)
    response = send(client, customer)
    assert response.status_code == 302
    assert not ComplianceDocument.objects.filter(customer=customer).exists()
    with pytest.raises(services.NotAsking):
        services.documents_answer(customer=customer, files=[], actor=agent)


def test_viewers_see_no_upload_and_cannot_post_one(client, viewer) -> None:
    customer = asked(suffix="e")
    client.force_login(viewer)
    html = client.get(reverse("customers:detail", args=[customer.pk]), {"tab": "requests"})
    assert "Upload and send to BVNK" not in html.content.decode()
    assert send(client, customer).status_code == 403
    assert client.get(reverse("customers:requests-upload", args=[customer.pk])).status_code in (
        403,
        405,
    )


def test_a_rejected_document_shows_bvnk_reason_and_can_be_replaced(client, agent) -> None:
    customer = asked(suffix="f", info_required={})
    rejected = add_document(customer, "PROOF_OF_RESIDENCE", name="blurry.pdf")
    services.document_apply_bvnk_status(rejected, "REJECTED", reason="The scan is unreadable.")
    (slot,) = slots.requested_slots(customer, list(customer.documents.all()))
    assert slot.key == POR and slot.document is None
    assert slot.hint == "BVNK rejected blurry.pdf: The scan is unreadable."
    client.force_login(agent)
    page = reverse("customers:detail", args=[customer.pk])
    documents_tab = client.get(page, {"tab": "documents"}).content.decode()
    assert (
        'Rejected by BVNK<br><span class="reason">Reason: The scan is unreadable.</span>'
        in documents_tab
    )
    assert 'href="?tab=requests#answer-documents" data-tab="requests">Replace' in documents_tab
    assert send(client, customer, name="clear.pdf").status_code == 302
    (slot,) = slots.requested_slots(customer, list(customer.documents.all()))
    assert slot.document is not None and slot.document.original_name == "clear.pdf"
    rejected.refresh_from_db()
    assert rejected.upload_status == "REJECTED", "BVNK's verdict on the old file stays"
