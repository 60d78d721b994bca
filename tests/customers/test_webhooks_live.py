"""The webhook path against real things: a live server, concurrent deliveries, a database
and a broker that are down, a Celery worker process, and the BVNK emulator's deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import close_old_connections, connection, connections
from pytest_django.live_server_helper import LiveServer

from customers import dispatch, inbox
from customers.bvnk import AgreementSessionCreate, BvnkClient, config_from_settings, idempotency_key
from customers.models import AgreementSession, Customer, StatusChange, WebhookEvent
from tests.conftest import make_individual
from tests.customers.bvnk.samples import individual_example
from tests.customers.webhooks_support import (
    LEGACY_STATUS,
    PATH,
    SECRET,
    STATUS,
    WORKER_NEEDS,
    Gunicorn,
    database_url,
    free_port,
    point_broker_at,
    require_postgresql,
    sign,
    start_worker,  # noqa: F401 - a fixture
    status_event,
    wait_until,
)
from tests.emulator_server import start_emulator
from tests.support import PrivatePostgreSQL

pytestmark = pytest.mark.django_db(transaction=True)

Status = WebhookEvent.Status
S = Customer.Status
# A customer's BVNK timeline; each change is sent under two names, microseconds apart.
TIMELINE = [S.INFO_REQUIRED, S.PENDING, S.ACTIONS_REQUIRED, S.PENDING, S.VERIFIED]


@pytest.fixture(autouse=True)
def webhook_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    settings.BVNK_WEBHOOK_SECRET = SECRET
    settings.BVNK_WEBHOOK_SIGNATURE = "A"
    settings.BVNK_WEBHOOK_ENQUEUE = False
    monkeypatch.setattr(dispatch, "paused_until", 0.0)
    return settings


@pytest.fixture
def webhook_server(transactional_db: None, settings: Any) -> Iterator[LiveServer]:
    """A live server for this test alone, over plain HTTP like the emulator posts.

    pytest-django's session-wide `live_server` builds its middleware once, with whatever
    settings the first test using it had (SECURE_SSL_REDIRECT would answer a redirect).
    """
    settings.SECURE_SSL_REDIRECT = False
    server = LiveServer("localhost")
    yield server
    server.stop()


def post(url: str, body: bytes) -> requests.Response:
    return requests.post(
        url,
        data=body,
        headers={"Content-Type": "application/json", "X-Signature": sign(body)},
        timeout=15,
    )


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released at once; return the results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported by the assertions
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def webhook_statuses(customer: Customer) -> list[str]:
    return list(
        customer.status_changes.filter(source=StatusChange.Source.WEBHOOK)
        .order_by("changed_at", "id")
        .values_list("new_status", flat=True)
    )


def is_subsequence(items: list[str], of: list[str]) -> bool:
    remaining = iter(of)
    return all(item in remaining for item in items)


# pytest-django shares one in-memory SQLite connection between the live server's threads.
CONCURRENT_NEEDS = "concurrent writers need a database server, not SQLite's shared connection"


def test_ten_identical_deliveries_at_once(webhook_server: LiveServer) -> None:
    require_postgresql(CONCURRENT_NEEDS)
    customer = make_individual(bvnk_reference="ref-1", status=S.PENDING)
    body = status_event("ref-1", "VERIFIED", 5)
    answers = in_threads(10, lambda i: post(webhook_server.url + PATH, body).status_code)
    assert answers == [200] * 10
    event = WebhookEvent.objects.get()
    assert event.delivery_count == 10

    # Ten workers at once on the same event: one applies it, the others find nothing to do.
    results = in_threads(
        10, lambda i: inbox.webhook_event_process(event_id=event.pk, wait=bool(i % 2))
    )
    assert results.count(Status.PROCESSED) == 1, results
    assert set(results) <= {Status.PROCESSED, None}
    assert webhook_statuses(customer) == [S.VERIFIED]


def test_the_same_change_under_two_names_at_once(webhook_server: LiveServer) -> None:
    require_postgresql(CONCURRENT_NEEDS)
    customer = make_individual(bvnk_reference="ref-2", status=S.PENDING)
    bodies = [
        status_event("ref-2", "VERIFIED", 5, name=STATUS),
        status_event("ref-2", "VERIFIED", 5.000001, name=LEGACY_STATUS),
    ]
    answers = in_threads(2, lambda i: post(webhook_server.url + PATH, bodies[i]).status_code)
    assert answers == [200, 200]
    ids = list(WebhookEvent.objects.values_list("pk", flat=True))
    in_threads(2, lambda i: inbox.webhook_event_process(event_id=ids[i]))
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}
    assert webhook_statuses(customer) == [S.VERIFIED]


def test_database_down_answers_503_then_the_retry_is_accepted(tmp_path: Path, client: Any) -> None:
    closed = free_port()
    server = Gunicorn(
        tmp_path / "gunicorn.log",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/portal",
        BVNK_WEBHOOK_ENQUEUE="false",
    )
    body = status_event("ref-3", "PENDING", 1)
    try:
        started = time.monotonic()
        response = post(server.url + PATH, body)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert time.monotonic() - started < 5
        assert post(server.url + PATH, status_event("x", "PENDING")[:-2]).status_code == 503
    finally:
        server.stop()
    assert "Could not store a BVNK webhook delivery" in (tmp_path / "gunicorn.log").read_text()
    assert not WebhookEvent.objects.exists()
    # BVNK's retry reaches a portal whose database is back.
    response = client.post(
        PATH, data=body, content_type="application/json", HTTP_X_SIGNATURE=sign(body)
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().delivery_count == 1


def gunicorn_backends(cluster: PrivatePostgreSQL) -> set[int]:
    """The server processes of the cluster's test database serving anyone but this test."""
    rows = cluster.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s", [cluster.DATABASE]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    return {pid for (pid,) in rows} - {own}


