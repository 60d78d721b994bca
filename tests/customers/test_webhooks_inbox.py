"""The webhook inbox: storing, deduplicating and applying events in the right order."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import psycopg
import pytest
import responses
from django.core.management import CommandError, call_command
from django.db import OperationalError, close_old_connections, connection
from django.urls import reverse
from django.utils import timezone

from customers import dispatch, inbox, requirements, tasks
from customers.models import (
    AgreementSession,
    BvnkCall,
    ComplianceDocument,
    Customer,
    StatusChange,
    WebhookEvent,
)
from portal.celery import app as celery_app
from tests.conftest import make_company, make_individual
from tests.customers.webhooks_support import (
    ACCOUNTS_STATUS,
    DOCUMENT,
    LEGACY_STATUS,
    SECRET,
    SESSION,
    STATUS,
    UPDATE,
    at,
    database_url,
    deliver,
    envelope,
    require_postgresql,
    status_event,
)
from tests.support import PrivatePostgreSQL

pytestmark = pytest.mark.django_db

Status = WebhookEvent.Status
S = Customer.Status
REF = "2a9c8a29-5030-456d-87c2-7f6cc2ee6bf3"


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_ENQUEUE = False
    settings.BVNK_WEBHOOK_HOLD_SECONDS = 3600
    settings.BVNK_WEBHOOK_MAX_ATTEMPTS = 3
    return settings


@pytest.fixture
def customer() -> Customer:
    return make_individual(bvnk_reference=REF, status=S.INFO_REQUIRED)


def receive(client: Any, body: bytes) -> WebhookEvent:
    assert deliver(client, body).status_code == 200
    return WebhookEvent.objects.get(event_id=json.loads(body)["eventId"])


def process(event: WebhookEvent) -> WebhookEvent:
    inbox.webhook_event_process(event_id=event.pk)
    event.refresh_from_db()
    return event


def webhook_changes(customer: Customer) -> list[tuple[str, str]]:
    return list(
        customer.status_changes.filter(source=StatusChange.Source.WEBHOOK)
        .order_by("changed_at", "id")
        .values_list("old_status", "new_status")
    )


def bvnk_customer(status: str, **extra: Any) -> dict[str, Any]:
    return {"reference": REF, "status": status, "type": "INDIVIDUAL", **extra}


@pytest.fixture
def bvnk(settings: Any) -> Any:
    """BVNK's API, mocked at the HTTP level."""
    with responses.RequestsMock() as mock:
        mock.base = settings.BVNK_BASE_URL + "/platform/v1"  # type: ignore[attr-defined]
        yield mock


# -- receiving ----------------------------------------------------------------------------


def test_a_delivery_is_stored_with_what_staff_need(client: Any) -> None:
    body = status_event(REF, "PENDING", 1.5)
    response = deliver(client, body, HTTP_USER_AGENT="bvnk-webhooks/1.0")
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == Status.RECEIVED
    assert event.event_type == STATUS
    assert event.event_id == json.loads(body)["eventId"]
    assert event.event_at == at(1.5)
    assert event.bvnk_reference == REF
    assert event.delivery_count == 1
    assert event.body.encode() == body
    assert event.headers["User-Agent"] == "bvnk-webhooks/1.0"
    assert event.headers["Content-Type"] == "application/json"
    assert set(event.headers) <= set(inbox_headers())


def inbox_headers() -> list[str]:
    from customers.webhooks import STORED_HEADERS

    return list(STORED_HEADERS.values())


@pytest.mark.parametrize(
    ("timestamp", "seconds"),
    [
        ("2026-09-18T00:31:17.0144445Z", 0.014444),  # 7 digits
        ("2026-09-18T00:31:17.01444451Z", 0.014444),  # 8 digits
        ("2026-09-18T00:31:17.014444515Z", 0.014444),  # 9 digits
        ("2026-09-18T00:31:17.7656623082", 0.765662),  # no Z (the report example): UTC
        ("2026-09-18T02:31:17.014444515+02:00", 0.014444),
    ],
)
def test_event_timestamps_in_bvnk_formats(client: Any, timestamp: str, seconds: float) -> None:
    body = json.dumps(
        {"event": STATUS, "eventId": "e1", "timestamp": timestamp, "data": {"reference": REF}}
    ).encode()
    receive(client, body)
    assert WebhookEvent.objects.get().event_at == at(seconds)


