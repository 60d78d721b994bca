"""Benchmark the submission pipeline against a minimal sender of the same calls.

In one run, on a fresh PostgreSQL database and a redis-server of its own, against the
BVNK emulator started with BVNK_EMULATOR_LATENCY_MS=100 (every BVNK call takes 100 ms):

  1. a prefork worker with 2 processes (`--pool prefork --concurrency 2`) sends a batch;
  2. the chosen pool, threads, sends a bigger batch: P worker processes (`--processes`,
     one per core) sharing C threads in all (`--concurrency`; each runs
     `--pool threads --concurrency C/P`);
  3. the minimal reference sender (bench/_reference_tasks.py) sends a batch of the same
     size on the same workers: the same four BVNK calls with the same client and one
     UPDATE per operation, nothing else (no claim, no outbox, no recording).

Each customer is submitted through `services.customer_submit` (documents included, so
every submission is three operations: the create, which is a POST and a GET, then two
document uploads, one POST each). The workers start once everything is queued; the
clock runs from the first claim to the last outcome. Printed:

  - pipeline / reference: the threads workers' BVNK calls per second over the
    reference's on the same workers; goal >= 0.7;
  - threads / prefork-2: the two workers' calls per second (a figure, no goal);
  - duplicates, counted at the emulator: customers created more than once for one
    externalReference, and creates of one body sent with more than one idempotency key
    (both must be 0), and operations that did not end DONE (must be 0);
  - the portal's middleware against Django's default, in process (goal <= 1.5).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from _support import (
    MIDDLEWARE_GOAL,
    CpuMeter,
    add_database_argument,
    free_port,
    fresh_database,
    middleware_cost,
    print_goals,
    print_profile,
    private_redis,
    process_group,
    processes_named,
)
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LATENCY_MS = 100
HAWK_ID, HAWK_SECRET = "bench-hawk-id", "bench-hawk-secret"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
CALLS_PER_CUSTOMER = 4  # create POST + read-back GET + two document POSTs


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path, ready: str) -> Iterator[Any]:
    """Run a subprocess (its own session) until the block ends; wait for `ready` in its log."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[:4]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def hawk_session() -> requests.Session:
    """A requests session signing with the emulator's Hawk credentials (the tests' helper)."""
    from tests.emulator_server import HawkAuth

    session = requests.Session()
    session.auth = HawkAuth(HAWK_ID, HAWK_SECRET)
    return session


