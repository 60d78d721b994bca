"""The submission pipeline against real failures: worker processes killed, Redis shut down,
PostgreSQL restarted, and BVNK (the emulator) failing in every way its switches allow.

Each test ends with exactly one customer at the emulator per submission, the same
idempotency key (and body) on every attempt, and the operation in the state it should be;
a fault test also shows that its fault interrupted real work. They need PostgreSQL: a
worker process cannot open the SQLite test database. The broker is this session's own
redis-server, and the PostgreSQL that test 4 restarts is this session's own cluster
(tests/support.py): the machine's services are never stopped. The worker runs with short
timings (a 6-second lease, sweeps every half second, backoffs under a second) so the whole
file takes about a minute and a half.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError, close_old_connections, connections
from django.urls import reverse

from customers import dispatch, services
from customers.bvnk import wire
from customers.bvnk_calls import bvnk_client
from customers.models import BvnkOperation, Customer, Wallet
from tests.customers.outbox_support import (
    create_calls,
    create_requests,
    emulator_customers,
    fault,
    ready_to_submit,
    submit,
)
from tests.support import (
    WORKER_NEEDS,
    PrivatePostgreSQL,
    PrivateRedis,
    Worker,
    point_broker_at,
    require_postgresql,
    wait_until,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.emulator]

State = BvnkOperation.State
# Short, but nested as the system check demands: two calls at their timeouts (5 s) and
# the hard time limit (5 s) < the lease (6 s) < the broker's visibility timeout (20 s).
WORKER_ENV = {
    "BVNK_CONNECT_TIMEOUT": "0.5",
    "BVNK_READ_TIMEOUT": "2",
    "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "CELERY_TASK_TIME_LIMIT": "5",
    "BVNK_OPERATION_LEASE_SECONDS": "6",
    "CELERY_VISIBILITY_TIMEOUT": "20",
    "BVNK_OPERATION_BACKOFF_SECONDS": "0.2",
    "BVNK_OPERATION_BACKOFF_MAX_SECONDS": "1",
    "BVNK_OPERATION_MAX_ATTEMPTS": "8",
    "BVNK_OPERATION_MAX_LOST_CLAIMS": "3",
    "BVNK_OPERATION_SWEEP_SECONDS": "0.5",
    "BVNK_OPERATION_REDRIVE_SECONDS": "3",
    "BVNK_OPERATION_WAIT_SECONDS": "1",
    "BVNK_WEBHOOK_SWEEP_SECONDS": "5",
}


@pytest.fixture
def pipeline(
    transactional_db: None,
    bvnk_emulator: Any,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[SimpleNamespace]:
    """Workers on the test database and the session's private Redis; BVNK is the emulator."""
    require_postgresql(WORKER_NEEDS)
    redis: PrivateRedis = request.getfixturevalue("private_redis")
    redis.flush()  # leftovers of an earlier test
    broker = redis.url()
    point_broker_at(monkeypatch, broker)
    monkeypatch.setattr(dispatch, "paused_until", 0.0)
    bvnk_emulator.control("faults", method="DELETE")
    workers: list[Worker] = []

    def start(
        *,
        emulator: Any = bvnk_emulator,
        pool: str = "threads",
        concurrency: int = 4,
        include: tuple[str, ...] = (),
        **env: str,
    ) -> Worker:
        worker = Worker(
            tmp_path,
            broker,
            pool=pool,
            concurrency=concurrency,
            queues="celery,bvnk",
            include=include,
            **{
                **WORKER_ENV,
                "BVNK_BASE_URL": emulator.url,
                "BVNK_HAWK_AUTH_ID": emulator.auth_id,
                "BVNK_HAWK_SECRET": emulator.secret,
                "PRIVATE_MEDIA_ROOT": str(settings.PRIVATE_MEDIA_ROOT),
                **env,
            },
        )
        workers.append(worker)
        return worker

    yield SimpleNamespace(
        start=start, emulator=bvnk_emulator, broker=broker, redis=redis, workers=workers
    )
    for worker in workers:
        worker.stop()
    bvnk_emulator.control("faults", method="DELETE")


def fresh(operation: BvnkOperation) -> BvnkOperation:
    """The operation as the database has it now (reconnecting after an outage)."""
    for _ in range(50):
        try:
            return BvnkOperation.objects.get(pk=operation.pk)
        except (OperationalError, InterfaceError):
            connections.close_all()
            time.sleep(0.2)
    raise AssertionError("the database did not come back")