def test_duplicates_make_one_row_and_one_transition(client: Any, customer: Customer) -> None:
    body = status_event(REF, "PENDING", 1)
    for _ in range(3):
        assert deliver(client, body).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.delivery_count == 3
    assert event.last_received_at > event.received_at
    assert process(event).status == Status.PROCESSED
    assert deliver(client, body).status_code == 200  # BVNK retries after we processed it
    event.refresh_from_db()
    assert (event.status, event.delivery_count) == (Status.PROCESSED, 4)
    assert inbox.webhook_events_sweep() == 0
    assert webhook_changes(customer) == [(S.INFO_REQUIRED, S.PENDING)]


def test_without_event_id_the_body_hash_dedupes(client: Any, customer: Customer) -> None:
    body = json.dumps({"event": UPDATE, "data": {"reference": REF}}).encode()
    other = json.dumps({"event": UPDATE, "data": {"reference": REF, "x": 1}}).encode()
    deliver(client, body)
    deliver(client, body)
    deliver(client, other)
    event = WebhookEvent.objects.get(event_id="sha256:" + hashlib.sha256(body).hexdigest())
    assert event.delivery_count == 2
    assert WebhookEvent.objects.count() == 2


def test_the_store_statement_is_prepared_once_per_connection(client: Any) -> None:
    require_postgresql("prepared statements are PostgreSQL's")
    for seconds in range(3):
        receive(client, status_event(REF, "PENDING", seconds))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['WITH new AS (INSERT INTO "customers_webhookevent"%'],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_a_cut_database_connection_is_replaced_without_an_error(
    private_database: PrivatePostgreSQL, client: Any
) -> None:
    """A PostgreSQL restart cuts the persistent connection; the next delivery still gets 200.

    The connection cut is this test's own, on the session's private cluster (tests/support.py).
    """
    first = status_event(REF, "PENDING", 1)
    assert deliver(client, first).status_code == 200
    backend = connection.connection.info.backend_pid
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [backend])
    second = status_event(REF, "VERIFIED", 2)
    assert deliver(client, second).status_code == 200
    assert connection.connection.info.backend_pid != backend
    assert deliver(client, first).status_code == 200  # a repeat is still recognised
    assert WebhookEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_storing_spends_no_round_trip_on_a_health_check(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deliver(client, status_event(REF, "PENDING", 1)).status_code == 200
    close_old_connections()  # what the start of a request does: the next use would check
    monkeypatch.setattr(connection, "is_usable", lambda: pytest.fail("health check"))
    assert deliver(client, status_event(REF, "VERIFIED", 2)).status_code == 200
    assert WebhookEvent.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"event": "bvnk:platform:customer:status-change", "data": {', "not valid JSON"),
        (b'["not", "an", "object"]', "not a JSON object"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_stored_failed_and_acknowledged(
    client: Any, body: bytes, error: str
) -> None:
    assert deliver(client, body).status_code == 200  # a 4xx would make BVNK retry 100 times
    event = WebhookEvent.objects.get()
    assert event.status == Status.FAILED
    assert error in event.error
    assert event.event_id == "sha256:" + hashlib.sha256(body).hexdigest()
    assert "\x00" not in event.body
    assert inbox.webhook_events_sweep() == 0  # never retried on its own
    assert deliver(client, body).status_code == 200
    event.refresh_from_db()
    assert (event.status, event.delivery_count) == (Status.FAILED, 2)


@pytest.mark.parametrize(
    "data",
    [{"status": "PENDING"}, {"reference": REF}, {"reference": "", "status": "PENDING"}],
)
def test_an_event_missing_what_its_handler_needs_fails_once(
    client: Any, customer: Customer, data: dict[str, Any]
) -> None:
    event = process(receive(client, envelope(STATUS, data)))
    assert event.status == Status.FAILED
    assert "needs data.reference" in event.error
    assert event.attempts == 1
    assert inbox.webhook_events_sweep() == 0
    assert customer.status_changes.count() == 0


def test_an_event_without_a_data_object_fails(client: Any) -> None:
    body = json.dumps({"event": STATUS, "eventId": "e1", "data": "VERIFIED"}).encode()
    event = process(receive(client, body))
    assert (event.status, event.error) == (Status.FAILED, "The event has no `data` object.")


def test_unknown_events_are_stored_ignored_and_acknowledged(client: Any) -> None:
    body = envelope("bvnk:platform:customer:questionnaire-status-change", {"reference": REF})
    event = process(receive(client, body))
    assert event.status == Status.IGNORED
    assert event.processed_at is not None
    assert "No handler" in event.outcome


def test_a_new_event_is_enqueued_after_commit(
    client: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.BVNK_WEBHOOK_ENQUEUE = True
    monkeypatch.setattr(dispatch, "paused_until", 0.0)
    sent: list[tuple[Any, ...]] = []

    def send_task(name: str, args: tuple[Any, ...], **kwargs: Any) -> None:
        assert name == tasks.process_webhook_event.name
        sent.append(args)

    monkeypatch.setattr(celery_app, "send_task", send_task)
    body = status_event(REF, "PENDING")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deliver(client, body)
    event = WebhookEvent.objects.get()
    assert sent == [(event.pk,)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        deliver(client, body)  # a duplicate is not enqueued again
    assert callbacks == []
    assert sent == [(event.pk,)]


def test_a_broker_failure_never_fails_the_delivery(
    client: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.BVNK_WEBHOOK_ENQUEUE = True
    monkeypatch.setattr(dispatch, "paused_until", 0.0)
    calls: list[int] = []

    def down(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(celery_app, "send_task", down)
    for seconds in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, status_event(REF, "PENDING", seconds)).status_code == 200
    assert len(calls) == 1  # then paused: the sweeper takes over
    assert WebhookEvent.objects.filter(status=Status.RECEIVED).count() == 3


# -- customer status ----------------------------------------------------------------------


def test_a_status_change_goes_through_the_transition_service(
    client: Any, customer: Customer
) -> None:
    event = process(receive(client, status_event(REF, "PENDING", 3)))
    assert event.status == Status.PROCESSED
    assert event.customer == customer
    assert event.outcome == "INFO_REQUIRED -> PENDING."
    customer.refresh_from_db()
    assert customer.status == S.PENDING
    assert customer.bvnk_status_at == at(3)
    change = customer.status_changes.get()
    assert change.source == StatusChange.Source.WEBHOOK
    assert change.source_reference == event.event_id
    assert STATUS in change.reason


@pytest.mark.parametrize(
    "names", [(STATUS, LEGACY_STATUS), (LEGACY_STATUS, STATUS, ACCOUNTS_STATUS)]
)
def test_one_change_under_several_names_makes_one_transition(
    client: Any, customer: Customer, names: tuple[str, ...]
) -> None:
    # The names of one change come as separate events, microseconds apart, in any order.
    events = [
        receive(client, status_event(REF, "VERIFIED", 5 + i / 1000, name=name))
        for i, name in enumerate(names)
    ]
    for event in reversed(events):
        assert process(event).status == Status.PROCESSED
    assert webhook_changes(customer) == [(S.INFO_REQUIRED, S.VERIFIED)]
    assert WebhookEvent.objects.filter(customer=customer).count() == len(names)


def test_an_older_event_never_overwrites_a_newer_status(client: Any, customer: Customer) -> None:
    verified = process(receive(client, status_event(REF, "VERIFIED", 10)))
    pending = process(receive(client, status_event(REF, "PENDING", 5, name=LEGACY_STATUS)))
    customer.refresh_from_db()
    assert customer.status == S.VERIFIED
    assert customer.bvnk_status_at == at(10)
    assert verified.outcome == "INFO_REQUIRED -> VERIFIED."
    assert pending.status == Status.PROCESSED
    assert pending.outcome.startswith("Skipped PENDING: older than VERIFIED")
    assert webhook_changes(customer) == [(S.INFO_REQUIRED, S.VERIFIED)]


def test_the_sweeper_applies_a_backlog_oldest_event_first(client: Any, customer: Customer) -> None:
    for seconds, status in [(30, "VERIFIED"), (10, "PENDING"), (20, "ACTIONS_REQUIRED")]:
        receive(client, status_event(REF, status, seconds))
    assert inbox.webhook_events_sweep() == 3
    assert webhook_changes(customer) == [
        (S.INFO_REQUIRED, S.PENDING),
        (S.PENDING, S.ACTIONS_REQUIRED),
        (S.ACTIONS_REQUIRED, S.VERIFIED),
    ]


def test_an_event_before_the_create_response_is_held_then_applied(client: Any) -> None:
    draft = make_individual(status=S.SUBMITTING)
    event = process(receive(client, status_event(REF, "INFO_REQUIRED", 1)))
    twin = process(receive(client, status_event(REF, "INFO_REQUIRED", 1.001, name=LEGACY_STATUS)))
    assert (event.status, twin.status) == (Status.HELD, Status.HELD)
    assert event.outcome == f"No customer with BVNK reference {REF} yet."
    assert inbox.webhook_events_sweep() == 0  # nothing known yet: not even tried

    Customer.objects.filter(pk=draft.pk).update(bvnk_reference=REF)  # the create answer lands
    assert inbox.webhook_events_sweep() == 2
    event.refresh_from_db()
    assert event.status == Status.PROCESSED
    assert webhook_changes(draft) == [(S.SUBMITTING, S.INFO_REQUIRED)]


def test_a_hold_expires_into_failed(client: Any, settings: Any) -> None:
    event = process(receive(client, status_event(REF, "PENDING")))
    assert event.status == Status.HELD
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(seconds=settings.BVNK_WEBHOOK_HOLD_SECONDS + 1)
    )
    assert inbox.webhook_events_sweep() == 1
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert event.error.startswith("Hold expired after 1:00:00: No customer")


def test_without_a_timestamp_the_status_is_read_from_bvnk(
    client: Any, customer: Customer, bvnk: Any
) -> None:
    bvnk.get(
        f"{bvnk.base}/customers/{REF}",
        json=bvnk_customer(
            "PENDING",
            infoRequired={"questionnaireCodes": ["otherQuestionnaireFull"]},
            verification={"status": "pending", "url": "https://in.sumsub.com/websdk/p/sbx_1"},
        ),
    )
    event = process(receive(client, status_event(REF, "VERIFIED", None)))
    assert event.status == Status.PROCESSED
    assert event.outcome == "Read from BVNK: INFO_REQUIRED -> PENDING."
    customer.refresh_from_db()
    assert customer.status == S.PENDING  # BVNK's answer, not the event's
    assert customer.questionnaire_codes == ["otherQuestionnaireFull"]
    assert customer.verification_url == "https://in.sumsub.com/websdk/p/sbx_1"
    assert customer.bvnk_status_at is not None
    call = BvnkCall.objects.get()
    assert (call.action, call.customer, call.triggered_by) == (
        "customer.get",
        customer,
        f"webhook event {event.pk}",
    )
    assert customer.status_changes.get().source_reference == event.event_id


@pytest.mark.parametrize(
    ("bvnk_says", "final", "outcome"),
    [
        ("VERIFIED", S.VERIFIED, "Read from BVNK: VERIFIED."),
        ("ACTIONS_REQUIRED", S.ACTIONS_REQUIRED, "Read from BVNK: VERIFIED -> ACTIONS_REQUIRED."),
    ],
)
def test_a_move_the_table_refuses_is_settled_by_reading_bvnk(
    client: Any, bvnk: Any, bvnk_says: str, final: str, outcome: str
) -> None:
    customer = make_individual(bvnk_reference=REF, status=S.VERIFIED)
    bvnk.get(f"{bvnk.base}/customers/{REF}", json=bvnk_customer(bvnk_says))
    event = process(receive(client, status_event(REF, "PENDING", 50)))  # VERIFIED -> PENDING
    assert (event.status, event.outcome) == (Status.PROCESSED, outcome)
    customer.refresh_from_db()
    assert customer.status == final


def test_bvnk_reporting_a_refused_move_fails_the_event(client: Any, bvnk: Any) -> None:
    customer = make_individual(bvnk_reference=REF, status=S.TERMINATED)
    bvnk.get(f"{bvnk.base}/customers/{REF}", json=bvnk_customer("PENDING"))
    event = process(receive(client, status_event(REF, "PENDING", 50)))
    assert event.status == Status.FAILED
    assert "BVNK reports PENDING" in event.error
    customer.refresh_from_db()
    assert customer.status == S.TERMINATED


def test_bvnk_unreachable_is_retried_with_backoff_then_fails(
    client: Any, customer: Customer, bvnk: Any
) -> None:
    bvnk.get(f"{bvnk.base}/customers/{REF}", status=503, body="busy")
    event = process(receive(client, status_event(REF, "PENDING", None)))
    assert event.status == Status.RECEIVED
    assert event.attempts == 1
    assert "BVNK 503" in event.error
    assert event.next_attempt_at > timezone.now() + timedelta(seconds=3)
    assert inbox.webhook_events_sweep() == 0  # not due yet
    for attempt in (2, 3):
        event = process(event)
        assert event.attempts == attempt
    assert event.status == Status.FAILED  # BVNK_WEBHOOK_MAX_ATTEMPTS = 3


def test_bvnk_not_knowing_the_customer_fails_at_once(
    client: Any, customer: Customer, bvnk: Any
) -> None:
    bvnk.get(
        f"{bvnk.base}/customers/{REF}",
        status=404,
        json={"code": "MER-PAY-2056", "message": "Customer not found"},
    )
    event = process(receive(client, status_event(REF, "PENDING", None)))
    assert (event.status, event.attempts) == (Status.FAILED, 1)


def test_a_database_error_is_retried(
    client: Any, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deadlock(*args: Any) -> None:
        raise OperationalError("deadlock detected")

    monkeypatch.setitem(inbox.HANDLERS, STATUS, deadlock)
    event = process(receive(client, status_event(REF, "PENDING")))
    assert (event.status, event.attempts) == (Status.RECEIVED, 1)
    assert "deadlock" in event.error


def test_a_bug_fails_the_event_with_its_traceback(
    client: Any, customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: Any) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(inbox.HANDLERS, STATUS, bug)
    event = process(receive(client, status_event(REF, "PENDING")))
    assert event.status == Status.FAILED
    assert event.error == "ZeroDivisionError: oops"
    assert "Traceback" in event.traceback and "def bug" not in event.error
    assert customer.status_changes.count() == 0


def test_processing_twice_does_nothing_the_second_time(client: Any, customer: Customer) -> None:
    event = receive(client, status_event(REF, "PENDING", 1))
    assert tasks.process_webhook_event(event.pk) is None
    assert inbox.webhook_event_process(event_id=event.pk) is None
    assert customer.status_changes.count() == 1


# -- customer update, agreement sessions, documents ---------------------------------------


def test_an_update_stores_what_bvnk_needs(client: Any, customer: Customer) -> None:
    data = {
        "reference": REF,
        "status": "INFO_REQUIRED",
        "verification": {"url": "https://in.sumsub.com/websdk/p/sbx_2"},
        "infoRequired": {
            "questionnaireCodes": ["financialServicesQuestionnaireFull"],
            "documents": [{"type": "PROOF_OF_RESIDENCE", "subType": None}],
        },
    }
    event = process(receive(client, envelope(UPDATE, data, seconds=7)))
    assert (event.status, event.outcome) == (Status.PROCESSED, "Stored what BVNK needs.")
    customer.refresh_from_db()
    assert customer.verification_url == "https://in.sumsub.com/websdk/p/sbx_2"
    assert customer.questionnaire_codes == ["financialServicesQuestionnaireFull"]
    assert requirements.unanswered_documents(customer) == [f"Proof of address — {customer.name}"]
    assert customer.bvnk_data["verification"]["url"].endswith("sbx_2")
    assert customer.bvnk_synced_at == at(7)
    assert customer.status == S.INFO_REQUIRED  # updates never move the status

    older = {**data, "verification": {"url": "https://in.sumsub.com/websdk/p/old"}}
    event = process(receive(client, envelope(UPDATE, older, seconds=6)))
    assert event.outcome == "Skipped: older than the details held."
    customer.refresh_from_db()
    assert customer.verification_url.endswith("sbx_2")


def test_an_update_never_stores_a_link_staff_should_not_open(
    client: Any, customer: Customer
) -> None:
    data = {"reference": REF, "verification": {"url": "javascript:alert(1)"}}
    process(receive(client, envelope(UPDATE, data, seconds=1)))
    customer.refresh_from_db()
    assert customer.verification_url == ""


@pytest.fixture
def session(customer: Customer) -> AgreementSession:
    return AgreementSession.objects.create(
        customer=customer, bvnk_reference="sess-1", use_case="EMBEDDED_FIAT_ACCOUNTS", country="US"
    )


def test_an_agreement_session_is_signed_by_its_event(
    client: Any, session: AgreementSession
) -> None:
    event = process(receive(client, envelope(SESSION, {"reference": "sess-1", "status": "SIGNED"})))
    assert (event.status, event.outcome) == (Status.PROCESSED, "Session PENDING -> SIGNED.")
    session.refresh_from_db()
    assert session.status == AgreementSession.Status.SIGNED


def test_a_decided_session_changes_only_on_bvnk_word(
    client: Any, session: AgreementSession, bvnk: Any
) -> None:
    AgreementSession.objects.filter(pk=session.pk).update(status="SIGNED")
    bvnk.get(
        f"{bvnk.base}/customers/agreement/sessions/sess-1",
        json={"reference": "sess-1", "status": "SIGNED"},
    )
    body = envelope(SESSION, {"reference": "sess-1", "status": "DECLINED"})
    event = process(receive(client, body))
    assert event.outcome == "Read from BVNK: session SIGNED (unchanged)."
    session.refresh_from_db()
    assert session.status == AgreementSession.Status.SIGNED


def test_an_unknown_session_is_held(client: Any) -> None:
    body = envelope(SESSION, {"reference": "sess-x", "status": "SIGNED"})
    assert process(receive(client, body)).status == Status.HELD


@pytest.fixture
def document(customer: Customer) -> ComplianceDocument:
    return ComplianceDocument.objects.create(
        customer=customer,
        document_type="PASSPORT",
        document_sub_type="FRONT_SIDE",
        original_name="passport.pdf",
        file="documents/x.pdf",
        size=10,
        content_type="application/pdf",
        sha256="0" * 64,
        bvnk_reference="doc-1",
        upload_status=ComplianceDocument.UploadStatus.SENT,
    )


def document_event(status: str, seconds: float, reference: str = "doc-1") -> bytes:
    data = {"reference": REF, "documentReference": reference, "status": status, "type": "PASSPORT"}
    return envelope(DOCUMENT, data, seconds=seconds)


def test_document_reviews_apply_in_order(client: Any, document: ComplianceDocument) -> None:
    approved = process(receive(client, document_event("APPROVED", 5)))
    assert (approved.status, approved.outcome) == (Status.PROCESSED, "Document APPROVED.")
    assert approved.bvnk_reference == "doc-1"
    pending = process(receive(client, document_event("PENDING", 1)))
    assert pending.outcome.startswith("Skipped PENDING")
    rejected = process(receive(client, document_event("REJECTED", 3)))
    assert rejected.outcome.startswith("Skipped REJECTED: a newer event")
    document.refresh_from_db()
    assert document.upload_status == ComplianceDocument.UploadStatus.APPROVED


@pytest.mark.parametrize("key", ["rejectionReason", "reason", "comment"])
def test_a_rejected_document_keeps_bvnk_reason(
    client: Any, document: ComplianceDocument, key: str
) -> None:
    """BVNK shows no body for the event: each key the emulator can play is read."""
    data = {"reference": REF, "documentReference": "doc-1", "status": "REJECTED", key: "Blurry."}
    event = process(receive(client, envelope(DOCUMENT, data, seconds=2)))
    assert event.outcome == "Document REJECTED."
    document.refresh_from_db()
    assert (document.upload_status, document.bvnk_reason) == ("REJECTED", "Blurry.")


def test_document_events_unknown_document_or_status(
    client: Any, document: ComplianceDocument
) -> None:
    assert process(receive(client, document_event("APPROVED", 1, "doc-9"))).status == Status.HELD
    unknown = process(receive(client, document_event("SHREDDED", 1)))
    assert (unknown.status, unknown.error) == (Status.FAILED, "Unknown document status 'SHREDDED'.")


# -- operations ---------------------------------------------------------------------------


def failed_event(client: Any) -> WebhookEvent:
    event = process(receive(client, status_event(REF, "PENDING", 2)))
    assert event.status == Status.HELD
    WebhookEvent.objects.filter(pk=event.pk).update(status=Status.FAILED, error="hold expired")
    return event


def test_reprocess_command(client: Any) -> None:
    event = failed_event(client)
    customer = make_individual(bvnk_reference=REF, status=S.INFO_REQUIRED)
    out = StringIO()
    call_command("reprocess_webhooks", "--failed", stdout=out)
    assert out.getvalue().strip() == "Reprocessed 1 event(s): 1 processed."
    event.refresh_from_db()
    assert (event.status, event.error, event.attempts) == (Status.PROCESSED, "", 1)
    customer.refresh_from_db()
    assert customer.status == S.PENDING
    call_command("reprocess_webhooks", "--ids", str(event.pk), stdout=out)
    assert customer.status_changes.count() == 1
    with pytest.raises(CommandError, match="No webhook event with id 999999"):
        call_command("reprocess_webhooks", "--ids", "999999")
    with pytest.raises(CommandError):
        call_command("reprocess_webhooks")


def test_reprocess_admin_action(client: Any, lead: Any, viewer: Any) -> None:
    event = failed_event(client)
    make_individual(bvnk_reference=REF, status=S.INFO_REQUIRED)
    url = reverse("admin:customers_webhookevent_changelist")
    client.force_login(lead)
    assert client.get(url).status_code == 200
    assert (
        client.get(reverse("admin:customers_webhookevent_change", args=[event.pk])).status_code
        == 200
    )
    response = client.post(
        url, {"action": "reprocess", "_selected_action": [event.pk]}, follow=True
    )
    assert "Reprocessed 1: 1 processed." in response.content.decode()
    event.refresh_from_db()
    assert event.status == Status.PROCESSED
    assert client.get(reverse("admin:customers_webhookrejection_changelist")).status_code == 200
    client.force_login(viewer)
    assert client.get(url).status_code in (302, 403)


def test_purge_keeps_failed_events_and_status_history(client: Any, customer: Customer) -> None:
    old = process(receive(client, status_event(REF, "PENDING", 1)))
    ignored = process(receive(client, envelope("bvnk:something:else", {})))
    failed = process(receive(client, envelope(STATUS, {})))
    recent = process(receive(client, status_event(REF, "VERIFIED", 2)))
    long_ago = timezone.now() - timedelta(days=31)
    WebhookEvent.objects.exclude(pk=recent.pk).update(received_at=long_ago)
    assert tasks.purge_webhook_events() is None
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {failed.pk, recent.pk}
    assert {old.pk, ignored.pk}.isdisjoint(WebhookEvent.objects.values_list("pk", flat=True))
    assert customer.status_changes.count() == 2


def test_beat_schedules_come_from_settings() -> None:
    from django.conf import settings

    from portal.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["sweep-webhook-events"]["task"] == tasks.sweep_webhook_events.name
    assert schedule["sweep-webhook-events"]["schedule"] == settings.BVNK_WEBHOOK_SWEEP_SECONDS
    assert schedule["purge-webhook-events"]["task"] == tasks.purge_webhook_events.name
    assert {tasks.sweep_webhook_events.name, tasks.process_webhook_event.name} <= set(app.tasks)


# -- pages --------------------------------------------------------------------------------


def test_the_customer_page_shows_what_bvnk_needs_and_its_events(client: Any, viewer: Any) -> None:
    company = make_company(bvnk_reference=REF, status=S.INFO_REQUIRED)
    data = {
        "reference": REF,
        "infoRequired": {
            "questionnaireCodes": ["amlCryptoComplianceQuestionnaireFull"],
            "documents": [
                {"type": "COMPANY_DOC", "subType": "INCORPORATION_CERT"},
                {"type": "PASSPORT", "subType": "FRONT_SIDE", "customerPersonReference": "p-1"},
            ],
        },
    }
    process(receive(client, envelope(UPDATE, data, seconds=1)))
    client.force_login(viewer)
    page = reverse("customers:detail", args=[company.pk])
    html = client.get(page).content.decode()
    assert "Aml crypto compliance questionnaire full" in html  # the code in words
    assert "Certificate of incorporation" in html
    assert "Passport — a person the portal does not know" in html

    # In review, BVNK asks nothing more of the partner, whatever it last listed.
    process(receive(client, status_event(REF, "PENDING", 2)))
    html = client.get(page).content.decode()
    now, history = html.split('id="timeline"')
    assert "Certificate of incorporation" not in now
    # The Activity keeps what BVNK asked for, and when.
    assert "BVNK asks for: Certificate of incorporation" in history
    # The timeline says what happened in words; the events themselves, their names and
    # outcomes, are behind Technical details, which a Viewer is not shown.
    assert "Info required →" in html and "Pending review" in html
    assert UPDATE not in html and "Event from BVNK" not in html
    assert "All webhook events" not in html  # operations only


def test_the_staff_page_shows_counts_and_refusals(client: Any, lead: Any, viewer: Any) -> None:
    process(receive(client, status_event(REF, "PENDING", 1)))
    deliver(client, b"{}", signature="forged")
    url = reverse("customers:webhooks")
    client.force_login(viewer)
    assert client.get(url).status_code == 403
    client.force_login(lead)
    html = client.get(url).content.decode()
    assert "Invalid signature" in html
    assert f"No customer with BVNK reference {REF} yet." in html
