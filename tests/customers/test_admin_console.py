"""The admin as the operations console: indexed search, bounded counts, actions."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers import services
from customers.bvnk.errors import BvnkError
from customers.dashboard import counting
from customers.models import AuditEvent, BvnkOperation, Customer, StatusChange, WebhookEvent
from customers.services import reconcile as sync
from tests.conftest import make_company, make_individual

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

CHANGELIST = "admin:customers_customer_changelist"


def found(client, q: str) -> set[str]:
    response = client.get(reverse(CHANGELIST), {"q": q})
    assert response.status_code == 200
    return {str(c) for c in response.context["cl"].result_list}


def test_search_matches_words_emails_and_whole_references(client, lead) -> None:
    acme = make_company(legal_name="Amber Falcon Trading Ltd", bvnk_reference="Ref-ABC-1")
    make_company(legal_name="Amber Lantern Ltd")
    ada = make_individual(first_name="Ada", last_name="Lovelace", email="ada@engine.example")
    client.force_login(lead)
    assert found(client, "falcon amber") == {"Amber Falcon Trading Ltd"}  # every word
    assert found(client, "amber") == {"Amber Falcon Trading Ltd", "Amber Lantern Ltd"}
    assert found(client, "ADA@engine.example") == {"Ada Lovelace"}  # whole addresses
    assert found(client, "engine.example") == set()  # emails are encrypted
    assert found(client, "Ref-ABC-1") == {"Amber Falcon Trading Ltd"}
    assert found(client, "ref-abc-1") == set()  # references match exactly
    assert found(client, str(ada.external_reference)) == {"Ada Lovelace"}
    assert acme.pk


def test_the_changelist_does_not_count_the_table(client, lead, monkeypatch) -> None:
    monkeypatch.setattr(counting.EstimatedCountPaginator, "cap", 5)
    customer_admin = admin.site._registry[Customer]
    assert customer_admin.show_full_result_count is False
    assert customer_admin.show_facets == admin.ShowFacets.NEVER
    assert not customer_admin.date_hierarchy
    client.force_login(lead)
    make_company()
    client.get(reverse(CHANGELIST))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(CHANGELIST))
    for _ in range(12):
        make_company()
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse(CHANGELIST))
    if connection.vendor == "postgresql":  # SQLite counts exactly past the cap
        assert len(many) == len(few)
        assert not any('COUNT(*) AS "__count"' in q["sql"] for q in many.captured_queries)
    count = response.context["cl"].result_count
    assert count > 5 if connection.vendor == "postgresql" else count == 13  # estimated / exact


def test_resync_action(client, lead) -> None:
    created = make_company(bvnk_reference="ref-1")
    draft = make_company()
    client.force_login(lead)
    with mock.patch.object(
        sync,
        "customer_resync",
        side_effect=[None, BvnkError("down", status=503, permanent=False)],
    ):
        response = client.post(
            reverse(CHANGELIST),
            {"action": "resync", "_selected_action": [created.pk, draft.pk]},
            follow=True,
        )
    assert "Resynced 1 from BVNK; 0 could not be read." in response.content.decode()
    with mock.patch.object(
        sync, "customer_resync", side_effect=BvnkError("down", status=503, permanent=False)
    ):
        response = client.post(
            reverse(CHANGELIST), {"action": "resync", "_selected_action": [created.pk]}, follow=True
        )
    assert "Resynced 0 from BVNK; 1 could not be read." in response.content.decode()


def test_retry_failed_operations_action(client, lead) -> None:
    customer = make_company(bvnk_reference="ref-2")
    for status in ("SUBMITTING", "INFO_REQUIRED"):
        services.customer_change_status(customer, status, source=StatusChange.Source.WEBHOOK)
    operation = BvnkOperation.objects.create(
        customer=customer,
        kind=BvnkOperation.Kind.UPDATE_CUSTOMER,
        state=BvnkOperation.State.FAILED,
        idempotency_key=str(uuid.uuid4()),
    )
    client.force_login(lead)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "retry_failed_operations", "_selected_action": [customer.pk]},
        follow=True,
    )
    assert "Queued 1 operation(s) again." in response.content.decode()
    operation.refresh_from_db()
    assert operation.state == BvnkOperation.State.PENDING and operation.retried_by == lead


def test_reprocess_failed_events_action(client, lead) -> None:
    customer = make_company()
    event = WebhookEvent.objects.create(
        event_id="evt-1",
        event_type="unknown:event",
        status=WebhookEvent.Status.FAILED,
        body='{"event": "unknown:event", "data": {}}',
        customer=customer,
    )
    client.force_login(lead)
    response = client.post(
        reverse(CHANGELIST),
        {"action": "reprocess_events", "_selected_action": [customer.pk]},
        follow=True,
    )
    assert "Reprocessed 1: 1 ignored." in response.content.decode()
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.IGNORED
    assert AuditEvent.objects.filter(summary__startswith="Reprocessed 1 failed").exists()


def test_mirrored_bvnk_fields_are_read_only(client, lead) -> None:
    customer = make_company(bvnk_reference="ref-3", blocking_summary="Waiting for BVNK review")
    client.force_login(lead)
    html = client.get(reverse("admin:customers_customer_change", args=[customer.pk])).content
    for name in ("bvnk_reference", "status", "info_required", "blocking_summary", "search_name"):
        assert f'name="{name}"'.encode() not in html
    assert b"Waiting for BVNK review" in html


def test_documents_link_to_the_audited_download(client, lead) -> None:
    from tests.customers.conftest import add_document

    customer = make_company()
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT")
    client.force_login(lead)
    url = reverse("admin:customers_compliancedocument_change", args=[document.pk])
    html = client.get(url).content.decode()
    assert reverse("customers:document-download", args=[customer.pk, document.pk]) in html
