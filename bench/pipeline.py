"""Benchmark the submission pipeline: N customers submitted, sent to BVNK by Celery workers.

In one run, on a fresh PostgreSQL database and its own Redis database, against the BVNK
emulator started with BVNK_EMULATOR_LATENCY_MS=100 (every BVNK call takes 100 ms):

  1. a prefork worker with 2 processes (`--pool prefork --concurrency 2`) sends a batch;
  2. the chosen pool, threads, sends a bigger batch: P worker processes (`--processes`,
     one per core) sharing C threads in all (`--concurrency`; each runs
     `--pool threads --concurrency C/P`).

Each customer is submitted through `services.customer_submit` (documents included, so
every submission is three operations: the create, which is a POST and a GET, then two
document uploads, one POST each). The worker starts once everything is queued; the
clock runs from the first claim to the last outcome. Printed:

  - pipeline / ceiling: the threads workers' BVNK calls per second divided by what C
    concurrent calls of 100 ms allow (C / 0.1 s); goal >= 0.7;
  - threads / prefork-2: the two workers' calls per second; goal >= 8;
  - duplicates: customers created twice at the emulator, or creates sent with two keys
    (must be 0), and operations that did not end DONE (must be 0).

Run: `make bench` (all benchmarks) or `.venv/bin/python bench/pipeline.py`. Needs
PostgreSQL and Redis on localhost (the defaults of .ci/run); see bench/README.md.
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
from _support import add_database_argument, free_port, fresh_database
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
              processes: int = 1) -> dict[str, Any]:  # fmt: skip
    """Queue `customers` submissions, then let `processes` workers send them; measure.

    `concurrency` is the total: each worker process gets concurrency / processes slots.
    """
    from django.db.models import Max, Min

    from customers.models import BvnkCall, BvnkOperation, Customer

    tag = f"{name}-{uuid.uuid4().hex[:6]}-"
    with ThreadPoolExecutor(32) as pool_:
        sessions = list(pool_.map(lambda _: signed_session(emulator), range(customers)))
    with ThreadPoolExecutor(4) as pool_:
        ids = list(pool_.map(lambda n: submitted_customer(n, sessions[n], tag), range(customers)))
    operations = BvnkOperation.objects.filter(customer_id__in=ids)
    with ExitStack() as workers:
        for n in range(processes):
            command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "-Q", "bvnk"]
            command += ["--pool", pool, "--concurrency", str(concurrency // processes)]
            command += ["--loglevel", "WARNING", "--hostname", f"{name}-{n}@%h"]
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            log = workdir / f"worker-{name}-{n}.log"
            workers.enter_context(process(command, env, log, ready=f"{name}-{n}@"))
        deadline = time.monotonic() + args.timeout
        total = customers * 3
        while operations.filter(state="DONE").count() < total:
            if operations.filter(state__in=("FAILED", "NEEDS_ATTENTION")).exists():
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    window = operations.aggregate(start=Min("claimed_at"), end=Max("completed_at"))
    seconds = (window["end"] - window["start"]).total_seconds()
    calls = BvnkCall.objects.filter(customer_id__in=ids).count()
    done = operations.filter(state="DONE").count()
    creates = BvnkCall.objects.filter(customer_id__in=ids, action="customer.create")
    keys = creates.values("customer_id").distinct().count()
    overview = requests.get(f"{emulator}/_emulator/customers", timeout=60).json()
    references = Customer.objects.filter(pk__in=ids).values_list("external_reference", flat=True)
    externals = {str(reference) for reference in references}
    at_bvnk = [c for c in overview["customers"] if c.get("externalReference") in externals]
    duplicates = (len(at_bvnk) - len(externals)) + (creates.count() - keys)
    from django.db.models import Avg, DurationField, ExpressionWrapper, F

    held = ExpressionWrapper(F("completed_at") - F("claimed_at"), output_field=DurationField())
    op_wall = operations.filter(state="DONE").aggregate(avg=Avg(held))["avg"]
    call_ms = BvnkCall.objects.filter(customer_id__in=ids).aggregate(avg=Avg("duration_ms"))["avg"]
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
        "duplicates": duplicates,
        "not_done": total - done,
        "call_ms": float(call_ms or 0),
        "operation_ms": op_wall.total_seconds() * 1000 if op_wall else 0.0,
        # Little's law: operations held at once, on average (at most the concurrency).
        "busy_slots": (done / seconds) * (op_wall.total_seconds() if op_wall else 0.0),
    }


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
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run, at most")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        return measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def measure(args: argparse.Namespace, workdir: Path) -> int:
    """Run both phases in `workdir`; print the figures; return 1 when a goal is missed."""
    emulator_port = free_port()
    emulator = f"http://127.0.0.1:{emulator_port}"
    name = f"bench_pipeline_{os.getpid()}"
    with fresh_database(args.admin_url, name) as database_url:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("BVNK_", "DJANGO_"))}
        env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": args.redis,
            "REDIS_URL": args.redis,
            "BVNK_BASE_URL": emulator,
            "BVNK_HAWK_AUTH_ID": HAWK_ID,
            "BVNK_HAWK_SECRET": HAWK_SECRET,
            "PRIVATE_MEDIA_ROOT": str(workdir / "private"),
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
            check=True,
        )  # fmt: skip
        import redis

        redis.Redis.from_url(args.redis).flushdb()
        os.environ.update(env)
        import django

        django.setup()

        emulator_env = {
            **base,
            "BVNK_HAWK_AUTH_ID": HAWK_ID,
            "BVNK_HAWK_SECRET": HAWK_SECRET,
            "BVNK_EMULATOR_LATENCY_MS": str(LATENCY_MS),
            "BVNK_EMULATOR_WEBHOOK_URL": "",
            "BVNK_EMULATOR_DATA": str(workdir / "emulator.sqlite3"),
            "BVNK_EMULATOR_CHECK_SECONDS": "3600",  # no review moves a customer on meanwhile
        }
        command = [sys.executable, "-m", "bvnk_emulator", "--port", str(emulator_port), "--quiet"]
        with process(command, emulator_env, workdir / "emulator.log", ready="listening"):
            prefork = run_phase(
                "prefork-2", args, env, emulator, "prefork", 2, args.prefork_customers, workdir
            )
            threads = run_phase(
                f"threads-{args.concurrency}", args, env, emulator, "threads", args.concurrency,
                args.customers, workdir, processes=args.processes,
            )  # fmt: skip
    ceiling = args.concurrency / (LATENCY_MS / 1000)
    figures = {
        "pipeline_over_ceiling": threads["calls_per_second"] / ceiling,
        "threads_over_prefork2": threads["calls_per_second"] / prefork["calls_per_second"],
        "duplicates": prefork["duplicates"] + threads["duplicates"],
        "not_done": prefork["not_done"] + threads["not_done"],
        "runs": [prefork, threads],
    }
    print(f"\nSubmission pipeline (BVNK latency {LATENCY_MS} ms, PostgreSQL, Redis)")
    for run in (prefork, threads):
        print(
            f"  {run['name']:<12} {run['customers']:>4} customers, {run['calls']:>5} BVNK calls "
            f"in {run['seconds']:6.2f} s: {run['calls_per_second']:6.1f} calls/s, "
            f"{run['customers_per_second']:5.1f} customers/s; a call {run['call_ms']:.0f} ms, "
            f"an operation held {run['operation_ms']:.0f} ms, {run['busy_slots']:.1f} slots busy"
        )
    print(f"  ceiling: {args.concurrency} calls at once / {LATENCY_MS} ms = {ceiling:.0f} calls/s")
    rows = [
        ("pipeline / ceiling", figures["pipeline_over_ceiling"], ">=", 0.7),
        (f"threads-{args.concurrency} / prefork-2", figures["threads_over_prefork2"], ">=", 8.0),
        ("duplicates", figures["duplicates"], "==", 0),
        ("operations not done", figures["not_done"], "==", 0),
    ]
    missed = False
    for label, value, op, goal in rows:
        ok = value >= goal if op == ">=" else value == goal
        missed |= not ok
        print(f"  {label:<42} {value:>9.2f}   goal {op} {goal:<6} {'ok' if ok else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
