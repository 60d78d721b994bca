"""Personal data after a whole onboarding through the pipeline: not readable at rest, not logged.

One individual, with values found nowhere else in the test data, is submitted, created at
the emulator with its documents, changed (an update through the outbox) and read back
(resync). Then every text and JSON column of every table is searched for those values,
and so is every log line written meanwhile at DEBUG, worker-side code included.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from django.db import connection

from customers import inbox, services
from customers.bvnk.errors import BvnkError
from customers.models import BvnkOperation, Customer, WebhookEvent
from customers.outbox import sending
from customers.services import reconcile
from tests.customers.conftest import complete_individual
from tests.customers.outbox_support import sign_at
from tests.customers.webhooks_support import SECRET, deliver
from tests.support import plain_text_hits, require_postgresql

pytestmark = [pytest.mark.django_db, pytest.mark.emulator]

FIRST, LAST = "Quillonette", "Zebrowskaya"
EMAIL, NEW_EMAIL = "quillonette.z@example.org", "qz.changed@example.org"
PHONE = "+12025550177"
TAX = "912-34-5678"
BIRTH = dt.date(1979, 3, 17)

SECRET_AT_REST = {
    "tax number": [TAX, "912345678"],
    "date of birth": [BIRTH.isoformat(), BIRTH.strftime("%d/%m/%Y"), BIRTH.strftime("%Y%m%d")],
    "email": [EMAIL, NEW_EMAIL],
    "phone": [PHONE, PHONE.lstrip("+")],
}


def deliver_bvnk_webhooks(client: Any, emulator: Any, customer: Customer) -> int:
    """POST the events BVNK queued for the customer to the portal, process each in-process."""
    rows = emulator.control("deliveries?format=json", method="GET").json()
    mine = [row for row in rows if row["customerReference"] == customer.bvnk_reference]
    for row in sorted(mine, key=lambda row: row["id"]):
        body = row["body"].encode()
        assert deliver(client, body).status_code == 200
    for event in WebhookEvent.objects.order_by("pk"):
        inbox.webhook_event_process(event_id=event.pk)
    return len(mine)


def onboard(emulator: Any, actor: Any, client: Any) -> Customer:
    """Submit, create at the emulator with documents, take BVNK's webhooks, change the
    email, resync."""
    customer = complete_individual(
        signed=False,
        first_name=FIRST,
        last_name=LAST,
        email=EMAIL,
        phone=PHONE,
        tax_number=TAX,
        date_of_birth=BIRTH,
    )
    sign_at(customer, emulator)
    services.customer_submit(customer=customer, actor=actor)
    sending.operations_run_due(customer=customer)
    customer.refresh_from_db()
    assert customer.bvnk_reference, customer.operations.values("kind", "state", "last_error")
    assert deliver_bvnk_webhooks(client, emulator, customer)
    values = {"email": NEW_EMAIL, "phone": PHONE, "date_of_birth": BIRTH}
    assert services.customer_update_details(customer=customer, values=values, actor=actor)
    sending.operations_run_due(customer=customer)
    reconcile.customer_resync(customer, actor=actor)
    customer.refresh_from_db()
    assert not customer.operations.exclude(state=BvnkOperation.State.DONE).exists()
    assert customer.bvnk_data, "BVNK's copy was read back"
    assert customer.details_drift == []
    return customer


def plain_hits(values: dict[str, list[str]]) -> list[str]:
    """Every (table, column) of the database holding one of `values` in plain text."""
    require_postgresql("the scan reads PostgreSQL's catalogue of columns")
    with connection.cursor() as cursor:
        return plain_text_hits(cursor, values)


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_ENQUEUE = False
    return settings


def test_no_personal_value_rests_in_plain_text_after_an_onboarding(
    bvnk_emulator, agent, client
) -> None:
    customer = onboard(bvnk_emulator, agent, client)
    assert WebhookEvent.objects.filter(customer=customer, status="PROCESSED").exists()
    # The values are where they should be, readable through the models.
    assert customer.tax_number == TAX and customer.date_of_birth == BIRTH
    create = customer.operations.get(kind=BvnkOperation.Kind.CREATE_CUSTOMER)
    assert TAX in str(create.payload["body"])
    assert NEW_EMAIL in str(customer.bvnk_data)
    assert plain_hits(SECRET_AT_REST) == []


def test_a_refusal_echoing_personal_values_rests_encrypted(agent) -> None:
    """BVNK's validation errors may quote the values refused: stored, they stay unreadable,
    and staff still get them field by field."""
    customer = complete_individual(email=EMAIL, phone=PHONE, tax_number=TAX, date_of_birth=BIRTH)
    body = json.dumps(
        {
            "code": "ACCOUNTS-2000",
            "message": f"Invalid request: {EMAIL}",
            "details": {
                "errors": {
                    "individual.emailAddress": [f"must be a well-formed email address: {EMAIL}"],
                    "individual.taxIdentification.number": [f"is invalid: {TAX}"],
                    "individual.dateOfBirth": [f"is not a date in the past: {BIRTH}"],
                }
            },
        }
    ).encode()
    error = BvnkError.from_http(400, {}, body)
    operation = BvnkOperation.objects.create(
        customer=customer, kind=BvnkOperation.Kind.CREATE_CUSTOMER, idempotency_key="echo"
    )
    # As the outbox records a refused attempt (customers/outbox/sending.py _finish).
    BvnkOperation.objects.filter(pk=operation.pk).update(
        last_error=str(error)[:2000], field_errors=error.field_errors
    )
    services.customer_submission_refused(customer, associates=[], error=error)
    operation.refresh_from_db()
    customer.refresh_from_db()
    assert EMAIL in operation.last_error
    assert operation.field_errors["individual.taxIdentification.number"] == [f"is invalid: {TAX}"]
    assert customer.submission_errors, "sorted onto steps and fields"
    assert plain_hits(SECRET_AT_REST) == []


@pytest.fixture
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Any:
    """Every logger at DEBUG into caplog, those that do not propagate or were disabled too;
    restored after."""
    caplog.set_level(logging.DEBUG)
    saved = []
    for name in list(logging.root.manager.loggerDict):
        each = logging.getLogger(name)
        saved.append((each, each.level, each.handlers[:], each.disabled))
        each.setLevel(logging.DEBUG)
        each.disabled = False
        if not each.propagate:
            each.addHandler(caplog.handler)
    yield caplog
    for each, level, handlers, disabled in saved:
        each.setLevel(level)
        each.handlers[:] = handlers
        each.disabled = disabled


def test_no_personal_value_is_logged_during_an_onboarding(
    bvnk_emulator, agent, client, every_logger_at_debug
) -> None:
    caplog = every_logger_at_debug
    onboard(bvnk_emulator, agent, client)
    records = caplog.records
    assert any(r.name.startswith("customers.") for r in records), "the pipeline logged"
    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {vars(r)}" for r in records
    ).lower()
    needles = {
        "name": [FIRST, LAST],
        **SECRET_AT_REST,
    }
    found = [f"{what} {n!r}" for what, ns in needles.items() for n in ns if n.lower() in text]
    assert found == [], found