def settles(
    operation: BvnkOperation, *states: str, timeout: float = 30, workers: Any = ()
) -> BvnkOperation:
    """Wait until the operation reaches one of `states`; show the workers' logs if not."""
    try:
        wait_until(lambda: fresh(operation).state in states, timeout=timeout, interval=0.1)
    except AssertionError:
        logs = "\n".join(worker.output()[-4000:] for worker in workers)
        raise AssertionError(f"{fresh(operation)} did not reach {states}:\n{logs}") from None
    return fresh(operation)


def exactly_once(emulator: Any, customer: Customer, operation: BvnkOperation) -> list[Any]:
    """One customer at BVNK; every create attempt with the operation's key and body."""
    assert len(emulator_customers(emulator, customer)) == 1
    sent = create_requests(emulator, customer)
    assert sent, "no create reached the emulator"
    assert {entry["idempotencyKey"] for entry in sent} == {operation.idempotency_key}
    assert len({entry["bodySha256"] for entry in sent}) == 1
    return sent


def reaches_bvnk(emulator: Any, armed: int = 1, taken: int = 1) -> None:
    """Wait until `taken` of the `armed` create faults were used: those creates are at BVNK."""

    def used() -> bool:
        left = sum(rule["count"] for rule in emulator.control("faults", method="GET").json())
        return armed - left >= taken

    wait_until(used, timeout=15)


def both_creates_reached_bvnk(emulator: Any, customer: Customer) -> None:
    """The killed attempt's create and the retry's both reached BVNK: one created the
    customer, the other was a replay of it (the emulator counts the held request once its
    delay is over, which may be after the retry finished)."""
    wait_until(lambda: len(create_requests(emulator, customer)) == 2, timeout=10)
    assert create_calls(emulator, customer) == {"succeeded": 1, "replayed": 1, "refused": 0}


def pid_of(operation: BvnkOperation) -> int:
    """The process holding the operation's claim (claimed_by ends with "pid N")."""
    return int(fresh(operation).claimed_by.rsplit(" ", 1)[-1])


# -- 1, 2: workers die ----------------------------------------------------------------------


def test_1_pool_process_killed_mid_create(pipeline: Any) -> None:
    customer = ready_to_submit(pipeline.emulator, documents=False)
    pipeline.start(pool="prefork", concurrency=1)
    fault(pipeline.emulator, "slow", delay=1.5)
    operation = submit(customer)
    wait_until(lambda: fresh(operation).state == State.IN_FLIGHT, timeout=15)
    reaches_bvnk(pipeline.emulator)  # the POST is at the emulator, held there 1.5 s
    os.kill(pid_of(operation), signal.SIGKILL)
    # The master hands the message back (reject_on_worker_lost); a new pool process
    # takes over the dead claim and repeats the create with the same key.
    operation = settles(operation, State.DONE, workers=pipeline.workers)
    assert (operation.lost_claims, operation.attempts) == (1, 2)
    both_creates_reached_bvnk(pipeline.emulator, customer)
    exactly_once(pipeline.emulator, customer, operation)
    assert create_calls(pipeline.emulator, customer)["succeeded"] == 1
    customer.refresh_from_db()
    assert customer.status == "INFO_REQUIRED" and customer.bvnk_reference


def test_2_whole_worker_killed_and_a_new_one_started(pipeline: Any) -> None:
    customer = ready_to_submit(pipeline.emulator, documents=False)
    first = pipeline.start()
    fault(pipeline.emulator, "slow", delay=1.5)
    operation = submit(customer)
    wait_until(lambda: fresh(operation).state == State.IN_FLIGHT, timeout=15)
    reaches_bvnk(pipeline.emulator)  # the POST is at the emulator, held there 1.5 s
    first.kill()  # no warm shutdown: the message stays unacknowledged in Redis
    pipeline.start()
    # The claim's lease runs out; the new worker's sweeper sends it again, same key.
    operation = settles(operation, State.DONE, workers=pipeline.workers)
    assert operation.lost_claims == 1
    both_creates_reached_bvnk(pipeline.emulator, customer)
    exactly_once(pipeline.emulator, customer, operation)
    assert create_calls(pipeline.emulator, customer)["succeeded"] == 1


# -- 3, 4: the broker and the database go away ------------------------------------------------