def signed_session(emulator: str) -> str:
    """Open and sign an agreement session at the emulator; return its reference."""
    with hawk_session() as http:
        body = {"customerType": "INDIVIDUAL", "countryCode": "US"}
        created = http.post(
            f"{emulator}/platform/v1/customers/agreement/sessions",
            json={**body, "useCase": "EMBEDDED_FIAT_ACCOUNTS"},
            headers={"X-Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        created.raise_for_status()
        reference = created.json()["reference"]
        signed = http.put(
            f"{emulator}/platform/v1/customers/agreement/sessions/{reference}",
            json={"status": "SIGNED", "ipAddress": "127.0.0.1"},
            headers={"X-Idempotency-Key": str(uuid.uuid4())},
            timeout=30,
        )
        signed.raise_for_status()
    return str(reference)


def submitted_customer(n: int, session_reference: str, tag: str) -> int:
    """A complete individual, signed, with two documents, submitted through the service."""
    from django.core.files.base import ContentFile
    from django.db import connection

    from customers import services
    from customers.models import AgreementSession, ComplianceDocument, Customer

    try:
        customer = Customer.objects.create(
            type="INDIVIDUAL",
            first_name="Bench",
            last_name=f"{tag}{n}",
            date_of_birth=dt.date(1984, 6, 30),
            nationality="US",
            birth_country="US",
            email=f"bench{n}@example.com",
            phone="+12025550143",
            address_line1="1 Main Street",
            city="Austin",
            postal_code="78701",
            state_code="TX",
            country="US",
            tax_number="123-45-6789",
            tax_residence_country="US",
            employment_status="SALARIED",
            source_of_funds="SALARY",
            pep_status="NOT_PEP",
            intended_use="TRANSFERS_OWN_WALLET",
            expected_monthly_volume=Decimal("1000"),
            expected_volume_currency="USD",
            estimated_yearly_income="INCOME_0_TO_50K",
            industry_sector="INVESTMENT",
        )
        for kind, sub in (("PASSPORT", "FRONT_SIDE"), ("PROOF_OF_RESIDENCE", "")):
            document = ComplianceDocument(
                customer=customer,
                document_type=kind,
                document_sub_type=sub,
                original_name=f"{kind.lower()}.pdf",
                size=len(PDF),
                content_type="application/pdf",
                sha256=hashlib.sha256(PDF).hexdigest(),
            )
            document.file.save(document.original_name, ContentFile(PDF), save=False)
            document.save()
        AgreementSession.objects.create(
            customer=customer,
            bvnk_reference=session_reference,
            status="SIGNED",
            use_case="EMBEDDED_FIAT_ACCOUNTS",
            country="US",
        )
        services.customer_submit(customer=customer, actor=None)  # publishes after commit
        return int(customer.pk)
    finally:
        connection.close()


def run_phase(name: str, args: argparse.Namespace, env: dict[str, str], emulator: str,
              pool: str, concurrency: int, customers: int, workdir: Path,
              processes: int = 1, reference: bool = False,
              cpu_groups: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Queue `customers` submissions, then let `processes` workers send them; measure.

    `concurrency` is the total: each worker process gets concurrency / processes slots.
    With `reference`, the workers run the minimal sender instead of the portal's outbox.
    The CPU the workers and `cpu_groups` use while they send is measured from /proc.
    """
    from django.db.models import Max, Min

    from customers.models import BvnkOperation, ComplianceDocument, Customer
    from portal.celery import app as celery_app

    tag = f"{name}-{uuid.uuid4().hex[:6]}-"
    started_at = dt.datetime.now(dt.UTC).isoformat()
    with ThreadPoolExecutor(32) as pool_:
        sessions = list(pool_.map(lambda _: signed_session(emulator), range(customers)))
    with ThreadPoolExecutor(4) as pool_:
        ids = list(pool_.map(lambda n: submitted_customer(n, sessions[n], tag), range(customers)))
    operations = BvnkOperation.objects.filter(customer_id__in=ids)
    documents = ComplianceDocument.objects.filter(customer_id__in=ids)
    queue = "bvnk"
    if reference:
        from bench._reference_tasks import QUEUE

        queue = QUEUE
        for pk in operations.values_list("pk", flat=True):
            celery_app.send_task("bench.reference_send", args=[pk], queue=QUEUE)
    with ExitStack() as workers:
        started: list[subprocess.Popen[bytes]] = []
        for n in range(processes):
            command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", queue]
            command += ["--pool", pool, "--concurrency", str(concurrency // processes)]
            command += ["--loglevel", "WARNING", "--hostname", f"{name}-{n}@%h"]
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            if reference:
                command += ["--include", "bench._reference_tasks"]
            log = workdir / f"worker-{name}-{n}.log"
            started.append(workers.enter_context(process(command, env, log, ready=f"{name}-{n}@")))
        meter = CpuMeter(
            {
                "workers": lambda: [pid for p in started for pid in process_group(p.pid)],
                **(cpu_groups or {}),
            }
        )
        meter.start()
        deadline = time.monotonic() + args.timeout

        def finished() -> bool:
            if reference:
                return not documents.filter(bvnk_reference__isnull=True).exists() and (
                    operations.filter(state="DONE").count() == customers
                )
            return operations.filter(state="DONE").count() >= customers * 3

        while not finished():
            if operations.filter(state__in=("FAILED", "NEEDS_ATTENTION")).exists():
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        cpu = meter.stop()
    window = operations.aggregate(start=Min("claimed_at"), end=Max("completed_at"))
    if reference:
        window["end"] = documents.aggregate(end=Max("updated_at"))["end"]
    seconds = (window["end"] - window["start"]).total_seconds()
    total = customers * 3
    done = (
        operations.filter(state="DONE").count() + documents.exclude(bvnk_reference=None).count()
        if reference
        else operations.filter(state="DONE").count()
    )
    calls = customers * CALLS_PER_CUSTOMER
    externals = {
        str(r)
        for r in Customer.objects.filter(pk__in=ids).values_list("external_reference", flat=True)
    }
    return {
        "name": name,
        "pool": pool,
        "concurrency": concurrency,
        "customers": customers,
        "operations": total,
        "done": done,
        "calls": calls,
        "seconds": seconds,
        "calls_per_second": calls / seconds,
        "customers_per_second": customers / seconds,
        "not_done": total - done,
        # CPU milliseconds per customer, by process group, and the machine's busy share.
        "cpu_ms_per_customer": {group: used * 1000 / customers for group, used in cpu.items()},
        "machine_busy_share": meter.busy_share,
        **duplicates_at_emulator(emulator, externals, started_at),
    }


def profile_in_process(count: int, emulator: str) -> dict[str, Any]:
    """Send `count` customers here, one after another, the portal's way (the outbox's
    claims, calls recorded, outcomes) and then the reference's; print for each the CPU
    and SQL statements per customer (one batch unprofiled), then where a profiled batch
    spent its time. Waiting on BVNK (100 ms a call) shows as socket reads."""
    import cProfile

    from django.db import connection

    from bench._reference_tasks import reference_send
    from customers.models import BvnkOperation, Customer
    from customers.outbox import sending

    def batch(tag: str) -> list[int]:
        sessions = [signed_session(emulator) for _ in range(count)]
        return [submitted_customer(n, sessions[n], tag) for n in range(count)]

    def send(way: str, ids: list[int]) -> None:
        if way == "portal":
            for customer in Customer.objects.filter(pk__in=ids):
                sending.operations_run_due(customer=customer)
        else:
            operations = BvnkOperation.objects.filter(customer_id__in=ids)
            for pk in operations.values_list("pk", flat=True):
                reference_send(pk)

    results: dict[str, Any] = {}
    print(f"\nProfile: {count} customers sent in this process, each way")
    for way in ("portal", "reference"):
        ids = batch(f"cpu-{way}-")
        statements = 0

        def count_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count_statement):
            cpu, wall = time.process_time(), time.perf_counter()
            send(way, ids)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(
            f"  {way:<10} CPU {cpu * 1000 / count:6.1f} ms, wall {wall * 1000 / count:6.0f} ms, "
            f"{statements / count:5.1f} SQL statements per customer (unprofiled)"
        )
        ids = batch(f"profile-{way}-")
        profiler = cProfile.Profile()
        profiler.enable()
        send(way, ids)
        profiler.disable()
        results[way] = {
            "cpu_ms_per_customer": cpu * 1000 / count,
            "statements_per_customer": statements / count,
            "profile": print_profile(profiler, per=count, label=f"{way}, profiled, per customer"),
        }
    return results


def duplicates_at_emulator(emulator: str, externals: set[str], since: str) -> dict[str, int]:
    """Count, at the emulator, the customers created more than once (or never) for these
    externalReferences, and the create bodies sent with more than one idempotency key."""
    overview = requests.get(f"{emulator}/_emulator/customers", timeout=60).json()
    counts = overview["createCalls"]
    by_reference = sum(abs(counts.get(ext, {}).get("succeeded", 0) - 1) for ext in externals)
    log = requests.get(
        f"{emulator}/_emulator/requests",
        params={"method": "POST", "path": "/platform/v1/customers"},
        timeout=60,
    ).json()
    keys: dict[str, set[str]] = {}
    for entry in log:
        if entry["at"] >= since:
            keys.setdefault(entry["bodySha256"], set()).add(entry["idempotencyKey"])
    by_key = sum(len(sent) - 1 for sent in keys.values())
    return {"duplicates_by_reference": by_reference, "duplicates_by_key": by_key}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--concurrency", type=int, default=24, help="threads of the chosen pool, in all"
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="worker processes sharing those threads"
    )
    parser.add_argument("--customers", type=int, default=300, help="customers for the threads run")
    parser.add_argument("--prefork-customers", type=int, default=40)
    add_database_argument(parser, "--admin-url")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run, at most")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also send N more customers in this process under cProfile, the portal's way "
        "and the reference's, and print where the time goes",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        return measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(args: argparse.Namespace, workdir: Path) -> int:
    """Run the three phases in `workdir`; print the figures; return 1 when a goal is missed."""
    emulator_port = free_port()
    emulator = f"http://127.0.0.1:{emulator_port}"
    name = f"bench_pipeline_{os.getpid()}"
    with fresh_database(args.admin_url, name) as database_url, private_redis() as broker:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BVNK_", "DJANGO_"))}
        env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker,
            "REDIS_URL": broker,
            "BVNK_BASE_URL": emulator,
            "BVNK_HAWK_AUTH_ID": HAWK_ID,
            "BVNK_HAWK_SECRET": HAWK_SECRET,
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "SEARCH_INDEX_KEYS": os.urandom(32).hex(),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
            check=True,
        )  # fmt: skip
        os.environ.update(env)
        import django

        django.setup()
        middleware = middleware_cost()

        emulator_env = {
            **base,
            "BVNK_HAWK_AUTH_ID": HAWK_ID,
            "BVNK_HAWK_SECRET": HAWK_SECRET,
            "BVNK_EMULATOR_LATENCY_MS": str(LATENCY_MS),
            "BVNK_EMULATOR_WEBHOOK_URL": "",
            "BVNK_EMULATOR_DATA": str(workdir / "emulator.sqlite3"),
            "BVNK_EMULATOR_CHECK_SECONDS": "3600",  # no review moves a customer on meanwhile
            "BVNK_EMULATOR_REQUEST_LOG_SIZE": "100000",
        }
        command = [sys.executable, "-m", "bvnk_emulator", "--port", str(emulator_port), "--quiet"]
        figures_profile: dict[str, Any] = {}
        with process(command, emulator_env, workdir / "emulator.log", ready="listening") as bvnk:
            # The whole PostgreSQL server (its writers too) and every redis-server: the
            # benchmark runs on an otherwise idle machine.
            groups = {
                "emulator": lambda: process_group(bvnk.pid),
                "PostgreSQL": lambda: processes_named("postgres"),
                "Redis": lambda: processes_named("redis-server"),
            }
            prefork = run_phase(
                "prefork-2", args, env, emulator, "prefork", 2, args.prefork_customers, workdir,
                cpu_groups=groups,
            )  # fmt: skip
            threads = run_phase(
                f"threads-{args.concurrency}", args, env, emulator, "threads", args.concurrency,
                args.customers, workdir, processes=args.processes, cpu_groups=groups,
            )  # fmt: skip
            # Last: the portal's own messages for these customers stay unconsumed.
            reference = run_phase(
                "reference", args, env, emulator, "threads", args.concurrency,
                args.customers, workdir, processes=args.processes, reference=True,
                cpu_groups=groups,
            )  # fmt: skip
            if args.profile:
                figures_profile = profile_in_process(args.profile, emulator)
    runs = (prefork, threads, reference)
    figures = {
        "pipeline_over_reference": threads["calls_per_second"] / reference["calls_per_second"],
        "threads_over_prefork2": threads["calls_per_second"] / prefork["calls_per_second"],
        "duplicates_by_reference": sum(r["duplicates_by_reference"] for r in runs),
        "duplicates_by_key": sum(r["duplicates_by_key"] for r in runs),
        "not_done": sum(r["not_done"] for r in runs),
        "middleware": middleware,
        "runs": list(runs),
    }
    print(f"\nSubmission pipeline (BVNK latency {LATENCY_MS} ms, PostgreSQL, Redis)")
    for run in runs:
        print(
            f"  {run['name']:<12} {run['customers']:>4} customers, {run['calls']:>5} BVNK calls "
            f"in {run['seconds']:6.2f} s: {run['calls_per_second']:6.1f} calls/s, "
            f"{run['customers_per_second']:5.1f} customers/s"
        )
    print("  CPU ms per customer while sending (from /proc), and the machine's busy share:")
    for run in runs:
        cpu = ", ".join(f"{group} {ms:.1f}" for group, ms in run["cpu_ms_per_customer"].items())
        print(f"  {run['name']:<12} {cpu}; busy {run['machine_busy_share']:.0%} of both cores")
    print(
        f"  threads-{args.concurrency} / prefork-2: {figures['threads_over_prefork2']:.2f}; "
        f"trivial view in process: portal middleware {middleware['portal_ms']:.3f} ms, "
        f"Django default {middleware['default_ms']:.3f} ms"
    )
    missed = print_goals([
        (f"pipeline / reference ({args.processes} x {args.concurrency // args.processes})",
         figures["pipeline_over_reference"], ">=", 0.7),
        ("customers created twice (by externalReference)",
         float(figures["duplicates_by_reference"]), "==", 0),
        ("creates sent with two keys (by idempotency key)",
         float(figures["duplicates_by_key"]), "==", 0),
        ("operations not done", float(figures["not_done"]), "==", 0),
        ("portal middleware / Django default (time)", middleware["ratio"], "<=",
         MIDDLEWARE_GOAL),
    ])  # fmt: skip
    if args.profile:
        figures["profile"] = figures_profile
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
