from __future__ import annotations

import json

import pytest
import responses

from customers.bvnk import BvnkError, ContactInfo, CustomerUpdate
from customers.bvnk_calls import bvnk_client
from customers.models import BvnkCall
from tests.conftest import make_individual

pytestmark = pytest.mark.django_db
BASE = "https://bvnk.test"


@pytest.fixture(autouse=True)
def _bvnk_settings(settings) -> None:
    settings.BVNK_BASE_URL = BASE
    settings.BVNK_HAWK_AUTH_ID = "id"
    settings.BVNK_HAWK_SECRET = "secret"


@responses.activate
def test_every_call_is_recorded_without_personal_data(agent) -> None:
    customer = make_individual(bvnk_reference="ref-1", email="jane@example.com")
    responses.put(
        f"{BASE}/platform/v1/customers/ref-1",
        json={"reference": "ref-1", "status": "INFO_REQUIRED", "type": "INDIVIDUAL"},
        headers={"X-Trace-Id": "t"},
    )
    responses.get(
        f"{BASE}/platform/v1/customers/ref-2",
        status=404,
        json={
            "code": "MER-PAY-2056",
            "traceId": "a" * 32,
            "status": "Not Found",
            "message": "Customer not found for reference: ref-2",
        },
    )
    client = bvnk_client(triggered_by="test:update", customer=customer, actor=agent)
    client.update_customer(
        "ref-1",
        CustomerUpdate(contact_info=ContactInfo(email_address="new@example.com")),
        idempotency_key="k" * 36,
    )
    with pytest.raises(BvnkError):
        client.get_customer("ref-2")

    ok, failed = BvnkCall.objects.order_by("id")
    assert (ok.method, ok.path, ok.status_code, ok.action) == (
        "PUT",
        "/platform/v1/customers/ref-1",
        200,
        "customer.update",
    )
    assert ok.idempotency_key == "k" * 36 and ok.customer == customer and ok.actor == agent
    assert ok.triggered_by == "test:update" and ok.succeeded
    assert (failed.status_code, failed.trace_id) == (404, "a" * 32) and not failed.succeeded
    assert failed.error
    stored = json.dumps([list(BvnkCall.objects.values().order_by("id"))], default=str)
    assert "new@example.com" not in stored and "jane@example.com" not in stored