@pytest.mark.disruptive
def test_3_redis_shut_down_with_operations_queued(pipeline: Any) -> None:
    redis: PrivateRedis = pipeline.redis
    customers = [ready_to_submit(pipeline.emulator, documents=False) for _ in range(5)]
    # The shipped redrive delay (5 minutes): lost messages must come back sooner than that.
    pipeline.start(concurrency=2, BVNK_OPERATION_REDRIVE_SECONDS="300")
    fault(pipeline.emulator, "slow", delay=1.5, count=2)  # two in flight, three queued
    operations = [submit(customer) for customer in customers]
    wait_until(lambda: BvnkOperation.objects.filter(state=State.IN_FLIGHT).count() == 2, timeout=15)
    try:
        redis.shutdown()  # `SHUTDOWN NOSAVE` of the private server: the queue is gone
        late = ready_to_submit(pipeline.emulator, documents=False)
        started = time.monotonic()
        late_operation = submit(late)  # the publish fails fast; the sweeper sends it later
        assert time.monotonic() - started < 5
        assert fresh(late_operation).enqueued_at is None
        time.sleep(1)
    finally:
        redis.start()  # same port, empty
    back = time.monotonic()
    for customer, operation in [*zip(customers, operations, strict=True), (late, late_operation)]:
        operation = settles(operation, State.DONE, timeout=45, workers=pipeline.workers)
        assert operation.attempts == 1  # none was sent twice
        exactly_once(pipeline.emulator, customer, operation)
    # The sweep saw the broker's mark gone and sent the lost ones again at once.
    waited = time.monotonic() - back
    assert waited < 20, f"the last operation was done {waited:.1f} s after Redis was back"
    # The lost messages came back through the sweeper, published again from the rows.
    assert "Sweep: published" in pipeline.workers[0].output()
    # The worker lost its broker connection (the shutdown hit it) and reconnected.
    assert "Connection to broker lost" in pipeline.workers[0].output()


@pytest.mark.disruptive
def test_4_postgresql_restarted_while_operations_flow(
    private_database: PrivatePostgreSQL, pipeline: Any
) -> None:
    customers = [ready_to_submit(pipeline.emulator) for _ in range(4)]  # with documents
    pipeline.start()
    fault(pipeline.emulator, "slow", delay=1, count=2)
    operations = [submit(customer) for customer in customers]
    wait_until(lambda: BvnkOperation.objects.filter(state=State.IN_FLIGHT).exists(), timeout=15)
    reaches_bvnk(pipeline.emulator, armed=2)  # a create is at the emulator, held there 1 s
    started = private_database.started_at()
    connections.close_all()
    private_database.restart()  # the worker's database (tests/support.py), not the machine's
    connections.close_all()
    assert private_database.started_at() > started
    for operation in operations:
        settles(operation, State.DONE, timeout=45, workers=pipeline.workers)
    # Everything the creates queued (two documents each) went too, each once.
    wait_until(
        lambda: (
            not BvnkOperation.objects.filter(state__in=(State.PENDING, State.IN_FLIGHT)).exists()
        ),
        timeout=45,
    )
    assert set(BvnkOperation.objects.values_list("state", flat=True)) == {State.DONE}
    # The restart cut work under way: a create was sent again (same key, checked below).
    assert max(fresh(operation).attempts for operation in operations) > 1
    assert "database unavailable" in pipeline.workers[0].output()  # the worker saw it
    for customer, operation in zip(customers, operations, strict=True):
        exactly_once(pipeline.emulator, customer, fresh(operation))
        customer.refresh_from_db()
        remote = pipeline.emulator.get(
            "/platform/v1/customers/documents",
            params={"customerReference": customer.bvnk_reference},
        ).json()
        remote = remote.get("content", remote) if isinstance(remote, dict) else remote
        assert len(remote) == customer.documents.count() == 2
    close_old_connections()


# -- 5-9: BVNK fails --------------------------------------------------------------------------


def test_5_three_500s_then_200(pipeline: Any) -> None:
    customer = ready_to_submit(pipeline.emulator, documents=False)
    pipeline.start()
    fault(pipeline.emulator, "500", count=3)
    operation = settles(submit(customer), State.DONE, workers=pipeline.workers)
    assert operation.attempts == 4
    sent = exactly_once(pipeline.emulator, customer, operation)
    assert [entry["status"] for entry in sent] == [500, 500, 500, 201]


def test_6_429_with_retry_after(pipeline: Any) -> None:
    customer = ready_to_submit(pipeline.emulator, documents=False)
    pipeline.start()
    fault(pipeline.emulator, "429", retryAfter=2)
    operation = settles(submit(customer), State.DONE, workers=pipeline.workers)
    sent = exactly_once(pipeline.emulator, customer, operation)
    assert [entry["status"] for entry in sent] == [429, 201]
    first, second = (datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) for entry in sent)
    assert (second - first).total_seconds() >= 2  # Retry-After honoured, not the 0.2 s backoff


