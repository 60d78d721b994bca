"""The audit log: rows for views, downloads, changes, actions and exports; masked; append-only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from customers import audit, services
from customers.models import AppendOnly, AuditEvent, Customer, StatusChange
from tests.conftest import make_individual
from tests.customers.conftest import PDF, add_document, company_draft

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

Action = AuditEvent.Action


def test_viewing_a_customer_is_recorded(client, viewer) -> None:
    customer = make_individual()
    client.force_login(viewer)
    client.get(reverse("customers:detail", args=[customer.pk]), REMOTE_ADDR="203.0.113.9")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.actor_username) == (
        Action.VIEW,
        viewer,
        viewer.username,
    )
    assert event.customer == customer and event.ip_address == "203.0.113.9"


def test_downloads_are_attachments_audited_and_never_cached(client, agent) -> None:
    customer = company_draft()
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT", name="cert <1>.pdf")
    client.force_login(agent)
    response = client.get(reverse("customers:document-download", args=[customer.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"] == "application/pdf"
    event = AuditEvent.objects.get(action=Action.DOWNLOAD)
    assert event.actor == agent and event.customer == customer
    assert event.details["document"] == document.pk
    preview = client.get(reverse("customers:document-preview", args=[customer.pk, document.pk]))
    assert b"".join(preview.streaming_content) == PDF
    assert AuditEvent.objects.filter(action=Action.DOWNLOAD).count() == 2


def test_a_viewer_cannot_download(client, viewer) -> None:
    customer = company_draft()
    document = add_document(customer, "COMPANY_DOC", "INCORPORATION_CERT")
    client.force_login(viewer)
    url = reverse("customers:document-download", args=[customer.pk, document.pk])
    assert client.get(url).status_code == 403
    assert not AuditEvent.objects.filter(action=Action.DOWNLOAD).exists()
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert url not in html


def test_changed_fields_are_recorded_with_personal_values_masked(agent) -> None:
    customer = make_individual(email="jane@example.com", bvnk_reference="ref-jane")
    services.customer_change_status(customer, "SUBMITTING", source=StatusChange.Source.STAFF)
    services.customer_change_status(customer, "INFO_REQUIRED", source=StatusChange.Source.WEBHOOK)
    services.customer_update_details(
        customer=customer,
        values={"email": "jane.doe@example.org", "city": "Austin", "state_code": "TX"},
        actor=agent,
    )
    event = AuditEvent.objects.get(action=Action.CHANGE)
    assert event.actor == agent and event.customer == customer
    assert event.changes == {
        "email": ["j•••om", "j•••rg"],
        "city": ["", "A•••in"],
    }
    assert "jane" not in str(event.changes)


def test_draft_steps_are_recorded(agent) -> None:
    customer = company_draft(registration_number="111")
    services.onboarding_save_step(
        customer=customer,
        step="company",
        values={"registration_number": "222", "website": "https://x.example"},
        actor=agent,
        complete=False,
    )
    event = AuditEvent.objects.get(action=Action.CHANGE)
    # Company data is not personal: shown as is.
    assert event.changes["registration_number"] == ["111", "222"]
    assert event.summary == "Saved the company step"


def test_mask() -> None:
    assert audit.mask("jane@example.com") == "j•••om"
    assert audit.mask("abc") == "•••"
    assert audit.mask(dt.date(1984, 6, 30)) == "1•••30"
    assert audit.mask("") == ""
    assert audit.mask(None) is None


def test_audit_rows_are_append_only(agent) -> None:
    customer = make_individual()
    event = audit.record(actor=agent, action=Action.ACTION, summary="Did it", customer=customer)
    event.summary = "Did something else"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(summary="x")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    # The row outlives the customer and the user, still naming both.
    Customer.objects.filter(pk=customer.pk).delete()
    agent.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.customer_id == customer.pk and event.actor_username == agent.username


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: the trigger is PostgreSQL's"
)
def test_the_database_refuses_changes_too(agent) -> None:
    event = audit.record(actor=agent, action=Action.ACTION, summary="Did it")
    for sql in (
        "UPDATE customers_auditevent SET summary = 'x' WHERE id = %s",
        "DELETE FROM customers_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])


def test_the_admin_shows_but_never_changes_the_log(client, lead, agent) -> None:
    customer = make_individual()
    event = audit.record(actor=agent, action=Action.ACTION, summary="Did it", customer=customer)
    client.force_login(lead)
    response = client.get(reverse("admin:customers_auditevent_changelist"))
    assert response.status_code == 200 and "Did it" in response.content.decode()
    assert client.get(reverse("admin:customers_auditevent_add")).status_code == 403
    delete = reverse("admin:customers_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    change = client.get(reverse("admin:customers_auditevent_change", args=[event.pk]))
    assert change.status_code == 200 and 'name="summary"' not in change.content.decode()
    assert AuditEvent.objects.filter(pk=event.pk, summary="Did it").exists()


def test_admin_edits_and_views_are_recorded(client, lead) -> None:
    customer = make_individual(email="jane@example.com")
    client.force_login(lead)
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.filter(action=Action.VIEW, actor=lead).exists()


def test_the_customer_page_shows_the_log_to_leads_only(client, viewer, lead, agent) -> None:
    customer = make_individual()
    audit.record(actor=agent, action=Action.ACTION, summary="Resynced from BVNK", customer=customer)
    url = reverse("customers:detail", args=[customer.pk])
    client.force_login(viewer)
    assert "Audit log" not in client.get(url).content.decode()
    client.force_login(lead)
    html = client.get(url).content.decode()
    assert "Audit log" in html and "Viewed the customer page" in html
