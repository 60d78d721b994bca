"""Helpers for the submission pipeline's tests: drafts signed at the emulator, what it saw."""

from __future__ import annotations

from typing import Any

from customers import services
from customers.models import AgreementSession, BvnkOperation, ComplianceDocument, Customer
from tests.customers.conftest import complete_company, complete_individual
from tests.emulator_server import EmulatorProcess

CREATE_PATH = "/platform/v1/customers"


def sign_at(customer: Customer, emulator: EmulatorProcess) -> AgreementSession:
    """Open an agreement session as the portal does and sign it through BVNK's API flow."""
    services.agreement_session_start(
        customer=customer, actor=None, return_url=lambda session: "https://portal.test/back"
    )
    session = customer.agreement_sessions.get(status="PENDING")
    signed = emulator.put(
        f"/platform/v1/customers/agreement/sessions/{session.bvnk_reference}",
        json={"status": "SIGNED", "ipAddress": "127.0.0.1"},
        headers={"X-Idempotency-Key": f"sign-{session.bvnk_reference}"[:36]},
    )
    assert signed.status_code == 204, signed.text
    return services.agreement_session_confirm(session=session, actor=None)


def ready_to_submit(
    emulator: EmulatorProcess, *, company: bool = False, documents: bool = True, **fields: Any
) -> Customer:
    """A complete draft whose agreement is signed at the emulator.

    `documents=False`: `submit` drops its documents once submitted, so only the create
    goes to BVNK (a draft cannot be submitted without them).
    """
    make = complete_company if company else complete_individual
    customer = make(signed=False, **fields)
    customer.keep_documents = documents  # type: ignore[attr-defined]
    sign_at(customer, emulator)
    return customer


def submit(customer: Customer, actor: Any = None) -> BvnkOperation:
    """Submit the draft; return its create operation."""
    services.customer_submit(customer=customer, actor=actor)
    if not getattr(customer, "keep_documents", True):
        ComplianceDocument.objects.filter(customer=customer).delete()
    return customer.operations.get(
        kind=BvnkOperation.Kind.CREATE_CUSTOMER, state=BvnkOperation.State.PENDING
    )


def fault(emulator: EmulatorProcess, mode: str, **rule: Any) -> None:
    """Arm one of the emulator's fault switches for the create call."""
    rule = {"method": "POST", "path": CREATE_PATH, **rule}
    emulator.control("faults", json={"mode": mode, **rule}).raise_for_status()


def create_requests(emulator: EmulatorProcess, customer: Customer) -> list[dict[str, Any]]:
    """The create calls the emulator saw for this customer's submissions (by their keys)."""
    keys = set(customer.operations.values_list("idempotency_key", flat=True))
    return [
        entry
        for entry in emulator.requests_log(method="POST", path=CREATE_PATH)
        if entry["idempotencyKey"] in keys
    ]


def emulator_customers(emulator: EmulatorProcess, customer: Customer) -> list[dict[str, Any]]:
    """The customers the emulator holds for this portal customer (by externalReference)."""
    overview = emulator.control("customers", method="GET").json()
    return [
        item
        for item in overview["customers"]
        if item.get("externalReference") == str(customer.external_reference)
    ]


def create_calls(emulator: EmulatorProcess, customer: Customer) -> dict[str, int]:
    overview = emulator.control("customers", method="GET").json()
    return overview["createCalls"].get(  # type: ignore[no-any-return]
        str(customer.external_reference), {"succeeded": 0, "replayed": 0, "refused": 0}
    )