def test_7_create_succeeds_but_the_answer_is_lost(pipeline: Any, bvnk_variant: Any) -> None:
    emulator, variant = bvnk_variant.emulator, bvnk_variant.variant
    customer = ready_to_submit(emulator, documents=False)
    pipeline.start(emulator=emulator, **variant.portal)
    fault(emulator, "slow_response", delay=3)  # past the 2 s read timeout
    operation = settles(submit(customer), State.DONE, workers=pipeline.workers)
    assert operation.attempts == 2 and operation.result["reference"]
    exactly_once(emulator, customer, operation)
    # Recovered by repeating the same key and body, not by a second create: BVNK either
    # replays the first answer or refuses the repeat and the portal adopts its customer.
    if variant.replays_creates:
        expected = {"succeeded": 1, "replayed": 1, "refused": 0}
    else:
        expected = {"succeeded": 1, "replayed": 0, "refused": 1}
    assert create_calls(emulator, customer) == expected
    assert operation.result["adopted"] is not variant.replays_creates


def test_8_connection_refused(pipeline: Any, make_emulator: Callable[..., Any], settings) -> None:
    emulator = make_emulator(BVNK_EMULATOR_FAST="1")
    settings.BVNK_BASE_URL = emulator.url
    settings.BVNK_HAWK_AUTH_ID, settings.BVNK_HAWK_SECRET = emulator.auth_id, emulator.secret
    customer = ready_to_submit(emulator, documents=False)
    pipeline.start(emulator=emulator)
    emulator.stop()  # nothing listens on its port now
    operation = submit(customer)
    wait_until(lambda: fresh(operation).attempts >= 2, timeout=20)
    refused = fresh(operation)
    assert refused.state in (State.PENDING, State.IN_FLIGHT)
    assert refused.error_code == "CONNECTION_ERROR"
    emulator.restart()  # same port, same data
    operation = settles(operation, State.DONE, workers=pipeline.workers)
    exactly_once(emulator, customer, operation)


def test_9_a_400_with_field_errors(pipeline: Any, client: Any, agent: Any) -> None:
    customer = ready_to_submit(
        pipeline.emulator, tax_number="INVALID", tax_residence_country="GB"
    )  # a US tax number must look like an SSN; a British one reaches BVNK
    pipeline.start()
    refused = settles(submit(customer, agent), State.FAILED, workers=pipeline.workers)
    assert refused.attempts == 1  # no retry
    assert "individual.taxIdentification.number" in refused.field_errors
    customer.refresh_from_db()
    assert customer.status == "DRAFT" and not emulator_customers(pipeline.emulator, customer)
    client.force_login(agent)
    page = client.get(reverse("customers:onboarding-step", args=[customer.pk, "tax"]))
    assert "Tax identification number is invalid" in page.content.decode()

    services.onboarding_save_step(
        customer=customer, step="tax", values={"tax_number": "123-45-6789"}, actor=agent,
        complete=True,
    )  # fmt: skip
    corrected = settles(submit(customer, agent), State.DONE, workers=pipeline.workers)
    assert corrected.idempotency_key != refused.idempotency_key  # a corrected body, a new key
    assert len(emulator_customers(pipeline.emulator, customer)) == 1


# -- 10: a poison task ------------------------------------------------------------------------


def test_10_a_task_that_kills_its_worker_every_time(pipeline: Any, lead: Any) -> None:
    customer = ready_to_submit(pipeline.emulator, documents=False)
    poisoned = pipeline.start(
        pool="prefork",
        concurrency=1,
        include=("tests.customers.poison_worker",),
        POISON_EXTERNAL_REFERENCES=str(customer.external_reference),
    )
    operation = submit(customer)
    operation = settles(operation, State.NEEDS_ATTENTION, workers=pipeline.workers)
    assert operation.lost_claims == 3 and "without finishing" in operation.note
    # Every claim got as far as BVNK, with the same key: one customer there, the rest replays.
    exactly_once(pipeline.emulator, customer, operation)
    assert create_calls(pipeline.emulator, customer) == {
        "succeeded": 1,
        "replayed": 2,
        "refused": 0,
    }
    customer.refresh_from_db()
    assert customer.status == "SUBMITTING" and customer.needs_attention

    # Once the cause is fixed (a healthy worker), staff retry it: same key, replayed.
    poisoned.stop()
    pipeline.start()
    services.operation_retry(operation, actor=lead)
    operation = settles(operation, State.DONE, workers=pipeline.workers)
    exactly_once(pipeline.emulator, customer, operation)
    assert create_calls(pipeline.emulator, customer) == {
        "succeeded": 1,
        "replayed": 3,
        "refused": 0,
    }
    customer.refresh_from_db()
    assert customer.status == "INFO_REQUIRED" and not customer.needs_attention


