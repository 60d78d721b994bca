"""Reconciliation with BVNK: the beat task, "Resync from BVNK" and `resync_customers`."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, StatusChange
from customers.outbox import publishing, sending
from customers.services import reconcile as sync
from tests.conftest import make_individual
from tests.customers.outbox_support import ready_to_submit, submit

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.emulator,
    pytest.mark.usefixtures("fast_passwords"),
]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publishing, "enqueue", mock.Mock(name="enqueue"))


def created(emulator: Any, **fields: Any) -> Customer:
    """A customer created at the emulator through the pipeline, INFO_REQUIRED."""
    customer = ready_to_submit(emulator, documents=False, **fields)
    sending.operation_send(operation_id=submit(customer).pk)
    customer.refresh_from_db()
    assert customer.status == "INFO_REQUIRED"
    return customer


def force(emulator: Any, customer: Customer, status: str) -> None:
    emulator.control(f"customers/{customer.bvnk_reference}/status", {"status": status})


def sync_changes(customer: Customer) -> list[tuple[str, str]]:
    rows = customer.status_changes.filter(source=StatusChange.Source.SYNC).order_by("id")
    return [(change.new_status, change.reason) for change in rows]


def test_resync_applies_bvnk_status_through_the_status_service(bvnk_emulator, lead) -> None:
    customer = created(bvnk_emulator)
    force(bvnk_emulator, customer, "VERIFIED")
    report = sync.customer_resync(customer, actor=lead)
    customer.refresh_from_db()
    assert customer.status == "VERIFIED"
    assert report.changes == [f"{customer} ({customer.pk}): INFO_REQUIRED -> VERIFIED"]
    [(status, reason)] = sync_changes(customer)
    assert status == "VERIFIED" and reason.startswith(f"Resync from BVNK by {lead}")
    assert customer.audit_events.filter(summary__startswith="Resynced from BVNK").exists()
    # Nothing differs the second time.
    assert sync.customer_resync(customer, actor=lead).changes == []


def test_reconciliation_pages_through_bvnk_and_applies_what_differs(bvnk_emulator) -> None:
    moved, same, newer = (created(bvnk_emulator, last_name=n) for n in ("Moved", "Same", "Newer"))
    for customer in (moved, newer):
        force(bvnk_emulator, customer, "PENDING")
    # A webhook applied after the reconciliation started is newer than what it listed.
    Customer.objects.filter(pk=newer.pk).update(
        bvnk_status_at=timezone.now() + timedelta(minutes=1)
    )
    with mock.patch("customers.bvnk.wire.MAX_PAGE_SIZE", 2):  # several pages
        report = sync.customers_reconcile(stale_after=3600)
    assert report.listed >= 3 and not report.problems
    assert report.changes == [f"{moved} ({moved.pk}): INFO_REQUIRED -> PENDING"]
    for customer, status in ((moved, "PENDING"), (same, "INFO_REQUIRED"), (newer, "INFO_REQUIRED")):
        customer.refresh_from_db()
        assert customer.status == status
    assert sync_changes(moved) == [
        ("PENDING", "Reconciliation: BVNK lists the customer as PENDING.")
    ]


def test_stale_customers_are_read_one_by_one(bvnk_emulator) -> None:
    customer = created(bvnk_emulator)
    Customer.objects.filter(pk=customer.pk).update(
        bvnk_synced_at=timezone.now() - timedelta(days=2), info_required={}
    )
    report = sync.customers_reconcile(stale_after=3600)
    assert report.read == 1
    customer.refresh_from_db()
    assert customer.bvnk_synced_at > timezone.now() - timedelta(minutes=1)
    assert customer.info_required  # what BVNK still asks for, read again
    assert sync.customers_reconcile(stale_after=3600).read == 0  # fresh now


def test_a_move_the_table_refuses_is_reported_not_raised(bvnk_emulator) -> None:
    customer = created(bvnk_emulator)
    Customer.objects.filter(pk=customer.pk).update(status="TERMINATED")
    force(bvnk_emulator, customer, "VERIFIED")
    report = sync.customers_reconcile(stale_after=3600)
    assert any("TERMINATED" in problem for problem in report.problems)
    customer.refresh_from_db()
    assert customer.status == "TERMINATED"


def test_bvnk_down_is_reported(settings) -> None:
    settings.BVNK_BASE_URL = "http://127.0.0.1:9"
    make_individual(bvnk_reference="ref-down", status="PENDING")
    report = sync.customers_reconcile(stale_after=0)
    assert report.problems and report.read == 0


def test_the_management_command(bvnk_emulator) -> None:
    customer = created(bvnk_emulator)
    force(bvnk_emulator, customer, "PENDING")
    out = StringIO()
    call_command("resync_customers", str(customer.pk), stdout=out)
    assert "Changed" in out.getvalue() and "1 changed" in out.getvalue()
    force(bvnk_emulator, customer, "VERIFIED")
    out = StringIO()
    call_command("resync_customers", "--all", stdout=out)
    customer.refresh_from_db()
    assert customer.status == "VERIFIED" and "1 changed" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("resync_customers")
    with pytest.raises(CommandError, match="No customer with id 999999"):
        call_command("resync_customers", "999999")


@pytest.mark.parametrize(("persona", "status"), [("agent", 403), ("lead", 302)])
def test_resync_button_is_for_compliance_leads(bvnk_emulator, client, personas, persona, status):
    customer = created(bvnk_emulator)
    force(bvnk_emulator, customer, "PENDING")
    client.force_login(personas[persona])
    response = client.post(reverse("customers:resync", args=[customer.pk]))
    assert response.status_code == status
    customer.refresh_from_db()
    assert customer.status == ("PENDING" if status == 302 else "INFO_REQUIRED")