def test_a_cut_database_connection_never_surfaces_as_an_error(
    private_database: PrivatePostgreSQL, tmp_path: Path
) -> None:
    """A PostgreSQL restart (the session's private cluster) cuts gunicorn's persistent
    connection; the next delivery reconnects and is stored."""
    server = Gunicorn(tmp_path / "gunicorn.log", DATABASE_URL=database_url(), CONN_MAX_AGE="600")
    bodies = [status_event("ref-4", "PENDING", seconds) for seconds in range(3)]
    try:
        assert post(server.url + PATH, bodies[0]).status_code == 200
        for body in bodies[1:]:
            before = gunicorn_backends(private_database)
            assert len(before) >= 1  # gunicorn holds a connection, which the restart cuts
            started = private_database.started_at()
            connections.close_all()
            private_database.restart()
            assert private_database.started_at() > started
            assert post(server.url + PATH, body).status_code == 200
            after = gunicorn_backends(private_database)
            assert after and not after & before  # gunicorn reconnected
        assert post(server.url + PATH, bodies[0]).status_code == 200
    finally:
        server.stop()
    assert "Could not store" not in (tmp_path / "gunicorn.log").read_text()
    assert WebhookEvent.objects.count() == 3


def chunked(body: bytes, size: int = 100) -> Iterator[bytes]:
    """Yield `body` in pieces: requests then sends it chunked, with no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def post_chunked(url: str, body: bytes) -> requests.Response:
    return requests.post(
        url,
        data=chunked(body),
        headers={"Content-Type": "application/json", "X-Signature": sign(body)},
        timeout=15,
    )


def test_a_chunked_delivery_is_stored_whole(tmp_path: Path) -> None:
    """A proxy may forward a delivery chunked; gunicorn decodes it, the view reads it all."""
    require_postgresql("gunicorn, another process, cannot open the SQLite test database")
    server = Gunicorn(
        tmp_path / "gunicorn.log", DATABASE_URL=database_url(), BVNK_WEBHOOK_ENQUEUE="false"
    )
    body = status_event("ref-5", "PENDING", 1, padding="x" * 5000)
    try:
        response = post_chunked(server.url + PATH, body)
        assert response.request.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.request.headers
        assert response.status_code == 200, response.text
    finally:
        server.stop()
    event = WebhookEvent.objects.get()
    assert event.body == body.decode()
    assert "Content-Length" not in event.headers
    assert event.headers["Transfer-Encoding"] == "chunked"


def test_a_chunked_delivery_over_the_cap_gets_413(tmp_path: Path) -> None:
    closed = free_port()  # refused before any database work
    server = Gunicorn(
        tmp_path / "gunicorn.log",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed}/portal",
        BVNK_WEBHOOK_MAX_BYTES="1000",
    )
    try:
        big = post_chunked(server.url + PATH, status_event("ref-6", "PENDING", padding="x" * 1000))
        assert big.request.headers["Transfer-Encoding"] == "chunked"
        assert big.status_code == 413
    finally:
        server.stop()


@pytest.mark.parametrize("backlog_applied_by", ["a_worker", "the_sweep_in_this_process"])
def test_broker_down_while_1000_deliveries_arrive(
    client: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backlog_applied_by: str,
) -> None:
    if backlog_applied_by == "a_worker":
        require_postgresql(WORKER_NEEDS)
    settings.BVNK_WEBHOOK_ENQUEUE = True
    point_broker_at(monkeypatch, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    customers = [
        make_individual(bvnk_reference=f"ref-{i:03d}", status=S.SUBMITTING) for i in range(100)
    ]
    bodies = [
        status_event(customer.bvnk_reference, status, step + twin / 1000, name=name)
        for customer in customers
        for step, status in enumerate(TIMELINE, start=1)
        for twin, name in enumerate((STATUS, LEGACY_STATUS))
    ]
    assert len(bodies) == 1000
    started = time.monotonic()
    for body in bodies:
        response = client.post(
            PATH, data=body, content_type="application/json", HTTP_X_SIGNATURE=sign(body)
        )
        assert response.status_code == 200
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"1,000 deliveries took {elapsed:.1f}s"
    assert dispatch.paused_until > 0  # the enqueue was tried, failed, and was let go
    assert WebhookEvent.objects.filter(status=Status.RECEIVED).count() == 1000

    # The broker is back: a real worker's beat sweeps the backlog, or the sweep runs here.
    if backlog_applied_by == "a_worker":
        request.getfixturevalue("start_worker")()
        wait_until(
            lambda: not WebhookEvent.objects.filter(status=Status.RECEIVED).exists(), timeout=60
        )
    else:
        while inbox.webhook_events_sweep():
            pass
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}
    for customer in customers:
        customer.refresh_from_db()
        assert customer.status == S.VERIFIED
        statuses = webhook_statuses(customer)
        # Each real change made at most one transition, in BVNK's order.
        assert statuses and statuses[-1] == S.VERIFIED
        assert is_subsequence(statuses, TIMELINE), statuses


def test_a_worker_applies_events_as_they_arrive(
    webhook_server: LiveServer, settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.BVNK_WEBHOOK_ENQUEUE = True
    request.getfixturevalue("start_worker")(
        BVNK_WEBHOOK_SWEEP_SECONDS="60"
    )  # only the enqueue on receipt can do it
    customer = make_individual(bvnk_reference="ref-4", status=S.INFO_REQUIRED)
    assert post(webhook_server.url + PATH, status_event("ref-4", "PENDING", 1)).status_code == 200
    wait_until(lambda: Customer.objects.get(pk=customer.pk).status == S.PENDING, timeout=15)
    assert WebhookEvent.objects.get().status == Status.PROCESSED


# -- end to end with the BVNK emulator ----------------------------------------------------


@pytest.mark.parametrize("applied_by", ["a_worker", "this_process"])
def test_emulator_deliveries_out_of_order_and_duplicated_end_right(
    webhook_server: LiveServer,
    settings: Any,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    applied_by: str,
) -> None:
    if applied_by == "a_worker":
        require_postgresql(WORKER_NEEDS)
    emulator = start_emulator(tmp_path / "emulator", webhook_url=webhook_server.url + PATH)
    try:
        settings.BVNK_BASE_URL = emulator.url
        settings.BVNK_HAWK_AUTH_ID = emulator.auth_id
        settings.BVNK_HAWK_SECRET = emulator.secret
        settings.BVNK_WEBHOOK_SECRET = emulator.webhook_secret
        worker = None
        if applied_by == "a_worker":
            settings.BVNK_WEBHOOK_ENQUEUE = True
            worker = request.getfixturevalue("start_worker")(
                BVNK_BASE_URL=emulator.url,
                BVNK_HAWK_AUTH_ID=emulator.auth_id,
                BVNK_HAWK_SECRET=emulator.secret,
            )
        run_scenario(emulator, worker is not None)
    finally:
        emulator.stop()


def create_in_emulator(api: BvnkClient, name: str) -> tuple[str, str]:
    """Create a signed agreement session and an individual customer; return both references."""
    session = api.create_agreement_session(
        AgreementSessionCreate(
            customer_type="INDIVIDUAL", country_code="US", use_case="EMBEDDED_FIAT_ACCOUNTS"
        ),
        idempotency_key=idempotency_key("test.session", name),
    )
    api.sign_agreement_session(
        session.reference,
        ip_address="127.0.0.1",
        idempotency_key=idempotency_key("test.sign", name),
    )
    created = api.create_customer(
        individual_example(external_reference=name, session=session.reference),
        idempotency_key=idempotency_key("test.customer", name),
    )
    return session.reference, created.reference


def run_scenario(emulator: Any, with_worker: bool) -> None:
    api = BvnkClient(config_from_settings())
    emulator.control("webhooks/hold").raise_for_status()
    # Known to the portal before its events arrive: they come newest first, each twice.
    session_a, ref_a = create_in_emulator(api, "customer-a")
    known = make_individual(bvnk_reference=ref_a, status=S.INFO_REQUIRED)
    AgreementSession.objects.create(
        customer=known, bvnk_reference=session_a, use_case="EMBEDDED_FIAT_ACCOUNTS", country="US"
    )
    for status in ("PENDING", "VERIFIED"):
        emulator.control(f"customers/{ref_a}/status", {"status": status}).raise_for_status()
    # Not known yet: its create response is "still in flight" when its events arrive.
    _, ref_b = create_in_emulator(api, "customer-b")
    emulator.control(f"customers/{ref_b}/status", {"status": "PENDING"}).raise_for_status()

    released = emulator.control("webhooks/release", {"order": "reverse", "duplicate": 1})
    count = released.json()["released"]
    wait_until(
        lambda: [d["status"] for d in emulator.deliveries()] == ["DELIVERED"] * 2 * count,
        timeout=20,
    )
    assert WebhookEvent.objects.count() == count
    assert set(WebhookEvent.objects.values_list("delivery_count", flat=True)) == {2}

    if not with_worker:  # apply them as a worker would have: in arrival order
        for event_id in WebhookEvent.objects.order_by("received_at", "id").values_list(
            "pk", flat=True
        ):
            inbox.webhook_event_process(event_id=event_id)
    else:
        wait_until(
            lambda: (
                not WebhookEvent.objects.filter(
                    status=Status.RECEIVED, bvnk_reference=ref_a
                ).exists()
            ),
            timeout=20,
        )
    known.refresh_from_db()
    assert known.status == S.VERIFIED
    assert webhook_statuses(known).count(S.VERIFIED) == 1
    assert is_subsequence(webhook_statuses(known), [S.PENDING, S.VERIFIED])
    assert AgreementSession.objects.get(bvnk_reference=session_a).status == "SIGNED"
    held = WebhookEvent.objects.filter(bvnk_reference=ref_b)
    assert set(held.values_list("status", flat=True)) == {Status.HELD}

    late = make_individual(status=S.SUBMITTING)
    Customer.objects.filter(pk=late.pk).update(bvnk_reference=ref_b)  # the create answer lands
    if with_worker:
        wait_until(lambda: not held.filter(status=Status.HELD).exists(), timeout=20)
    else:
        inbox.webhook_events_sweep()
    late.refresh_from_db()
    assert late.status == S.PENDING
    assert webhook_statuses(late) == [S.INFO_REQUIRED, S.PENDING]
    assert set(held.values_list("status", flat=True)) == {Status.PROCESSED}
    close_old_connections()