# -- 11: how long a dead worker's work waits, with the shipped settings ----------------------

# The portal's defaults, not the short timings above: what a production worker runs with.
DEFAULT_TIMINGS = {
    "BVNK_CONNECT_TIMEOUT": "5",
    "BVNK_READ_TIMEOUT": "30",
    "CELERY_TASK_SOFT_TIME_LIMIT": "120",
    "CELERY_TASK_TIME_LIMIT": "180",
    "BVNK_OPERATION_LEASE_SECONDS": "15",
    "CELERY_VISIBILITY_TIMEOUT": "3600",
    "BVNK_OPERATION_SWEEP_SECONDS": "5",
    "BVNK_OPERATION_REDRIVE_SECONDS": "300",
}


def test_11_a_killed_workers_sends_are_done_within_30_s_of_the_restart(pipeline: Any) -> None:
    customers = [ready_to_submit(pipeline.emulator, documents=False) for _ in range(4)]
    first = pipeline.start(**DEFAULT_TIMINGS)
    fault(pipeline.emulator, "slow", delay=3, count=4)
    operations = [submit(customer) for customer in customers]
    reaches_bvnk(pipeline.emulator, armed=4, taken=4)  # all four creates are at BVNK
    first.kill()  # mid-send: four claims held, their messages unacknowledged in Redis
    restarted = time.monotonic()
    pipeline.start(**DEFAULT_TIMINGS)
    for operation in operations:
        settles(operation, State.DONE, timeout=60, workers=pipeline.workers)
    waited = time.monotonic() - restarted
    # The dead worker's claims stopped being renewed and ran out within the 15 s lease;
    # the next 5-second sweep sent them again (not the broker's one-hour visibility).
    assert waited <= 30, f"the last operation was done {waited:.1f} s after the restart"
    for customer, operation in zip(customers, operations, strict=True):
        operation = fresh(operation)
        assert operation.lost_claims == 1
        exactly_once(pipeline.emulator, customer, operation)


# -- 12: a wallet's create, killed mid-send -----------------------------------------------------


def test_12_worker_killed_mid_wallet_create_leaves_one_wallet_at_bvnk(
    pipeline: Any, bvnk_variant: Any, lead: Any
) -> None:
    """The wallet's POST is at BVNK when the worker dies; the next worker repeats it with
    the same key and BVNK either refuses it as existing (the wallet is adopted) or
    replays its first answer: one wallet at BVNK, under both readings."""
    emulator, variant = bvnk_variant.emulator, bvnk_variant.variant
    customer = ready_to_submit(emulator, documents=False)
    first = pipeline.start(emulator=emulator, **variant.portal)
    settles(submit(customer), State.DONE, workers=pipeline.workers)
    customer.refresh_from_db()
    emulator.control(
        f"customers/{customer.bvnk_reference}/status", json={"status": "VERIFIED"}
    ).raise_for_status()
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.VERIFIED)
    customer.refresh_from_db()

    fault(emulator, "slow", delay=1.5, path=wire.PATH_WALLETS)
    wallet = services.wallet_request(
        customer=customer, currency="USDC", kind=Wallet.Kind.CRYPTO, actor=lead
    )
    operation = wallet.operations.get()
    wait_until(lambda: fresh(operation).state == State.IN_FLIGHT, timeout=15)
    reaches_bvnk(emulator)  # the POST is at the emulator, held there 1.5 s
    first.kill()
    pipeline.start(emulator=emulator, **variant.portal)
    operation = settles(operation, State.DONE, workers=pipeline.workers)

    # The kill hit real work: the first claim was lost with its POST at BVNK.
    assert operation.lost_claims == 1 and operation.attempts == 2
    # Both attempts reached BVNK with the operation's key (the emulator may be shared).
    sent = [
        entry
        for entry in emulator.requests_log(method="POST", path=wire.PATH_WALLETS)
        if entry["idempotencyKey"] == operation.idempotency_key
    ]
    assert len(sent) == 2, sent
    assert operation.result["adopted"] is not variant.replays_wallets
    with bvnk_client(triggered_by="test") as client:
        at_bvnk = client.customer_wallets(str(customer.bvnk_reference))
    wallet.refresh_from_db()
    assert [remote.id for remote in at_bvnk] == [wallet.bvnk_id]
    assert wallet.status in (Wallet.Status.INACTIVE, Wallet.Status.ACTIVE)
