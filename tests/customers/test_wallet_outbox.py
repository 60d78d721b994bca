"""A wallet's way to BVNK and back, against the emulator over real HTTP: the outbox sends
its create once (a lost answer is adopted, not repeated), a refusal says why, and the
status-change webhook moves it to ACTIVE with its account details, in order.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from customers import services, timeline
from customers.bvnk.types import WalletCreate
from customers.bvnk_calls import bvnk_client
from customers.inbox import processing, receiving
from customers.models import (
    AuditEvent,
    BvnkOperation,
    Customer,
    StaffNotification,
    Wallet,
    WebhookEvent,
)
from customers.outbox import publishing, sending
from customers.services import reconcile
from tests.customers.outbox_support import ready_to_submit, submit

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.emulator,
    pytest.mark.usefixtures("fast_passwords"),
]

State = BvnkOperation.State
W = Wallet.Status


@pytest.fixture(autouse=True)
def pipeline(settings: Any, monkeypatch: pytest.MonkeyPatch, bvnk_emulator: Any) -> Any:
    """Sends run in this process, retries at once; no broker."""
    settings.BVNK_OPERATION_BACKOFF_SECONDS = 0
    monkeypatch.setattr(publishing, "enqueue", mock.Mock(name="enqueue"))
    bvnk_emulator.control("faults", method="DELETE")
    return settings


def verified(emulator: Any, agent: Any, *, at_bvnk: str = "VERIFIED") -> Customer:
    """A customer created at the emulator through the outbox, then verified there."""
    customer = ready_to_submit(emulator, documents=False)
    submit(customer, actor=agent)
    sending.operations_run_due(customer=customer)
    customer.refresh_from_db()
    assert customer.bvnk_reference
    emulator.control(
        f"customers/{customer.bvnk_reference}/status", json={"status": at_bvnk}
    ).raise_for_status()
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.VERIFIED)
    customer.refresh_from_db()
    return customer


def wallets_at_bvnk(customer: Customer) -> list[Any]:
    with bvnk_client(triggered_by="test") as client:
        return client.customer_wallets(str(customer.bvnk_reference))


def deliver(event_type: str, data: dict[str, Any], *, at: str = "") -> WebhookEvent:
    """Store and process one delivery as the webhook view does once its signature passed."""
    body = json.dumps(
        {
            "event": event_type,
            "eventId": str(uuid.uuid4()),
            "timestamp": at or timezone.now().isoformat(),
            "data": data,
        }
    ).encode()
    event_id, _ = receiving.webhook_receive(body=body, headers={})
    processing.webhook_event_process(event_id=event_id, wait=True)
    return WebhookEvent.objects.get(pk=event_id)


def active_at_bvnk(wallet: Wallet) -> dict[str, Any]:
    """The wallet as BVNK holds it once the emulator activated it (the webhook's data)."""
    deadline = time.monotonic() + 10
    with bvnk_client(triggered_by="test") as client:
        while time.monotonic() < deadline:
            remote = client.get_wallet(str(wallet.bvnk_id))
            if remote.status == "ACTIVE":
                return remote.raw
            time.sleep(0.1)
    raise AssertionError("the emulator never activated the wallet")


def usdc_wallet_sent(customer: Customer, agent: Any) -> Wallet:
    """A USDC wallet staff asked for, sent to BVNK by the outbox."""
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    return wallet


def forget_answer(wallet: Wallet) -> str:
    """As if the worker died after BVNK answered the create and before the answer was
    recorded; returns the id BVNK gave the wallet."""
    first_id = str(wallet.bvnk_id)
    Wallet.objects.filter(pk=wallet.pk).update(bvnk_id=None, status=W.CREATING)
    return first_id


def test_a_wallet_is_created_once_and_its_webhook_makes_it_active(
    bvnk_emulator, agent, lead
) -> None:
    customer = verified(bvnk_emulator, agent)
    customer.watchers.add(lead)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    assert wallet.status == W.CREATING
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    operation = wallet.operations.get()
    assert (operation.state, wallet.status) == (State.DONE, W.INACTIVE)
    assert wallet.bvnk_id and wallet.last_heard_at is not None
    assert [remote.id for remote in wallets_at_bvnk(customer)] == [wallet.bvnk_id]

    event = deliver("ledger:v2:wallet:status-change", active_at_bvnk(wallet))
    wallet.refresh_from_db()
    customer.refresh_from_db()
    assert (event.status, wallet.status) == (WebhookEvent.Status.PROCESSED, W.ACTIVE)
    assert services.detail_rows(wallet.details), "the address a customer pays in to"
    assert (customer.wallets_active, customer.wallets_total) == (1, 1)
    assert [c.new_status for c in wallet.status_changes.order_by("changed_at", "pk")] == [
        W.INACTIVE,
        W.ACTIVE,
    ]
    told = StaffNotification.objects.get(customer=customer, key=f"wallet-active:{wallet.pk}")
    assert "USDC wallet" in told.message and told.user_id in (agent.pk, lead.pk)
    # The Activity says what went to BVNK in words.
    titles = [entry.title for entry in timeline.customer_timeline(customer)]
    assert "Sent to BVNK: the USDC wallet" in titles
    # Staff asked once and BVNK created once; the request is audited.
    assert AuditEvent.objects.filter(customer=customer, summary__contains="USDC").count() == 1


def test_a_lost_answer_is_adopted_not_created_again(bvnk_variant, agent) -> None:
    """The create reached BVNK but its answer was lost: the repeat (same key) is refused
    as existing (BVNK:LEDGER:4004) and the wallet BVNK holds is adopted, or (the other
    reading) BVNK replays its first answer; either way one wallet at BVNK."""
    customer = verified(bvnk_variant.emulator, agent)
    wallet = usdc_wallet_sent(customer, agent)
    first_id = forget_answer(wallet)
    operation = wallet.operations.get()
    BvnkOperation.objects.filter(pk=operation.pk).update(
        state=State.PENDING, next_attempt_at=timezone.now()
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    operation.refresh_from_db()
    replays = bvnk_variant.variant.replays_wallets
    assert operation.state == State.DONE and operation.result["adopted"] is not replays
    assert wallet.bvnk_id == first_id
    assert len(wallets_at_bvnk(customer)) == 1, "exactly one wallet at BVNK"


def test_a_wallet_bvnk_refuses_says_why_and_frees_its_currency(bvnk_emulator, agent) -> None:
    # The portal believes the customer verified; BVNK does not (it answers 403, 4003).
    customer = verified(bvnk_emulator, agent, at_bvnk="PENDING")
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    assert wallet.operations.get().state == State.FAILED
    assert wallet.status == W.REFUSED
    assert wallet.status_reason.startswith("BVNK does not allow this customer wallets")
    customer.refresh_from_db()
    assert customer.wallets_total == 0
    # The same wallet may be asked for again (nothing is left "Creating…").
    services.wallet_request(customer=customer, currency="USDC", kind="CRYPTO", actor=agent)


def test_a_wallet_of_a_customer_rejected_meanwhile_is_never_sent(bvnk_emulator, agent) -> None:
    customer = verified(bvnk_emulator, agent)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.REJECTED)
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    assert wallet.operations.get().state == State.CANCELLED
    assert wallet.status == W.REFUSED and "rejected the customer" in wallet.status_reason
    assert wallets_at_bvnk(customer) == []


def test_wallet_webhooks_in_order_unknown_and_malformed(bvnk_emulator, agent) -> None:
    customer = verified(bvnk_emulator, agent)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    data = active_at_bvnk(wallet)
    newer = deliver("ledger:v2:wallet:status-change", data, at="2026-12-05T10:00:00.000000001Z")
    late = deliver(
        "ledger:v2:wallet:status-change",
        {**data, "status": "INACTIVE"},
        at="2026-12-05T09:00:00Z",
    )
    wallet.refresh_from_db()
    assert wallet.status == W.ACTIVE, "an older event changes nothing"
    assert newer.status == late.status == WebhookEvent.Status.PROCESSED
    assert "newer event" in late.outcome

    # A wallet the portal does not know yet is kept for later, not lost.
    unknown = deliver("ledger:v2:wallet:status-change", {**data, "id": "a:1:unknown:1"})
    assert unknown.status == WebhookEvent.Status.HELD
    malformed = deliver("ledger:v2:wallet:status-change", {"status": "ACTIVE"})
    assert malformed.status == WebhookEvent.Status.FAILED
    strange = deliver(
        "ledger:v2:wallet:status-change",
        {**data, "status": "FROZEN"},
        at="2026-12-05T11:00:00Z",
    )
    assert strange.status == WebhookEvent.Status.PROCESSED
    assert "does not know" in strange.outcome
    wallet.refresh_from_db()
    assert wallet.status == W.ACTIVE


def test_reconciliation_activates_a_wallet_whose_webhook_was_lost(bvnk_emulator, agent) -> None:
    customer = verified(bvnk_emulator, agent)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    active_at_bvnk(wallet)  # BVNK activated it; its webhook never arrived
    assert wallet.status == W.INACTIVE
    report = reconcile.customers_reconcile(stale_after=0)
    wallet.refresh_from_db()
    assert wallet.status == W.ACTIVE and services.detail_rows(wallet.details)
    assert any("USDC wallet" in change for change in report.changes)
    assert wallet.status_changes.filter(new_status=W.ACTIVE, source="SYNC").exists()


def test_a_resync_adopts_a_lost_wallet_and_mirrors_one_made_at_bvnk(
    bvnk_emulator, agent, lead
) -> None:
    """A create whose answer was lost and whose operation gave up, and a wallet made in
    BVNK's own portal: a resync of the customer shows both as BVNK holds them, once."""
    customer = verified(bvnk_emulator, agent)
    wallet = usdc_wallet_sent(customer, agent)
    first_id = forget_answer(wallet)
    wallet.operations.update(state=State.FAILED)
    with bvnk_client(triggered_by="test") as client:
        elsewhere = client.create_wallet(
            WalletCreate(
                currency="USDT",
                name="Made at BVNK",
                customer_id=str(customer.bvnk_reference),
                profile_id="",
            ),
            idempotency_key=str(uuid.uuid4()),
        )

    report = reconcile.customer_resync(customer, actor=lead)
    wallet.refresh_from_db()
    assert (wallet.bvnk_id, wallet.status) == (first_id, W.INACTIVE)
    mirrored = Wallet.objects.get(bvnk_id=elsewhere.id)
    assert (mirrored.customer, mirrored.currency, mirrored.kind) == (customer, "USDT", "CRYPTO")
    assert mirrored.status == W.INACTIVE and mirrored.name == "Made at BVNK"
    assert "not asked for in the portal" in mirrored.status_changes.get().reason
    assert any("found at BVNK" in change for change in report.changes)
    customer.refresh_from_db()
    assert customer.wallets_total == 2

    reconcile.customer_resync(customer, actor=lead)
    assert Wallet.objects.filter(customer=customer).count() == 2, "a second resync adds none"
    assert len(wallets_at_bvnk(customer)) == 2


def test_a_wallet_is_resynced_from_the_admin(client, bvnk_emulator, agent, lead) -> None:
    customer = verified(bvnk_emulator, agent)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=agent
    )
    sending.operations_run_due(customer=customer)
    wallet.refresh_from_db()
    address = active_at_bvnk(wallet)["paymentInstruments"][0]
    changelist = reverse("admin:customers_wallet_changelist")

    client.force_login(agent)  # no operations permission: no action, nothing changes
    response = client.post(changelist, {"action": "resync", "_selected_action": [wallet.pk]})
    wallet.refresh_from_db()
    assert wallet.status == W.INACTIVE

    client.force_login(lead)
    response = client.post(
        changelist, {"action": "resync", "_selected_action": [wallet.pk]}, follow=True
    )
    assert "Resynced 1 wallet(s) from BVNK; 0 could not be read." in response.content.decode()
    wallet.refresh_from_db()
    assert wallet.status == W.ACTIVE
    assert wallet.status_changes.filter(new_status=W.ACTIVE, source="SYNC").exists()
    assert AuditEvent.objects.filter(
        customer=customer, actor=lead, summary__startswith="Resynced the USDC wallet"
    ).exists()
    # The admin shows the wallet and its history, never its account details.
    page = client.get(reverse("admin:customers_wallet_change", args=[wallet.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "Active" in html
    for value in address.values():
        if isinstance(value, str) and len(value) > 8:
            assert value not in html
