"""Benchmark My customers and the admin changelist with 1,000,000 customers in PostgreSQL.

Creates its own database beside BENCH_DATABASE_URL's, migrates it, seeds 10 customers,
counts each page's queries, grows the table to 1,000,000 with one generate_series INSERT,
runs VACUUM ANALYZE, counts the queries again and measures, interleaved, the median
render time (Django's test client, in process: middleware, session, queries, template)
of:

  - a trivial logged-in page (the "Add customer" form);
  - My customers unfiltered, with a status filter, with a name search, with a search by
    an associate's name and by the start of a BVNK reference, and its work queue tabs
    (Waiting on us, Mine);
  - the admin changelist and its search, and the same changelist with the count
    optimisations switched off (full COUNT(*)s, Django's own paginator).

It prints each measured ratio beside its goal and drops the database at the end.
Run: `make bench` (every benchmark) or `.venv/bin/python bench/dashboard.py`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from _support import (
    MIDDLEWARE_GOAL,
    add_database_argument,
    fresh_database,
    middleware_cost,
    print_profile,
)

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "bench_dashboard"
TOTAL = 1_000_000
SMALL = 10
SEARCH = "amber falcon"  # two name words: about one company in 2,800 (270 rows)
ASSOCIATE_SEARCH = "hugo patel"  # an associate's first and last name: one company in 290
STATUS = "INFO_REQUIRED"

# Rough shares of a live book of customers, one entry per percent.
STATUS_SHARES = {
    "VERIFIED": 45,
    "PENDING": 12,
    "INFO_REQUIRED": 12,
    "ACTIONS_REQUIRED": 4,
    "REJECTED": 5,
    "TERMINATED": 2,
    "DRAFT": 17,
    "SUBMITTING": 3,
}
SUMMARIES = {
    "PENDING": "Waiting for BVNK review",
    "INFO_REQUIRED": "2 documents, 1 questionnaire missing",
    "ACTIONS_REQUIRED": "BVNK asks for an action",
    "REJECTED": "Rejected by BVNK",
    "DRAFT": "Draft: 3 steps to complete",
    "SUBMITTING": "Being sent to BVNK",
}
WORDS_1 = [
    "Amber",
    "Arctic",
    "Atlas",
    "Azure",
    "Beacon",
    "Birch",
    "Bright",
    "Cedar",
    "Cobalt",
    "Coral",
    "Crest",
    "Crimson",
    "Delta",
    "Ember",
    "Evergreen",
    "Falcon",
    "Fern",
    "Granite",
    "Harbor",
    "Hazel",
    "Indigo",
    "Iron",
    "Ivory",
    "Jade",
    "Juniper",
    "Keystone",
    "Lantern",
    "Laurel",
    "Linden",
    "Lunar",
    "Maple",
    "Marble",
    "Meadow",
    "Mercury",
    "Millstone",
    "Nimbus",
    "North",
    "Oak",
    "Onyx",
    "Orchard",
    "Pacific",
    "Pine",
    "Pioneer",
    "Polar",
    "Quartz",
    "Raven",
    "Redwood",
    "Ridge",
    "River",
    "Saffron",
    "Sage",
    "Silver",
    "Solar",
    "Spruce",
    "Stone",
    "Summit",
    "Sterling",
    "Thistle",
    "Timber",
    "Topaz",
    "Tundra",
    "Umber",
    "Valley",
    "Vector",
    "Willow",
    "Zenith",
]
WORDS_2 = [
    "Falcon",
    "Anchor",
    "Bridge",
    "Canyon",
    "Circle",
    "Compass",
    "Cove",
    "Crown",
    "Field",
    "Forge",
    "Gate",
    "Grove",
    "Harbour",
    "Haven",
    "Hill",
    "Island",
    "Key",
    "Lake",
    "Line",
    "Mill",
    "Mountain",
    "Path",
    "Peak",
    "Point",
    "Port",
    "Quarry",
    "Range",
    "Reach",
    "Rock",
    "Shore",
    "Spring",
    "Square",
    "Star",
    "Stream",
    "Tower",
    "Trail",
    "Vale",
    "View",
    "Wharf",
    "Wood",
    "Works",
    "Yard",
]
SUFFIXES = [
    "Ltd",
    "Limited",
    "Trading Ltd",
    "Holdings",
    "GmbH",
    "LLC",
    "Inc",
    "Partners",
    "Capital",
    "Logistics",
]
FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dan",
    "Eva",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kara",
    "Leo",
    "Mia",
    "Noah",
    "Olga",
    "Pia",
    "Quinn",
    "Rosa",
]
LAST = [
    "Smith",
    "Jones",
    "Brown",
    "Patel",
    "Garcia",
    "Novak",
    "Rossi",
    "Kowalski",
    "Silva",
    "Dubois",
    "Jensen",
    "Murphy",
]


def sql_array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def seed_sql(first: int, last: int, owner_id: int) -> str:
    """One INSERT ... SELECT FROM generate_series: every column of Customer, plausible values."""
    from django.db import models

    from customers import crypto
    from customers.models import Customer

    statuses = [status for status, share in STATUS_SHARES.items() for _ in range(share)]

    # hashtext(): a deterministic pseudo-random pick per row, independent of the type (i % 4).
    def pick(values: list[str], salt: str) -> str:
        n = len(values)
        index = f"((hashtext(i::text || '{salt}')::bigint % {n}) + {n}) % {n}"
        return f"({sql_array(values)})[1 + {index}]"

    status = pick(statuses, "status")
    company_name = (
        f"{pick(WORDS_1, 'w1')} || ' ' || {pick(WORDS_2, 'w2')} || ' ' || {pick(SUFFIXES, 'sfx')}"
    )
    first_name = pick(FIRST, "first")
    associate = f"{pick(FIRST, 'afirst')} || ' ' || {pick(LAST, 'alast')}"
    last_name = f"{pick(LAST, 'last')} || (i % 997)::text"
    summary = (
        "CASE s.status "
        + " ".join(f"WHEN '{key}' THEN '{text}'" for key, text in SUMMARIES.items())
        + " ELSE '' END"
    )
    values: dict[str, str] = {
        "type": "s.type",
        "status": "s.status",
        "status_changed_at": "s.created_at + ((i % 29) || ' days')::interval",
        "external_reference": "md5(i::text || 'external')::uuid",
        "bvnk_reference": "CASE WHEN s.status <> 'DRAFT' THEN md5(i::text)::uuid::text END",
        "legal_name": "CASE WHEN s.type = 'COMPANY' THEN s.company ELSE '' END",
        "first_name": "CASE WHEN s.type = 'INDIVIDUAL' THEN s.first ELSE '' END",
        "last_name": "CASE WHEN s.type = 'INDIVIDUAL' THEN s.last ELSE '' END",
        "search_name": "CASE WHEN s.type = 'COMPANY' THEN s.company "
        "ELSE s.first || ' ' || s.last END",
        # Emails are Fernet tokens (SQL cannot encrypt): one real token of the usual size
        # for every row, and a distinct 64-hex keyed-hash stand-in per row.
        "email": f"'{crypto.encrypt('contact123456@customer1234.example')}'",
        "email_hash": "md5(i::text || 'email') || md5(i::text || 'hash')",
        "country": "'GB'",
        "tax_residence_country": "'GB'",
        "created_at": "s.created_at",
        "updated_at": "s.created_at",
        "created_by_id": f"CASE WHEN i % 10 = 0 THEN {owner_id} END",
        "blocking_summary": summary,
        "waiting_on": "CASE WHEN s.status IN ('INFO_REQUIRED', 'ACTIONS_REQUIRED') THEN 'PARTNER' "
        "WHEN s.status IN ('SUBMITTING', 'PENDING') THEN 'BVNK' ELSE '' END",
        "needs_attention": "i % 500 = 0",
        "waiting_reason": "CASE WHEN s.status IN ('INFO_REQUIRED', 'ACTIONS_REQUIRED') "
        "THEN 'BVNK asks for: Company proof of address' ELSE '' END",
        "associate_names": "CASE WHEN s.type = 'COMPANY' THEN s.associate ELSE '' END",
        "assignee_id": f"CASE WHEN i % 50 = 0 THEN {owner_id} END",
        # Two verified customers in three have a wallet or two, one of them active.
        "wallets_total": "CASE WHEN s.status = 'VERIFIED' AND i % 3 <> 0 THEN 1 + i % 2 ELSE 0 END",
        "wallets_active": "CASE WHEN s.status = 'VERIFIED' AND i % 3 <> 0 THEN 1 ELSE 0 END",
    }
    columns, expressions = [], []
    for field in Customer._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in values or field.column in values:
            expressions.append(values.get(field.name) or values[field.column])
        elif field.null:
            expressions.append("NULL")
        elif isinstance(field, models.JSONField):
            expressions.append("'{}'::jsonb")
        elif isinstance(field, models.BooleanField):
            expressions.append("false")
        elif isinstance(field, models.IntegerField | models.DecimalField):
            expressions.append("0")
        elif isinstance(field, models.DateTimeField):
            expressions.append("now()")
        else:
            expressions.append("''")
    return f"""
        INSERT INTO customers_customer ({", ".join(columns)})
        SELECT {", ".join(expressions)}
        FROM (
            SELECT i,
                   CASE WHEN i % 4 = 0 THEN 'INDIVIDUAL' ELSE 'COMPANY' END AS type,
                   {status} AS status,
                   {company_name} AS company,
                   {first_name} AS first,
                   {last_name} AS last,
                   {associate} AS associate,
                   now() - (({TOTAL} - i) * interval '31 seconds') AS created_at
            FROM generate_series({first}, {last}) AS i
        ) AS s
    """  # noqa: S608 - built from the model and constants above


def timed(client: Any, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET {path} answered {response.status_code}")
    return elapsed


def query_count(client: Any, path: str, before: Callable[[], None] | None = None) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TOTAL, help="customers to seed")
    parser.add_argument("--rounds", type=int, default=40, help="timed requests per page")
    add_database_argument(parser)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--database-name", default=DATABASE, help="the database it creates, then drops"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also request the trivial page, My customers and the searches N times each "
        "under cProfile and print where the time goes (SQL statements with their plans)",
    )
    args = parser.parse_args()

    with fresh_database(args.database_url, args.database_name) as database_url:
        os.environ.update(
            DATABASE_URL=database_url,
            DEBUG="false",
            SECRET_KEY="bench-" + uuid.uuid4().hex * 2,
            ALLOWED_HOSTS="testserver,127.0.0.1",
            SECURE_SSL_REDIRECT="false",
            OTP_REQUIRED="false",
            FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
            SEARCH_INDEX_KEYS=os.urandom(32).hex(),
            LOG_LEVEL="ERROR",
            CONN_MAX_AGE="600",
            DJANGO_SETTINGS_MODULE="portal.settings",
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        return run(args)


def run(args: argparse.Namespace) -> int:
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.core.management import call_command
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test import Client

    from customers import roles
    from customers.models import Customer

    # A BVNK reference cut short as the list shows it (the seed's md5(i)::uuid).
    middle = args.rows // 2
    prefix = str(uuid.UUID(hashlib.md5(str(middle).encode()).hexdigest()))[:8]  # noqa: S324

    call_command("migrate", verbosity=0)
    lead = get_user_model().objects.create_user("bench-lead", is_staff=True)
    lead.groups.add(Group.objects.get(name=roles.COMPLIANCE_LEAD))
    client = Client()
    client.force_login(lead)
    customer_admin = admin.site._registry[Customer]

    def counts_off() -> None:
        customer_admin.show_full_result_count = True
        customer_admin.paginator = Paginator

    def counts_on() -> None:
        customer_admin.show_full_result_count = False
        customer_admin.paginator = type(customer_admin).paginator

    pages: dict[str, tuple[str, Callable[[], None] | None]] = {
        "trivial page": ("/customers/new/", None),
        "My customers": ("/customers/", None),
        "  status filter": (f"/customers/?status={STATUS}", None),
        "  name search": (f"/customers/?q={SEARCH.replace(' ', '+')}", None),
        "  associate search": (f"/customers/?q={ASSOCIATE_SEARCH.replace(' ', '+')}", None),
        "  reference prefix": (f"/customers/?q={prefix}", None),
        "  waiting on us": ("/customers/?tab=waiting", None),
        "  mine": ("/customers/?tab=mine", None),
        "  verified without a wallet": ("/customers/?no_wallet=1", None),
        "admin changelist": ("/admin/customers/customer/", counts_on),
        "  admin search": (f"/admin/customers/customer/?q={SEARCH.replace(' ', '+')}", counts_on),
        "admin, counts off": ("/admin/customers/customer/", counts_off),
    }

    with connection.cursor() as cursor:
        cursor.execute(seed_sql(1, SMALL, lead.pk))
        cursor.execute("ANALYZE customers_customer")
    for path, before in pages.values():  # warm caches (sessions, permissions, templates)
        query_count(client, path, before)
    small = {name: query_count(client, path, before) for name, (path, before) in pages.items()}

    # Bulk load the way one would in production: the trigram indexes are dropped and
    # rebuilt after, read from the catalogue so the set is whatever the migrations left.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'customers_customer' AND indexdef LIKE '%gin_trgm_ops%'"
        )
        trigram_indexes = cursor.fetchall()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for name, _ in trigram_indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute(seed_sql(SMALL + 1, args.rows, lead.pk))
        for _, definition in trigram_indexes:
            cursor.execute(definition)
    seeded = time.perf_counter() - started
    connection.close()
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE customers_customer")
    rows = Customer.objects.count()
    print(f"Seeded {rows:,} customers in {seeded:.0f} s (then VACUUM ANALYZE).")
    # The pages keep pg_stats' estimates for a minute; the table just grew 100,000-fold.
    cache.clear()

    for path, before in pages.values():
        query_count(client, path, before)
    large = {name: query_count(client, path, before) for name, (path, before) in pages.items()}

    samples: dict[str, list[float]] = {name: [] for name in pages}
    for round_ in range(args.rounds + 5):
        for name, (path, before) in pages.items():
            if before:
                before()
            elapsed = timed(client, path)
            if round_ >= 5:  # the first rounds warm PostgreSQL's buffers
                samples[name].append(elapsed)
    counts_on()
    median = {name: statistics.median(values) for name, values in samples.items()}

    print(f"\n{'page':<22}{'median ms':>11}{'queries @10':>13}{'@' + format(rows, ','):>13}")
    for name in pages:
        print(f"{name:<22}{median[name]:>11.1f}{small[name]:>13}{large[name]:>13}")

    checks = [
        (
            "My customers / trivial page",
            median["My customers"] / median["trivial page"],
            "<= 2.0",
            2.0,
        ),
        (
            "name search / My customers",
            median["  name search"] / median["My customers"],
            "<= 1.5",
            1.5,
        ),
        *[
            (f"{page.strip()} / My customers", median[page] / median["My customers"], "<= 1.5", 1.5)
            for page in ("  associate search", "  reference prefix", "  waiting on us", "  mine")
        ],
        (
            "status filter / My customers",
            median["  status filter"] / median["My customers"],
            "(no goal)",
            None,
        ),
        (
            "admin / admin with counts off",
            median["admin changelist"] / median["admin, counts off"],
            "<= 0.6",
            0.6,
        ),
        (
            "admin search / admin changelist",
            median["  admin search"] / median["admin changelist"],
            "(no goal)",
            None,
        ),
    ]
    middleware = middleware_cost()
    print(
        f"\ntrivial view in process: portal middleware {middleware['portal_ms']:.3f} ms, "
        f"Django's default middleware {middleware['default_ms']:.3f} ms"
    )
    checks.append(
        (
            "portal middleware / Django default",
            middleware["ratio"],
            f"<= {MIDDLEWARE_GOAL}",
            MIDDLEWARE_GOAL,
        )
    )
    print(f"\n{'ratio':<34}{'measured':>9}  goal")
    failed = False
    for label, ratio, goal, limit in checks:
        ok = limit is None or ratio <= limit
        failed |= not ok
        print(f"{label:<34}{ratio:>9.2f}  {goal}{'' if ok else '  MISSED'}")
    same = all(small[name] == large[name] for name in pages if name != "admin, counts off")
    failed |= not same
    print(
        f"{'queries at 10 rows = at ' + format(rows, ','):<34}{'yes' if same else 'no':>9}  yes"
        + ("" if same else "  MISSED")
    )
    profiles = {}
    if args.profile:
        print(f"\nProfile: {args.profile} requests of each page, per request")
        for name in ("trivial page", "My customers", "  associate search", "  name search"):
            profiles[name.strip()] = profile_page(client, pages[name][0], args.profile)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "median_ms": median,
                    "queries_small": small,
                    "queries_large": large,
                    "middleware": middleware,
                    "profiles": profiles,
                },
                indent=2,
            )
        )
    return 1 if failed else 0


def profile_page(client: Any, path: str, rounds: int) -> dict[str, Any]:
    """Request `path` `rounds` times: print its SQL statements by time (unprofiled, with
    the slowest one's plan), then where a profiled round of requests spent its time."""
    import cProfile

    from django.db import connection

    statements: dict[str, list[float]] = {}
    slowest: tuple[float, str, Any] = (0.0, "", None)

    def timed_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal slowest
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            statements.setdefault(sql, []).append(elapsed)
            if elapsed > slowest[0]:
                slowest = (elapsed, sql, params)

    total = 0.0
    with connection.execute_wrapper(timed_statement):
        for _ in range(rounds):
            total += timed(client, path)
    sql_ms = sum(sum(times) for times in statements.values()) / rounds
    print(
        f"\n{path}: {total / rounds:.1f} ms a request, of which {sql_ms:.1f} ms in "
        f"{sum(len(t) for t in statements.values()) / rounds:.0f} SQL statements:"
    )
    by_time = sorted(statements.items(), key=lambda item: -sum(item[1]))
    for sql, times in by_time[:6]:
        print(f"  {sum(times) / rounds:6.2f} ms  {' '.join(sql.split())[:110]}")
    plan: list[str] = []
    if slowest[1].lstrip().upper().startswith("SELECT"):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1], slowest[2])
            plan = [row[0] for row in cursor.fetchall()]
        print(f"  plan of the slowest ({slowest[0]:.1f} ms):")
        for line in plan[:12]:
            print(f"    {line}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        timed(client, path)
    profiler.disable()
    profile = print_profile(profiler, per=rounds, label="profiled, per request", lines=10)
    return {"ms": total / rounds, "sql_ms": sql_ms, "plan": plan, "profile": profile}


if __name__ == "__main__":
    raise SystemExit(main())
